"""bench_erase_raw.py still runs erase_raw's own code paths, on a few records: counts only, no timings."""

from __future__ import annotations

import gzip
import json
from typing import Any

import bench_erase_raw
import pytest


def test_the_objects_hold_the_subject_only_where_the_rewrite_path_wants_it() -> None:
    clean, holding = bench_erase_raw.generate("news-feed", 400, 4, 100)
    assert [k for k, _ in clean] == [k for k, _ in holding]
    assert all(k.startswith("feed_impressions/2026/12/07/12/part-") for k, _ in clean)
    rows = [[json.loads(line) for line in gzip.decompress(body).splitlines()] for _, body in holding]
    subject = [[r for r in rows_ if bench_erase_raw.SUBJECT in (r["user_id"], r["author_id"])] for rows_ in rows]
    assert [len(s) for s in subject] == [1, 1, 1, 1]  # one in every 100, spread over the objects
    assert bench_erase_raw.SUBJECT not in b"".join(gzip.decompress(body) for _, body in clean).decode()
    assert set(rows[0][0]) == {c["name"] for c in bench_erase_raw.NEWS_FEED_POLICY["columns"]}


@pytest.mark.parametrize("shape", ["news-feed", "anonymization"])
def test_every_path_filters_what_erase_raw_would(shape: str, capsys: Any) -> None:
    argv = ["--shape", shape, "--records", "300", "--objects", "3", "--subject-every", "50", "--workers", "2"]
    assert bench_erase_raw.main([*argv, "--batch", "40", "--batch-runs", "3", "--moto", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["records"], result["objects"]) == (300, 3)
    assert result["scan"]["removed"] == 0 and result["pool"]["removed"] == 0
    assert result["rewrite"]["removed"] == 6
    assert (result["moto"]["removed"], result["moto"]["rewritten"]) == (6, 3)
    assert {"recordsPerCpuSecond", "recordsPerSecond"} <= set(result["scan"])
    assert result["batchScan"]["removed"] == 0 and result["batchScan"]["requests"] == 40
    assert {"recordsPerCpuSecond", "recordsPerSecond"} <= set(result["batchScan"])


def test_a_batch_scans_each_candidate_once_where_single_runs_scan_it_per_request() -> None:
    runs = bench_erase_raw.batch_runs("news-feed", 4, rows=20)
    recent = bench_erase_raw.RECENT_OBJECTS
    assert (runs["requests"], runs["objects"]) == (4, 4 + recent)
    batch, single = runs["batch"], runs["single"]
    # One batch: the 4 lineage objects and the recent ones, once; each single run: its 2 and all the recent ones.
    assert (batch["objectsScanned"], single["objectsScanned"]) == (4 + recent, 4 * (2 + recent))
    assert (batch["objectsRewritten"], single["objectsRewritten"]) == (4 + 4, 4 * 3)
    assert batch["recordsRemoved"] == single["recordsRemoved"] == 4 * 3
    # The lookback's day folder(s), once per run: two when it spans midnight.
    assert batch["dayFolderListings"] in (1, 2) and single["dayFolderListings"] == 4 * batch["dayFolderListings"]
