"""Session-based listing embeddings (chapter 9), numpy only.

Training is skip-gram with negative sampling over search sessions (the listings a user clicked,
in order), as the chapter adapts word2vec:

- positives: each clicked listing and its neighbours within ``window`` clicks in the session;
  in a session that ended in a booking, also each clicked listing and the booked listing (the
  booked listing is a *global context*: it counts whatever its distance);
- negatives: ``negatives`` listings drawn from the click frequency^0.75, plus one *hard* negative
  from the centre listing's own region (otherwise the model learns geography, not similarity);
- loss: −log σ(w_c · o_p) − Σ log σ(−w_c · o_n), by SGD on the rows the batch touched.

A listing's embedding is its normalized input vector; similarity is the inner product (cosine).
A listing without sessions (a new listing) gets the mean of the embeddings of the 3 nearest
listings of its region, preferring the same room type and a similar price (the chapter's cold start).
"""

from __future__ import annotations

import json
import math
import os
from typing import Sequence

import numpy as np
from numpy_nn import sigmoid

MODEL_FILE = "model.npz"
LISTINGS_FILE = "listings.json"
COLD_START_NEIGHBOURS = 3


def normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def training_pairs(sessions: Sequence[Sequence[int]], booked: Sequence[int], window: int) -> np.ndarray:
    """(centre, context) pairs of the sessions: neighbours within ``window``, and the booked listing (-1: none)."""
    pairs = []
    for clicks, booking in zip(sessions, booked):
        for i, centre in enumerate(clicks):
            for j in range(max(0, i - window), min(len(clicks), i + window + 1)):
                if j != i and clicks[j] != centre:
                    pairs.append((centre, clicks[j]))
            if booking >= 0 and booking != centre:
                pairs.append((centre, booking))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


class SkipGram:
    """Input and output vectors of every listing, trained with negative sampling."""

    def __init__(self, listings: int, dimensions: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.inputs = (self.rng.random((listings, dimensions)) - 0.5) / dimensions
        self.outputs = np.zeros((listings, dimensions))

    def step(self, centre: np.ndarray, context: np.ndarray, negative: np.ndarray, learning_rate: float) -> float:
        """One SGD step on a batch; ``negative`` is (batch, k). Returns the batch's mean loss."""
        c = self.inputs[centre]
        positive = self.outputs[context]
        negatives = self.outputs[negative]
        positive_score = sigmoid((c * positive).sum(axis=1))
        negative_score = sigmoid(np.einsum("bd,bkd->bk", c, negatives))
        loss = float(np.mean(-np.log(positive_score + 1e-12) - np.log(1 - negative_score + 1e-12).sum(axis=1)))
        g_positive = positive_score - 1.0
        d_centre = g_positive[:, None] * positive + np.einsum("bk,bkd->bd", negative_score, negatives)
        np.add.at(self.outputs, context, -learning_rate * g_positive[:, None] * c)
        np.add.at(self.outputs, negative, -learning_rate * negative_score[:, :, None] * c[:, None, :])
        np.add.at(self.inputs, centre, -learning_rate * d_centre)
        return loss


class NegativeSampler:
    """Random negatives from the click frequency^0.75, and hard negatives from the centre's region."""

    def __init__(self, counts: np.ndarray, regions: np.ndarray, rng: np.random.Generator) -> None:
        weights = np.power(np.maximum(counts, 0), 0.75)
        if weights.sum() <= 0:
            weights = np.ones_like(weights, dtype=float)
        self.cumulative = np.cumsum(weights) / weights.sum()
        self.rng = rng
        self.regions = regions
        self.by_region = {int(r): np.flatnonzero(regions == r) for r in np.unique(regions)}

    def random(self, shape: tuple) -> np.ndarray:
        index = np.searchsorted(self.cumulative, self.rng.random(shape), side="right")
        return np.minimum(index, len(self.cumulative) - 1)

    def same_region(self, centre: np.ndarray) -> np.ndarray:
        result = np.empty(centre.size, dtype=np.int64)
        for region, members in self.by_region.items():
            rows = np.flatnonzero(self.regions[centre] == region)
            if rows.size:
                result[rows] = members[self.rng.integers(members.size, size=rows.size)]
        return result


def distance_km(lat1: np.ndarray, lon1: np.ndarray, lat2: float, lon2: float) -> np.ndarray:
    """Equirectangular distance, accurate enough between listings of one region."""
    x = np.radians(lon1 - lon2) * math.cos(math.radians((lat2 + float(np.mean(lat1))) / 2))
    y = np.radians(lat1 - lat2)
    return 6371.0 * np.sqrt(x * x + y * y)


def nearby_listings(listing: dict, candidates: Sequence[dict], count: int = COLD_START_NEIGHBOURS) -> list:
    """Indices into ``candidates`` of the ``count`` nearest listings of the same region: same room type
    and a price within a factor of 2 first, then same room type, then any."""
    same_region = [i for i, c in enumerate(candidates) if c.get("region") == listing.get("region")]
    if not same_region:
        return []
    lat = np.asarray([float(candidates[i]["latitude"]) for i in same_region])
    lon = np.asarray([float(candidates[i]["longitude"]) for i in same_region])
    distance = distance_km(lat, lon, float(listing["latitude"]), float(listing["longitude"]))
    price = float(listing.get("price_per_night") or 0)

    def similar_price(c: dict) -> bool:
        other = float(c.get("price_per_night") or 0)
        return price <= 0 or other <= 0 or 0.5 <= other / price <= 2.0

    tiers = [
        lambda c: c.get("room_type") == listing.get("room_type") and similar_price(c),
        lambda c: c.get("room_type") == listing.get("room_type"),
        lambda c: True,
    ]
    chosen: list = []
    for tier in tiers:
        for k in np.argsort(distance, kind="stable"):
            index = same_region[int(k)]
            if index not in chosen and tier(candidates[index]):
                chosen.append(index)
            if len(chosen) == count:
                return chosen
    return chosen


class ListingIndex:
    """What serving needs: normalized embeddings and each listing's attributes for the re-rank filters."""

    def __init__(self, ids: Sequence[str], embeddings: np.ndarray, attributes: Sequence[dict],
                 cold_start: Sequence[bool], config: dict) -> None:
        self.ids = list(ids)
        self.position = {listing: i for i, listing in enumerate(self.ids)}
        self.embeddings = normalize(np.asarray(embeddings, dtype=float))
        self.attributes = list(attributes)
        self.cold_start = list(cold_start)
        self.config = config

    def embedding(self, listing_id: object) -> np.ndarray | None:
        i = self.position.get(str(listing_id))
        return None if i is None else self.embeddings[i]

    def mean_of(self, listing_ids: Sequence[object]) -> np.ndarray | None:
        """Cold start: the normalized mean of the known listings among ``listing_ids`` (the first 3)."""
        rows = [self.position[str(x)] for x in listing_ids if str(x) in self.position][:COLD_START_NEIGHBOURS]
        if not rows:
            return None
        return normalize(self.embeddings[rows].mean(axis=0))

    def attribute(self, listing_id: object, name: str) -> object:
        i = self.position.get(str(listing_id))
        return None if i is None else self.attributes[i].get(name)

    def save(self, model_dir: str) -> None:
        os.makedirs(model_dir, exist_ok=True)
        np.savez(os.path.join(model_dir, MODEL_FILE), embeddings=self.embeddings)
        with open(os.path.join(model_dir, LISTINGS_FILE), "w", encoding="utf-8") as handle:
            json.dump({"ids": self.ids, "attributes": self.attributes, "cold_start": self.cold_start,
                       "config": self.config}, handle)

    @classmethod
    def load(cls, model_dir: str) -> ListingIndex:
        with np.load(os.path.join(model_dir, MODEL_FILE)) as arrays:
            embeddings = arrays["embeddings"]
        with open(os.path.join(model_dir, LISTINGS_FILE), encoding="utf-8") as handle:
            content = json.load(handle)
        return cls(content["ids"], embeddings, content["attributes"], content["cold_start"], content["config"])


def booked_ranks(index: ListingIndex, queries: Sequence[str], booked: Sequence[str]) -> list:
    """(rank, candidates) of each booked listing among its region's other listings, ranked by similarity to the
    query listing (rank 1 = most similar); pairs with a listing the index lacks are left out."""
    regions = np.asarray([str(a.get("region")) for a in index.attributes])
    ranks = []
    for query, target in zip(queries, booked):
        q, t = index.embedding(query), index.position.get(target)
        if q is None or t is None or str(query) == str(target):
            continue
        members = np.flatnonzero(regions == regions[t])
        members = members[members != index.position[query]]
        scores = index.embeddings[members] @ q
        ranks.append((1 + int(np.sum(scores > scores[members == t][0])), int(members.size)))
    return ranks
