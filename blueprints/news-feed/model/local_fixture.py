"""What the local run of the news feed blueprint serves (``npm run serve:local -- news-feed``).

``build(workdir, key)`` trains the reference ranker (the multi-task engagement model) on the
synthetic impressions the model's tests make (``test_news_feed_model.synthetic_impressions()``:
reactions and dwell follow planted rules, the strongest on the user–author affinity), with the
tests' small hyperparameters, then writes into ``workdir`` what the local servers are loaded with,
and ``fixture.json``, the manifest the local run reads (paths relative to ``workdir``):

- ``endpoints``: ``nf-ranker``, the model folder and the serving code ``train.py`` wrote into it
  (``code/inference.py``);
- ``featureRecords``: JSON Lines for the Feature Store stand-in, keyed as the request path reads
  them: ``nf-user-engagement`` (``user_id`` = the sample user's pseudonym, their last hour),
  ``nf-post-features`` (``post_id`` = the post id's pseudonym, ``author_id`` = the author's
  pseudonym, the content embedding as a JSON string, popularity and age) for every candidate post,
  and ``nf-user-author-affinity`` (``user_author`` = ``<user pseudonym>|<author pseudonym>``, as the
  stream handler writes it and the request path builds it) for the followed authors the user
  interacted with: five close authors with a high affinity, ten with a low one; the last five
  have no record (no interaction: the model reads 0);
- ``sampleRequest``: the sample user and the 50 unseen posts of the 20 authors they follow
  (3 posts each of the first ten, 2 of the others), as the feed backend retrieves them;
- ``sampleFeedback``: a dwell time on a served post;
- ``facts``: each post's author, each author's affinity and the close authors, for the tests.

Pseudonyms are the data lake's (``anonymize.pseudonym``: lowercase hex HMAC-SHA256 under ``key``),
the same the serving handler computes from the raw ids of a request. Raw ids use letters outside
hex (``u``, ``p``, ``r``), so no raw id can hide inside a pseudonym.

Usage: ``LOCAL_PSEUDONYMIZATION_KEY=... python local_fixture.py --workdir DIR`` prints the manifest.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "..", "lib", "python"))  # local_fixture_support, which adds the rest

import local_fixture_support as support  # noqa: E402 - after the path set-up above
from local_fixture_support import pseudonym  # noqa: E402

ENDPOINT = "nf-ranker"
SAMPLE_USER = "u-reader-1"
AUTHORS = [f"author-{i:02d}" for i in range(1, 21)]
CLOSE_AUTHORS = AUTHORS[:5]  # high affinity
LOW_AFFINITY_AUTHORS = AUTHORS[5:15]  # interacted a little
# AUTHORS[15:]: followed, never interacted with: no affinity record
POSTS = 50
SEED = 10


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _train(tests, workdir: str) -> tuple:
    channel = tests.write_channel(os.path.join(workdir, "train"), tests.synthetic_impressions(5000, seed=1))
    model_dir = os.path.join(workdir, "model")
    return model_dir, support.run_training(tests.train.run, tests.train.train, tests.train.build_parser(),
                                           tests.arguments(channel, model_dir), model_dir, "ranker")


def _affinities(rng: np.random.Generator) -> dict:
    """Affinity of the sample user to each followed author they interacted with."""
    scores = {author: round(float(rng.uniform(0.85, 0.97)), 4) for author in CLOSE_AUTHORS}
    scores.update({author: round(float(rng.uniform(0.02, 0.15)), 4) for author in LOW_AFFINITY_AUTHORS})
    return scores


def _posts(rng: np.random.Generator, dim: int) -> list:
    """The unseen posts: 3 of each of the first ten authors, 2 of the others, authors interleaved."""
    posts = []
    for i in range(POSTS):
        author = AUTHORS[i % len(AUTHORS)]
        posts.append({
            "id": f"post-{1000 + i}", "author": author,
            "post_age_hours": round(float(rng.uniform(1.0, 24.0)), 2),
            "post_likes": int(rng.poisson(30)), "post_comments": int(rng.poisson(4)),
            "post_shares": int(rng.poisson(1)),
            "author_followers": int(rng.integers(10, 5000)),
            "post_embedding": json.dumps([round(float(v), 4) for v in rng.normal(size=dim)]),
        })
    return posts


def build(workdir: str, key: str) -> dict:
    """Trains the ranker, writes the local run's data into ``workdir`` and returns the manifest."""
    tests = support.prepare_build(workdir, key, HERE, "test_news_feed_model.py")
    model_dir, metrics = _train(tests, workdir)

    rng = np.random.default_rng(SEED)
    affinity = _affinities(rng)
    posts = _posts(rng, tests.DIM)
    now = _iso(datetime.datetime.now(datetime.timezone.utc))  # event times now, so that the groups' TTLs keep them
    user_key = pseudonym(key, SAMPLE_USER)
    records = [{"featureGroupName": "nf-user-engagement", "record": {
        "user_id": user_key, "event_time": now, "user_clicks_1h": 2, "user_likes_1h": 1, "user_skips_1h": 3,
        "user_dwell_seconds_1h": 64.5}}]
    for author, score in affinity.items():
        records.append({"featureGroupName": "nf-user-author-affinity", "record": {
            "user_author": f"{user_key}|{pseudonym(key, author)}", "event_time": now, "affinity_score": score,
            "author_interactions_30d": int(score * 20)}})
    for post in posts:
        fields = {name: value for name, value in post.items() if name not in ("id", "author")}
        records.append({"featureGroupName": "nf-post-features", "record": {
            "post_id": pseudonym(key, post["id"]), "snapshot_time": now, "author_id": pseudonym(key, post["author"]),
            **fields}})
    support.write_jsonl(os.path.join(workdir, "features.jsonl"), records)

    manifest = {
        "blueprint": "news-feed",
        "endpoints": {ENDPOINT: support.model_entry(workdir, model_dir)},
        "featureRecords": "features.jsonl",
        "indexes": {},
        "sampleRequest": {"user_id": SAMPLE_USER, "candidate_post_ids": [post["id"] for post in posts],
                          "device": "mobile", "ip": "203.0.113.42"},
        "sampleFeedback": {"user_id": SAMPLE_USER, "request_id": "<requestId of a /serve answer>",
                           "item_id": "<a post id it served>", "outcome": "dwell_seconds", "value": 42.5},
        "facts": {
            "sampleUser": {"id": SAMPLE_USER, "closeAuthors": CLOSE_AUTHORS, "affinityOf": affinity},
            "authorOf": {post["id"]: post["author"] for post in posts},
        },
        "metrics": metrics,
    }
    return support.write_manifest(workdir, manifest)


if __name__ == "__main__":
    sys.exit(support.fixture_main(build, __doc__))
