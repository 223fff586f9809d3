"""Serving handler of the Street View blurring detector (batch transform, or any SageMaker container).

Requests, one image per instance: ``{"width", "height", "pixels"}`` (``pixels`` = base64 of the
grayscale bytes, row by row), optionally ``"blur": true`` to get the blurred image back too.
- ``application/jsonlines`` (what the nightly batch transform sends): one instance per line;
- ``application/json``: ``{"instances": [...]}`` or a list;
- ``text/csv``: ``width,height,pixels[,blur]`` per line, no header.
Responses, one per instance: ``{"detections": [{"label", "score", "box": [x1, y1, x2, y2]}],
"count": n[, "pixels": <blurred, base64>]}``, as JSON Lines (one per line, so that batch transform
joins each with its image id), JSON (``{"predictions": [...]}``) or CSV (the count, then
x1, y1, x2, y2, score of each box). Only boxes are returned by default: payloads stay small and the
publishing service blurs the full-resolution image.
"""

from __future__ import annotations

import json
import os

import numpy as np
import serving_io
import street_view_blurring_model as detector

TRUE = {"1", "true", "yes"}


def model_fn(model_dir: str) -> dict:
    saved = np.load(os.path.join(model_dir, "model.npz"))
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    return {"params": {k: saved[k] for k in saved.files}, "config": config}


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    return serving_io.parse_instances(body, content_type)


def _image(instance: object, index: int) -> tuple:
    if isinstance(instance, list):  # CSV row
        if len(instance) not in (3, 4):
            raise ValueError(
                f"instance {index}: expected width,height,pixels[,blur], but {len(instance)} values were provided"
            )
        values = {
            "width": instance[0],
            "height": instance[1],
            "pixels": instance[2],
            "blur": instance[3] if len(instance) == 4 else False,
        }
    else:
        values = {name: serving_io.field(instance, name, index) for name in ("width", "height", "pixels")}
        values["blur"] = instance.get("blur", False)
    try:
        width, height = int(values["width"]), int(values["height"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"instance {index}: width and height must be whole numbers") from error
    try:
        image = detector.decode_image(str(values["pixels"]), width, height)
    except ValueError as error:
        raise ValueError(f"instance {index}: {error}") from error
    return image, str(values["blur"]).strip().lower() in TRUE


def predict_fn(instances: list, model: dict) -> list:
    config = model["config"]
    predictions = []
    for index, instance in enumerate(instances):
        image, want_blur = _image(instance, index)
        found = detector.detect(
            model["params"], image, config["score_threshold"], config["nms_iou"], config["max_detections"]
        )
        prediction = {"detections": found, "count": len(found)}
        if want_blur:
            prediction["pixels"] = detector.encode_image(detector.blur(image, [d["box"] for d in found]))
        predictions.append(prediction)
    return predictions


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    kind = serving_io.media_type(accept)
    if kind == serving_io.CSV:
        rows = [
            [p["count"], *[v for d in p["detections"] for v in (*d["box"], round(d["score"], 4))]] for p in predictions
        ]
        return serving_io.format_predictions(rows, accept)
    return serving_io.format_predictions(predictions, accept)
