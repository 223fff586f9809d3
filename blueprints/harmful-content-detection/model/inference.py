"""Serving handler of the harmful content classifier, for SageMaker's PyTorch inference container.

train.py copies this file, ``harmful_content_detection_model.py`` and ``serving_io.py`` into
``/opt/ml/model/code``. The detection service sends one instance per post: the embeddings and the
author and reaction features it read from the online feature store.

Requests: ``application/json`` ``{"instances": [{"text_embedding": [...], "image_embedding": [...],
"violations_90d": 2, ...}, ...]}``, or ``text/csv``: one post per line, the vector features' values
then the scalar features, in the model's order (``model.npz`` meta).
Responses: per post ``{"probabilities": {"violence": 0.02, ...}, "harm_score": 0.41, "top_class":
"hate", "decision": "demote"}`` (JSON), or ``harm_score,decision`` per line (CSV).
"""

from __future__ import annotations

import os

import serving_io
from harmful_content_detection_model import MultiTaskClassifier, predict
from serving_io import FeatureError


def model_fn(model_dir: str) -> MultiTaskClassifier:
    return MultiTaskClassifier.load(os.path.join(model_dir, "model.npz"))


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    return serving_io.parse_instances(body, content_type)


def predict_fn(instances: list, model: MultiTaskClassifier) -> list:
    meta = model.meta
    records = serving_io.feature_records(
        instances, meta["scalar_features"], meta["vector_features"], meta["vector_dims"], vectors_first=True
    )
    try:
        return predict(model, records)
    except FeatureError as error:
        raise ValueError(f"bad request: {error}") from error


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) == serving_io.CSV:
        return serving_io.format_predictions([[p["harm_score"], p["decision"]] for p in predictions], accept)
    return serving_io.format_predictions(predictions, accept)
