"""Serving handler of the similar listings model: embedding fetcher and re-ranker of ANN candidates.

The chapter's serving path is embedding fetcher → nearest-neighbour service → re-rank filters.
The nearest-neighbour search runs in the vector index; this endpoint does the two other steps:

- fetch (an instance without ``candidate_id``): ``{"listing_id": "L1"}`` →
  ``{"listing_id": "L1", "embedding": [...], "cold_start": false}``. A listing created since the
  last daily training is unknown; send ``"nearby_listing_ids"`` (its 3 nearest listings of the same
  type and price range) and it gets their mean embedding, ``"cold_start": true``.
- re-rank (one instance per ANN candidate): ``{"listing_id": "L1", "candidate_id": "L9",
  "price_per_night": 120, "room_type": "entire_home", "region": "lisbon"}`` (the candidate's
  attributes; optional, the model's own are used when absent) → ``{"listing_id", "candidate_id",
  "score", "kept", "rank"}``. ``score`` is the cosine similarity; ``kept`` is false for the
  listing itself, another region, or a price outside [0.5, 2] × the viewed listing's; ``rank``
  orders the kept candidates of one ``listing_id`` within the request (1 = first), null otherwise.
  An unknown candidate (indexed by another model version) scores 0 and is not kept. The request
  path's rank stage names the candidate ``id`` (``{"id": "L9", ...attributes, "listing_id": "L1"}``):
  an instance with ``id`` and no ``candidate_id`` is a re-rank instance of candidate ``id``.

CSV rows: ``listing_id`` (fetch) or ``listing_id,candidate_id`` (re-rank). Responses:
``{"predictions": [...]}``, or CSV (the score, or the embedding's values, per line).
"""

from __future__ import annotations

import math

import numpy as np
import serving_io
from similar_listings_model import ListingIndex

ATTRIBUTES = ("price_per_night", "room_type", "region")


def model_fn(model_dir: str) -> ListingIndex:
    return ListingIndex.load(model_dir)


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    instances = serving_io.parse_instances(body, content_type)
    if not instances:
        raise ValueError("no instances in the request")
    if serving_io.media_type(content_type) == serving_io.CSV:
        parsed = []
        for index, row in enumerate(instances):
            if len(row) not in (1, 2):
                raise ValueError(f"row {index}: expected listing_id, or listing_id,candidate_id, "
                                 f"but got {len(row)} values")
            parsed.append(dict(zip(("listing_id", "candidate_id"), row)))
        return parsed
    return [_candidate_id_from_id(instance) for instance in instances]


def _candidate_id_from_id(instance: object) -> object:
    """The request path's rank stage sends the candidate as ``id``; the model reads ``candidate_id``."""
    if isinstance(instance, dict) and "candidate_id" not in instance and instance.get("id") is not None:
        return {**instance, "candidate_id": instance["id"]}
    return instance


def _query(instance: dict, index: int, model: ListingIndex) -> tuple:
    listing = str(serving_io.field(instance, "listing_id", index))
    vector = model.embedding(listing)
    if vector is not None:
        return vector, False
    nearby = instance.get("nearby_listing_ids")
    if not isinstance(nearby, list) or not nearby:
        raise ValueError(f"instance {index}: listing {listing!r} is not in the model; send 'nearby_listing_ids' "
                         "(its 3 nearest listings of the same type and price range) for a cold-start embedding")
    vector = model.mean_of(nearby)
    if vector is None:
        raise ValueError(f"instance {index}: none of the nearby_listing_ids of {listing!r} is in the model")
    return vector, True


def _price(value: object, index: int) -> float | None:
    if value is None or value == "":
        return None
    try:
        price = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"instance {index}: 'price_per_night' must be a number, but {value!r} was provided") from None
    if not math.isfinite(price) or price < 0:
        raise ValueError(f"instance {index}: 'price_per_night' must be a finite number ≥ 0, but {value!r} was provided")
    return price


def _rerank(instance: dict, index: int, model: ListingIndex, query: np.ndarray) -> dict:
    listing = str(instance["listing_id"])
    candidate = str(serving_io.field(instance, "candidate_id", index))
    vector = model.embedding(candidate)
    attribute = {name: instance.get(name, model.attribute(candidate, name)) for name in ATTRIBUTES}
    price = _price(attribute["price_per_night"], index)
    result = {"listing_id": listing, "candidate_id": candidate, "score": 0.0, "kept": False, "rank": None}
    if vector is None or candidate == listing:
        return result
    result["score"] = round(float(vector @ query), 6)
    region = model.attribute(listing, "region")
    query_price = model.attribute(listing, "price_per_night")
    low, high = model.config.get("price_ratio", [0.5, 2.0])
    same_region = region is None or attribute["region"] is None or str(attribute["region"]) == str(region)
    in_price = price is None or not query_price or low <= price / float(query_price) <= high
    result["kept"] = bool(same_region and in_price)
    return result


def predict_fn(instances: list, model: ListingIndex) -> list:
    results: list = []
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise ValueError(f"instance {index}: expected a JSON object with 'listing_id'")
        query, cold = _query(instance, index, model)
        if "candidate_id" in instance:
            results.append(_rerank(instance, index, model, query))
        else:
            results.append({"listing_id": str(instance["listing_id"]), "cold_start": cold,
                            "embedding": [round(float(x), 6) for x in query]})
    kept = sorted((r for r in results if r.get("kept")), key=lambda r: (r["listing_id"], -r["score"]))
    rank, previous = 0, None
    for result in kept:
        rank = rank + 1 if result["listing_id"] == previous else 1
        previous = result["listing_id"]
        result["rank"] = rank
    return results


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) == serving_io.CSV:
        return serving_io.format_predictions(
            [p["score"] if "score" in p else p["embedding"] for p in predictions], accept)
    return serving_io.format_predictions(predictions, accept)
