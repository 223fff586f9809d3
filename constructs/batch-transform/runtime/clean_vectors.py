"""Removes the documents of earlier runs from a BatchTransform's vector index, after a sharded load.

The instances of a sharded vector load (``load_vectors.py --summary-dir``) leave the documents of
earlier runs in place: each sees only its share of the keys, and none knows whether the others
succeed. Once every instance has finished and the workflow has found the sum of their failures
within the run's budget, it runs this script as a one-instance Processing job (the scikit-learn
processing container, Python 3.8+, standard library and boto3 only, in the VPC, through the
OpenSearch Serverless VPC endpoint). It deletes what ``load_vectors.py`` deletes at the end of a
one-instance load, the same way (its ``remove_superseded``): the documents whose ``run_id`` is not
``--run-id``, found with ``_search`` and deleted by ``_id`` with ``_bulk``, until the search finds
none. Requests are signed with SigV4 for ``aoss`` and retried on 429, 5xx and transport errors.
It logs counts and error types, never a key or a field value.

Usage::

    python clean_vectors.py --endpoint https://<id>.<region>.aoss.amazonaws.com --index listings \\
        --run-id <execution> [--summary cleanup.json] [--max-attempts 8]

Exit codes: 0 the cleanup ran, complete or not (an incomplete cleanup is in the summary and left
to the next run, as after a one-instance load: the new documents are in, so the run stands);
1 an internal error; 2 usage error, before any request. The summary (``documents_deleted``,
``retries``, ``cleanup``: ``complete`` or ``incomplete: <reason>``) goes to ``--summary`` and, as
one line, to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
from typing import Any

import load_vectors as lv
import transform_output as shared
from job_io import UsageError


class CleanupStats:
    """The cleanup's counts (``load_vectors.Counts``)."""

    def __init__(self, index: str) -> None:
        self.index = index
        self.documents_deleted = 0
        self.retries = 0
        self.cleanup = "not started"
        self._lock = threading.Lock()

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def deleted(self, count: int) -> None:
        with self._lock:
            self.documents_deleted += count

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "index": self.index,
                "documents_deleted": self.documents_deleted,
                "retries": self.retries,
                "cleanup": self.cleanup,
            }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clean_vectors.py",
        description="Delete the documents of earlier runs from a vector index, after a sharded load.",
    )
    parser.add_argument(
        "--endpoint", required=True, help="the collection endpoint, https://<id>.<region>.aoss.amazonaws.com"
    )
    parser.add_argument("--allow-http", action="store_true", help="accept http:// (local tests only)")
    parser.add_argument("--index", required=True, help="the index name")
    parser.add_argument("--run-id", required=True, help="the run whose documents stay (the execution name)")
    parser.add_argument("--summary", default=None, help="write the counts as JSON to this file")
    parser.add_argument(
        "--max-attempts", type=int, default=lv.DEFAULT_MAX_ATTEMPTS, help="attempts per request (429, 5xx)"
    )
    return parser


def main(argv: list[str] | None = None, credentials: Any = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    try:
        region = lv.check_collection(args)
        collection = lv.Collection(args.endpoint, region, args.index, args.run_id, args.max_attempts)
        client = lv.Client(collection, credentials)
    except UsageError as e:
        print(f"clean_vectors: error: {e}", file=sys.stderr)
        return 2
    stats = CleanupStats(collection.index)
    started = time.monotonic()
    code = 0
    try:
        lv.remove_superseded(client, collection, stats)
    except lv.FatalError as e:  # no answer after the attempts: left to the next run, like any incomplete cleanup
        stats.cleanup = f"incomplete: {e}"
    except Exception as e:  # a bug: where, not the message, which may quote a value
        frames = "".join(traceback.format_tb(e.__traceback__))
        print(f"clean_vectors: internal error {type(e).__name__} (message withheld)\n{frames}", file=sys.stderr)
        stats.cleanup = f"incomplete: internal error {type(e).__name__}"
        code = 1
    summary = stats.summary()
    if args.summary:
        shared.write_summary(args.summary, summary)
    if summary["cleanup"] != "complete":
        print(f"clean_vectors: warning: cleanup {summary['cleanup']}; the next run deletes the rest", file=sys.stderr)
    print(f"clean_vectors: {json.dumps(summary, sort_keys=True)} in {time.monotonic() - started:.2f}s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
