"""What the local run of the harmful content detection blueprint serves (``npm run serve:local``).

``build(workdir, key)`` trains the reference classifier (the early-fusion multi-task model with
focal loss) on the synthetic posts the model's tests make
(``test_harmful_content_detection_model.synthetic_posts()``: violence follows the image
embedding's first value, hate the text embedding's second value and the author's violations, spam
the reports and a young account, ...) with the tests' small hyperparameters, and writes into
``workdir`` what the local servers are loaded with, and ``fixture.json``, the manifest the local
run reads (paths relative to ``workdir``):

- ``endpoints``: ``hcd-classifier``, the model folder and the serving code ``train.py`` wrote into
  it (``code/inference.py``);
- ``featureRecords``: JSON Lines for the Feature Store stand-in: ``hcd-author-history`` records
  keyed as the request path reads them (``author_id`` = the author's pseudonym), for a clean
  author (no violations, an old account) and a repeat offender (recent violations, a young one);
- ``sampleRequest``: a clearly harmful post (a violent image) of the clean author;
- ``facts``: requests for the integration tests with the model's answer to each, computed here by
  the served ``inference.py``: ``harmful`` (taken down), ``benign`` (allowed), ``borderline`` (a
  hateful-leaning text by the repeat offender: sent to review) and ``borderlineClean`` (the same
  post by the clean author: the author's history alone moves it below the review threshold), the
  authors' features and the thresholds.

Pseudonyms are the data lake's (``anonymize.pseudonym``: lowercase hex HMAC-SHA256 under ``key``),
the same the serving handler computes from the raw ``author_id`` of a request.

Usage: ``LOCAL_PSEUDONYMIZATION_KEY=... python local_fixture.py --workdir DIR`` prints the manifest.
"""

from __future__ import annotations

import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "..", "lib", "python"))  # local_fixture_support, which adds the rest

import local_fixture_support as support  # noqa: E402 - after the path set-up above
from local_fixture_support import load_script, pseudonym  # noqa: E402

ENDPOINT = "hcd-classifier"
AUTHOR_GROUP = "hcd-author-history"
TRAINING_POSTS, TRAINING_SEED = 4000, 1  # the model tests' training set
AUTHORS = {
    "clean": {"id": "author-clean", "features": {
        "violations_30d": 0, "violations_90d": 0, "upheld_appeals_90d": 0, "account_age_days": 1500}},
    "repeat": {"id": "author-repeat", "features": {
        "violations_30d": 3, "violations_90d": 5, "upheld_appeals_90d": 0, "account_age_days": 60}},
}
REACTIONS = {"likes": 20, "comments": 3, "shares": 1, "reports": 0, "hides": 0}


def _axis(dim: int, index: int, value: float) -> list:
    return [round(float(value), 2) if i == index else 0.0 for i in range(dim)]


def _request(post_id: str, author: str, text: list, image: list) -> dict:
    return {"post_id": post_id, "author_id": AUTHORS[author]["id"], "text_embedding": text, "image_embedding": image,
            **REACTIONS}


def build(workdir: str, key: str) -> dict:
    """Trains the classifier, writes the local run's data into ``workdir`` and returns the manifest."""
    tests = support.prepare_build(workdir, key, HERE, "test_harmful_content_detection_model.py")
    model_dir = os.path.join(workdir, "model")
    channel = tests.write_channel(os.path.join(workdir, "train"), tests.synthetic_posts(TRAINING_POSTS, TRAINING_SEED))
    metrics = support.run_training(tests.train.run, tests.train.train, tests.train.build_parser(),
                                   tests.arguments(channel, model_dir), model_dir)
    code_dir = os.path.join(model_dir, "code")

    # The served model's answers, as the request path asks for them (the author's features from the store).
    inference = load_script(code_dir, "inference.py")
    model = inference.model_fn(model_dir)
    thresholds = model.meta["thresholds"]
    dim = tests.DIM

    def answer(request: dict) -> dict:
        author = next(a for a in AUTHORS.values() if a["id"] == request["author_id"])
        instance = {"id": request["post_id"], **{k: v for k, v in request.items() if k not in ("post_id", "author_id")},
                    **author["features"]}
        return inference.predict_fn([instance], model)[0]

    # Clearly harmful: a violent image (the violence head's planted signal), far beyond the training data's.
    harmful = _request("post-harmful-1", "clean", _axis(dim, 0, 1.0), _axis(dim, 0, 6.0))
    # Clearly benign: every embedding away from every planted direction.
    benign = _request("post-benign-1", "clean", [-1.0] * dim, [-1.0] * dim)
    # Borderline: a hateful-leaning text whose decision the author's history moves: sent to review
    # when the repeat offender posts it, demoted when the clean author does; the text farthest from
    # both thresholds it falls between.
    def margin(t: float) -> float:
        repeat = answer(_request("p", "repeat", _axis(dim, 1, t), [0.0] * dim))["harm_score"]
        clean = answer(_request("p", "clean", _axis(dim, 1, t), [0.0] * dim))["harm_score"]
        return min(repeat - thresholds["review"], thresholds["take_down"] - repeat,
                   clean - thresholds["demote"], thresholds["review"] - clean)
    best = max((i / 10 for i in range(0, 31)), key=margin)
    borderline = _request("post-borderline-1", "repeat", _axis(dim, 1, best), [0.0] * dim)
    borderline_clean = dict(borderline, author_id=AUTHORS["clean"]["id"])
    requests = {"harmful": harmful, "benign": benign, "borderline": borderline, "borderlineClean": borderline_clean}
    expected = {"harmful": "take_down", "benign": "allow", "borderline": "send_to_review", "borderlineClean": "demote"}
    answers = {name: answer(request) for name, request in requests.items()}
    for name, decision in expected.items():
        if answers[name]["decision"] != decision:
            raise RuntimeError(f"the trained model decides {answers[name]['decision']} for the {name} post, "
                               f"not {decision}")

    # The author history, event time now so that the group's 90-day TTL keeps it.
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    support.write_jsonl(os.path.join(workdir, "features.jsonl"), [
        {"featureGroupName": AUTHOR_GROUP, "record": {"author_id": pseudonym(key, author["id"]), "snapshot_time": now,
                                                     **author["features"]}}
        for author in AUTHORS.values()])

    manifest = {
        "blueprint": "harmful-content-detection",
        "endpoints": {ENDPOINT: support.model_entry(workdir, model_dir)},
        "featureRecords": "features.jsonl",
        "indexes": {},
        "sampleRequest": harmful,
        "sampleFeedback": {"author_id": harmful["author_id"], "request_id": "<requestId of a /serve answer>",
                           "item_id": harmful["post_id"], "outcome": "appealed", "value": True},
        "facts": {
            "requests": requests,
            "answers": {name: {"harmScore": a["harm_score"], "decision": a["decision"], "topClass": a["top_class"]}
                        for name, a in answers.items()},
            "authors": AUTHORS,
            "thresholds": thresholds,
        },
        "metrics": metrics,
    }
    return support.write_manifest(workdir, manifest)


if __name__ == "__main__":
    sys.exit(support.fixture_main(build, __doc__))
