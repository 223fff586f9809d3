"""Tests for load_vectors.py against a local imitation of an OpenSearch Serverless collection endpoint."""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import load_vectors as lv  # the runtime folder is on pytest's pythonpath
import pytest
import transform_output

INDEX = "listings"  # the alias
DIMENSIONS = 4
NOW = 1_714_564_800  # 2024-05-01T12:00:00Z
RUN = "run-2"
RUN_INDEX = lv.run_index(INDEX, RUN)  # where the run writes
ACCESS_KEY = "AKIDEXAMPLETEST"
# A key and a field value that must never show up in the output.
SECRET_KEY = "pseudonym-7f3a9c-secret"
SECRET_REGION = "region-secret-55"
INDEX_BODY = {
    "settings": {"index": {"knn": True}},
    "mappings": {
        "properties": {
            "embedding": {
                "type": "knn_vector",
                "dimension": DIMENSIONS,
                "method": {
                    "name": "hnsw",
                    "engine": "faiss",
                    "space_type": "cosinesimil",
                    "parameters": {"m": 16, "ef_construction": 128},
                },
            },
            "listing_id": {"type": "keyword"},
        }
    },
}

ItemRule = Callable[[dict[str, Any]], "int | None"]
DeleteRule = Callable[[str], "int | None"]


class FakeCollection:
    """The state of the imitated collection, and what it was sent."""

    def __init__(self) -> None:
        self.indexes: dict[str, Any] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        # The index each document went into, by id.
        self.document_index: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        # Status codes to answer whole requests with, first come first served, per "METHOD path".
        self.script: dict[str, list[int]] = {}
        # Per indexed document: a status to answer the item with (None: 201).
        self.item_rule: ItemRule = lambda _doc: None
        # Per delete action, by _id: a status to answer the item with (None: delete it, or not_found).
        self.delete_rule: DeleteRule = lambda _id: None
        # Searches that still show a document after its delete: the collection has no refresh API.
        self.search_lag = 0
        # Deleted documents searches still show: id -> (index, document, searches left).
        self.ghosts: dict[str, tuple[str, dict[str, Any], int]] = {}
        self.next_id = 0
        self.lock = threading.Lock()
        # When set, HEAD requests are held until this many arrived: instances that start together.
        self.head_barrier: threading.Barrier | None = None
        # When set, searches are held until this many arrived: instances that search at once.
        self.search_barrier: threading.Barrier | None = None

    def bulk_requests(self) -> list[list[dict[str, Any]]]:
        """The documents of each _bulk index request, in order."""
        batches = []
        for request in self.requests:
            if request["method"] == "POST" and request["path"] == "/_bulk":
                lines = [json.loads(line) for line in request["body"].decode().splitlines()]
                if "index" in lines[0]:
                    batches.append(lines[1::2])
        return batches

    def delete_requests(self) -> list[list[dict[str, Any]]]:
        """The actions of each _bulk delete request, in order."""
        return [
            [json.loads(line)["delete"] for line in r["body"].decode().splitlines()]
            for r in self.requests
            if r["method"] == "POST" and r["path"] == "/_bulk" and b'"delete"' in r["body"].split(b"\n", 1)[0]
        ]

    def searches(self) -> list[dict[str, Any]]:
        """The path and body of each search, in order."""
        return [
            {"path": r["path"], "body": json.loads(r["body"])} for r in self.requests if r["path"].endswith("/_search")
        ]


def handler_for(state: FakeCollection) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                script = state.script.get(f"{self.command} {self.path}")
                if self.path == "/_bulk" and b'"delete"' in body.split(b"\n", 1)[0]:
                    script = state.script.get("POST /_bulk delete")  # a _bulk of deletes only
                scripted = script.pop(0) if script else None
            if scripted is not None:
                kind = {429: "too_many_requests", 403: "security_exception"}.get(scripted, "internal_error")
                self._answer(scripted, {"error": {"type": kind, "reason": f"quotes {SECRET_KEY}"}})
                return
            name = self.path.strip("/").split("/")[0]
            if self.command == "HEAD":
                exists = name in state.indexes  # as the instances found it when they asked
                if state.head_barrier is not None:
                    state.head_barrier.wait(timeout=20)
                self._answer(200 if exists else 404)
            elif self.command == "PUT":
                with state.lock:  # as in a collection, one of two concurrent creations wins
                    created = name not in state.indexes
                    if created:
                        state.indexes[name] = json.loads(body)
                if created:
                    self._answer(200, {"acknowledged": True, "index": name})
                else:
                    self._answer(400, {"error": {"type": "resource_already_exists_exception"}})
            elif self.path == "/_bulk":
                self._answer(200, self._bulk(body))
            elif self.path.endswith("/_search") and self.command == "POST":
                # The answer is taken before the barrier: a search released from it late (a busy machine
                # schedules its thread after the other's answer, delete and all) still saw what it met.
                found = name in state.indexes
                result = self._search(name, json.loads(body)) if found else None
                barrier = state.search_barrier
                if barrier is not None:
                    barrier.wait(timeout=20)
                    # Only the first searches meet: later rounds go on alone, however the instances interleave.
                    state.search_barrier = None
                if not found:
                    self._answer(404, {"error": {"type": "index_not_found_exception"}})
                else:
                    self._answer(200, result)
            else:
                self._answer(400, {"error": {"type": "unsupported"}})

        def _search(self, index: str, query: dict[str, Any]) -> dict[str, Any]:
            """A bool query of term or terms filters and must_not terms, in filter context: ids only."""
            assert set(query) == {"size", "_source", "query"} and query["_source"] is False
            assert set(query["query"]) == {"bool"} and set(query["query"]["bool"]) <= {"filter", "must_not"}

            def terms(clause: str) -> list[tuple[str, list[Any]]]:
                """(field, the values any of which matches) per clause."""
                pairs = []
                for term in query["query"]["bool"].get(clause, []):
                    kinds = {"term", "terms"} if clause == "filter" else {"term"}
                    assert len(term) == 1 and set(term) <= kinds
                    kind, body = next(iter(term.items()))
                    assert len(body) == 1
                    field, value = next(iter(body.items()))
                    assert kind == "term" or (isinstance(value, list) and value), "terms takes a list of values"
                    pairs.append((field, value if kind == "terms" else [value]))
                return pairs

            wanted, excluded = terms("filter"), terms("must_not")

            def matches(document: dict[str, Any]) -> bool:
                return all(document.get(f) in vs for f, vs in wanted) and not any(
                    document.get(f) in vs for f, vs in excluded
                )

            with state.lock:
                visible = [(i, state.document_index[i], d) for i, d in state.documents.items()]
                visible += [(i, where, d) for i, (where, d, _) in state.ghosts.items()]
                hits = [
                    {"_index": where, "_id": i, "_score": 0.0}
                    for i, where, d in visible
                    if where == index and matches(d)
                ]
                state.ghosts = {i: (w, d, n - 1) for i, (w, d, n) in state.ghosts.items() if n > 1}
            return {"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits[: query["size"]]}}

        def _delete(self, target: dict[str, Any]) -> dict[str, Any]:
            assert set(target) == {"_index", "_id"}, "a delete names the concrete index and the id"
            doc_id = target["_id"]
            status = state.delete_rule(doc_id)
            if status is not None:
                kind = "too_many_requests" if status == 429 else "version_conflict_engine_exception"
                return {"delete": {**target, "status": status, "error": {"type": kind, "reason": SECRET_KEY}}}
            with state.lock:
                found = state.document_index.get(doc_id) == target["_index"] and doc_id in state.documents
                if found:
                    document = state.documents.pop(doc_id)
                    where = state.document_index.pop(doc_id)
                    if state.search_lag:
                        state.ghosts[doc_id] = (where, document, state.search_lag)
            if found:
                return {"delete": {**target, "status": 200, "result": "deleted"}}
            return {"delete": {**target, "status": 404, "result": "not_found"}}

        def _bulk(self, body: bytes) -> dict[str, Any]:
            lines = [json.loads(line) for line in body.decode().splitlines()]
            items = []
            i = 0
            while i < len(lines):
                action = lines[i]
                if "delete" in action:
                    items.append(self._delete(action["delete"]))
                    i += 1
                    continue
                assert "_id" not in action["index"], "aoss vector collections refuse custom ids"
                document = lines[i + 1]
                i += 2
                status = state.item_rule(document)
                if status is not None:
                    items.append(
                        {
                            "index": {
                                "status": status,
                                "error": {
                                    "type": "mapper_parsing_exception" if status == 400 else "rejected",
                                    "reason": f"quotes {SECRET_KEY}",
                                },
                            }
                        }
                    )
                    continue
                with state.lock:
                    state.next_id += 1
                    doc_id = f"auto-{state.next_id}"
                    state.documents[doc_id] = document
                    state.document_index[doc_id] = action["index"]["_index"]
                items.append({"index": {"_id": doc_id, "status": 201}})
            return {"took": 1, "errors": any(it[next(iter(it))]["status"] >= 300 for it in items), "items": items}

        do_HEAD = _handle  # noqa: N815 (http.server's names)
        do_PUT = _handle  # noqa: N815
        do_POST = _handle  # noqa: N815

    return Handler


@pytest.fixture
def collection() -> Any:
    state = FakeCollection()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.endpoint = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "fake-session-token")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sleeps: list[float] = []
    monkeypatch.setattr(lv, "_sleep", sleeps.append)
    return sleeps


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def vector(seed: float) -> list[float]:
    return [seed, seed + 0.25, -seed, 0.5]


def argv(tmp_path: Path, collection: Any, *extra: str, fmt: str = "jsonlines") -> list[str]:
    body = tmp_path / "index" / "body.json"
    body.parent.mkdir(parents=True, exist_ok=True)
    body.write_text(json.dumps(INDEX_BODY))
    return [
        "--input", str(tmp_path / "out"),
        "--format", fmt,
        "--endpoint", collection.endpoint,
        "--allow-http",
        "--index", INDEX,
        "--index-body", str(body),
        "--dimensions", str(DIMENSIONS),
        "--key-field", "listing_id",
        "--run-id", RUN,
        "--summary", str(tmp_path / "summary" / "run.json"),
        *extra,
    ]  # fmt: skip


def run(capsys: Any, args: list[str]) -> tuple[int, str, str]:
    code = lv.main(args, now=NOW)
    out, err = capsys.readouterr()
    assert SECRET_KEY not in out + err
    assert SECRET_REGION not in out + err
    return code, out, err


def written_summary(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "summary" / "run.json").read_text())


# --------------------------------------------------------------------------------------------


def test_the_module_parses_as_python_3_8() -> None:
    for module in (lv, transform_output):
        ast.parse(Path(module.__file__).read_text(encoding="utf-8"), feature_version=(3, 8))


def test_creates_the_index_once_with_the_settings_body_then_bulk_indexes_in_batches(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    write_lines(
        tmp_path / "out" / "part-0.out",
        [
            {
                "pk": SECRET_KEY if i == 0 else f"listing-{i}",
                "passthrough": {"region": SECRET_REGION},
                "SageMakerOutput": vector(i / 10),
            }
            for i in range(5)
        ],
    )
    code, out, _ = run(capsys, argv(tmp_path, collection, "--batch-size", "2", "--document-fields", "region"))
    assert code == 0
    assert collection.indexes == {RUN_INDEX: INDEX_BODY}
    assert [r["method"] for r in collection.requests].count("PUT") == 1
    batches = collection.bulk_requests()
    assert sorted(len(b) for b in batches) == [1, 2, 2]  # sent on several threads, in any order
    documents = [d for b in batches for d in b]
    assert {d["listing_id"] for d in documents} == {SECRET_KEY, "listing-1", "listing-2", "listing-3", "listing-4"}
    second = next(d for d in documents if d["listing_id"] == "listing-2")
    assert second == {"listing_id": "listing-2", "embedding": vector(0.2), "region": SECRET_REGION,
                      "generated_at": "2024-05-01T12:00:00Z", "run_id": RUN}  # fmt: skip
    summary = written_summary(tmp_path)
    assert summary["documents_indexed"] == 5
    assert summary["lines"] == 5
    assert summary["index_created"] is True
    assert summary["failed_documents"] == 0
    assert (summary["index"], summary["alias"], summary["incremental"]) == (RUN_INDEX, INDEX, False)
    assert "documents_indexed=5" in out

    # A second run loads an index of its own and leaves the first run's alone (the swap deletes it).
    code, _, _ = run(capsys, argv(tmp_path, collection, "--run-id", "run-3"))
    assert code == 0
    assert [r["method"] for r in collection.requests].count("PUT") == 2
    assert written_summary(tmp_path)["index_created"] is True
    assert sorted(collection.indexes) == sorted([RUN_INDEX, lv.run_index(INDEX, "run-3")])
    by_run = {(d["run_id"], collection.document_index[i]) for i, d in collection.documents.items()}
    assert by_run == {(RUN, RUN_INDEX), ("run-3", lv.run_index(INDEX, "run-3"))}
    assert not any(r["method"] == "DELETE" or r["path"].endswith("/_search") for r in collection.requests)


def test_the_run_index_is_the_alias_and_16_hex_of_the_run_id_hash_as_the_swap_computes_it() -> None:
    # The same vector is in runtime/swap-alias.test.ts.
    assert lv.run_index("videos", "exec-1") == "videos-f42b7a9069c383bb"
    assert lv.run_index(INDEX, "Run:With/Odd Chars") == lv.run_index(INDEX, "Run:With/Odd Chars")
    assert lv.run_index(INDEX, "Run:With/Odd Chars").startswith("listings-")


def test_every_request_is_signed_with_sigv4_for_aoss(tmp_path: Path, capsys: Any, collection: Any) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": "a", "SageMakerOutput": vector(0.1)}])
    code, _, _ = run(capsys, argv(tmp_path, collection))
    assert code == 0
    assert len(collection.requests) >= 3  # HEAD, PUT, _bulk
    pattern = re.compile(
        rf"^AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/\d{{8}}/eu-west-1/aoss/aws4_request, "
        r"SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$"
    )
    for request in collection.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        match = pattern.match(headers["authorization"])
        assert match, headers["authorization"]
        signed = match.group(1).split(";")
        assert {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"} <= set(signed)
        assert headers["x-amz-content-sha256"] == hashlib.sha256(request["body"]).hexdigest()
        assert headers["x-amz-security-token"] == "fake-session-token"


def test_retries_a_throttled_request_and_throttled_items_with_backoff(
    tmp_path: Path, capsys: Any, collection: Any, environment: list[float]
) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": f"k{i}", "SageMakerOutput": vector(i)} for i in range(3)])
    collection.script["POST /_bulk"] = [429, 503]
    throttled_once: set[str] = set()

    def throttle_k1_once(document: dict[str, Any]) -> int | None:
        if document["listing_id"] == "k1" and "k1" not in throttled_once:
            throttled_once.add("k1")
            return 429
        return None

    collection.item_rule = throttle_k1_once
    code, _, _ = run(capsys, argv(tmp_path, collection, "--max-workers", "1"))
    assert code == 0
    batches = collection.bulk_requests()
    # 429 and 503 for the whole request, then k1 rejected once, then k1 alone.
    assert [sorted(d["listing_id"] for d in b) for b in batches][-2:] == [["k0", "k1", "k2"], ["k1"]]
    assert sorted(d["listing_id"] for d in collection.documents.values()) == ["k0", "k1", "k2"]
    summary = written_summary(tmp_path)
    assert summary["retries"] == 3
    assert summary["documents_indexed"] == 3
    assert len(environment) == 3  # a backoff before each retry


def test_gives_up_after_max_attempts(tmp_path: Path, capsys: Any, collection: Any) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": "a", "SageMakerOutput": vector(0.1)}])
    collection.script["POST /_bulk"] = [429, 429, 429]
    code, _, err = run(capsys, argv(tmp_path, collection, "--max-attempts", "3"))
    assert code == 1
    summary = written_summary(tmp_path)
    assert summary["failed"] == {"HTTP429": 1}
    assert "1 document(s) not indexed: HTTP429 after 3 attempt(s)" in err


def test_rejected_documents_within_the_failure_threshold_pass_beyond_it_fail(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": f"k{i}", "SageMakerOutput": vector(i)} for i in range(10)])
    collection.item_rule = lambda document: 400 if document["listing_id"] in ("k3", "k7") else None
    code, _, _ = run(capsys, argv(tmp_path, collection, "--max-failure-rate", "0.2"))
    assert code == 0
    summary = written_summary(tmp_path)
    assert summary["documents_indexed"] == 8
    assert summary["failed"] == {"mapper_parsing_exception": 2}

    code, _, _ = run(capsys, argv(tmp_path, collection, "--max-failure-rate", "0.1", "--run-id", "run-3"))
    assert code == 1
    assert written_summary(tmp_path)["failed_documents"] == 2


def test_bad_embeddings_are_reported_with_their_line_number_and_not_sent(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    write_lines(
        tmp_path / "out" / "part-0",
        [
            {"pk": "good", "SageMakerOutput": vector(0.1)},
            {"pk": SECRET_KEY, "SageMakerOutput": [0.1, 0.2, 0.3]},
            {"pk": "nan", "SageMakerOutput": [0.1, "x", 0.3, 0.4]},
            '{"pk": "inf", "SageMakerOutput": [0.1, 1e999, 0.3, 0.4]}',
            {"pk": "object", "SageMakerOutput": {"vector": vector(0.1)}},
            {"pk": "bool", "SageMakerOutput": [True, 0.2, 0.3, 0.4]},
            "not json",
        ],
    )
    code, _, err = run(capsys, argv(tmp_path, collection))
    assert code == 1
    assert "malformed line 2 of part-0: WrongDimensions (3 numbers, 4 expected)" in err
    assert "malformed line 3 of part-0: NotANumber" in err
    assert "malformed line 4 of part-0: NonFiniteNumber" in err
    assert "malformed line 5 of part-0: NotAVector" in err
    assert "malformed line 6 of part-0: NotANumber" in err
    assert "malformed line 7 of part-0: InvalidJson" in err
    assert [d["listing_id"] for d in collection.documents.values()] == ["good"]
    summary = written_summary(tmp_path)
    assert summary["malformed_lines"] == 6
    assert summary["malformed"] == {
        "InvalidJson": 1,
        "NonFiniteNumber": 1,
        "NotANumber": 2,
        "NotAVector": 1,
        "WrongDimensions": 1,
    }


def test_embedding_field_of_a_json_prediction(tmp_path: Path, capsys: Any, collection: Any) -> None:
    write_lines(
        tmp_path / "out" / "part-0",
        [
            {"pk": "a", "SageMakerOutput": {"output": {"embedding": vector(0.3)}, "label": "x"}},
            {"pk": "b", "SageMakerOutput": {"output": {}}},
        ],
    )
    code, _, err = run(capsys, argv(tmp_path, collection, "--embedding-field", "output.embedding"))
    assert code == 1
    assert "malformed line 2 of part-0: MissingEmbedding" in err
    assert [d["embedding"] for d in collection.documents.values()] == [vector(0.3)]


def test_csv_output_takes_the_fields_after_the_input_as_the_embedding(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    # key, a passed-through column, 2 features, then the 4 numbers of the embedding
    write_lines(
        tmp_path / "out" / "a.csv.out", ["k1,eu,3,0.5,0.1,0.2,0.3,0.4", "k2,,3,0.5,1,2,3,4", "k3,eu,3,0.5,1,2,3"]
    )
    code, _, err = run(
        capsys, argv(tmp_path, collection, "--input-columns", "4", "--document-fields", "region", fmt="csv")
    )
    assert code == 1
    assert "malformed line 3 of a.csv.out: WrongDimensions (3 numbers, 4 expected)" in err
    documents = sorted(collection.documents.values(), key=lambda d: d["listing_id"])
    assert [(d["listing_id"], d["embedding"], d.get("region")) for d in documents] == [
        ("k1", [0.1, 0.2, 0.3, 0.4], "eu"),
        ("k2", [1.0, 2.0, 3.0, 4.0], None),  # an empty field is left out
    ]


def test_free_text_fields_pass_through_as_they_are_for_a_text_search(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    # Titles and tags (mapped as text for the serving path's text search): commas, quotes, non-ASCII.
    title, tags = 'Cat plays "Für Elise", then naps', "cats, piano,  music"
    line = {"pk": "v1", "passthrough": {"title": title, "tags": tags}, "SageMakerOutput": vector(0.1)}
    json_output = write_lines(tmp_path / "out" / "part-0", [line])
    code, _, _ = run(capsys, argv(tmp_path, collection, "--document-fields", "title,tags"))
    assert code == 0
    assert [(d["title"], d["tags"]) for d in collection.documents.values()] == [(title, tags)]

    json_output.unlink()
    quoted = '"' + title.replace('"', '""') + '"'
    write_lines(tmp_path / "out" / "a.csv.out", [f'v2,{quoted},"{tags}",0.1,0.2,0.3,0.4'])
    fields = ("--input-columns", "3", "--document-fields", "title,tags")
    code, _, _ = run(capsys, argv(tmp_path, collection, *fields, "--run-id", "run-3", fmt="csv"))
    assert code == 0
    run_3 = [d for d in collection.documents.values() if d["run_id"] == "run-3"]
    assert [(d["listing_id"], d["title"], d["tags"]) for d in run_3] == [("v2", title, tags)]


def test_an_index_created_meanwhile_is_used(tmp_path: Path, capsys: Any, collection: Any) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": "a", "SageMakerOutput": vector(0.1)}])
    collection.script[f"HEAD /{RUN_INDEX}"] = [404]  # not there yet; but the PUT finds it
    collection.indexes[RUN_INDEX] = {"already": "there"}
    code, _, _ = run(capsys, argv(tmp_path, collection))
    assert code == 0
    assert collection.indexes[RUN_INDEX] == {"already": "there"}
    assert written_summary(tmp_path)["index_created"] is False


def test_an_index_that_cannot_be_created_fails_the_job_before_any_document(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": "a", "SageMakerOutput": vector(0.1)}])
    collection.script[f"PUT /{RUN_INDEX}"] = [403]
    code, _, err = run(capsys, argv(tmp_path, collection))
    assert code == 1
    assert collection.bulk_requests() == []
    assert "PUT index: security_exception; nothing indexed" in err
    assert written_summary(tmp_path)["fatal_error"].startswith("PUT index")


def test_a_server_that_cannot_be_reached_fails_after_the_attempts(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": "a", "SageMakerOutput": vector(0.1)}])
    unreachable = type("Unreachable", (), {"endpoint": "http://127.0.0.1:9"})()
    code, _, _ = run(capsys, argv(tmp_path, unreachable, "--max-attempts", "2"))
    assert code == 1
    assert written_summary(tmp_path)["fatal_error"] == "ConnectionRefusedError"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--endpoint", "http://127.0.0.1:1"], None),  # accepted with --allow-http
        (["--index", "Listings"], "--index must be a lower case OpenSearch index name"),
        (["--index", "_listings"], "--index must be a lower case OpenSearch index name"),
        (["--index", "a" * 239], "--index must be a lower case OpenSearch index name of at most 238 bytes"),
        (["--dimensions", "3"], "--index-body must map embedding as a knn_vector of dimension 3"),
        (["--dimensions", "0"], "--dimensions must be from 1 to 16000"),
        (["--key-field", "embedding"], "must differ"),
        (["--document-fields", "run_id"], "must differ"),
        (["--input-columns", "3"], "--input-columns applies to --format csv only"),
        (["--max-failure-rate", "1"], "--max-failure-rate must be at least 0 and below 1"),
        (["--embedding-field", "a..b"], "--embedding-field must be field names separated by dots"),
    ],
)
def test_usage_errors_exit_2_before_any_request(
    tmp_path: Path, capsys: Any, collection: Any, change: list[str], message: str | None
) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": "a", "SageMakerOutput": vector(0.1)}])
    args = argv(tmp_path, collection)
    args = args + change  # argparse takes the last value of a repeated option
    if message is None:
        assert lv.build_config(lv._parser().parse_args(args)).endpoint == "http://127.0.0.1:1"
        return
    code, _, err = run(capsys, args)
    assert code == 2
    assert message in err
    assert collection.requests == []


def test_https_is_required_without_allow_http(tmp_path: Path, capsys: Any, collection: Any) -> None:
    write_lines(tmp_path / "out" / "part-0", [{"pk": "a", "SageMakerOutput": vector(0.1)}])
    args = [a for a in argv(tmp_path, collection) if a != "--allow-http"]
    code, _, err = run(capsys, args)
    assert code == 2
    assert "--endpoint must be an https URL without a path" in err
    assert collection.requests == []


# --------------------------------------------------------------------------------------------
# Incremental loading (--target-index): a window run into the index a rebuild made


REBUILD = "rebuild-1"
LIVE_INDEX = lv.run_index(INDEX, REBUILD)  # the index the rebuild built, which the alias points to


def rebuild(tmp_path: Path, capsys: Any, collection: Any) -> None:
    """A full run (no --target-index) that builds LIVE_INDEX with keys r0..r2."""
    write_lines(tmp_path / "out" / "part-0", [{"pk": f"r{i}", "SageMakerOutput": vector(i)} for i in range(3)])
    code, _, _ = run(capsys, argv(tmp_path, collection, "--run-id", REBUILD))
    assert code == 0
    summary = written_summary(tmp_path)
    assert (summary["index"], summary["incremental"], summary["index_created"]) == (LIVE_INDEX, False, True)


def window(tmp_path: Path, keys: list[str]) -> None:
    """The window's transform output, in place of the rebuild's."""
    write_lines(tmp_path / "out" / "part-0", [{"pk": k, "SageMakerOutput": vector(0.5)} for k in keys])


def test_a_window_run_loads_into_the_existing_target_index_and_creates_nothing(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    rebuild(tmp_path, capsys, collection)
    before = len(collection.requests)
    window(tmp_path, ["w0", "w1"])
    code, out, _ = run(capsys, argv(tmp_path, collection, "--target-index", LIVE_INDEX))
    assert code == 0
    sent = collection.requests[before:]
    assert [r["method"] for r in sent] == ["HEAD", "POST"]  # no PUT: the index body is not sent
    assert sent[0]["path"] == f"/{LIVE_INDEX}"
    assert collection.indexes == {LIVE_INDEX: INDEX_BODY}  # no index of the window run's own
    in_live = sorted((d["listing_id"], d["run_id"]) for d in collection.documents.values())
    assert in_live == [("r0", REBUILD), ("r1", REBUILD), ("r2", REBUILD), ("w0", RUN), ("w1", RUN)]
    assert set(collection.document_index.values()) == {LIVE_INDEX}
    summary = written_summary(tmp_path)
    assert (summary["index"], summary["alias"], summary["incremental"]) == (LIVE_INDEX, INDEX, True)
    assert (summary["index_created"], summary["fatal_error"], summary["documents_indexed"]) == (False, None, 2)
    assert f"index={LIVE_INDEX}" in out


def test_a_missing_target_index_fails_with_index_missing_before_any_document(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    window(tmp_path, ["w0"])
    code, _, err = run(capsys, argv(tmp_path, collection, "--target-index", LIVE_INDEX))
    assert code == 1
    assert [(r["method"], r["path"]) for r in collection.requests] == [("HEAD", f"/{LIVE_INDEX}")]
    assert collection.bulk_requests() == [] and collection.indexes == {}
    assert "index_missing; nothing indexed" in err
    summary = written_summary(tmp_path)
    assert (summary["fatal_error"], summary["index"], summary["incremental"]) == ("index_missing", LIVE_INDEX, True)
    assert (summary["index_created"], summary["documents_indexed"]) == (False, 0)


def test_a_target_index_that_cannot_be_checked_fails_as_without_it(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    window(tmp_path, ["w0"])
    collection.script[f"HEAD /{LIVE_INDEX}"] = [403]
    code, _, _ = run(capsys, argv(tmp_path, collection, "--target-index", LIVE_INDEX))
    assert code == 1
    assert written_summary(tmp_path)["fatal_error"] == "HEAD index: HTTP403"  # a HEAD answer has no body
    assert [r["method"] for r in collection.requests] == ["HEAD"]


def test_a_repeated_window_run_adds_its_documents_again(tmp_path: Path, capsys: Any, collection: Any) -> None:
    # Vector collections refuse custom _ids (the stand-in asserts none is sent): the service assigns
    # them, so a document is never replaced and a window run twice leaves each of its keys twice.
    rebuild(tmp_path, capsys, collection)
    window(tmp_path, ["w0", "w1"])
    for _ in range(2):
        code, _, _ = run(capsys, argv(tmp_path, collection, "--target-index", LIVE_INDEX))
        assert code == 0
        assert written_summary(tmp_path)["documents_indexed"] == 2
    keys = sorted(d["listing_id"] for d in collection.documents.values())
    assert keys == ["r0", "r1", "r2", "w0", "w0", "w1", "w1"]


NOT_A_RUN_INDEX = (
    "--target-index must be a run index of the alias --index listings: listings-<16 lower-case hex digits>"
)
NOT_AN_INDEX_NAME = "--target-index must be a lower case OpenSearch index name of at most 255 bytes"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (LIVE_INDEX, None),
        ("listings", NOT_A_RUN_INDEX),  # the alias itself
        ("listings-0123456789abcde", NOT_A_RUN_INDEX),  # 15 hex
        ("listings-0123456789abcdef0", NOT_A_RUN_INDEX),  # 17 hex
        ("listings-0123456789abcdeg", NOT_A_RUN_INDEX),
        ("videos-0123456789abcdef", NOT_A_RUN_INDEX),  # another alias's
        ("listings-v2-0123456789abcdef", NOT_A_RUN_INDEX),
        ("xlistings-0123456789abcdef", NOT_A_RUN_INDEX),
        ("listings-0123456789ABCDEF", NOT_AN_INDEX_NAME),
        ("listings-0123456789abcde*", NOT_AN_INDEX_NAME),
        ("listings-01234567 9abcdef", NOT_AN_INDEX_NAME),
        ("listings-0123456789abcd/f", NOT_AN_INDEX_NAME),
        ("listings-0123456789abcd#f", NOT_AN_INDEX_NAME),
        ("_listings-0123456789abcdef", NOT_AN_INDEX_NAME),
        ("..", NOT_AN_INDEX_NAME),
        ("", NOT_AN_INDEX_NAME),
        ("a" * 256, NOT_AN_INDEX_NAME),
    ],
)
def test_a_target_index_that_is_not_a_run_index_of_the_alias_is_a_usage_error(
    tmp_path: Path, capsys: Any, collection: Any, target: str, message: str | None
) -> None:
    window(tmp_path, ["w0"])
    args = argv(tmp_path, collection, "--target-index", target)
    if message is None:
        config = lv.build_config(lv._parser().parse_args(args))
        assert (config.index, config.incremental) == (LIVE_INDEX, True)
        return
    code, _, err = run(capsys, args)
    assert code == 2
    assert message in err
    assert collection.requests == []


def test_the_index_body_is_still_checked_with_a_target_index(tmp_path: Path, capsys: Any, collection: Any) -> None:
    window(tmp_path, ["w0"])
    code, _, err = run(capsys, argv(tmp_path, collection, "--target-index", LIVE_INDEX, "--dimensions", "3"))
    assert code == 2
    assert "--index-body must map embedding as a knn_vector of dimension 3" in err
    assert collection.requests == []
    no_body = argv(tmp_path, collection, "--target-index", LIVE_INDEX)
    del no_body[no_body.index("--index-body") : no_body.index("--index-body") + 2]
    assert lv.main(no_body, now=NOW) == 2  # still required
    assert collection.requests == []


# --------------------------------------------------------------------------------------------
# Replacing a window (--replace-window): the window's documents of earlier runs deleted after the load


WINDOW = "2024-05-01T13"
OTHER_WINDOW = "2024-05-01T12"
SECOND_WINDOW = "2024-05-01T14"


def window_lines(tmp_path: Path, keys: list[str], window: str | None = WINDOW) -> None:
    """The window's transform output (each line carrying its window), in place of the previous one."""
    write_lines(
        tmp_path / "out" / "part-0",
        [{"pk": k, "passthrough": {"anonymization_window": window}, "SageMakerOutput": vector(0.5)} for k in keys],
    )


def replace_argv(tmp_path: Path, collection: Any, run_id: str, *extra: str, windows: str = WINDOW) -> list[str]:
    fields = ("--document-fields", "anonymization_window", "--replace-window", windows)
    return argv(tmp_path, collection, "--target-index", LIVE_INDEX, *fields, "--run-id", run_id, *extra)


def in_live(collection: Any) -> list[tuple[str, str, str | None]]:
    """(key, run_id, window) of each document of the live index."""
    documents = [d for i, d in collection.documents.items() if collection.document_index[i] == LIVE_INDEX]
    return sorted((d["listing_id"], d["run_id"], d.get("anonymization_window")) for d in documents)


def earlier_query(run_id: str, size: int = lv.REPLACE_PAGE_SIZE) -> dict[str, Any]:
    window_term = {"term": {"anonymization_window": WINDOW}}
    bool_query = {"filter": [window_term], "must_not": [{"term": {"run_id": run_id}}]}
    return {"size": size, "_source": False, "query": {"bool": bool_query}}


def test_a_window_loaded_twice_with_replace_window_holds_each_key_once_of_the_second_run(
    tmp_path: Path, capsys: Any, collection: Any, environment: list[float]
) -> None:
    rebuild(tmp_path, capsys, collection)
    window_lines(tmp_path, ["w0", "w1", "w2"])
    code, _, _ = run(capsys, replace_argv(tmp_path, collection, "window-a"))
    assert code == 0
    first = written_summary(tmp_path)
    assert (first["replaced_window"], first["replaced_documents"], first["documents_indexed"]) == (WINDOW, 0, 3)
    assert first["replaced_windows"] == [WINDOW]  # a single window: a plain string, and a list of one

    before = len(collection.requests)
    code, out, err = run(capsys, replace_argv(tmp_path, collection, "window-b", "--batch-size", "2"))
    assert code == 0
    # Loaded first, deleted after: every index _bulk before the search, the deletes after it.
    kinds = [
        "search" if r["path"].endswith("/_search") else "delete" if b'"delete"' in r["body"][:40] else r["method"]
        for r in collection.requests[before:]
    ]
    assert kinds == ["HEAD", "POST", "POST", "search", "delete", "delete", "search"]
    # The first run's one search found nothing; the second's found the first's documents, then none.
    assert [s["body"] for s in collection.searches()] == [earlier_query("window-a")] + [earlier_query("window-b")] * 2
    assert {s["path"] for s in collection.searches()} == {f"/{LIVE_INDEX}/_search"}
    deletes = collection.delete_requests()
    assert [len(d) for d in deletes] == [2, 1]  # --batch-size deletes per _bulk
    assert {d["_index"] for batch in deletes for d in batch} == {LIVE_INDEX}

    windowed = [("w0", "window-b", WINDOW), ("w1", "window-b", WINDOW), ("w2", "window-b", WINDOW)]
    assert in_live(collection) == [("r0", REBUILD, None), ("r1", REBUILD, None), ("r2", REBUILD, None), *windowed]
    summary = written_summary(tmp_path)
    assert (summary["replaced_window"], summary["replaced_documents"], summary["fatal_error"]) == (WINDOW, 3, None)
    assert summary["replaced_windows"] == [WINDOW]
    assert (summary["documents_indexed"], summary["incremental"], summary["index"]) == (3, True, LIVE_INDEX)
    assert "replaced_documents=3" in out
    assert f"window {WINDOW}: 3 document(s) of earlier runs deleted from {LIVE_INDEX}" in err
    assert environment == []  # no retry, no wait


def test_replace_window_leaves_other_windows_this_run_and_other_indexes_alone(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    # A rebuild that holds the window (a replay into a freshly rebuilt index), another window, and a
    # document without a window.
    write_lines(
        tmp_path / "out" / "part-0",
        [
            {"pk": "w0", "passthrough": {"anonymization_window": WINDOW}, "SageMakerOutput": vector(1)},
            {"pk": "o0", "passthrough": {"anonymization_window": OTHER_WINDOW}, "SageMakerOutput": vector(2)},
            {"pk": "n0", "SageMakerOutput": vector(3)},
        ],
    )
    rebuilt = ("--document-fields", "anonymization_window", "--run-id", REBUILD)
    assert run(capsys, argv(tmp_path, collection, *rebuilt))[0] == 0
    # Another instance of this run already loaded its share; an older run index still holds the window.
    older = lv.run_index(INDEX, "rebuild-0")
    collection.indexes[older] = INDEX_BODY
    planted = {
        "sibling": (LIVE_INDEX, {"listing_id": "w9", "run_id": "window-b", "anonymization_window": WINDOW}),
        "older": (older, {"listing_id": "w0", "run_id": "rebuild-0", "anonymization_window": WINDOW}),
    }
    for doc_id, (where, document) in planted.items():
        collection.documents[doc_id], collection.document_index[doc_id] = document, where

    window_lines(tmp_path, ["w0", "w1"])
    code, _, _ = run(capsys, replace_argv(tmp_path, collection, "window-b"))
    assert code == 0
    assert written_summary(tmp_path)["replaced_documents"] == 1  # the rebuild's w0 only
    assert in_live(collection) == [
        ("n0", REBUILD, None),
        ("o0", REBUILD, OTHER_WINDOW),
        ("w0", "window-b", WINDOW),
        ("w1", "window-b", WINDOW),
        ("w9", "window-b", WINDOW),
    ]
    assert collection.documents["older"]["run_id"] == "rebuild-0"  # another index: not searched
    deleted = [d["_id"] for batch in collection.delete_requests() for d in batch]
    assert len(deleted) == 1 and not {"sibling", "older"} & set(deleted)


def test_a_run_beyond_its_failure_budget_deletes_nothing(tmp_path: Path, capsys: Any, collection: Any) -> None:
    rebuild(tmp_path, capsys, collection)
    window_lines(tmp_path, ["w0", "w1", "w2"])
    assert run(capsys, replace_argv(tmp_path, collection, "window-a"))[0] == 0
    collection.item_rule = lambda document: 400 if document["listing_id"] == "w1" else None
    before = len(collection.requests)
    code, _, err = run(capsys, replace_argv(tmp_path, collection, "window-b"))
    assert code == 1
    assert not any(r["path"].endswith("/_search") for r in collection.requests[before:])
    assert collection.delete_requests() == []
    assert f"beyond the failure budget: the window {WINDOW}'s documents of earlier runs are kept" in err
    kept = [(k, "window-a", WINDOW) for k in ("w0", "w1", "w2")] + [
        ("w0", "window-b", WINDOW),
        ("w2", "window-b", WINDOW),
    ]
    assert [d for d in in_live(collection) if d[2] == WINDOW] == sorted(kept)
    summary = written_summary(tmp_path)
    assert (summary["replaced_window"], summary["replaced_documents"], summary["fatal_error"]) == (WINDOW, 0, None)
    assert summary["failed_documents"] == 1

    # An unreadable file puts a run beyond its budget too, whatever the rate.
    collection.item_rule = lambda _document: None
    (tmp_path / "out" / "part-1.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    code, _, _ = run(capsys, replace_argv(tmp_path, collection, "window-c", "--max-failure-rate", "0.9"))
    assert code == 1
    assert collection.delete_requests() == []


def test_throttled_deletes_are_retried_and_a_document_gone_meanwhile_is_done(
    tmp_path: Path, capsys: Any, collection: Any, environment: list[float]
) -> None:
    rebuild(tmp_path, capsys, collection)
    window_lines(tmp_path, ["w0", "w1", "w2", "w3"])
    assert run(capsys, replace_argv(tmp_path, collection, "window-a"))[0] == 0
    earlier = [i for i, d in collection.documents.items() if d["run_id"] == "window-a"]
    collection.script["POST /_bulk delete"] = [429]  # the whole first request
    seen: list[str] = []

    def rule(doc_id: str) -> int | None:
        seen.append(doc_id)
        if doc_id == earlier[1] and seen.count(doc_id) == 1:
            return 429  # this item, once
        if doc_id == earlier[2]:  # another instance of the run deletes it first
            with collection.lock:
                collection.documents.pop(doc_id, None)
                collection.document_index.pop(doc_id, None)
        return None

    collection.delete_rule = rule
    code, _, _ = run(capsys, replace_argv(tmp_path, collection, "window-b"))
    assert code == 0
    deletes = collection.delete_requests()
    assert [sorted(d["_id"] for d in batch) for batch in deletes] == [sorted(earlier), sorted(earlier), [earlier[1]]]
    assert not any(d["run_id"] == "window-a" for d in collection.documents.values())
    summary = written_summary(tmp_path)
    assert summary["replaced_documents"] == 3  # the one another instance deleted is not counted
    assert (summary["retries"], summary["fatal_error"]) == (2, None)
    assert len(environment) == 2  # a backoff before each retry


def test_a_search_that_still_shows_deleted_documents_is_waited_for(
    tmp_path: Path, capsys: Any, collection: Any, environment: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuild(tmp_path, capsys, collection)
    window_lines(tmp_path, ["w0", "w1"])
    assert run(capsys, replace_argv(tmp_path, collection, "window-a"))[0] == 0
    collection.search_lag = 2  # the next two searches still show what was deleted
    code, _, _ = run(capsys, replace_argv(tmp_path, collection, "window-b"))
    assert code == 0
    assert environment == [lv.REPLACE_WAIT_SECONDS] * 2
    assert len(collection.searches()) == 1 + 4 and len(collection.delete_requests()) == 1
    assert written_summary(tmp_path)["replaced_documents"] == 2

    # Shown for longer than the waits allow: the replacement is not verified.
    monkeypatch.setattr(lv, "REPLACE_MAX_WAITS", 3)
    collection.search_lag = 10
    environment.clear()
    code, _, err = run(capsys, replace_argv(tmp_path, collection, "window-c"))
    assert code == 1
    assert environment == [lv.REPLACE_WAIT_SECONDS] * 3
    assert "2 deleted document(s) still found after 3 wait(s) of 10 s" in err
    summary = written_summary(tmp_path)
    assert (summary["fatal_error"], summary["replaced_documents"]) == ("replace_incomplete", 2)


@pytest.mark.parametrize(("earlier", "code", "fatal"), [(4, 0, None), (5, 1, "replace_incomplete")])
def test_the_rounds_of_deletes_are_capped(
    tmp_path: Path,
    capsys: Any,
    collection: Any,
    monkeypatch: pytest.MonkeyPatch,
    earlier: int,
    code: int,
    fatal: str | None,
) -> None:
    rebuild(tmp_path, capsys, collection)
    window_lines(tmp_path, [f"w{i}" for i in range(earlier)])
    assert run(capsys, replace_argv(tmp_path, collection, "window-a"))[0] == 0
    monkeypatch.setattr(lv, "REPLACE_PAGE_SIZE", 2)
    monkeypatch.setattr(lv, "MAX_REPLACED_DOCUMENTS", 4)  # 2 rounds of 2
    window_lines(tmp_path, ["w0"])
    searched = len(collection.searches())
    result, _, err = run(capsys, replace_argv(tmp_path, collection, "window-b"))
    assert result == code
    assert [len(d) for d in collection.delete_requests()] == [2, 2]
    assert [s["body"] for s in collection.searches()[searched:]] == [earlier_query("window-b", 2)] * 3
    summary = written_summary(tmp_path)
    assert (summary["fatal_error"], summary["replaced_documents"], summary["documents_indexed"]) == (fatal, 4, 1)
    remaining = [d[1] for d in in_live(collection) if d[2] == WINDOW]
    assert sorted(remaining) == ["window-a"] * (earlier - 4) + ["window-b"]
    if fatal:
        assert "still found after 2 round(s) of deletes (4 documents at most)" in err
        assert "replace_incomplete; this run's documents are indexed, 4 of the window's earlier ones deleted" in err


def test_a_failed_search_or_delete_fails_the_run_after_the_load(tmp_path: Path, capsys: Any, collection: Any) -> None:
    rebuild(tmp_path, capsys, collection)
    window_lines(tmp_path, ["w0", "w1"])
    assert run(capsys, replace_argv(tmp_path, collection, "window-a"))[0] == 0

    collection.script[f"POST /{LIVE_INDEX}/_search"] = [403]
    code, _, err = run(capsys, replace_argv(tmp_path, collection, "window-b"))
    assert code == 1
    summary = written_summary(tmp_path)
    assert (summary["fatal_error"], summary["documents_indexed"]) == ("replace_failed: search: security_exception", 2)
    assert "error: replace_failed: search: security_exception; this run's documents are indexed" in err

    collection.delete_rule = lambda _id: 409
    code, _, err = run(capsys, replace_argv(tmp_path, collection, "window-c"))
    assert code == 1
    fatal = written_summary(tmp_path)["fatal_error"]
    assert fatal == "replace_failed: _bulk delete: version_conflict_engine_exception"
    assert "4 x version_conflict_engine_exception not deleted after 1 attempt(s)" in err


def test_without_replace_window_the_summary_says_so(tmp_path: Path, capsys: Any, collection: Any) -> None:
    rebuild(tmp_path, capsys, collection)
    summary = written_summary(tmp_path)
    assert (summary["replaced_window"], summary["replaced_windows"], summary["replaced_documents"]) == (None, [], 0)
    window_lines(tmp_path, ["w0"])
    args = argv(tmp_path, collection, "--target-index", LIVE_INDEX, "--document-fields", "anonymization_window")
    code, out, _ = run(capsys, args)
    assert code == 0
    summary = written_summary(tmp_path)
    assert (summary["replaced_window"], summary["replaced_windows"], summary["replaced_documents"]) == (None, [], 0)
    assert collection.searches() == [] and collection.delete_requests() == []
    assert "replaced_documents" not in out


def test_a_list_of_windows_is_replaced_in_one_run(
    tmp_path: Path, capsys: Any, collection: Any, environment: list[float]
) -> None:
    # A rebuild's catch-up pass: the rebuild's full run holds WINDOW and SECOND_WINDOW as they were when
    # it started, a window run then replaced SECOND_WINDOW in its index, and both windows were committed
    # again during the rebuild; another window and a document without one stay.
    def line(key: str, window: str | None) -> dict[str, Any]:
        return {"pk": key, "passthrough": {"anonymization_window": window}, "SageMakerOutput": vector(0.5)}

    write_lines(
        tmp_path / "out" / "part-0",
        [line("w0", WINDOW), line("w1", WINDOW), line("s0", SECOND_WINDOW), line("o0", OTHER_WINDOW), line("n0", None)],
    )
    rebuilt = ("--document-fields", "anonymization_window", "--run-id", REBUILD)
    assert run(capsys, argv(tmp_path, collection, *rebuilt))[0] == 0
    window_lines(tmp_path, ["s0", "s1"], SECOND_WINDOW)
    assert run(capsys, replace_argv(tmp_path, collection, "window-a", windows=SECOND_WINDOW))[0] == 0
    assert written_summary(tmp_path)["replaced_documents"] == 1  # the rebuild's s0
    earlier = sorted(
        i for i, d in collection.documents.items() if d.get("anonymization_window") in (WINDOW, SECOND_WINDOW)
    )
    assert len(earlier) == 4  # the rebuild's w0 and w1, window-a's s0 and s1

    write_lines(
        tmp_path / "out" / "part-0",
        [line(k, WINDOW) for k in ("w0", "w1", "w2")] + [line(k, SECOND_WINDOW) for k in ("s0", "s1")],
    )
    listed = f"{WINDOW},{SECOND_WINDOW}"
    searched = len(collection.searches())
    code, out, err = run(capsys, replace_argv(tmp_path, collection, "catch-up", "--batch-size", "3", windows=listed))
    assert code == 0
    # One search for both windows (terms, excluding this run), then the deletes, then one that finds none.
    terms = {"terms": {"anonymization_window": [WINDOW, SECOND_WINDOW]}}
    bool_query = {"filter": [terms], "must_not": [{"term": {"run_id": "catch-up"}}]}
    query = {"size": lv.REPLACE_PAGE_SIZE, "_source": False, "query": {"bool": bool_query}}
    assert [s["body"] for s in collection.searches()[searched:]] == [query] * 2
    deletes = collection.delete_requests()[1:]  # after window-a's one
    assert [len(d) for d in deletes] == [3, 1]
    assert sorted(d["_id"] for batch in deletes for d in batch) == earlier

    assert in_live(collection) == [
        ("n0", REBUILD, None),
        ("o0", REBUILD, OTHER_WINDOW),
        ("s0", "catch-up", SECOND_WINDOW),
        ("s1", "catch-up", SECOND_WINDOW),
        ("w0", "catch-up", WINDOW),
        ("w1", "catch-up", WINDOW),
        ("w2", "catch-up", WINDOW),
    ]
    summary = written_summary(tmp_path)
    assert (summary["replaced_window"], summary["replaced_windows"]) == (listed, [WINDOW, SECOND_WINDOW])
    assert (summary["replaced_documents"], summary["documents_indexed"], summary["fatal_error"]) == (4, 5, None)
    assert "replaced_documents=4" in out
    assert f"2 windows ({WINDOW}, {SECOND_WINDOW}): 4 document(s) of earlier runs deleted from {LIVE_INDEX}" in err
    assert environment == []  # no retry, no wait


def hour_windows(count: int) -> str:
    """``count`` distinct hourly windows, comma-separated."""
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    return ",".join((start + timedelta(hours=i)).strftime("%Y-%m-%dT%H") for i in range(count))


NO_TARGET = "--replace-window applies to a window run only: give --target-index too"
NOT_A_WINDOW = "--replace-window must be an anonymization window, YYYY-MM-DD (a day) or YYYY-MM-DDTHH (an hour)"
NO_WINDOW_FIELD = "--replace-window needs anonymization_window among --document-fields"
EMPTY_ITEM = "--replace-window must be windows separated by single commas, without an empty item"
DUPLICATE = f"--replace-window must list each window once: {WINDOW} is listed more than once"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--replace-window", "2024-05-01"], None),
        (["--replace-window", "2024-05-01T13"], None),
        (["--replace-window", f"{WINDOW},{OTHER_WINDOW}"], None),
        pytest.param(["--replace-window", hour_windows(1000)], None, id="1000 windows"),
        pytest.param(
            ["--replace-window", hour_windows(1001)],
            "--replace-window lists 1001 windows: at most 1000 are allowed",
            id="1001 windows",
        ),
        (["--replace-window", f"{WINDOW},{WINDOW}"], DUPLICATE),
        (["--replace-window", f"{WINDOW},{OTHER_WINDOW},{WINDOW}"], DUPLICATE),
        (["--replace-window", f"{WINDOW},"], EMPTY_ITEM + " (item 2 of 2)"),
        (["--replace-window", f",{WINDOW}"], EMPTY_ITEM + " (item 1 of 2)"),
        (["--replace-window", f"{WINDOW},,{OTHER_WINDOW}"], EMPTY_ITEM + " (item 2 of 3)"),
        (["--replace-window", ","], EMPTY_ITEM),
        (["--replace-window", f"{WINDOW},2024-05-01T1"], NOT_A_WINDOW + ", or a comma-separated list of at most 1000"),
        (["--replace-window", f"{WINDOW},2024-05-01T1"], "not '2024-05-01T1' (item 2 of 2)"),
        (["--replace-window", f"{WINDOW}, {OTHER_WINDOW}"], NOT_A_WINDOW),
        (["--replace-window", f"{WINDOW};{OTHER_WINDOW}"], NOT_A_WINDOW),
        (["--replace-window", f"{WINDOW},*"], NOT_A_WINDOW),
        (["--target-index", None], NO_TARGET),
        (["--replace-window", "2024-05-01T1"], NOT_A_WINDOW),
        (["--replace-window", "2024-5-01"], NOT_A_WINDOW),
        (["--replace-window", "2024-05-01T13:00"], NOT_A_WINDOW),
        (["--replace-window", "2024-05-01 13"], NOT_A_WINDOW),
        (["--replace-window", "2024-05-01\n"], NOT_A_WINDOW),
        (["--replace-window", "\u0662\u0660\u0662\u0664-05-01"], NOT_A_WINDOW),  # digits, but not ASCII
        (["--replace-window", "*"], NOT_A_WINDOW),
        (["--replace-window", ""], NOT_A_WINDOW),
        (["--document-fields", "region"], NO_WINDOW_FIELD),
        (["--document-fields", None], NO_WINDOW_FIELD),
    ],
)
def test_replace_window_usage_errors_exit_2_before_any_request(
    tmp_path: Path, capsys: Any, collection: Any, change: list[Any], message: str | None
) -> None:
    window_lines(tmp_path, ["w0"])
    args = replace_argv(tmp_path, collection, "window-b")
    option, value = change
    while option in args:  # replace (or, for None, remove) every occurrence
        at = args.index(option)
        del args[at : at + 2]
    if value is not None:
        args += [option, value]
    if message is None:
        config = lv.build_config(lv._parser().parse_args(args))
        assert (config.replace_window, config.index) == (value, LIVE_INDEX)
        assert config.replace_windows == value.split(",")
        return
    code, _, err = run(capsys, args)
    assert code == 2
    assert message in err
    assert collection.requests == []


# --------------------------------------------------------------------------------------------
# Several instances (a sharded load)


RUNTIME = Path(lv.__file__).resolve().parent
JOB_IO_DIR = RUNTIME.parents[2] / "lib" / "python"


def shard_argv(tmp_path: Path, collection: Any, host: str, *extra: str) -> list[str]:
    """One instance of a sharded load: its share under <host>/in, its summary <summary>/<host>.json."""
    config = tmp_path / host / "resourceconfig.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"current_host": host, "hosts": ["algo-1", "algo-2"]}), encoding="utf-8")
    args = [a for a in argv(tmp_path, collection, *extra) if not a.startswith(str(tmp_path / "summary"))]
    args = [a for a in args if a != "--summary"]
    args[args.index("--input") + 1] = str(tmp_path / host / "in")
    return [*args, "--summary-dir", str(tmp_path / "summaries"), "--resource-config", str(config)]


def run_instances(tmp_path: Path, collection: Any, hosts: Any, *extra: str) -> None:
    """The instances of a sharded load as processes started together (each with shard_argv); all must exit 0."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(RUNTIME), str(JOB_IO_DIR)])}
    processes = {
        host: subprocess.Popen(
            [sys.executable, str(RUNTIME / "load_vectors.py"), *shard_argv(tmp_path, collection, host, *extra)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for host in hosts
    }
    results = {host: p.communicate(timeout=60) for host, p in processes.items()}
    for host, process in processes.items():
        assert process.returncode == 0, results[host][1].decode()


def shard_summary(tmp_path: Path, host: str) -> dict[str, Any]:
    return json.loads((tmp_path / "summaries" / f"{host}.json").read_text())


def test_two_instances_started_together_both_find_no_index_and_one_creates_it(tmp_path: Path, collection: Any) -> None:
    # Two processes, as two instances of one job: each its own files, both see 404 before either PUTs.
    shares = {"algo-1": range(0, 6), "algo-2": range(6, 10)}
    for host, keys in shares.items():
        write_lines(
            tmp_path / host / "in" / f"part-{host}.out", [{"pk": f"k{i}", "SageMakerOutput": vector(i)} for i in keys]
        )
    collection.head_barrier = threading.Barrier(2)
    run_instances(tmp_path, collection, shares)

    assert [r["method"] for r in collection.requests].count("HEAD") == 2
    assert [r["method"] for r in collection.requests].count("PUT") == 2  # the loser is told it exists
    assert collection.indexes == {RUN_INDEX: INDEX_BODY}
    summaries = {host: shard_summary(tmp_path, host) for host in shares}
    assert sorted(s["index_created"] for s in summaries.values()) == [False, True]
    assert {host: s["documents_indexed"] for host, s in summaries.items()} == {"algo-1": 6, "algo-2": 4}
    assert all(s["fatal_error"] is None and s["index"] == RUN_INDEX for s in summaries.values())
    assert sorted(d["listing_id"] for d in collection.documents.values()) == sorted(f"k{i}" for i in range(10))
    assert {d["run_id"] for d in collection.documents.values()} == {RUN}  # one run id across the instances


def test_instances_of_one_run_that_replace_the_window_at_once_delete_each_document_once(
    tmp_path: Path, capsys: Any, collection: Any
) -> None:
    rebuild(tmp_path, capsys, collection)
    window_lines(tmp_path, [f"w{i}" for i in range(6)])
    assert run(capsys, replace_argv(tmp_path, collection, "window-a"))[0] == 0
    earlier = sorted(i for i, d in collection.documents.items() if d["run_id"] == "window-a")
    shares = {"algo-1": range(0, 4), "algo-2": range(4, 6)}
    for host, keys in shares.items():
        lines = [
            {"pk": f"w{i}", "passthrough": {"anonymization_window": WINDOW}, "SageMakerOutput": vector(i)} for i in keys
        ]
        write_lines(tmp_path / host / "in" / f"part-{host}.out", lines)
    collection.search_barrier = threading.Barrier(2)  # both search before either deletes
    fields = ("--document-fields", "anonymization_window", "--replace-window", WINDOW)
    run_instances(tmp_path, collection, shares, "--target-index", LIVE_INDEX, *fields, "--run-id", "window-b")

    deletes = collection.delete_requests()
    assert sorted(sorted(d["_id"] for d in batch) for batch in deletes) == [earlier, earlier]  # both saw all six
    summaries = {host: shard_summary(tmp_path, host) for host in shares}
    assert sum(s["replaced_documents"] for s in summaries.values()) == 6  # each one deleted once, by either
    assert all(s["fatal_error"] is None and s["replaced_window"] == WINDOW for s in summaries.values())
    assert in_live(collection)[3:] == [(f"w{i}", "window-b", WINDOW) for i in range(6)]


def test_a_shard_leaves_the_budget_to_the_run(tmp_path: Path, capsys: Any, collection: Any) -> None:
    # algo-1: 2 of its 4 lines rejected, far beyond 0.001 of its lines; algo-2: no file at all.
    write_lines(
        tmp_path / "algo-1" / "in" / "part-0.out", [{"pk": f"k{i}", "SageMakerOutput": vector(i)} for i in range(4)]
    )
    collection.item_rule = lambda document: 400 if document["listing_id"] in ("k1", "k2") else None

    code, out, _ = run(capsys, shard_argv(tmp_path, collection, "algo-1"))
    assert code == 0  # the workflow applies --max-failure-rate to the sum of the summaries
    first = shard_summary(tmp_path, "algo-1")
    assert (first["lines"], first["documents_indexed"], first["failed_documents"]) == (4, 2, 2)
    assert first["max_failure_rate"] == 0.001
    assert "failed_documents=2" in out

    code, _, err = run(capsys, shard_argv(tmp_path, collection, "algo-2"))
    assert code == 0
    assert "no data file under" in err and "a shard without files" in err
    second = shard_summary(tmp_path, "algo-2")
    assert (second["files"], second["lines"], second["documents_indexed"]) == (0, 0, 0)

    # Without --replace-window no shard deletes anything: replacing the previous run is the workflow's swap.
    assert not any(r["method"] == "DELETE" or r["path"].endswith("/_search") for r in collection.requests)


def test_a_shard_still_fails_on_what_no_budget_covers(tmp_path: Path, capsys: Any, collection: Any) -> None:
    broken = tmp_path / "algo-1" / "in" / "part-0.out.gz"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    code, _, err = run(capsys, shard_argv(tmp_path, collection, "algo-1"))
    assert code == 1
    assert "cannot read part-0.out.gz" in err
    assert shard_summary(tmp_path, "algo-1")["unreadable_files"] == 1

    collection.script[f"HEAD /{RUN_INDEX}"] = [404]  # as if the index were gone, and could not be made
    collection.script[f"PUT /{RUN_INDEX}"] = [403]
    write_lines(tmp_path / "algo-2" / "in" / "part-1.out", [{"pk": "a", "SageMakerOutput": vector(0.1)}])
    code, _, _ = run(capsys, shard_argv(tmp_path, collection, "algo-2"))
    assert code == 1
    assert shard_summary(tmp_path, "algo-2")["fatal_error"] == "PUT index: security_exception"


def test_an_unreadable_resource_config_is_a_usage_error(tmp_path: Path, capsys: Any, collection: Any) -> None:
    args = shard_argv(tmp_path, collection, "algo-1")
    args[args.index("--resource-config") + 1] = str(tmp_path / "missing.json")
    code, _, err = run(capsys, args)
    assert code == 2
    assert "cannot read current_host" in err
    assert collection.requests == []


# --------------------------------------------------------------------------------------------
# transform_output: what the two loaders share


def test_iso_utc_is_the_whole_second_in_utc() -> None:
    assert transform_output.iso_utc(NOW + 0.9) == "2024-05-01T12:00:00Z"


def test_summary_path_is_summary_or_a_file_per_host_under_summary_dir(tmp_path: Path) -> None:
    plain = argparse.ArgumentParser()
    transform_output.add_summary_arguments(plain)
    assert transform_output.summary_path(plain.parse_args([])) is None
    assert transform_output.summary_path(plain.parse_args(["--summary", "s.json"])) == Path("s.json")
    with pytest.raises(SystemExit):
        plain.parse_args(["--summary-dir", "d"])  # only with shards=True

    sharded = argparse.ArgumentParser()
    transform_output.add_summary_arguments(sharded, shards=True)
    config = tmp_path / "resourceconfig.json"
    config.write_text('{"current_host": "algo-3"}', encoding="utf-8")
    args = sharded.parse_args(["--summary-dir", str(tmp_path / "out"), "--resource-config", str(config)])
    assert transform_output.summary_path(args) == tmp_path / "out" / "algo-3.json"
    with pytest.raises(SystemExit):
        sharded.parse_args(["--summary", "s.json", "--summary-dir", "d"])


def test_log_limit_logs_the_first_messages_then_says_once_that_it_stops(capsys: Any) -> None:
    log = transform_output.LogLimit("loader", "further problems are counted, not logged", limit=2)
    for i in range(4):
        log(f"problem {i}")
    assert capsys.readouterr().err.splitlines() == [
        "loader: problem 0",
        "loader: problem 1",
        "loader: further problems are counted, not logged",
    ]


class _Stats(transform_output.LoadStats):
    failed_text = "thing(s) not sent"

    def __init__(self) -> None:
        log = transform_output.LogLimit("loader", "further problems are counted, not logged")
        super().__init__(rejects=log, failures=log)


def test_json_lines_carry_the_passed_through_columns_in_one_object() -> None:
    # The export nests them under "passthrough", so that the transform's OutputFilter stays short.
    row = {"pk": "a", "passthrough": {"region": "eu", "rooms": 2}, "features": {"x": 1}, "SageMakerOutput": [1]}
    fields = ["region", "rooms", "missing"]
    record = transform_output.parse_json(json.dumps(row).encode(), sort_key=False, fields=fields)
    assert (record.key, record.fields, record.prediction) == ("a", {"region": "eu", "rooms": 2, "missing": None}, [1])
    # Top-level fields are not passed-through columns; an absent or null object leaves them all None.
    top_level = {"pk": "a", "region": "eu", "SageMakerOutput": 1}
    for other in (top_level, {"pk": "a", "passthrough": None, "SageMakerOutput": 1}):
        parsed = transform_output.parse_json(json.dumps(other).encode(), sort_key=False, fields=["region"])
        assert parsed.fields == {"region": None}
    with pytest.raises(transform_output.MalformedLineError) as caught:
        line = b'{"pk": "a", "passthrough": ["eu"], "SageMakerOutput": 1}'
        transform_output.parse_json(line, sort_key=False, fields=["region"])
    assert caught.value.category == "InvalidPassthrough"


def test_converted_counts_lines_and_leaves_out_malformed_and_unreadable_ones(tmp_path: Path, capsys: Any) -> None:
    good = write_lines(
        tmp_path / "in" / "a", [{"pk": "a", "SageMakerOutput": 1}, "not json", {"pk": 7, "SageMakerOutput": 2}]
    )
    broken = tmp_path / "in" / "b.gz"
    broken.write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    stats = _Stats()

    def convert(line: bytes) -> str:
        record = transform_output.parse_json(line, sort_key=False)
        if record.prediction == 2:
            raise transform_output.MalformedLineError("TooBig", " (2 > 1)")
        return record.key

    assert list(transform_output.converted(tmp_path / "in", [good, broken], convert, stats)) == ["a"]
    assert (stats.lines, stats.unreadable_files, stats.malformed) == (3, 1, {"InvalidJson": 1, "TooBig": 1})
    err = capsys.readouterr().err
    assert "loader: malformed line 2 of a: InvalidJson" in err
    assert "loader: malformed line 3 of a: TooBig (2 > 1)" in err
    assert "loader: cannot read b.gz after line 0: " in err


def test_send_batches_counts_a_batch_whose_send_raises_as_failed(capsys: Any) -> None:
    stats = _Stats()
    sent: list[list[int]] = []
    lock = threading.Lock()

    def send(batch: list[int]) -> None:
        if batch == [3, 4]:
            raise KeyError(SECRET_KEY)
        with lock:
            sent.append(batch)
        stats.store(len(batch))

    transform_output.send_batches(iter([[1, 2], [3, 4], [5]]), send, stats, 2, "test")
    assert sorted(sent) == [[1, 2], [5]]
    assert (stats.stored, stats.failed) == (3, {"InternalError:KeyError": 2})
    assert capsys.readouterr().err == "loader: 2 thing(s) not sent: InternalError:KeyError after 0 attempt(s)\n"


class _SummaryStats(_Stats):
    stored_name = "things_sent"

    def own_counts(self) -> dict[str, Any]:
        return {"internal_errors": self.internal_errors}

    def line(self, seconds: float) -> str:
        return f"loader: lines={self.lines}"

    def succeeded(self) -> bool:
        return not self.internal_errors


def test_run_loader_exits_2_on_usage_errors_and_reports_internal_errors_without_their_message(
    tmp_path: Path, capsys: Any
) -> None:
    parser = argparse.ArgumentParser(prog="loader.py")
    transform_output.add_input_arguments(parser)
    transform_output.add_summary_arguments(parser)
    summary = tmp_path / "out" / "summary.json"

    def refuse(_args: argparse.Namespace) -> transform_output.Job:
        raise lv.UsageError("--input is wrong")

    assert transform_output.run_loader("loader", parser, ["--input", "x", "--format", "csv"], refuse) == 2
    assert capsys.readouterr().err == "loader: error: --input is wrong\n"
    assert transform_output.run_loader("loader", parser, ["--format", "csv"], refuse) == 2  # argparse's exit
    capsys.readouterr()

    seen: list[float] = []

    def prepare(args: argparse.Namespace) -> transform_output.Job:
        stats = _SummaryStats()

        def load(now: float) -> None:
            seen.append(now)
            stats.line_read()
            raise ValueError(SECRET_KEY)

        return transform_output.Job(Path(args.input), [], stats, load, Path(args.summary), " (note)")

    argv_ = ["--input", "in", "--format", "jsonlines", "--summary", str(summary)]
    assert transform_output.run_loader("loader", parser, argv_, prepare, now=NOW) == 1
    out, err = capsys.readouterr()
    assert seen == [NOW]
    assert out == "loader: lines=1\n"
    assert err.startswith(
        "loader: warning: no data file under in (note)\nloader: internal error ValueError (message withheld)\n"
    )
    assert SECRET_KEY not in err
    assert json.loads(summary.read_text()) == {
        "files": 0, "unreadable_files": 0, "lines": 1, "things_sent": 0, "malformed_lines": 0, "malformed": {},
        "failed_records": 0, "failed": {}, "retries": 0, "internal_errors": 1,
    }  # fmt: skip
