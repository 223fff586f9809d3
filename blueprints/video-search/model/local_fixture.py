"""What the local run of the video search blueprint serves (``npm run serve:local -- video-search``).

``build(workdir, key)`` trains the reference encoders on the synthetic data the model's tests make
(``test_video_search_model.synthetic()``: 300 videos whose frames show a planted topic latent, and
queries of words drawn by their affinity to it), with the tests' hyperparameters, then writes into
``workdir`` what the local servers are loaded with, and ``fixture.json``, the manifest the local
run reads (paths relative to ``workdir``):

- ``endpoints``: ``vsearch-query-embedding``, the model folder and the serving code ``train.py``
  wrote into it (``code/inference.py``);
- ``indexes.videos``: one document per catalogue video, as the indexing transform and its loader
  write them: ``video_id``, ``uploader_id`` (the uploader's pseudonym), ``language``, ``title`` and
  ``tags`` (the text search's fields) and ``embedding`` (the video tower through the served
  ``inference.py``, from the frame features);
- ``sampleRequest`` / ``sampleFeedback`` and ``facts`` for a person's curl and for the
  integration tests.

The catalogue's metadata is made here (the tests' videos have frames only): a fifth of the videos
are Spanish; a title and tags are filler words (``clip``, ``tutorial``, …) with, half the time, a
word the video's own search queries used, as an uploader's words would. Then, for the sample query
(the first of the search logs' English queries whose words a few English titles or tags share, one
of them among the visual matches), three videos are planted:

- ``visualMatch``: the English video whose embedding is nearest the query's; its title and tags
  are rewritten to filler words, so only the visual search finds it;
- ``titleMatch``: the English video whose embedding is farthest from the query's (outside the
  k-NN search's k); its title becomes the query's words, so only the text search finds it;
- ``otherLanguageTitleMatch``: a Spanish video titled with the query's words, which the language
  filter keeps out of both searches.

Pseudonyms are the data lake's (``anonymize.pseudonym``: lowercase hex HMAC-SHA256 under ``key``).

Usage: ``LOCAL_PSEUDONYMIZATION_KEY=... python local_fixture.py --workdir DIR`` prints the manifest.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter, defaultdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "..", "lib", "python"))  # local_fixture_support, which adds the rest

import local_fixture_support as support  # noqa: E402 - after the path set-up above
from local_fixture_support import load_script, pseudonym  # noqa: E402

ENDPOINT = "vsearch-query-embedding"
INDEX = "videos"
# The model tests' hyperparameters (their synthetic data, --buckets 4096): seconds on two cores.
TRAINING_ARGS = ("--buckets", "4096")
# The deployed k-NN search's k (candidatesPerSearch): the title match must lie beyond it.
KNN_K = 100
SPANISH_EVERY = 5  # video v is Spanish when v % 5 == 4
UPLOADERS = 60
FILLER = ("clip", "tutorial", "live", "review", "highlights", "vlog", "session", "remix", "full", "episode",
          "short", "compilation", "reaction", "guide", "story")
# Sample queries whose words a few English titles or tags share: enough for a text search with
# several hits, few enough that the planted videos stay in the 10 items of the fused answer.
TITLE_HITS = (2, 4)


def _words(text: str) -> set:
    """The text's words as OpenSearch's standard analyzer splits them (lower case, letters and digits)."""
    return set(re.findall(r"[^\W_]+", text.lower()))


def _metadata(videos: list, pairs: list, rng: np.random.Generator) -> dict:
    """Language, title and tags per video: filler words and, half the time, a word of its own queries."""
    words_of = defaultdict(Counter)
    for pair in pairs:
        words_of[pair["video_id"]].update(pair["query_text"].split())
    metadata = {}
    for row in videos:
        video = row["video_id"]
        number = int(video[1:])
        own = [word for word, _ in words_of[video].most_common(2)]
        title = [str(rng.choice(FILLER)), str(rng.choice(FILLER))]
        tags = [str(rng.choice(FILLER))]
        if own and rng.random() < 0.5:
            title.insert(1, own[0])
        if len(own) > 1 and rng.random() < 0.5:
            tags.append(own[1])
        metadata[video] = {
            "language": "es" if number % SPANISH_EVERY == SPANISH_EVERY - 1 else "en",
            "title": " ".join(title).capitalize(),
            "tags": " ".join(tags),
            "uploader": f"uploader-{number % UPLOADERS}",
        }
    return metadata


def _embed(inference, model, instances: list) -> list:
    return [answer["embedding"] for answer in support.batch_answers(inference, model, instances)]


def _sample_query(pairs: list, metadata: dict, embeddings: dict, inference, model) -> tuple:
    """The first English query of three different words with TITLE_HITS English title or tag matches, one of them
    among its k-NN hits (after the nearest, whose title is rewritten): the query and the English videos by nearness."""
    catalogue = [video for video in embeddings if metadata[video]["language"] == "en"]
    for pair in pairs:
        words = _words(pair["query_text"])
        english = pair.get("query_language") == "en" and metadata[pair["video_id"]]["language"] == "en"
        if not english or len(words) < len(pair["query_text"].split()):  # three different words
            continue
        hits = [v for v in catalogue if words & _words(f"{metadata[v]['title']} {metadata[v]['tags']}")]
        if not TITLE_HITS[0] <= len(hits) <= TITLE_HITS[1]:
            continue
        query = np.asarray(_embed(inference, model, [{"query_text": pair["query_text"], "query_language": "en"}])[0])
        ranked = sorted(catalogue, key=lambda v: -float(query @ np.asarray(embeddings[v])))
        if set(hits) & set(ranked[1:KNN_K]):
            return pair["query_text"], ranked, hits
    raise RuntimeError(f"no English query of the synthetic logs has {TITLE_HITS} title matches, one a k-NN hit")


def build(workdir: str, key: str) -> dict:
    """Trains the encoders, writes the local run's data into ``workdir`` and returns the manifest."""
    tests = support.prepare_build(workdir, key, HERE, "test_video_search_model.py")
    pairs, videos = tests.synthetic()
    model_dir = os.path.join(workdir, "model")
    args = ["--train-dir", tests.write_channel(os.path.join(workdir, "train"), pairs),
            "--videos-dir", tests.write_channel(os.path.join(workdir, "videos"), videos),
            "--model-dir", model_dir, "--checkpoint-dir", "", *TRAINING_ARGS]
    metrics = support.run_training(tests.train.job.run, tests.train.train, tests.train.parser(), args, model_dir)
    code_dir = os.path.join(model_dir, "code")

    # The indexing transform: every video embedded from its frames by the served inference.py.
    inference = load_script(code_dir, "inference.py")
    model = inference.model_fn(model_dir)
    vectors = _embed(inference, model, [{"frame_features": row["frame_features"]} for row in videos])
    embeddings = {row["video_id"]: vector for row, vector in zip(videos, vectors)}
    metadata = _metadata(videos, pairs, np.random.default_rng(4))

    # The planted videos of the sample query (see the module's docstring).
    query_text, ranked, natural_hits = _sample_query(pairs, metadata, embeddings, inference, model)
    visual_match, title_match = ranked[0], ranked[-1]
    if ranked.index(title_match) < KNN_K:
        raise RuntimeError("the catalogue is too small for a title match beyond the k-NN search's k")
    metadata[visual_match].update(title="Untitled upload", tags="misc")
    metadata[title_match].update(title=query_text, tags=query_text.split()[0])
    other_language = next(v for v in reversed(list(embeddings)) if metadata[v]["language"] == "es")
    metadata[other_language].update(title=query_text)
    query_words = _words(query_text)
    title_hits = sorted((v for v in ranked if query_words & _words(f"{metadata[v]['title']} {metadata[v]['tags']}")),
                        key=lambda v: int(v[1:]))

    documents = [{
        "video_id": video, "uploader_id": pseudonym(key, metadata[video]["uploader"]),
        "language": metadata[video]["language"], "title": metadata[video]["title"], "tags": metadata[video]["tags"],
        "embedding": embeddings[video],
    } for video in embeddings]
    support.write_jsonl(os.path.join(workdir, "videos.jsonl"), documents)

    manifest = {
        "blueprint": "video-search",
        "endpoints": {ENDPOINT: support.model_entry(workdir, model_dir)},
        "indexes": {INDEX: {"documents": "videos.jsonl", "idField": "video_id", "vectorField": "embedding",
                            "spaceType": "innerproduct", "dimension": len(vectors[0])}},
        "sampleRequest": {"user_id": "viewer-local-1", "query_text": query_text, "query_language": "en"},
        "sampleFeedback": {"user_id": "viewer-local-1", "request_id": "<requestId of a /serve answer>",
                           "item_id": "<a video it served>", "outcome": "watch_time_s", "value": 42},
        "facts": {
            "visualMatch": visual_match,
            "titleMatch": title_match,
            "otherLanguageTitleMatch": other_language,
            "titleHits": title_hits,
            "naturalTitleHits": sorted(set(natural_hits) - {visual_match}, key=lambda v: int(v[1:])),
            "visualRankOfTitleMatch": ranked.index(title_match) + 1,
            "languageOf": {video: metadata[video]["language"] for video in embeddings},
        },
        "metrics": metrics,
    }
    return support.write_manifest(workdir, manifest)


if __name__ == "__main__":
    sys.exit(support.fixture_main(build, __doc__))
