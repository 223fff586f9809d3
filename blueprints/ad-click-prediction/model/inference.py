"""Serving handler of the ad click model (model_fn → input_fn → predict_fn → output_fn).

One request scores the ad candidates of one ad request (after advertiser targeting selected them);
the ad server then ranks them by bid × click probability and re-ranks (pacing, diversity).

Requests:
  - ``application/json``::

        {"instances": [{"ad_id": "a1", "advertiser_id": "adv7", "campaign_id": "c3", "ad_category": "travel",
                        "user_segment": "s12", "ad_ctr_7d": 0.021, "advertiser_ctr_30d": 0.018,
                        "user_clicks_7d": 3, "user_impressions_7d": 140, "hour_of_day": 20}, ...]}

  - ``text/csv``: one candidate per line, the sparse fields then the dense features in the order of
    ``ad_click_prediction_model.SPARSE_FIELDS`` and ``DENSE_FEATURES``, no header.

Responses: JSON ``{"predictions": [{"ad_id": ..., "click_probability": p}, ...]}`` in request
order, or CSV with one probability per line.
"""

from __future__ import annotations

import serving_io
from ad_click_prediction_model import DENSE_FEATURES, SPARSE_FIELDS, DeepCrossNetwork

COLUMNS = (*SPARSE_FIELDS, *DENSE_FEATURES)


def model_fn(model_dir: str) -> DeepCrossNetwork:
    return DeepCrossNetwork.load(model_dir)


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    """The ad candidates as objects keyed by column (CSV rows are mapped by position)."""
    instances = serving_io.parse_instances(body, content_type)
    if not instances:
        raise ValueError("the request has no ad candidates")
    candidates = []
    for i, instance in enumerate(instances):
        if isinstance(instance, list):
            if len(instance) != len(COLUMNS):
                expected = f"{len(COLUMNS)} values ({', '.join(COLUMNS)})"
                raise ValueError(f"instance {i}: expected {expected}, got {len(instance)}")
            instance = dict(zip(COLUMNS, instance))
        if not isinstance(instance, dict):
            raise ValueError(f"instance {i}: expected an object with {', '.join(COLUMNS)}")
        candidates.append(instance)
    return candidates


def predict_fn(candidates: list, model: DeepCrossNetwork) -> list:
    ids, dense = model.encode(candidates)
    probabilities = model.predict_proba(ids, dense)
    return [{"ad_id": c["ad_id"], "click_probability": round(float(p), 6)} for c, p in zip(candidates, probabilities)]


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) in (serving_io.JSON, "*/*"):
        return serving_io.format_predictions(predictions, serving_io.JSON)
    return serving_io.format_predictions([p["click_probability"] for p in predictions], accept)
