"""Serving handler of the harmful content classifier, for SageMaker's PyTorch inference container.

train.py copies this file, ``harmful_content_detection_model.py`` and ``serving_io.py`` into
``/opt/ml/model/code``. The request path (``stack.ts``, ServingPath ``hcd``) sends one instance per
post: the embeddings and reaction counts of the request, the author's history from the online
feature store.

Requests: ``application/json`` ``{"instances": [{"text_embedding": [...], "image_embedding": [...],
"violations_90d": 2, ...}, ...]}``, or ``text/csv``: one post per line, the vector features' values
then the scalar features, in the model's order (``model.npz`` meta). A JSON instance may leave out
scalar features, or carry them as the online feature store's strings (``"2"``): an author without a
history record (a new account) and a post without reactions yet (the check at creation) count as 0.
The embeddings are always required.
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


def with_absent_counts(instances: list, scalars: list) -> list:
    """JSON instances with each absent scalar feature set to 0 (author history and reactions are counts)."""
    return [
        {**instance, **{name: 0 for name in scalars if instance.get(name) is None}}
        if isinstance(instance, dict)
        else instance
        for instance in instances
    ]


def predict_fn(instances: list, model: MultiTaskClassifier) -> list:
    meta = model.meta
    records = serving_io.feature_records(
        with_absent_counts(instances, meta["scalar_features"]),
        meta["scalar_features"],
        meta["vector_features"],
        meta["vector_dims"],
        vectors_first=True,
    )
    try:
        return predict(model, records)
    except FeatureError as error:
        raise ValueError(f"bad request: {error}") from error


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) == serving_io.CSV:
        return serving_io.format_predictions([[p["harm_score"], p["decision"]] for p in predictions], accept)
    return serving_io.format_predictions(predictions, accept)
