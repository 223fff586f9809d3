"""Serving handler of the news feed ranker, for SageMaker's PyTorch inference container.

train.py copies this file, ``news_feed_model.py`` and ``serving_io.py`` into ``/opt/ml/model/code``.
The feed service retrieves the user's unseen candidate posts, joins their features (online
feature store and cache) and sends one request per feed refresh, one instance per candidate.

The request path (constructs/serving) sends each candidate's Feature Store values as strings, the
post's ``author_id`` and ``id`` as pseudonyms, and leaves out what the store has no record of: a
user–author pair without interactions has no affinity record, a user idle for the last hour no
engagement record. Those features are counts and scores of interactions, so absent means 0 (as
the training data logs them); any other missing feature is still an error.

Requests: ``application/json`` ``{"instances": [{"author_id": "…", "affinity_score": 0.7, ...}, ...]}``
(``author_id``, or the model's diversity key, is optional and only used to diversify), or
``text/csv``: one candidate per line, the scalar features then the vector features' values, in the
model's order (``model.npz`` meta).
Responses: per candidate ``{"click": 0.12, "like": …, "share": …, "comment": …, "skip": …,
"dwell_seconds": 14.2, "score": 1.73, "rank": 1}`` (JSON; ``rank`` is after diversification), or
``score,rank`` per line (CSV).
"""

from __future__ import annotations

import os

import serving_io
from news_feed_model import EngagementModel, score_posts
from serving_io import FeatureError

# Features whose record is absent when there was no interaction: absent means none, i.e. 0.
ABSENT_MEANS_ZERO = (
    "affinity_score",
    "author_interactions_30d",
    "user_clicks_1h",
    "user_likes_1h",
    "user_skips_1h",
    "user_dwell_seconds_1h",
)


def with_interaction_defaults(records: list, scalar_features: list) -> list:
    """JSON records with the absent interaction features set to 0; other records as they are."""
    defaults = [name for name in scalar_features if name in ABSENT_MEANS_ZERO]

    def filled(record: dict) -> dict:
        present = {name: value for name, value in record.items() if value not in (None, "")}
        return {**{name: 0.0 for name in defaults if name not in present}, **present}

    return [filled(record) if isinstance(record, dict) else record for record in records]


def model_fn(model_dir: str) -> EngagementModel:
    return EngagementModel.load(os.path.join(model_dir, "model.npz"))


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    return serving_io.parse_instances(body, content_type)


def predict_fn(instances: list, model: EngagementModel) -> list:
    meta = model.meta
    records = serving_io.feature_records(
        instances, meta["scalar_features"], meta["vector_features"], meta["vector_dims"]
    )
    records = with_interaction_defaults(records, meta["scalar_features"])
    try:
        return score_posts(model, records)
    except FeatureError as error:
        raise ValueError(f"bad request: {error}") from error


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) == serving_io.CSV:
        return serving_io.format_predictions([[p["score"], p["rank"]] for p in predictions], accept)
    return serving_io.format_predictions(predictions, accept)
