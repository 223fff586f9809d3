"""Serving handler of the event ranking model (model_fn → input_fn → predict_fn → output_fn).

The chapter's serving flow is filter → rank: candidate events are first narrowed by location and
type, then ranked by the model's registration probability. The events service filters before the
request path calls the endpoint; the request may also ask the handler to filter.

Requests:
  - ``application/json``::

        {"instances": [{"event_id": "e1", "category": "music", "distance_km": 3.2, "travel_time_min": 12,
                        "hours_to_event": 30, "price": 25, "friends_registered": 2, "host_popularity": 0.4,
                        "user_registrations_30d": 3, "category_affinity": 0.5}, ...],
         "filter": {"max_distance_km": 50, "categories": ["music"], "min_hours_to_event": 1},
         "top_k": 10}

    ``filter`` and ``top_k`` are optional. An instance may also be a list of the feature values in
    the model's order (``event_recommendation_model.FEATURES``).

    The request path (``stack.ts``, ServingPath ``evrec``) sends the inputs the features come from
    instead, as the online feature store holds them (strings) and the request carries them::

        {"id": "e1", "event_category": "music", "venue_latitude": "52.52", "venue_longitude": "13.40",
         "starts_at": "2024-05-03T19:00:00.000Z", "price": "25.0", "host_popularity": "0.4",
         "home_geohash": "u33db", "user_registrations_30d": "3",
         "registrations_by_category": "{\"music\": 3, \"sport\": 1}", "friends_registered_by_event": "e1:2|e7:1"}

    and the handler derives what is absent (``derive_features``): ``event_id`` and ``category`` from
    ``id`` and ``event_category``; ``distance_km`` from the centre of the home geohash to the venue,
    ``travel_time_min`` from that distance at ``MINUTES_PER_KM``; ``hours_to_event`` from
    ``starts_at`` and the time of the request; ``category_affinity`` as the share of the user's
    registrations in the event's category; ``friends_registered`` from ``friends_registered_by_event``,
    ``event:count`` pairs separated by ``|`` (events without a pair: 0; the social graph service counts
    them). The monitor sees the captured requests, so only the features sent as they are (price,
    host popularity, the user's registrations) and the scores.
  - ``text/csv``: one candidate per line, the feature values in that order, no header.

Responses:
  - JSON: ``{"predictions": [{"event_id", "score", "rank"}, ...], "ranking": [event ids]}``: one
    prediction per candidate in request order (so that the monitor pairs captured rows and
    predictions); ``rank`` is 1-based among the candidates that pass the filter, ``null`` for the
    others; ``ranking`` lists the top ``top_k`` eligible events, best first.
  - CSV: one registration probability per line, in request order.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time

import serving_io
from event_recommendation_model import GradientBoostedTrees, feature_matrix

FILTER_KEYS = ("max_distance_km", "categories", "min_hours_to_event")
# Travel time estimated from the distance: 2 minutes a kilometre (30 km/h, door to door in a city).
MINUTES_PER_KM = 2.0
EARTH_RADIUS_KM = 6371.0
GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_centre(geohash: str) -> tuple:
    """(latitude, longitude) of the centre of a geohash cell."""
    bounds = [[-90.0, 90.0], [-180.0, 180.0]]
    even = True  # bits alternate, longitude first
    for char in geohash.lower():
        index = GEOHASH_ALPHABET.find(char)
        if index < 0:
            raise ValueError(f"home_geohash {geohash!r} is not a geohash")
        for bit in range(4, -1, -1):
            interval = bounds[1] if even else bounds[0]
            middle = (interval[0] + interval[1]) / 2
            interval[0 if (index >> bit) & 1 else 1] = middle
            even = not even
    return (sum(bounds[0]) / 2, sum(bounds[1]) / 2)


def distance_km(a: tuple, b: tuple) -> float:
    """Great-circle (haversine) distance between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _timestamp(value: str) -> float:
    """Unix seconds of an ISO-8601 time (``Z`` or an offset; none: UTC)."""
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "T"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).timestamp()


def _friends(pairs: str, event_id: str) -> int:
    counts = {}
    for pair in pairs.split("|"):
        if pair:
            event, _, count = pair.rpartition(":")
            counts[event] = int(count)
    return counts.get(event_id, 0)


def _affinity(registrations_by_category: str, category: str) -> float:
    counts = json.loads(registrations_by_category)
    total = sum(float(v) for v in counts.values())
    return round(float(counts.get(category, 0)) / total, 6) if total > 0 else 0.0


def derive_features(instance: object, now: float) -> object:
    """The instance with the model's features derived from their inputs where absent (module docstring)."""
    if not isinstance(instance, dict):
        return instance
    out = dict(instance)

    def given(*names: str) -> bool:
        return all(out.get(name) not in (None, "") for name in names)

    if not given("event_id") and given("id"):
        out["event_id"] = out["id"]
    if not given("category") and given("event_category"):
        out["category"] = out["event_category"]
    try:
        if not given("distance_km") and given("home_geohash", "venue_latitude", "venue_longitude"):
            venue = (float(out["venue_latitude"]), float(out["venue_longitude"]))
            out["distance_km"] = round(distance_km(geohash_centre(str(out["home_geohash"])), venue), 3)
            if not given("travel_time_min"):
                out["travel_time_min"] = round(out["distance_km"] * MINUTES_PER_KM, 1)
        if not given("hours_to_event") and given("starts_at"):
            out["hours_to_event"] = round((_timestamp(str(out["starts_at"])) - now) / 3600, 2)
        if not given("category_affinity") and given("category", "registrations_by_category"):
            out["category_affinity"] = _affinity(str(out["registrations_by_category"]), out["category"])
        if not given("friends_registered") and isinstance(out.get("friends_registered_by_event"), str):
            out["friends_registered"] = _friends(out["friends_registered_by_event"], str(out.get("event_id", "")))
    except (TypeError, ValueError, AttributeError) as error:
        event = out.get("event_id", out.get("id"))
        raise ValueError(f"event {event!r}: cannot derive its features: {error}") from error
    return out


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
    now = time.time()
    instances = [derive_features(instance, now) for instance in request["instances"]]
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
