"""Second test handler: a sibling module named like the scorer's, and an output_fn returning only a body.

SageMaker's containers answer a bare body with the request's Accept as content type; the tests
check that the stand-in does the same.
"""

from __future__ import annotations

import json
import os

import rules


def model_fn(model_dir: str) -> dict:
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        return json.load(f)


def input_fn(body: object, content_type: str) -> object:
    return body


def predict_fn(body: object, model: dict) -> dict:
    return {"greeting": model["greeting"], "rules": rules.NAME}


def output_fn(prediction: dict, accept: str) -> bytes:
    return json.dumps(prediction).encode("utf-8")
