"""Serving handler of the event ranking model (model_fn → input_fn → predict_fn → output_fn).

The chapter's serving flow is filter → rank: candidate events are first narrowed by location and
type, then ranked by the model's registration probability. The ranking service usually filters
before it calls the endpoint; the request may also ask the handler to filter.

Requests:
  - ``application/json``::

        {"instances": [{"event_id": "e1", "category": "music", "distance_km": 3.2, "travel_time_min": 12,
                        "hours_to_event": 30, "price": 25, "friends_registered": 2, "host_popularity": 0.4,
                        "user_registrations_30d": 3, "category_affinity": 0.5}, ...],
         "filter": {"max_distance_km": 50, "categories": ["music"], "min_hours_to_event": 1},
         "top_k": 10}

    ``filter`` and ``top_k`` are optional. An instance may also be a list of the feature values in
    the model's order (``event_recommendation_model.FEATURES``).
  - ``text/csv``: one candidate per line, the feature values in that order, no header.

Responses:
  - JSON: ``{"predictions": [{"event_id", "score", "rank"}, ...], "ranking": [event ids]}``: one
    prediction per candidate in request order (so that the monitor pairs captured rows and
    predictions); ``rank`` is 1-based among the candidates that pass the filter, ``null`` for the
    others; ``ranking`` lists the top ``top_k`` eligible events, best first.
  - CSV: one registration probability per line, in request order.
"""

from __future__ import annotations

import json
import math

import serving_io
from event_recommendation_model import GradientBoostedTrees, feature_matrix

FILTER_KEYS = ("max_distance_km", "categories", "min_hours_to_event")


def model_fn(model_dir: str) -> GradientBoostedTrees:
    return GradientBoostedTrees.load(model_dir)


def _options(payload: object) -> dict:
    if not isinstance(payload, dict):
        return {"filter": {}, "top_k": None}
    filters = payload.get("filter") or {}
    if not isinstance(filters, dict):
        raise ValueError('"filter" must be an object')
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise ValueError(f"unknown filter {', '.join(unknown)}; allowed: {', '.join(FILTER_KEYS)}")
    for key in ("max_distance_km", "min_hours_to_event"):
        value = filters.get(key)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if value is not None and not numeric:
            raise ValueError(f"filter.{key} must be a number, but {value!r} was provided")
    categories = filters.get("categories")
    if categories is not None and (not isinstance(categories, list) or not all(isinstance(c, str) for c in categories)):
        raise ValueError("filter.categories must be a list of strings")
    top_k = payload.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a whole number of at least 1, but {top_k!r} was provided")
    return {"filter": filters, "top_k": top_k}


def input_fn(body: object, content_type: str = serving_io.JSON) -> dict:
    """The candidates and the request's options (filter, top_k)."""
    instances = serving_io.parse_instances(body, content_type)
    if not instances:
        raise ValueError("the request has no candidates")
    options = {"filter": {}, "top_k": None}
    if serving_io.media_type(content_type) == serving_io.JSON:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
        options = _options(json.loads(text))
    return {"instances": instances, **options}


def _eligible(instance: object, x_row: list, features: list, filters: dict) -> bool:
    values = dict(zip(features, x_row))
    limit = filters.get("max_distance_km")
    if limit is not None and values["distance_km"] > limit:
        return False
    soonest = filters.get("min_hours_to_event")
    if soonest is not None and values["hours_to_event"] < soonest:
        return False
    categories = filters.get("categories")
    if categories is not None:
        category = instance.get("category") if isinstance(instance, dict) else None
        if category not in categories:
            return False
    return True


def predict_fn(request: object, model: GradientBoostedTrees) -> dict:
    """Scores every candidate, then ranks those that pass the filter by score."""
    if isinstance(request, list):  # called with bare instances
        request = {"instances": request, "filter": {}, "top_k": None}
    instances = request["instances"]
    x = feature_matrix(instances, model.features)
    scores = model.predict_proba(x)
    predictions = []
    for i, instance in enumerate(instances):
        event_id = instance.get("event_id", str(i)) if isinstance(instance, dict) else str(i)
        predictions.append({"event_id": event_id, "score": round(float(scores[i]), 6), "rank": None,
                            "_eligible": _eligible(instance, x[i].tolist(), model.features, request["filter"])})
    eligible = sorted((p for p in predictions if p["_eligible"]), key=lambda p: -p["score"])
    for rank, prediction in enumerate(eligible, start=1):
        prediction["rank"] = rank
    for prediction in predictions:
        del prediction["_eligible"]
    top_k = request["top_k"] or len(eligible)
    return {"predictions": predictions, "ranking": [p["event_id"] for p in eligible[:top_k]]}


def output_fn(result: dict, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) in (serving_io.JSON, "*/*"):
        return json.dumps(result), serving_io.JSON
    return serving_io.format_predictions([p["score"] for p in result["predictions"]], accept)
