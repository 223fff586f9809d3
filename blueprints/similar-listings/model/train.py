"""Training entry point of the similar listings blueprint (chapter 9): session-based listing embeddings.

Inputs:
- ``train``: the curated ``search_sessions`` table as JSON Lines, one row per listing click:
  ``session_id`` (a pseudonym), ``listing_id``, ``position`` (order in the session), ``booked``
  (1 on the click that ended in a booking) and ``region`` (the listing's market);
- ``listings`` (optional): the curated ``listings`` table (``listing_id``, ``region``, ``room_type``,
  ``price_per_night``, ``latitude``, ``longitude``), for the cold start of listings without
  sessions and the re-rank filters.

Sessions are held out by a hash of their id (``--holdout-fraction``) unless a ``test`` channel is
given. The chapter's metric: for each held-out session that ended in a booking, the rank of the
booked listing among its region's listings, ordered by similarity to the listing clicked just
before the booking. ``metrics.json``: ``average_booked_rank`` (lower is better; the quality gate
compares it with ``<=``), ``random_average_booked_rank`` (what random order would give),
``booked_rank_percentile``, ``recall_at_10``, ``mean_reciprocal_rank``.

Outputs: ``model.npz`` + ``listings.json`` (embeddings, attributes, cold-start flags),
``listing_embeddings.jsonl`` (``{"listing_id", "region", "cold_start", "embedding"}``, what the
indexer writes into the vector index) and ``code/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import defaultdict

import numpy as np
import training_io
from similar_listings_model import (
    ListingIndex,
    NegativeSampler,
    SkipGram,
    booked_ranks,
    nearby_listings,
    training_pairs,
)
from training_io import DataError, number

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION_COLUMNS = ("session_id", "listing_id", "position", "booked", "region")
LISTING_COLUMNS = ("listing_id", "region", "room_type", "price_per_night", "latitude", "longitude")
CHECKPOINT_FILE = "skipgram.npz"


def parser() -> argparse.ArgumentParser:
    p = training_io.base_arguments(__doc__.splitlines()[0])
    p.add_argument("--listings-dir", default=os.environ.get("SM_CHANNEL_LISTINGS", ""))
    p.add_argument("--dimensions", type=int, default=32, help="embedding size (the vector index's dimension)")
    p.add_argument("--window", type=int, default=2, help="neighbouring clicks on each side that are context")
    p.add_argument("--negatives", type=int, default=5, help="random negatives per positive (plus one from the region)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--holdout-fraction", type=float, default=0.1)
    return p


def held_out(session_id: str, fraction: float) -> bool:
    return int(hashlib.md5(session_id.encode("utf-8")).hexdigest()[:8], 16) % 10_000 < fraction * 10_000


def sessions_of(rows: list) -> dict:
    """session id → [(position, listing id, booked, region)] in click order."""
    sessions = defaultdict(list)
    for row in rows:
        sessions[str(row["session_id"])].append((
            number(row["position"], "position"), str(row["listing_id"]), number(row["booked"], "booked") > 0,
            str(row["region"])))
    return {k: sorted(v, key=lambda c: c[0]) for k, v in sessions.items()}


def split(sessions: dict, args: argparse.Namespace) -> tuple:
    if args.test_dir and os.path.isdir(args.test_dir):
        test_rows = training_io.read_rows(args.test_dir)
        training_io.require_columns(test_rows, SESSION_COLUMNS, "test")
        return sessions, sessions_of(test_rows)
    if not 0 < args.holdout_fraction < 1:
        raise DataError(f"--holdout-fraction must be between 0 and 1, but {args.holdout_fraction} was provided")
    test = {k: v for k, v in sessions.items() if held_out(k, args.holdout_fraction)}
    train = {k: v for k, v in sessions.items() if k not in test}
    if not train or not test:
        raise DataError(f"{len(sessions)} sessions are too few to hold out {args.holdout_fraction:.0%} for evaluation")
    return train, test


def read_listings(directory: str) -> dict:
    if not directory or not os.path.isdir(directory):
        return {}
    rows = training_io.read_rows(directory)
    training_io.require_columns(rows, LISTING_COLUMNS, "listings")
    return {str(r["listing_id"]): {
        "region": str(r["region"]), "room_type": str(r["room_type"]),
        "price_per_night": number(r["price_per_night"], "price_per_night"),
        "latitude": number(r["latitude"], "latitude"), "longitude": number(r["longitude"], "longitude"),
    } for r in rows}


def train_embeddings(model: SkipGram, pairs: np.ndarray, sampler: NegativeSampler, args: argparse.Namespace,
                     checkpoint: str | None) -> list:
    start, losses = 0, []
    if checkpoint and os.path.isfile(checkpoint):
        with np.load(checkpoint) as saved:
            if saved["inputs"].shape == model.inputs.shape:
                model.inputs, model.outputs, start = saved["inputs"], saved["outputs"], int(saved["epoch"])
                print(f"resumed from {checkpoint} after epoch {start}")
    steps = max(1, args.epochs * -(-len(pairs) // args.batch_size))
    step = start * -(-len(pairs) // args.batch_size)
    for epoch in range(start, args.epochs):
        order = model.rng.permutation(len(pairs))
        epoch_losses = []
        for begin in range(0, len(order), args.batch_size):
            batch = pairs[order[begin:begin + args.batch_size]]
            negatives = np.concatenate([sampler.random((len(batch), args.negatives)),
                                        sampler.same_region(batch[:, 0])[:, None]], axis=1)
            rate = args.learning_rate * max(0.01, 1.0 - step / steps)
            epoch_losses.append(model.step(batch[:, 0], batch[:, 1], negatives, rate))
            step += 1
        losses.append(float(np.mean(epoch_losses)))
        if checkpoint:
            os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
            np.savez(checkpoint, inputs=model.inputs, outputs=model.outputs, epoch=epoch + 1)
    return losses


def build_index(ids: list, model: SkipGram, trained: set, attributes: dict, regions: dict,
                config: dict) -> ListingIndex:
    """Trained listings, then listings without sessions placed by the cold start."""
    known = [listing for listing in ids if listing in trained]
    vectors = {listing: model.inputs[i] for i, listing in enumerate(ids)}
    known_attributes = [attributes[x] for x in known if x in attributes]
    known_with_attributes = [x for x in known if x in attributes]
    rows, embeddings, cold = [], [], []
    for listing in known:
        rows.append(listing)
        embeddings.append(vectors[listing])
        cold.append(False)
    for listing in sorted(set(attributes) - set(known)):
        neighbours = nearby_listings(attributes[listing], known_attributes)
        if neighbours:
            unit = [vectors[known_with_attributes[i]] / max(np.linalg.norm(vectors[known_with_attributes[i]]), 1e-12)
                    for i in neighbours]
            rows.append(listing)
            embeddings.append(np.mean(unit, axis=0))
            cold.append(True)
    details = [{**attributes.get(x, {}), "region": attributes.get(x, {}).get("region", regions.get(x))} for x in rows]
    return ListingIndex(rows, np.asarray(embeddings), details, cold, config)


def evaluate(index: ListingIndex, test: dict) -> dict:
    queries, booked = [], []
    for clicks in test.values():
        booking = next((i for i, c in enumerate(clicks) if c[2]), None)
        before = [c[1] for c in clicks[:booking] if c[1] != clicks[booking][1]] if booking is not None else []
        if before:
            queries.append(before[-1])
            booked.append(clicks[booking][1])
    ranks = booked_ranks(index, queries, booked)
    if not ranks:
        raise DataError("no held-out session ends in a booking of an indexed listing after a click on another "
                        "indexed listing; the average rank of the booked listing cannot be computed")
    rank = np.asarray([r for r, _ in ranks], dtype=float)
    candidates = np.asarray([n for _, n in ranks], dtype=float)
    return {
        "average_booked_rank": float(rank.mean()),
        "random_average_booked_rank": float(((candidates + 1) / 2).mean()),
        "booked_rank_percentile": float(np.mean((rank - 1) / np.maximum(candidates - 1, 1))),
        "recall_at_10": float(np.mean(rank <= 10)),
        "mean_reciprocal_rank": float(np.mean(1.0 / rank)),
        "evaluated_bookings": float(len(ranks)),
    }


def train(args: argparse.Namespace) -> dict:
    rows = training_io.read_rows(args.train_dir)
    training_io.require_columns(rows, SESSION_COLUMNS, "train")
    train_sessions, test_sessions = split(sessions_of(rows), args)
    attributes = read_listings(args.listings_dir)
    regions = {c[1]: c[3] for clicks in (*train_sessions.values(), *test_sessions.values()) for c in clicks}
    regions.update({k: v["region"] for k, v in attributes.items()})
    ids = sorted({c[1] for clicks in train_sessions.values() for c in clicks})
    position = {listing: i for i, listing in enumerate(ids)}
    sequences = [[position[c[1]] for c in clicks] for clicks in train_sessions.values()]
    bookings = [next((position[c[1]] for c in clicks if c[2]), -1) for clicks in train_sessions.values()]
    pairs = training_pairs(sequences, bookings, args.window)
    if len(pairs) == 0:
        raise DataError("no session has two different listings: nothing to learn similarity from")
    counts = np.bincount(pairs[:, 0], minlength=len(ids)).astype(float)
    region_names = sorted(set(regions.values()))
    region_of = np.asarray([region_names.index(regions[x]) for x in ids])
    model = SkipGram(len(ids), args.dimensions, args.seed)
    sampler = NegativeSampler(counts, region_of, model.rng)
    checkpoint_dir = training_io.usable_checkpoint_dir(args.checkpoint_dir)
    losses = train_embeddings(model, pairs, sampler, args,
                              os.path.join(checkpoint_dir, CHECKPOINT_FILE) if checkpoint_dir else None)

    config = {"dimensions": args.dimensions, "price_ratio": [0.5, 2.0]}
    index = build_index(ids, model, set(ids), attributes, regions, config)
    metrics = evaluate(index, test_sessions)
    if losses:
        metrics["loss"] = losses[-1]
    metrics["listings"] = float(len(index.ids))
    metrics["cold_start_listings"] = float(sum(index.cold_start))
    index.save(args.model_dir)
    with open(os.path.join(args.model_dir, "listing_embeddings.jsonl"), "w", encoding="utf-8") as handle:
        for listing, vector, detail, cold in zip(index.ids, index.embeddings, index.attributes, index.cold_start):
            handle.write(json.dumps({"listing_id": listing, "region": detail.get("region"), "cold_start": cold,
                                     "embedding": [round(float(x), 6) for x in vector]}) + "\n")
    training_io.write_outputs(args.model_dir, metrics, training_io.serving_code(HERE, "similar_listings_model.py"))
    return metrics


if __name__ == "__main__":
    sys.exit(training_io.run(train, parser()))
