"""Test handler for the local SageMaker Runtime stand-in, with the contract of a blueprint's inference.py.

model_fn reads ``model.json`` (a label and a constant score), so two model folders make two
variants that answer differently. The answer reports what the handler received (body type,
content type, accept) so that tests can check the stand-in passes what SageMaker's containers pass.
Instances ``{"fail": "value"}`` and ``{"fail": "runtime"}`` raise a ValueError and a RuntimeError.
"""

from __future__ import annotations

import json
import os

import rules
import serving_io


def model_fn(model_dir: str) -> dict:
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        return json.load(f)


def input_fn(body: object, content_type: str = serving_io.JSON) -> dict:
    instances = serving_io.parse_instances(body, content_type)
    if not instances:
        raise ValueError("the request has no instances")
    return {"instances": instances, "body_type": type(body).__name__, "content_type": content_type}


def predict_fn(request: dict, model: dict) -> dict:
    for instance in request["instances"]:
        if isinstance(instance, dict) and instance.get("fail") == "value":
            raise ValueError("instance asks for a ValueError")
        if isinstance(instance, dict) and instance.get("fail") == "runtime":
            raise RuntimeError("a detail that must not reach the client")
    scores = [model["score"]] * len(request["instances"])
    return {**request, "scores": scores, "label": model["label"], "rules": rules.NAME}


def output_fn(prediction: dict, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) == serving_io.CSV:
        return serving_io.format_predictions(prediction["scores"], serving_io.CSV)
    if serving_io.media_type(accept) != serving_io.JSON:
        raise ValueError(f"accept {accept!r} is not supported")
    answer = {key: value for key, value in prediction.items() if key != "instances"}
    return json.dumps({**answer, "predictions": prediction["scores"], "accept": accept}), serving_io.JSON
