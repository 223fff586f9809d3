"""What the catalogue scripts share: reading a service's model from the pinned botocore, and writing
a catalogue file or checking that the committed one is current (``--check``, which the tests run)."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from typing import Callable

import botocore


def service_shapes(service: str) -> tuple[str, dict]:
    """The model's API version and shapes for ``service``, from botocore's bundled data."""
    folder = os.path.join(os.path.dirname(botocore.__file__), "data", service)
    version = sorted(os.listdir(folder))[-1]
    path = os.path.join(folder, version, "service-2.json.gz")
    if os.path.exists(path):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return version, json.load(f)["shapes"]
    with open(path[: -len(".gz")], encoding="utf-8") as f:
        return version, json.load(f)["shapes"]


def source(service: str, version: str) -> str:
    """Where a catalogue comes from, as its files and the kit's messages quote it."""
    return f"botocore {botocore.__version__}, {service} {version}"


def write_or_check(target: str, build: Callable[[], dict], script: str, description: str) -> int:
    """The catalogue script's command line: writes ``target``, or with --check exits 1 when it is stale."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail when the committed catalogue is stale")
    args = parser.parse_args()
    text = json.dumps(build(), indent=1) + "\n"
    if args.check:
        with open(target, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{target} is stale: run .venv/bin/python scripts/{script}", file=sys.stderr)
                return 1
        return 0
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    return 0
