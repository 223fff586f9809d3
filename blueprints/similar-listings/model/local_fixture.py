"""What the local run of the similar listings blueprint serves (``npm run serve:local -- similar-listings``).

``build(workdir, key)`` trains the reference listing embeddings on the synthetic search sessions the
model's tests make (``test_similar_listings_model.sessions()``: a session browses one region and
mostly one style, a neighbourhood and room type, and books one of that style), with the tests'
listings (two per style without sessions: cold-started), then writes into ``workdir`` what the
local servers are loaded with, and ``fixture.json``, the manifest the local run reads (paths
relative to ``workdir``):

- ``endpoints``: ``simlist-reranker``, the model folder and the serving code ``train.py`` wrote
  into it (``code/inference.py``);
- ``tableItems``: the prediction cache the daily indexing transform fills, for the pipeline's
  ``listing-embedding`` stage: one item per listing, keyed by the listing id (``pk``), whose
  ``prediction`` is the endpoint's fetch answer (``{listing_id, cold_start, embedding}``), as
  ``load_predictions.py`` writes it;
- ``indexes.listings``: the same embeddings as the k-NN stand-in's documents, with the fields the
  re-ranking filters on (``listing_id``, ``region``, ``room_type``, ``price_per_night``);
- ``sampleRequest`` (a session viewing one listing of its region) and ``facts`` (each listing's
  region and style) for a person's curl and for the integration tests.

Nothing here is personal: the session id is pseudonymized by the serving handler (variant
assignment, log); ``key`` is accepted for the local run's contract and not used.

Usage: ``LOCAL_PSEUDONYMIZATION_KEY=... python local_fixture.py --workdir DIR`` prints the manifest.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
for folder in (os.path.join(REPO, "test", "support", "python"), os.path.join(REPO, "lib", "python")):
    if folder not in sys.path:
        sys.path.append(folder)

import numpy as np  # noqa: E402 - after the path set-up above
from blueprint_scripts import load_script  # noqa: E402

KEY_ENV = "LOCAL_PSEUDONYMIZATION_KEY"
ENDPOINT = "simlist-reranker"
INDEX = "listings"
STAGE = "listing-embedding"
MODEL_NAME = "simlist-embeddings"
# The model tests' hyperparameters: a few seconds on two cores.
TRAINING_ARGS = ("--epochs", "10", "--dimensions", "16")
CACHE_TTL_SECONDS = 2 * 86400  # the indexing transform's ttl
SAMPLE_REGION, SAMPLE_STYLE, SAMPLE_LISTING = 1, 0, 0


def _jsonl(path: str, rows: list) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)


def build(workdir: str, key: str) -> dict:
    """Trains the embeddings, writes the local run's data into ``workdir`` and returns the manifest."""
    if not key:
        raise ValueError("the pseudonymization key must not be empty")
    tests = load_script(HERE, "test_similar_listings_model.py")
    os.makedirs(workdir, exist_ok=True)
    rng = np.random.default_rng(11)  # the tests' seed and draw order: sessions, then listings
    sessions = tests.sessions(rng)
    listings = tests.listings(rng, extra=2)
    model_dir = os.path.join(workdir, "model")
    args = ["--train-dir", tests.write(os.path.join(workdir, "train"), sessions),
            "--listings-dir", tests.write(os.path.join(workdir, "listings"), listings),
            "--model-dir", model_dir, "--checkpoint-dir", "", *TRAINING_ARGS]
    with contextlib.redirect_stdout(io.StringIO()):  # stdout is the manifest's (training prints metrics)
        code = tests.train.training_io.run(tests.train.train, tests.train.parser(), args)
    if code != 0:
        raise RuntimeError(f"training failed (exit {code}); see stderr")
    with open(os.path.join(model_dir, "metrics.json"), encoding="utf-8") as handle:
        metrics = json.load(handle)
    code_dir = os.path.join(model_dir, "code")

    # The daily indexing: the served model's fetch answer for every listing (cold start included).
    inference = load_script(code_dir, "inference.py")
    model = inference.model_fn(model_dir)
    lines = "".join(json.dumps({"listing_id": row["listing_id"]}) + "\n" for row in listings)
    body, _ = inference.output_fn(inference.predict_fn(inference.input_fn(lines, "application/jsonlines"), model),
                                  "application/jsonlines")
    answers = {answer["listing_id"]: answer for answer in map(json.loads, body.splitlines())}
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    items, documents, facts = [], [], {}
    for row in listings:
        listing = row["listing_id"]
        answer = answers[listing]
        items.append({"stage": STAGE, "item": {
            "pk": listing, "prediction": answer, "model": MODEL_NAME,
            "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires_at": int(now.timestamp()) + CACHE_TTL_SECONDS}})
        documents.append({"listing_id": listing, "region": row["region"], "room_type": row["room_type"],
                          "price_per_night": row["price_per_night"], "embedding": answer["embedding"]})
        style, number = (int(part) for part in listing.split("s", 1)[1].split("l"))
        # Listings without sessions (the tests' extra ones) got the mean embedding of nearby ones at training.
        facts[listing] = {"region": row["region"], "style": style, "coldStart": number >= tests.PER_STYLE}
    _jsonl(os.path.join(workdir, "listings.jsonl"), documents)

    sample_listing = tests.listing_id(SAMPLE_REGION, SAMPLE_STYLE, SAMPLE_LISTING)
    manifest = {
        "blueprint": "similar-listings",
        "endpoints": {ENDPOINT: {"codeDir": os.path.relpath(code_dir, workdir),
                                 "modelDir": os.path.relpath(model_dir, workdir)}},
        "indexes": {INDEX: {"documents": "listings.jsonl", "idField": "listing_id", "vectorField": "embedding",
                            "spaceType": "innerproduct", "dimension": len(documents[0]["embedding"])}},
        "tableItems": items,
        "sampleRequest": {"session_id": "session-local-1", "listing_id": sample_listing,
                          "region": facts[sample_listing]["region"]},
        "sampleFeedback": {"session_id": "session-local-1", "request_id": "<requestId of a /serve answer>",
                           "item_id": "<a listing it served>", "outcome": "booked", "value": True},
        "facts": {"listings": facts, "listingsPerStyle": tests.PER_STYLE + 2, "styles": tests.STYLES},
        "metrics": metrics,
    }
    with open(os.path.join(workdir, "fixture.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
    return manifest


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    key = os.environ.get(KEY_ENV, "")
    if not key:
        parser.error(f"set {KEY_ENV} to the local run's pseudonymization key")
    manifest = build(args.workdir, key)
    summary = {"fixture": os.path.join(args.workdir, "fixture.json"), "metrics": manifest["metrics"]}
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
