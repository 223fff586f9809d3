"""Writes lib/sagemaker/instance-type-catalogue.json: the SageMaker instance types each kind of job or
endpoint accepts, from botocore's service model (the Smithy model the SDKs and the API validate
against), so that every validator of the kit checks one catalogue instead of a pattern.

Usage: .venv/bin/python scripts/instance_catalogue.py [--check]

--check exits 1 when the committed file differs from what the pinned botocore gives
(test/sagemaker/instance-catalogue.test.ts runs it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys

import botocore

# The input shape of each use, as SageMaker's API names it.
SHAPES = {
    "endpoint": "ProductionVariantInstanceType",
    "training": "TrainingInstanceType",
    "processing": "ProcessingInstanceType",
    "transform": "TransformInstanceType",
}
TARGET = os.path.join(os.path.dirname(__file__), "..", "lib", "sagemaker", "instance-type-catalogue.json")


def catalogue() -> dict:
    folder = os.path.join(os.path.dirname(botocore.__file__), "data", "sagemaker")
    version = sorted(os.listdir(folder))[-1]
    path = os.path.join(folder, version, "service-2.json.gz")
    opener = gzip.open if os.path.exists(path) else open
    with opener(path if os.path.exists(path) else path[: -len(".gz")], "rt", encoding="utf-8") as f:
        shapes = json.load(f)["shapes"]
    return {
        "source": f"botocore {botocore.__version__}, sagemaker {version}",
        "types": {use: sorted(shapes[shape]["enum"]) for use, shape in SHAPES.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed catalogue is stale")
    args = parser.parse_args()
    text = json.dumps(catalogue(), indent=1) + "\n"
    if args.check:
        with open(TARGET, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{TARGET} is stale: run .venv/bin/python scripts/instance_catalogue.py", file=sys.stderr)
                return 1
        return 0
    with open(TARGET, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
