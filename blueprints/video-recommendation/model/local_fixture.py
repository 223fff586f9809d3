"""What the local run of the video recommendation blueprint serves (``npm run serve:local -- video-recommendation``).

``build(workdir, key)`` trains the reference model on the synthetic impressions the model's tests
make (``test_video_recommendation_model.impressions()``: each user prefers one of five clusters of
40 videos), then writes into ``workdir`` what the local servers are loaded with, and
``fixture.json``, the manifest the local run reads (paths relative to ``workdir``):

- ``endpoints``: per SageMaker endpoint name (``vrec-user-tower``, ``vrec-ranking``; both serve the
  one trained artifact, as deployed) the model folder and the serving code ``train.py`` wrote
  into it (``code/inference.py``);
- ``featureRecords``: JSON Lines for the Feature Store stand-in, keyed as the request path reads
  them: ``vrec-user-features`` (``user_id`` = the user's pseudonym, ``user_age``, ``watch_history``
  = watched video ids, oldest first, joined by ``|``) and ``vrec-recent-watch`` (the last watch);
- ``indexes.videos``: the catalogue's documents for the k-NN stand-in (``video_id``,
  ``video_language``, ``video_length_s``, ``channel_id`` = the channel's pseudonym, ``embedding``),
  embedded by the model's video tower through ``inference.py`` as the daily indexing transform does;
- ``tableItems``: the popular lists, for the table of the pipeline's ``popular`` stage, under the
  keys the deployed ``PopularVideos`` writes (``VREC_POPULAR_KEY`` / ``VREC_POPULAR_OVERALL_KEY`` in
  ``stack.ts``): one per language (``popular#<language>``) and one overall (``popular``), each the
  most watched videos that at least ``POPULAR_MIN_USERS`` users watched, as the producer's query
  ranks them. A language's requests are served that language's videos (the k-NN filter), so the
  watches of a language's videos stand in for the watches of its requests;
- ``sampleRequest`` / ``sampleFeedback`` and ``facts`` (clusters, the sample user's taste) for a
  person's curl and for the integration tests.

Pseudonyms are the data lake's (``anonymize.pseudonym``: lowercase hex HMAC-SHA256 under ``key``),
the same the serving handler computes from the raw ``user_id`` of a request.

Usage: ``LOCAL_PSEUDONYMIZATION_KEY=... python local_fixture.py --workdir DIR`` prints the manifest.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "..", "lib", "python"))  # local_fixture_support, which adds the rest

import local_fixture_support as support  # noqa: E402 - after the path set-up above
from local_fixture_support import load_script, pseudonym  # noqa: E402

USER_TOWER, RANKING = "vrec-user-tower", "vrec-ranking"
INDEX = "videos"
# The model tests' hyperparameters: a few seconds on two cores.
TRAINING_ARGS = ("--retrieval-epochs", "30", "--ranker-epochs", "15", "--batch-size", "128", "--dimensions", "16")
VIDEOS_PER_CHANNEL = 4  # 10 channels per cluster: the diversity rule (2 per channel) still leaves 20 of one cluster
POPULAR_ITEMS = 50
POPULAR_KEY_PREFIX = "popular#"  # VREC_POPULAR_KEY = 'popular#{language}' in stack.ts
POPULAR_OVERALL_KEY = "popular"  # VREC_POPULAR_OVERALL_KEY
POPULAR_MIN_USERS = 20  # PopularItems' DEFAULT_MIN_SUBJECTS: no list shows what a few users watched
SAMPLE_USER = "u1"


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _tastes(rows: list, cluster_of: dict) -> dict:
    """Each user's preferred cluster: the cluster of most of their watches (the planted signal)."""
    watched = defaultdict(Counter)
    for row in rows:
        if row["watched"]:
            watched[row["user_id"]][cluster_of[row["video_id"]]] += 1
    return {user: counts.most_common(1)[0][0] for user, counts in watched.items()}


def _popular_lists(rows: list) -> dict:
    """Key → the ``POPULAR_ITEMS`` most watched videos with at least ``POPULAR_MIN_USERS`` distinct watchers."""
    watches, watchers = defaultdict(Counter), defaultdict(lambda: defaultdict(set))
    for row in rows:
        if row["watched"]:
            for key in (POPULAR_KEY_PREFIX + row["video_language"], POPULAR_OVERALL_KEY):
                watches[key][row["video_id"]] += 1
                watchers[key][row["video_id"]].add(row["user_id"])
    lists = {}
    for key in sorted(watches):
        ranked = sorted((v for v in watches[key] if len(watchers[key][v]) >= POPULAR_MIN_USERS),
                        key=lambda v: (-watches[key][v], -len(watchers[key][v]), v))
        lists[key] = ranked[:POPULAR_ITEMS]
    return lists


def build(workdir: str, key: str) -> dict:
    """Trains the model, writes the local run's data into ``workdir`` and returns the manifest."""
    tests = support.prepare_build(workdir, key, HERE, "test_video_recommendation_model.py")
    rows = tests.impressions()
    channel = os.path.join(workdir, "train")
    os.makedirs(channel, exist_ok=True)
    support.write_jsonl(os.path.join(channel, "part-0"), rows)
    model_dir = os.path.join(workdir, "model")
    args = ["--train-dir", channel, "--model-dir", model_dir, "--checkpoint-dir", os.path.join(workdir, "checkpoints"),
            *TRAINING_ARGS]
    metrics = support.run_training(tests.train.training_io.run, tests.train.train, tests.train.parser(), args,
                                   model_dir)
    code_dir = os.path.join(model_dir, "code")

    # The catalogue: every video the impressions show, with its language and length.
    catalogue = {}
    for row in rows:
        catalogue[row["video_id"]] = (row["video_language"], int(row["video_length_s"]))
    order = sorted(catalogue, key=lambda video: int(video[1:]))
    cluster_of = {video: tests.video_cluster(int(video[1:])) for video in order}

    # Index documents: the video tower through the served inference.py, as the indexing transform calls it.
    inference = load_script(code_dir, "inference.py")
    model = inference.model_fn(model_dir)
    rows_in = [{"video_id": v, "video_length_s": catalogue[v][1], "video_language": catalogue[v][0]} for v in order]
    documents = []
    for answer in support.batch_answers(inference, model, rows_in):
        video = answer["video_id"]
        documents.append({
            "video_id": video, "video_language": catalogue[video][0], "video_length_s": catalogue[video][1],
            "channel_id": pseudonym(key, f"ch{int(video[1:]) // VIDEOS_PER_CHANNEL}"), "embedding": answer["embedding"],
        })
    support.write_jsonl(os.path.join(workdir, "videos.jsonl"), documents)

    # Online features, keyed by pseudonym; event times now, so that the groups' TTLs keep them.
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    profiles, histories = {}, defaultdict(list)
    for row in sorted(rows, key=lambda r: r["shown_at"]):
        profiles[row["user_id"]] = (int(row["user_age"]), row["device_type"])
        if row["watched"]:
            histories[row["user_id"]].append(row["video_id"])
    records = []
    for user, (age, _) in profiles.items():
        user_key = pseudonym(key, user)
        history = histories[user][-50:]
        records.append({"featureGroupName": "vrec-user-features", "record": {
            "user_id": user_key, "updated_at": _iso(now), "user_age": age, "watch_history": "|".join(history)}})
        if history:
            records.append({"featureGroupName": "vrec-recent-watch", "record": {
                "user_id": user_key, "watched_at": _iso(now), "video_id": history[-1], "watch_fraction": 0.9}})
    support.write_jsonl(os.path.join(workdir, "features.jsonl"), records)

    popular_lists = _popular_lists(rows)
    popular = popular_lists[POPULAR_OVERALL_KEY]

    tastes = _tastes(rows, cluster_of)
    taste = tastes[SAMPLE_USER]
    # The request's language filters the index: the sample asks in the language of the user's taste.
    language = tests.LANGUAGES[taste]
    device = profiles[SAMPLE_USER][1]
    manifest = {
        "blueprint": "video-recommendation",
        "endpoints": {name: support.model_entry(workdir, model_dir) for name in (USER_TOWER, RANKING)},
        "featureRecords": "features.jsonl",
        "indexes": {INDEX: {"documents": "videos.jsonl", "idField": "video_id", "vectorField": "embedding",
                            "spaceType": "innerproduct", "dimension": len(documents[0]["embedding"])}},
        "tableItems": [{"stage": "popular", "item": {"pk": key, "prediction": ids}}
                       for key, ids in popular_lists.items()],
        "sampleRequest": {"user_id": SAMPLE_USER, "device_type": device, "language": language},
        "sampleFeedback": {"user_id": SAMPLE_USER, "request_id": "<requestId of a /serve answer>",
                           "item_id": "<an item id it served>", "outcome": "watched", "value": True},
        "facts": {
            "clusterOf": cluster_of,
            "languageOf": {video: catalogue[video][0] for video in order},
            "sampleUser": {"id": SAMPLE_USER, "tasteCluster": taste, "language": language,
                           "watchHistory": histories[SAMPLE_USER][-50:]},
            "popular": popular,
            "popularByLanguage": {key[len(POPULAR_KEY_PREFIX):]: ids for key, ids in popular_lists.items()
                                  if key != POPULAR_OVERALL_KEY},
        },
        "metrics": metrics,
    }
    return support.write_manifest(workdir, manifest)


if __name__ == "__main__":
    sys.exit(support.fixture_main(build, __doc__))
