"""Serving handler of the ad click model (model_fn → input_fn → predict_fn → output_fn).

One request scores the ad candidates of one ad request (after advertiser targeting selected them);
the request path ranks them by click probability and re-ranks them, the ad server's auction
weighs them by the bids.

Requests:
  - ``application/json``::

        {"instances": [{"ad_id": "a1", "advertiser_id": "adv7", "campaign_id": "c3", "ad_category": "travel",
                        "user_segment": "s12", "ad_ctr_7d": 0.021, "advertiser_ctr_30d": 0.018,
                        "user_clicks_7d": 3, "user_impressions_7d": 140, "hour_of_day": 20}, ...]}

  - ``text/csv``: one candidate per line, the sparse fields then the dense features in the order of
    ``ad_click_prediction_model.SPARSE_FIELDS`` and ``DENSE_FEATURES``, no header.

The request path (``stack.ts``, ServingPath ``adctr``) sends each candidate as ``{"id": "a1", ...}``
with the ad's statistics and the user's engagement as the online feature store holds them
(strings): ``ad_id`` is taken from ``id`` when absent, and a user without an engagement record
(none in the last 30 days) has ``USER_DEFAULTS``: no clicks, no impressions, an unknown segment.

Responses: JSON ``{"predictions": [{"ad_id": ..., "click_probability": p}, ...]}`` in request
order, or CSV with one probability per line.
"""

from __future__ import annotations

import serving_io
from ad_click_prediction_model import DENSE_FEATURES, SPARSE_FIELDS, DeepCrossNetwork

COLUMNS = (*SPARSE_FIELDS, *DENSE_FEATURES)
# What a user without an engagement record has: nothing in 7 days, a segment no training row had.
USER_DEFAULTS = {"user_segment": "unknown", "user_clicks_7d": 0, "user_impressions_7d": 0}


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
        candidates.append(as_sent_by_the_request_path(instance))
    return candidates


def as_sent_by_the_request_path(instance: dict) -> dict:
    """The candidate with ``ad_id`` from ``id`` and a new user's defaults where absent (module docstring)."""
    out = dict(instance)
    if out.get("ad_id") in (None, "") and out.get("id") not in (None, ""):
        out["ad_id"] = out["id"]
    if all(out.get(name) in (None, "") for name in USER_DEFAULTS):
        out.update(USER_DEFAULTS)
    return out


def predict_fn(candidates: list, model: DeepCrossNetwork) -> list:
    ids, dense = model.encode(candidates)
    probabilities = model.predict_proba(ids, dense)
    return [{"ad_id": c["ad_id"], "click_probability": round(float(p), 6)} for c, p in zip(candidates, probabilities)]


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) in (serving_io.JSON, "*/*"):
        return serving_io.format_predictions(predictions, serving_io.JSON)
    return serving_io.format_predictions([p["click_probability"] for p in predictions], accept)
