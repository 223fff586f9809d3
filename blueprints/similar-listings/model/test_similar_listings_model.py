"""Trains listing embeddings on sessions with a planted style signal, then fetches, cold-starts and re-ranks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from blueprint_scripts import load_script
from model_testing import assert_rejected

HERE = os.path.dirname(__file__)
train = load_script(HERE, "train.py")
inference = load_script(HERE, "inference.py")

REGIONS, STYLES, PER_STYLE, SESSIONS = 4, 3, 12, 1500
ROOM_TYPES = ["entire_home", "private_room", "shared_room"]


def listing_id(region: int, style: int, k: int) -> str:
    return f"r{region}s{style}l{k}"


def listings(rng: np.random.Generator, extra: int = 0) -> list:
    """Each style of a region is one neighbourhood: its listings sit within ~1 km of each other."""
    rows = []
    for region in range(REGIONS):
        for style in range(STYLES):
            lat, lon = 40.0 + region * 2 + style * 0.1, -3.0 + region * 2 + style * 0.1
            for k in range(PER_STYLE + extra):
                price = float(80 + 60 * style + rng.integers(20))
                rows.append({"listing_id": listing_id(region, style, k), "region": f"region-{region}",
                             "room_type": ROOM_TYPES[style], "price_per_night": price,
                             "latitude": round(lat + rng.normal(0, 0.005), 2),
                             "longitude": round(lon + rng.normal(0, 0.005), 2)})
    return rows


def sessions(rng: np.random.Generator) -> list:
    """A user browses one region and mostly one style (neighbourhood and room type), and books one of that style
    60% of the time."""
    rows = []
    for s in range(SESSIONS):
        region, style = int(rng.integers(REGIONS)), int(rng.integers(STYLES))
        clicks = []
        for _ in range(int(rng.integers(4, 9))):
            chosen = style if rng.random() < 0.9 else int(rng.integers(STYLES))
            clicks.append(listing_id(region, chosen, int(rng.integers(PER_STYLE))))
        booked = rng.random() < 0.6
        if booked:
            clicks.append(listing_id(region, style, int(rng.integers(PER_STYLE))))
        for position, listing in enumerate(clicks):
            rows.append({"session_id": f"session-{s}", "listing_id": listing, "position": position,
                         "booked": int(booked and position == len(clicks) - 1), "region": f"region-{region}"})
    return rows


def write(directory: str, rows: list) -> str:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "part-0"), "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    return directory


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    rng = np.random.default_rng(11)
    root = str(tmp_path_factory.mktemp("simlist"))
    args = ["--train-dir", write(os.path.join(root, "train"), sessions(rng)),
            "--listings-dir", write(os.path.join(root, "listings"), listings(rng, extra=2)),
            "--model-dir", os.path.join(root, "model"), "--checkpoint-dir", os.path.join(root, "ckpt"),
            "--epochs", "10", "--dimensions", "16"]
    assert train.training_io.run(train.train, train.parser(), args) == 0
    with open(os.path.join(root, "model", "metrics.json"), encoding="utf-8") as handle:
        return os.path.join(root, "model"), json.load(handle), args, root


def test_booked_listing_ranks_far_above_random(trained: tuple) -> None:
    _, metrics, _, _ = trained
    assert metrics["evaluated_bookings"] > 30
    assert metrics["average_booked_rank"] < 0.6 * metrics["random_average_booked_rank"], metrics
    assert metrics["booked_rank_percentile"] < 0.3, metrics
    assert metrics["recall_at_10"] > 0.5, metrics
    assert 0 < metrics["mean_reciprocal_rank"] <= 1


def test_listings_without_sessions_are_cold_started(trained: tuple) -> None:
    model_dir, metrics, _, _ = trained
    assert metrics["cold_start_listings"] == REGIONS * STYLES * 2
    with open(os.path.join(model_dir, "listing_embeddings.jsonl"), encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert len(lines) == metrics["listings"] == REGIONS * STYLES * (PER_STYLE + 2)
    assert sum(line["cold_start"] for line in lines) == REGIONS * STYLES * 2
    assert len(lines[0]["embedding"]) == 16
    assert set(os.listdir(os.path.join(model_dir, "code"))) == {"inference.py", "numpy_nn.py", "serving_io.py",
                                                                   "similar_listings_model.py"}
    # A new listing lands among its own neighbourhood's listings.
    model = inference.model_fn(model_dir)
    new = model.embedding(listing_id(1, 0, PER_STYLE))
    own = np.mean([model.embedding(listing_id(1, 0, k)) @ new for k in range(PER_STYLE)])
    other = np.mean([model.embedding(listing_id(1, 1, k)) @ new for k in range(PER_STYLE)])
    assert own > other + 0.1


def test_resumes_from_the_last_epoch(trained: tuple, tmp_path: str) -> None:
    _, metrics, args, root = trained
    assert os.path.isfile(os.path.join(root, "ckpt", "skipgram.npz"))
    again = [*args]
    again[again.index("--model-dir") + 1] = str(tmp_path)
    assert train.training_io.run(train.train, train.parser(), again) == 0
    with open(os.path.join(tmp_path, "metrics.json"), encoding="utf-8") as handle:
        resumed = json.load(handle)
    assert "loss" not in resumed
    assert resumed["average_booked_rank"] == pytest.approx(metrics["average_booked_rank"])


def serve(model: object, body: str, content_type: str = "application/json", accept: str = "application/json") -> tuple:
    return inference.output_fn(inference.predict_fn(inference.input_fn(body, content_type), model), accept)


def test_fetches_embeddings_and_cold_starts_unknown_listings(trained: tuple) -> None:
    model = inference.model_fn(trained[0])
    body, kind = serve(model, json.dumps({"instances": [
        {"listing_id": listing_id(0, 0, 1)},
        {"listing_id": "brand-new", "nearby_listing_ids": [listing_id(0, 0, 2), listing_id(0, 0, 3), "gone"]},
    ]}))
    assert kind == "application/json"
    known, cold = json.loads(body)["predictions"]
    assert known["cold_start"] is False and cold["cold_start"] is True
    assert len(known["embedding"]) == 16
    assert np.dot(known["embedding"], cold["embedding"]) > 0.5


def test_reranks_candidates_with_filters(trained: tuple) -> None:
    model = inference.model_fn(trained[0])
    query = listing_id(2, 1, 0)
    candidates = [listing_id(2, 1, 4), listing_id(2, 0, 4), listing_id(2, 1, 7), query, listing_id(3, 1, 4),
                  "unknown-listing"]
    instances = [{"listing_id": query, "candidate_id": c} for c in candidates]
    instances[2]["price_per_night"] = 10_000  # outside the price range of the viewed listing
    body, _ = serve(model, json.dumps(instances))
    results = {r["candidate_id"]: r for r in json.loads(body)["predictions"]}
    assert results[listing_id(2, 1, 4)]["rank"] == 1
    assert results[listing_id(2, 1, 4)]["score"] > results[listing_id(2, 0, 4)]["score"]
    assert results[listing_id(2, 0, 4)]["rank"] == 2
    assert not results[listing_id(2, 1, 7)]["kept"]  # price filter
    assert not results[query]["kept"]  # the listing itself
    assert not results[listing_id(3, 1, 4)]["kept"]  # another region
    assert results["unknown-listing"] == {"listing_id": query, "candidate_id": "unknown-listing", "score": 0.0,
                                          "kept": False, "rank": None}
    csv_body, kind = serve(model, f"{query},{listing_id(2, 1, 4)}\n{query}\n", "text/csv", "text/csv")
    assert kind == "text/csv"
    score_line, embedding_line = csv_body.strip().splitlines()
    assert float(score_line) == results[listing_id(2, 1, 4)]["score"]
    assert len(embedding_line.split(",")) == 16


def test_reranks_the_request_paths_candidates_named_id(trained: tuple) -> None:
    # The serving path's rank stage sends {id, ...index fields, ...context} per candidate.
    model = inference.model_fn(trained[0])
    query = listing_id(2, 1, 0)
    candidates = [listing_id(2, 1, 4), listing_id(2, 0, 4), query]
    by_candidate_id = [{"listing_id": query, "candidate_id": c} for c in candidates]
    as_candidate_id, _ = serve(model, json.dumps({"instances": by_candidate_id}))
    as_id, _ = serve(model, json.dumps({"instances": [
        {"id": c, "region": "region-2", "room_type": "private_room", "price_per_night": 140.0, "listing_id": query}
        for c in candidates]}))
    expected = json.loads(as_candidate_id)["predictions"]
    answered = json.loads(as_id)["predictions"]
    assert [r["candidate_id"] for r in answered] == candidates
    assert [r["score"] for r in answered] == [r["score"] for r in expected]
    assert answered[2]["kept"] is False  # the listing itself


@pytest.mark.parametrize(("body", "content_type", "message"), [
    ('{"instances": []}', "application/json", "no instances"),
    ('{"instances": [{"candidate_id": "x"}]}', "application/json", "listing_id"),
    ('{"instances": ["r0s0l1"]}', "application/json", "JSON object"),
    ('{"instances": [{"listing_id": "nope"}]}', "application/json", "nearby_listing_ids"),
    ('{"instances": [{"listing_id": "nope", "nearby_listing_ids": ["x"]}]}', "application/json", "none of the nearby"),
    ('{"instances": [{"listing_id": "r0s0l1", "candidate_id": "r0s0l2", "price_per_night": "cheap"}]}',
     "application/json", "must be a number"),
    ("a,b,c\n", "text/csv", "expected listing_id"),
])
def test_rejects_bad_requests(trained: tuple, body: str, content_type: str, message: str) -> None:
    model = inference.model_fn(trained[0])
    assert_rejected(inference, model, body, content_type, message)


def test_fails_clearly_on_unusable_sessions(tmp_path: str) -> None:
    train_dir = write(os.path.join(tmp_path, "train"), [
        {"session_id": "s1", "listing_id": "a", "position": 0, "booked": 0, "region": "x"}])
    code = train.training_io.run(train.train, train.parser(), ["--train-dir", train_dir, "--model-dir", str(tmp_path)])
    assert code == 1
