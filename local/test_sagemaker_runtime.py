"""Tests of the SageMaker Runtime stand-in through real boto3 clients.

boto3 builds requests from, and parses answers with, the same service model the Node.js SDK is
generated from, so a request it sends and an answer it parses (status, headers, error code and
members) is what the blueprints' handlers will meet in a local run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
import sagemaker_runtime as sr
import stand_in_http
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
TESTDATA = HERE / "testdata"
REPO = HERE.parent
BOOTSTRAP_CODE = REPO / "constructs" / "endpoint" / "runtime" / "bootstrap"

CONFIG = {
    "seed": 11,
    "endpoints": {
        "ranker": {
            "variants": {
                "champion": {"code_dir": "testdata/scorer/code", "model_dir": "testdata/scorer/model_a", "weight": 3},
                "challenger": {"code_dir": "testdata/scorer/code", "model_dir": "testdata/scorer/model_b", "weight": 1},
                "shadow": {"code_dir": "testdata/scorer/code", "model_dir": "testdata/scorer/model_b", "weight": 0},
            }
        },
        "greeter": {
            "variants": {"AllTraffic": {"code_dir": "testdata/other/code", "model_dir": "testdata/other/model"}}
        },
        "slow": {
            "latency_ms": 150,
            "variants": {"AllTraffic": {"code_dir": "testdata/scorer/code", "model_dir": "testdata/scorer/model_a"}},
        },
    },
}


def client(url: str) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=10, connect_timeout=2),
    )


@pytest.fixture(scope="module")
def server() -> Iterator[stand_in_http.StandInServer]:
    runtime = sr.Runtime(sr.parse_config(CONFIG, str(HERE)))
    runtime.load()
    running = sr.RuntimeServer(runtime, quiet=True)
    thread = stand_in_http.serve_in_thread(running)
    yield running
    stand_in_http.stop(running, thread)


@pytest.fixture(scope="module")
def runtime_client(server: stand_in_http.StandInServer) -> Any:
    return client(server.url)


def invoke_json(runtime_client: Any, endpoint: str, document: Any, **kwargs: Any) -> tuple[dict, Any]:
    response = runtime_client.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps(document), ContentType="application/json", **kwargs
    )
    return response, json.loads(response["Body"].read())


def error_of(call: Any) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


class TestInvokeEndpoint:
    @pytest.mark.parametrize(("variant", "label", "score"), [("champion", "a", 0.25), ("challenger", "b", 0.75)])
    def test_the_target_variant_answers_and_is_reported(
        self, runtime_client: Any, variant: str, label: str, score: float
    ) -> None:
        response, answer = invoke_json(
            runtime_client, "ranker", {"instances": [{"x": 1}, {"x": 2}]}, TargetVariant=variant
        )
        assert response["InvokedProductionVariant"] == variant
        assert response["ContentType"] == "application/json"
        assert (answer["label"], answer["predictions"]) == (label, [score, score])

    def test_a_variant_without_weight_is_reached_by_name(self, runtime_client: Any) -> None:
        response, answer = invoke_json(runtime_client, "ranker", [{"x": 1}], TargetVariant="shadow")
        assert (response["InvokedProductionVariant"], answer["label"]) == ("shadow", "b")

    def test_without_a_target_the_split_follows_the_weights(self, runtime_client: Any) -> None:
        counts = {"champion": 0, "challenger": 0, "shadow": 0}
        for _ in range(400):
            response, answer = invoke_json(runtime_client, "ranker", [{"x": 1}])
            variant = response["InvokedProductionVariant"]
            counts[variant] += 1
            assert answer["label"] == ("a" if variant == "champion" else "b")  # the reported variant answered
        assert counts["shadow"] == 0
        assert 0.68 <= counts["champion"] / 400 <= 0.82, counts  # weights 3:1

    def test_the_handler_gets_what_the_container_passes(self, runtime_client: Any) -> None:
        # JSON and CSV bodies arrive as str; an absent or */* Accept becomes application/json.
        _, answer = invoke_json(runtime_client, "ranker", [[1, 2]], TargetVariant="champion")
        assert (answer["body_type"], answer["content_type"], answer["accept"]) == (
            "str",
            "application/json",
            "application/json",
        )
        _, answer = invoke_json(runtime_client, "ranker", [[1, 2]], TargetVariant="champion", Accept="*/*")
        assert answer["accept"] == "application/json"
        response = runtime_client.invoke_endpoint(
            EndpointName="ranker",
            Body=b"1,2\n3,4\n",
            ContentType="text/csv",
            Accept="text/csv",
            TargetVariant="champion",
        )
        assert (response["ContentType"], response["Body"].read()) == ("text/csv", b"0.25\n0.25\n")

    def test_a_bare_body_answer_takes_the_accept_and_siblings_stay_apart(self, runtime_client: Any) -> None:
        response = runtime_client.invoke_endpoint(
            EndpointName="greeter", Body=b"\x00\x01", ContentType="application/octet-stream", Accept="text/plain"
        )
        assert response["ContentType"] == "text/plain"
        assert response["InvokedProductionVariant"] == "AllTraffic"
        # Both handlers import a sibling module named `rules`; each must get its own.
        assert json.loads(response["Body"].read()) == {"greeting": "hello", "rules": "other"}
        _, answer = invoke_json(runtime_client, "ranker", [1], TargetVariant="champion")
        assert answer["rules"] == "scorer"

    def test_latency_is_added_per_endpoint_and_requests_run_in_parallel(self, runtime_client: Any) -> None:
        started = time.monotonic()
        invoke_json(runtime_client, "slow", [1])
        assert time.monotonic() - started >= 0.15
        results: list[str] = []

        def call() -> None:
            response, _ = invoke_json(client(runtime_client.meta.endpoint_url), "slow", [1])
            results.append(response["InvokedProductionVariant"])

        threads = [threading.Thread(target=call) for _ in range(6)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == ["AllTraffic"] * 6
        assert time.monotonic() - started < 0.15 * 6 * 0.6  # far less than one after another


class TestErrors:
    def test_a_value_error_is_a_model_error_with_the_original_400(self, runtime_client: Any) -> None:
        error = error_of(lambda: invoke_json(runtime_client, "ranker", [{"fail": "value"}], TargetVariant="champion"))
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert error["Error"]["Code"] == "ModelError"
        assert error["OriginalStatusCode"] == 400
        assert error["OriginalMessage"] == "instance asks for a ValueError"
        assert error["Error"]["Message"].startswith(
            'Received client error (400) from primary with message "instance asks for a ValueError". See https://'
        )
        assert error["LogStreamArn"] == "arn:aws:logs:eu-west-1:000000000000:log-group:/aws/sagemaker/Endpoints/ranker"

    def test_a_request_the_parser_refuses_is_a_model_error_400(self, runtime_client: Any) -> None:
        error = error_of(
            lambda: runtime_client.invoke_endpoint(EndpointName="ranker", Body=b"{oops", ContentType="application/json")
        )
        assert (error["Error"]["Code"], error["OriginalStatusCode"]) == ("ModelError", 400)
        assert "request body is not JSON" in error["OriginalMessage"]

    def test_other_exceptions_are_a_model_error_500_without_their_detail(
        self, runtime_client: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        error = error_of(lambda: invoke_json(runtime_client, "ranker", [{"fail": "runtime"}], TargetVariant="champion"))
        assert (error["Error"]["Code"], error["OriginalStatusCode"]) == ("ModelError", 500)
        assert error["Error"]["Message"].startswith("Received server error (500) from primary")
        assert "must not reach" not in json.dumps(error, default=str)
        assert "must not reach the client" in capsys.readouterr().err  # the traceback goes to the log

    def test_an_unknown_endpoint_is_a_validation_error(self, runtime_client: Any) -> None:
        error = error_of(lambda: invoke_json(runtime_client, "nowhere", [1]))
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"] == {
            "Code": "ValidationError",
            "Message": "Endpoint nowhere of account 000000000000 not found.",
        }

    def test_an_unknown_variant_is_a_validation_error(self, runtime_client: Any) -> None:
        error = error_of(lambda: invoke_json(runtime_client, "ranker", [1], TargetVariant="canary"))
        assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (400, "ValidationError")
        assert "canary" in error["Error"]["Message"]

    def test_a_body_over_6_mb_is_a_validation_error(self, runtime_client: Any) -> None:
        body = b"1" * (sr.MAX_BODY_BYTES + 1)
        error = error_of(
            lambda: runtime_client.invoke_endpoint(EndpointName="ranker", Body=body, ContentType="text/csv")
        )
        assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (400, "ValidationError")
        # The connection was closed without reading the body; the client's next call still works.
        response, _ = invoke_json(runtime_client, "ranker", [1], TargetVariant="champion")
        assert response["InvokedProductionVariant"] == "champion"

    def test_before_the_models_load_invocations_are_not_ready_and_ping_fails(self) -> None:
        runtime = sr.Runtime(sr.parse_config(CONFIG, str(HERE)))
        running = sr.RuntimeServer(runtime, quiet=True)
        thread = stand_in_http.serve_in_thread(running)
        try:
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(running.url + "/ping", timeout=5)
            assert caught.value.code == 503
            error = error_of(lambda: invoke_json(client(running.url), "ranker", [1]))
            assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
                429,
                "ModelNotReadyException",
            )
            runtime.load()
            with urllib.request.urlopen(running.url + "/ping", timeout=5) as response:
                assert response.status == 200
        finally:
            stand_in_http.stop(running, thread)


class TestContainerContract:
    def post(self, url: str, body: Any, content_type: str) -> tuple[int, str, bytes]:
        request = urllib.request.Request(url + "/invocations", data=body, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.headers["Content-Type"], response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"], error.read()

    def test_ping_answers_200_once_loaded(self, server: stand_in_http.StandInServer) -> None:
        with urllib.request.urlopen(server.url + "/ping", timeout=5) as response:
            assert response.status == 200

    def test_invocations_run_the_default_model(self, server: stand_in_http.StandInServer) -> None:
        status, content_type, body = self.post(server.url, b'{"instances": [1, 2]}', "application/json")
        assert (status, content_type) == (200, "application/json")
        assert json.loads(body)["label"] == "a"  # the first variant of the first endpoint

    def test_a_chunked_body_is_read(self, server: stand_in_http.StandInServer) -> None:
        # http.client sends an iterable body without Content-Length in chunks.
        chunks = iter([b'{"instances": ', b"[1, 2, 3]}"])
        status, _, body = self.post(server.url, chunks, "application/json")
        assert (status, json.loads(body)["predictions"]) == (200, [0.25, 0.25, 0.25])

    def test_invocations_answer_errors_as_the_container_does(self, server: stand_in_http.StandInServer) -> None:
        status, _, body = self.post(server.url, b'[{"fail": "value"}]', "application/json")
        assert (status, body) == (400, b"instance asks for a ValueError")
        status, _, body = self.post(server.url, b'[{"fail": "runtime"}]', "application/json")
        assert status == 500 and b"RuntimeError" in body and b"must not reach" not in body


@pytest.fixture(scope="module")
def bootstrap_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bootstrap model as its test makes it (bootstrap.json with a prior), behind the stand-in."""
    model_dir = tmp_path_factory.mktemp("bootstrap-model")
    (model_dir / "bootstrap.json").write_text(json.dumps({"score": 0.02}), encoding="utf-8")
    variant = {"code_dir": str(BOOTSTRAP_CODE), "model_dir": str(model_dir)}
    runtime = sr.Runtime(sr.parse_config({"endpoints": {"ads": {"variants": {"AllTraffic": variant}}}}))
    runtime.load()
    running = sr.RuntimeServer(runtime, quiet=True)
    thread = stand_in_http.serve_in_thread(running)
    yield running.url
    stand_in_http.stop(running, thread)


class TestBootstrapModel:
    """The endpoint construct's bootstrap model, served as a first deploy serves it."""

    def test_json_in_json_out(self, bootstrap_url: str) -> None:
        response, answer = invoke_json(client(bootstrap_url), "ads", {"instances": [{"user": "u1"}, {"user": "u2"}]})
        assert (response["InvokedProductionVariant"], response["ContentType"], answer) == (
            "AllTraffic",
            "application/json",
            [0.02, 0.02],
        )

    def test_csv_in_csv_out(self, bootstrap_url: str) -> None:
        response = client(bootstrap_url).invoke_endpoint(
            EndpointName="ads", Body=b"1,2\n3,4\n5,6\n", ContentType="text/csv", Accept="text/csv"
        )
        assert (response["ContentType"], response["Body"].read()) == ("text/csv", b"0.02\n0.02\n0.02\n")

    def test_an_unsupported_content_type_is_a_model_error(self, bootstrap_url: str) -> None:
        error = error_of(
            lambda: client(bootstrap_url).invoke_endpoint(EndpointName="ads", Body=b"\x89PNG", ContentType="image/png")
        )
        assert (error["Error"]["Code"], error["OriginalStatusCode"]) == ("ModelError", 400)
        assert "'image/png' is not supported" in error["OriginalMessage"]


class TestConfiguration:
    @pytest.mark.parametrize(
        ("endpoints", "message"),
        [
            ({}, "at least one endpoint"),
            ({"bad_name": {"variants": {}}}, "endpoint 'bad_name'"),
            ({"e": {"variants": {}}}, "at least one variant"),
            ({"e": {"variants": {"v": {"model_dir": "testdata/other/model"}}}}, "code_dir is required"),
            ({"e": {"variants": {"v": {"code_dir": "testdata", "model_dir": "testdata"}}}}, "has no inference.py"),
            (
                {"e": {"variants": {"v": {"code_dir": "testdata/other/code", "model_dir": "nowhere"}}}},
                "is not a folder",
            ),
            (
                {"e": {"variants": {"v": {"code_dir": "testdata/other/code", "model_dir": "testdata", "weight": 0}}}},
                "must not all be 0",
            ),
            (
                {"e": {"variants": {"v": {"code_dir": "testdata/other/code", "model_dir": "testdata", "weight": -1}}}},
                "weight must be a finite number",
            ),
        ],
    )
    def test_refuses_a_malformed_configuration(self, endpoints: dict, message: str) -> None:
        with pytest.raises(sr.ConfigError, match=message):
            sr.parse_config({"endpoints": endpoints}, str(HERE))

    def test_the_mapping_may_be_the_whole_document(self) -> None:
        config = sr.parse_config(
            {"e": {"variants": {"v": {"code_dir": "testdata/other/code", "model_dir": "testdata"}}}}, str(HERE)
        )
        assert [(e.name, [v.name for v in e.variants]) for e in config.endpoints] == [("e", ["v"])]


def test_the_command_line_prints_the_port_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "sagemaker_runtime.py"),
            "--variant", "greeter", "AllTraffic", str(TESTDATA / "other" / "code"), str(TESTDATA / "other" / "model"),
            "--latency-ms", "greeter", "1",
            "--port", "0",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    try:
        line = process.stdout.readline() if process.stdout else ""
        port = json.loads(line)["port"]
        response = client(f"http://127.0.0.1:{port}").invoke_endpoint(EndpointName="greeter", Body=b"x")
        assert json.loads(response["Body"].read()) == {"greeting": "hello", "rules": "other"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_command_line_exits_without_a_port_when_a_model_fails_to_load(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "sagemaker_runtime.py"),
            "--variant", "greeter", "AllTraffic", str(TESTDATA / "other" / "code"), str(tmp_path),  # no model.json
        ],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert "endpoint greeter, variant AllTraffic: model_fn" in result.stderr
