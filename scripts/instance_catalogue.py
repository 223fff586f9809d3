"""Writes lib/sagemaker/instance-type-catalogue.json: the SageMaker instance types each kind of job or
endpoint accepts, from botocore's service model (the Smithy model the SDKs and the API validate
against), so that every validator of the kit checks one catalogue instead of a pattern.

Usage: .venv/bin/python scripts/instance_catalogue.py [--check]

--check exits 1 when the committed file differs from what the pinned botocore gives
(test/sagemaker/instance-catalogue.test.ts runs it).
"""

from __future__ import annotations

import os
import sys

from botocore_catalogue import service_shapes, source, write_or_check

# The input shape of each use, as SageMaker's API names it.
SHAPES = {
    "endpoint": "ProductionVariantInstanceType",
    "training": "TrainingInstanceType",
    "processing": "ProcessingInstanceType",
    "transform": "TransformInstanceType",
}
TARGET = os.path.join(os.path.dirname(__file__), "..", "lib", "sagemaker", "instance-type-catalogue.json")


def catalogue() -> dict:
    version, shapes = service_shapes("sagemaker")
    return {
        "source": source("sagemaker", version),
        "types": {use: sorted(shapes[shape]["enum"]) for use, shape in SHAPES.items()},
    }


if __name__ == "__main__":
    sys.exit(write_or_check(TARGET, catalogue, "instance_catalogue.py", __doc__.splitlines()[0]))
