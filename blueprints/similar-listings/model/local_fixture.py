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

import datetime
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "..", "lib", "python"))  # local_fixture_support, which adds the rest

import local_fixture_support as support  # noqa: E402 - after the path set-up above
from local_fixture_support import load_script  # noqa: E402

ENDPOINT = "simlist-reranker"
INDEX = "listings"
STAGE = "listing-embedding"
MODEL_NAME = "simlist-embeddings"
# The model tests' hyperparameters: a few seconds on two cores.
TRAINING_ARGS = ("--epochs", "10", "--dimensions", "16")
CACHE_TTL_SECONDS = 2 * 86400  # the indexing transform's ttl
SAMPLE_REGION, SAMPLE_STYLE, SAMPLE_LISTING = 1, 0, 0


def build(workdir: str, key: str) -> dict:
    """Trains the embeddings, writes the local run's data into ``workdir`` and returns the manifest."""
    tests = support.prepare_build(workdir, key, HERE, "test_similar_listings_model.py")
    rng = np.random.default_rng(11)  # the tests' seed and draw order: sessions, then listings
    sessions = tests.sessions(rng)
    listings = tests.listings(rng, extra=2)
    model_dir = os.path.join(workdir, "model")
    args = ["--train-dir", tests.write(os.path.join(workdir, "train"), sessions),
            "--listings-dir", tests.write(os.path.join(workdir, "listings"), listings),
            "--model-dir", model_dir, "--checkpoint-dir", "", *TRAINING_ARGS]
    metrics = support.run_training(tests.train.training_io.run, tests.train.train, tests.train.parser(), args,
                                   model_dir)
    code_dir = os.path.join(model_dir, "code")

    # The daily indexing: the served model's fetch answer for every listing (cold start included).
    inference = load_script(code_dir, "inference.py")
    model = inference.model_fn(model_dir)
    ids = [{"listing_id": row["listing_id"]} for row in listings]
    answers = {answer["listing_id"]: answer for answer in support.batch_answers(inference, model, ids)}
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
    support.write_jsonl(os.path.join(workdir, "listings.jsonl"), documents)

    sample_listing = tests.listing_id(SAMPLE_REGION, SAMPLE_STYLE, SAMPLE_LISTING)
    manifest = {
        "blueprint": "similar-listings",
        "endpoints": {ENDPOINT: support.model_entry(workdir, model_dir)},
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
    return support.write_manifest(workdir, manifest)


if __name__ == "__main__":
    sys.exit(support.fixture_main(build, __doc__))
