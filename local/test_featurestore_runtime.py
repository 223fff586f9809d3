"""Tests of the Feature Store runtime stand-in through real boto3 clients.

boto3 serializes requests (paths, repeated query parameters, JSON bodies) and parses answers and
errors from the same service model as the Node.js SDK that the serving function, the streaming
ingestion and the erasure handlers use.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import featurestore_runtime as fr
import pytest
import stand_in_http
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent

GROUPS = {
    "featureGroups": [
        {
            "name": "user-features",
            "recordIdentifier": "user_id",
            "eventTime": "event_time",
            "features": [
                "user_id",
                {"name": "event_time", "type": "String"},
                {"name": "clicks_7d", "type": "Integral"},
                {"name": "ctr", "type": "Fractional"},
                "segment",
                "recent_items",
            ],
        },
        {
            "name": "ad-features",
            "recordIdentifier": "ad_id",
            "eventTime": "updated_at",
            "features": {"ad_id": "String", "updated_at": "Fractional", "category": "String"},
            "ttl": {"Unit": "Hours", "Value": 1},
        },
    ]
}
T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:00:00Z"
T2 = "2024-05-01T12:00:00.250+00:00"


class Clock:
    """A settable clock for TTL expiry."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1714557600.0)  # 2024-05-01T10:00:00Z


@pytest.fixture
def store(clock: Clock) -> fr.FeatureStore:
    return fr.FeatureStore(fr.parse_config(GROUPS), clock=clock)


@pytest.fixture
def fs(store: fr.FeatureStore) -> Iterator[Any]:
    running = fr.FeatureStoreServer(store, quiet=True)
    thread = stand_in_http.serve_in_thread(running)
    yield client(running.url)
    stand_in_http.stop(running, thread)


def client(url: str) -> Any:
    return boto3.client(
        "sagemaker-featurestore-runtime",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=10, connect_timeout=2),
    )


def record(**features: Any) -> list[dict]:
    return [
        {"FeatureName": name, "ValueAsStringList": value}
        if isinstance(value, list)
        else {"FeatureName": name, "ValueAsString": value}
        for name, value in features.items()
    ]


def put_user(fs: Any, user_id: str = "u1", event_time: str = T0, **features: Any) -> None:
    fs.put_record(FeatureGroupName="user-features", Record=record(user_id=user_id, event_time=event_time, **features))


def get_user(fs: Any, user_id: str = "u1", **kwargs: Any) -> list[dict] | None:
    return fs.get_record(FeatureGroupName="user-features", RecordIdentifierValueAsString=user_id, **kwargs).get(
        "Record"
    )


def error_of(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


class TestPutAndGet:
    def test_a_record_holds_exactly_the_features_that_were_put(self, fs: Any) -> None:
        put_user(fs, clicks_7d="3", recent_items=["i1", "i2"])
        assert get_user(fs) == record(user_id="u1", event_time=T0, clicks_7d="3", recent_items=["i1", "i2"])

    def test_feature_names_select_features(self, fs: Any) -> None:
        put_user(fs, clicks_7d="3", segment="s1")
        # segment and ctr: ctr was never put, so only segment comes back.
        assert get_user(fs, FeatureNames=["segment", "ctr"]) == record(segment="s1")

    def test_a_missing_record_is_an_empty_answer(self, fs: Any) -> None:
        response = fs.get_record(FeatureGroupName="user-features", RecordIdentifierValueAsString="nobody")
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert "Record" not in response

    def test_a_put_replaces_the_whole_record(self, fs: Any) -> None:
        put_user(fs, clicks_7d="3", segment="s1")
        put_user(fs, event_time=T1, clicks_7d="4")
        assert get_user(fs) == record(user_id="u1", event_time=T1, clicks_7d="4")

    def test_an_older_put_is_historic_and_an_equal_one_overwrites(self, fs: Any) -> None:
        put_user(fs, event_time=T1, clicks_7d="4")
        put_user(fs, event_time=T0, clicks_7d="1")  # offline store only
        assert get_user(fs, FeatureNames=["clicks_7d"]) == record(clicks_7d="4")
        put_user(fs, event_time="2024-05-01T12:00:00+01:00", clicks_7d="5")  # the same instant as T1
        assert get_user(fs, FeatureNames=["clicks_7d"]) == record(clicks_7d="5")

    def test_a_put_to_the_offline_store_only_leaves_the_online_store(self, fs: Any) -> None:
        fs.put_record(
            FeatureGroupName="user-features", Record=record(user_id="u1", event_time=T0), TargetStores=["OfflineStore"]
        )
        assert get_user(fs) is None

    def test_a_group_is_found_by_its_arn(self, fs: Any) -> None:
        arn = "arn:aws:sagemaker:eu-west-1:123456789012:feature-group/user-features"
        fs.put_record(FeatureGroupName=arn, Record=record(user_id="u1", event_time=T0))
        assert fs.get_record(FeatureGroupName=arn, RecordIdentifierValueAsString="u1")["Record"] == record(
            user_id="u1", event_time=T0
        )

    def test_concurrent_puts_all_land(self, fs: Any, store: fr.FeatureStore) -> None:
        def put_many(start: int) -> None:
            own = client(fs.meta.endpoint_url)
            for i in range(start, start + 10):
                put_user(own, user_id=f"u{i}", clicks_7d=str(i))

        threads = [threading.Thread(target=put_many, args=(n * 10,)) for n in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        answer = fs.batch_get_record(
            Identifiers=[
                {"FeatureGroupName": "user-features", "RecordIdentifiersValueAsString": [f"u{i}" for i in range(50)]}
            ]
        )
        assert sorted(r["RecordIdentifierValueAsString"] for r in answer["Records"]) == sorted(
            f"u{i}" for i in range(50)
        )


class TestBatchGetRecord:
    def test_records_of_several_groups_with_feature_names(self, fs: Any) -> None:
        put_user(fs, "u1", clicks_7d="3", segment="s1")
        put_user(fs, "u2", clicks_7d="7")
        fs.put_record(
            FeatureGroupName="ad-features", Record=record(ad_id="a1", updated_at="1714557600", category="travel")
        )
        answer = fs.batch_get_record(
            Identifiers=[
                {
                    "FeatureGroupName": "user-features",
                    "RecordIdentifiersValueAsString": ["u1", "u2"],
                    "FeatureNames": ["clicks_7d", "segment"],
                },
                {"FeatureGroupName": "ad-features", "RecordIdentifiersValueAsString": ["a1"]},
            ]
        )
        assert answer["Records"] == [
            {
                "FeatureGroupName": "user-features",
                "RecordIdentifierValueAsString": "u1",
                "Record": record(clicks_7d="3", segment="s1"),
            },
            {
                "FeatureGroupName": "user-features",
                "RecordIdentifierValueAsString": "u2",
                "Record": record(clicks_7d="7"),
            },
            {
                "FeatureGroupName": "ad-features",
                "RecordIdentifierValueAsString": "a1",
                "Record": record(ad_id="a1", updated_at="1714557600", category="travel"),
            },
        ]
        assert (answer["Errors"], answer["UnprocessedIdentifiers"]) == ([], [])

    def test_missing_records_are_left_out(self, fs: Any) -> None:
        put_user(fs, "u1")
        answer = fs.batch_get_record(
            Identifiers=[
                {"FeatureGroupName": "user-features", "RecordIdentifiersValueAsString": ["ghost", "u1", "nobody"]}
            ]
        )
        assert [r["RecordIdentifierValueAsString"] for r in answer["Records"]] == ["u1"]
        assert (answer["Errors"], answer["UnprocessedIdentifiers"]) == ([], [])

    def test_an_unknown_group_is_reported_per_identifier(self, fs: Any) -> None:
        put_user(fs, "u1")
        answer = fs.batch_get_record(
            Identifiers=[
                {"FeatureGroupName": "no-such-group", "RecordIdentifiersValueAsString": ["x1", "x2"]},
                {"FeatureGroupName": "user-features", "RecordIdentifiersValueAsString": ["u1"]},
            ]
        )
        assert [r["RecordIdentifierValueAsString"] for r in answer["Records"]] == ["u1"]
        assert [
            (e["FeatureGroupName"], e["RecordIdentifierValueAsString"], e["ErrorCode"]) for e in answer["Errors"]
        ] == [
            ("no-such-group", "x1", "ResourceNotFound"),
            ("no-such-group", "x2", "ResourceNotFound"),
        ]

    @pytest.mark.parametrize(
        ("identifiers", "where"),
        [
            (
                [{"FeatureGroupName": "user-features", "RecordIdentifiersValueAsString": ["u"] * 101}],
                "identifiers.1.record",
            ),
            ([{"FeatureGroupName": "user-features", "RecordIdentifiersValueAsString": ["u"]}] * 101, "'identifiers'"),
        ],
    )
    def test_limits_of_the_service_model(self, fs: Any, identifiers: list, where: str) -> None:
        status, code, message = error_of(lambda: fs.batch_get_record(Identifiers=identifiers))
        assert (status, code) == (400, "ValidationError")
        assert where in message and "length between 1 and 100" in message

    def test_the_limits_themselves_are_accepted(self, fs: Any) -> None:
        ids = [f"u{i}" for i in range(100)]
        identifiers = [{"FeatureGroupName": "user-features", "RecordIdentifiersValueAsString": ids}] * 100
        assert fs.batch_get_record(Identifiers=identifiers)["Records"] == []


class TestDeleteRecord:
    def test_soft_delete_hides_the_record_until_a_later_put(self, fs: Any, store: fr.FeatureStore) -> None:
        put_user(fs, clicks_7d="3")
        fs.delete_record(FeatureGroupName="user-features", RecordIdentifierValueAsString="u1", EventTime=T1)
        assert get_user(fs) is None
        batch = fs.batch_get_record(
            Identifiers=[{"FeatureGroupName": "user-features", "RecordIdentifiersValueAsString": ["u1"]}]
        )
        assert batch["Records"] == []
        # Nulled, not removed: the identifier stays with the deletion's time.
        assert store._records["user-features"]["u1"].values == {}
        put_user(fs, event_time=T0, clicks_7d="1")  # older than the deletion: historic
        assert get_user(fs) is None
        put_user(fs, event_time=T2, clicks_7d="9")
        assert get_user(fs, FeatureNames=["clicks_7d"]) == record(clicks_7d="9")

    def test_hard_delete_removes_the_record(self, fs: Any, store: fr.FeatureStore) -> None:
        put_user(fs)
        fs.delete_record(
            FeatureGroupName="user-features",
            RecordIdentifierValueAsString="u1",
            EventTime=T1,
            DeletionMode="HardDelete",
        )
        assert get_user(fs) is None
        assert "u1" not in store._records["user-features"]

    @pytest.mark.parametrize("event_time", [T0, "2024-05-01T09:59:59Z"])
    def test_a_hard_delete_not_later_than_the_record_is_refused(self, fs: Any, event_time: str) -> None:
        put_user(fs)
        status, code, message = error_of(
            lambda: fs.delete_record(
                FeatureGroupName="user-features",
                RecordIdentifierValueAsString="u1",
                EventTime=event_time,
                DeletionMode="HardDelete",
            )
        )
        assert (status, code) == (400, "ValidationError") and "EventTime" in message
        assert get_user(fs) is not None

    def test_a_soft_delete_not_later_than_the_record_leaves_it(self, fs: Any) -> None:
        put_user(fs, event_time=T1)
        fs.delete_record(FeatureGroupName="user-features", RecordIdentifierValueAsString="u1", EventTime=T0)
        assert get_user(fs) is not None

    def test_deleting_a_missing_record_succeeds(self, fs: Any) -> None:
        response = fs.delete_record(
            FeatureGroupName="user-features",
            RecordIdentifierValueAsString="ghost",
            EventTime=T1,
            DeletionMode="HardDelete",
        )
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200

    def test_a_malformed_event_time_is_refused(self, fs: Any) -> None:
        put_user(fs)
        status, code, message = error_of(
            lambda: fs.delete_record(
                FeatureGroupName="user-features", RecordIdentifierValueAsString="u1", EventTime="yesterday"
            )
        )
        assert (status, code) == (400, "ValidationError") and "yesterday" in message


class TestErrors:
    def test_get_from_an_unknown_group_is_resource_not_found(self, fs: Any) -> None:
        status, code, message = error_of(
            lambda: fs.get_record(FeatureGroupName="no-such-group", RecordIdentifierValueAsString="u1")
        )
        assert (status, code) == (404, "ResourceNotFound") and "no-such-group" in message

    def test_put_and_delete_on_an_unknown_group_are_validation_errors(self, fs: Any) -> None:
        put = error_of(lambda: fs.put_record(FeatureGroupName="no-such-group", Record=record(a="1")))
        delete = error_of(
            lambda: fs.delete_record(FeatureGroupName="no-such-group", RecordIdentifierValueAsString="u1", EventTime=T1)
        )
        for status, code, message in (put, delete):
            assert (status, code) == (400, "ValidationError")
            assert message.startswith("Resource Not Found: Amazon SageMaker can't find a FeatureGroup")

    def test_unknown_feature_names_are_validation_errors(self, fs: Any) -> None:
        put_user(fs)
        calls = [
            lambda: put_user(fs, password="x"),
            lambda: get_user(fs, FeatureNames=["clicks_7d", "password"]),
            lambda: fs.batch_get_record(
                Identifiers=[
                    {
                        "FeatureGroupName": "user-features",
                        "RecordIdentifiersValueAsString": ["u1"],
                        "FeatureNames": ["password"],
                    }
                ]
            ),
        ]
        for call in calls:
            status, code, message = error_of(call)
            assert (status, code) == (400, "ValidationError") and "password" in message

    @pytest.mark.parametrize(
        ("features", "message"),
        [
            ({"user_id": "u1"}, "event_time"),
            ({"event_time": T0}, "user_id"),
            ({"user_id": "u1", "event_time": "2024-13-01T00:00:00Z"}, "EventTime"),
            ({"user_id": "u1", "event_time": "1714557600"}, "EventTime"),  # a String event time is ISO-8601
            ({"user_id": "u1", "event_time": T0, "clicks_7d": "3.5"}, "Integral"),
            ({"user_id": "u1", "event_time": T0, "clicks_7d": str(2**63)}, "Integral"),
            ({"user_id": "u1", "event_time": T0, "ctr": "high"}, "Fractional"),
            ({"user_id": "u1", "event_time": T0, "segment": "x" * (fr.VALUE_MAX + 1)}, "358400"),
            ({"user_id": ["u1"], "event_time": T0}, "user_id"),
        ],
    )
    def test_puts_breaking_the_rules_are_validation_errors(self, fs: Any, features: dict, message: str) -> None:
        status, code, text = error_of(
            lambda: fs.put_record(FeatureGroupName="user-features", Record=record(**features))
        )
        assert (status, code) == (400, "ValidationError") and message in text

    def test_a_feature_put_twice_is_refused(self, fs: Any) -> None:
        twice = record(user_id="u1", event_time=T0) + record(user_id="u2")
        status, code, _ = error_of(lambda: fs.put_record(FeatureGroupName="user-features", Record=twice))
        assert (status, code) == (400, "ValidationError")


class TestTtl:
    def test_records_expire_and_report_when(self, fs: Any, clock: Clock) -> None:
        fs.put_record(
            FeatureGroupName="user-features",
            Record=record(user_id="u1", event_time=T0),
            TtlDuration={"Unit": "Minutes", "Value": 30},
        )
        answer = fs.get_record(
            FeatureGroupName="user-features", RecordIdentifierValueAsString="u1", ExpirationTimeResponse="Enabled"
        )
        assert answer["ExpiresAt"] == "2024-05-01T10:30:00.000Z"
        assert "ExpiresAt" not in fs.get_record(FeatureGroupName="user-features", RecordIdentifierValueAsString="u1")
        clock.now += 30 * 60
        assert get_user(fs) is None

    def test_the_group_ttl_applies_without_one_in_the_put(self, fs: Any, clock: Clock) -> None:
        fs.put_record(FeatureGroupName="ad-features", Record=record(ad_id="a1", updated_at=str(clock.now)))
        ids = [{"FeatureGroupName": "ad-features", "RecordIdentifiersValueAsString": ["a1"]}]
        answer = fs.batch_get_record(Identifiers=ids, ExpirationTimeResponse="Enabled")
        assert answer["Records"][0]["ExpiresAt"] == "2024-05-01T11:00:00.000Z"
        clock.now += 3600
        assert fs.batch_get_record(Identifiers=ids)["Records"] == []


class TestSeedAndConfiguration:
    def test_seed_lines_are_put(self, store: fr.FeatureStore) -> None:
        lines = [
            json.dumps(
                {"featureGroupName": "user-features", "record": {"user_id": "u1", "event_time": T0, "clicks_7d": 3}}
            ),
            "",
            json.dumps({"featureGroupName": "ad-features", "record": {"ad_id": "a1", "updated_at": 1714557600.5}}),
        ]
        assert store.seed(lines) == 2
        assert store.get_record("user-features", "u1")["Record"] == record(user_id="u1", event_time=T0, clicks_7d="3")

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ('{"featureGroupName": "user-features", "record": {"user_id": "u1"}}', "line 1: .*event_time"),
            ('{"featureGroupName": "nowhere", "record": {"a": "1"}}', "line 1: Resource Not Found"),
            ('{"record": {}}', "line 1: expected"),
            ("not json", "line 1: expected"),
        ],
    )
    def test_a_bad_seed_line_is_named(self, store: fr.FeatureStore, line: str, message: str) -> None:
        with pytest.raises(fr.ConfigError, match=message):
            store.seed([line])

    @pytest.mark.parametrize(
        ("group", "message"),
        [
            ({"name": "g", "recordIdentifier": "id", "eventTime": "t", "features": []}, "must list"),
            ({"name": "g", "recordIdentifier": "x", "eventTime": "t", "features": ["id", "t"]}, "recordIdentifier"),
            (
                {
                    "name": "g",
                    "recordIdentifier": "id",
                    "eventTime": "t",
                    "features": {"id": "String", "t": "Integral"},
                },
                "eventTime",
            ),
            ({"name": "g", "recordIdentifier": "id", "eventTime": "t", "features": ["id", "t", "id"]}, "twice"),
            (
                {
                    "name": "g",
                    "recordIdentifier": "id",
                    "eventTime": "t",
                    "features": ["id", "t"],
                    "ttl": {"Unit": "Years", "Value": 1},
                },
                "ttl",
            ),
        ],
    )
    def test_refuses_a_malformed_group(self, group: dict, message: str) -> None:
        with pytest.raises(fr.ConfigError, match=message):
            fr.parse_config({"featureGroups": [group]})


def test_the_command_line_seeds_prints_the_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "groups.json"
    config.write_text(json.dumps(GROUPS), encoding="utf-8")
    seed = tmp_path / "seed.jsonl"
    line = {"featureGroupName": "user-features", "record": {"user_id": "u7", "event_time": T0, "recent_items": ["i1"]}}
    seed.write_text(json.dumps(line) + "\n", encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "featurestore_runtime.py"),
            "--config",
            str(config),
            "--seed",
            str(seed),
            "--port",
            "0",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    try:
        port = json.loads(process.stdout.readline() if process.stdout else "")["port"]
        fs = client(f"http://127.0.0.1:{port}")
        assert get_user(fs, "u7") == record(user_id="u7", event_time=T0, recent_items=["i1"])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
