"""Writes lib/elasticache/cache-node-types.json: the ElastiCache node types, current and previous
generation, from botocore's ElastiCache model. The model has no enum for node types (the API takes
any string and fails at create time); the documentation of CreateReplicationGroup's CacheNodeType
lists them under "Current generation" and "Previous generation" headings, which is what this reads.

Usage: .venv/bin/python scripts/cache_node_catalogue.py [--check]

--check exits 1 when the committed file differs from what the pinned botocore gives
(test/elasticache/cache-node-catalogue.test.ts runs it).
"""

from __future__ import annotations

import os
import re
import sys

from botocore_catalogue import service_shapes, source, write_or_check

TARGET = os.path.join(os.path.dirname(__file__), "..", "lib", "elasticache", "cache-node-types.json")
NODE_TYPE = re.compile(r"cache\.[a-z0-9]+\.[a-z0-9]+")
HEADING = re.compile(r"(Current generation|Previous generation)")


def catalogue() -> dict:
    version, shapes = service_shapes("elasticache")
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
        "source": source("elasticache", version),
        "types": {generation: sorted(types) for generation, types in found.items()},
    }


if __name__ == "__main__":
    sys.exit(write_or_check(TARGET, catalogue, "cache_node_catalogue.py", __doc__.splitlines()[0]))
