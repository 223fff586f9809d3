"""Writes lib/elasticache/cache-node-types.json: the ElastiCache node types, current and previous
generation, from botocore's ElastiCache model. The model has no enum for node types (the API takes
any string and fails at create time); the documentation of CreateReplicationGroup's CacheNodeType
lists them under "Current generation" and "Previous generation" headings, which is what this reads.

Usage: .venv/bin/python scripts/cache_node_catalogue.py [--check]

--check exits 1 when the committed file differs from what the pinned botocore gives
(test/elasticache/cache-node-catalogue.test.ts runs it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys

import botocore

TARGET = os.path.join(os.path.dirname(__file__), "..", "lib", "elasticache", "cache-node-types.json")
NODE_TYPE = re.compile(r"cache\.[a-z0-9]+\.[a-z0-9]+")
HEADING = re.compile(r"(Current generation|Previous generation)")


def catalogue() -> dict:
    folder = os.path.join(os.path.dirname(botocore.__file__), "data", "elasticache")
    version = sorted(os.listdir(folder))[-1]
    path = os.path.join(folder, version, "service-2.json.gz")
    opener = gzip.open if os.path.exists(path) else open
    with opener(path if os.path.exists(path) else path[: -len(".gz")], "rt", encoding="utf-8") as f:
        shapes = json.load(f)["shapes"]
    doc = shapes["CreateReplicationGroupMessage"]["members"]["CacheNodeType"]["documentation"]
    found: dict[str, set[str]] = {"current": set(), "previous": set()}
    generation = None
    for part in HEADING.split(doc):
        if HEADING.fullmatch(part):
            generation = "current" if part.startswith("Current") else "previous"
            continue
        types = set(NODE_TYPE.findall(part))
        if types and generation is None:
            raise SystemExit(
                f"node types outside a generation heading: {sorted(types)}; the documentation changed shape"
            )
        if generation is not None:
            found[generation] |= types
    if not found["current"]:
        raise SystemExit("no current-generation node types found; the documentation changed shape")
    return {
        "source": f"botocore {botocore.__version__}, elasticache {version}",
        "types": {generation: sorted(types) for generation, types in found.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed catalogue is stale")
    args = parser.parse_args()
    text = json.dumps(catalogue(), indent=1) + "\n"
    if args.check:
        with open(TARGET, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{TARGET} is stale: run .venv/bin/python scripts/cache_node_catalogue.py", file=sys.stderr)
                return 1
        return 0
    with open(TARGET, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
