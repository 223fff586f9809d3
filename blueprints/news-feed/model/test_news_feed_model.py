"""Trains the news feed's multi-task engagement model end to end on synthetic impressions, then serves it."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from blueprint_scripts import load_script
from model_testing import (
    assert_backprop_matches,
    assert_rejected,
    assert_resumes,
    assert_training_fails,
    read_metrics,
    write_channel,
)

HERE = os.path.dirname(__file__)
train = load_script(HERE, "train.py")
inference = load_script(HERE, "inference.py")
model_module = load_script(HERE, "news_feed_model.py")

SCALARS = [
    "affinity_score",
    "author_interactions_30d",
    "user_clicks_1h",
    "user_likes_1h",
    "user_skips_1h",
    "user_dwell_seconds_1h",
    "post_age_hours",
    "post_likes",
    "post_comments",
    "post_shares",
    "author_followers",
]
HEADS = {"click": "clicked", "like": "liked", "share": "shared", "comment": "commented", "skip": "skipped"}
DIM = 4


def synthetic_impressions(n: int, seed: int) -> list:
    """Impressions whose reactions and dwell follow planted rules on affinity, freshness and content, plus noise."""
    rng = np.random.default_rng(seed)
    affinity = rng.random(n)
    age = rng.exponential(12, n)
    likes = rng.poisson(30, n)
    content = rng.normal(size=(n, DIM))
    clicks_1h = rng.poisson(2, n)
    interest = 3.0 * affinity - 0.08 * age + 0.8 * content[:, 0] + 0.2 * clicks_1h
    logits = {
        "clicked": interest - 1.0,
        "liked": interest + 0.02 * likes - 2.5,
        "shared": 2.0 * content[:, 1] + 2.0 * affinity - 4.0,
        "commented": 4.0 * affinity + 1.5 * content[:, 2] - 5.0,
        "skipped": -1.2 * interest + 0.5,
    }
    labels = {k: (rng.random(n) < 1 / (1 + np.exp(-v))).astype(int) for k, v in logits.items()}
    base_dwell = np.exp(1.0 + 1.5 * affinity + 0.6 * content[:, 0] - 0.02 * age + rng.normal(0, 0.3, n))
    dwell = base_dwell * np.where(labels["clicked"] == 1, 3.0, 1.0)
    rows = []
    for i in range(n):
        rows.append(
            {
                "user_id": f"u{i % 400}",
                "author_id": f"a{rng.integers(30)}",
                "affinity_score": round(float(affinity[i]), 4),
                "author_interactions_30d": int(affinity[i] * 20),
                "user_clicks_1h": int(clicks_1h[i]),
                "user_likes_1h": int(rng.poisson(1)),
                "user_skips_1h": int(rng.poisson(3)),
                "user_dwell_seconds_1h": round(float(rng.exponential(60)), 1),
                "post_age_hours": round(float(age[i]), 2),
                "post_likes": int(likes[i]),
                "post_comments": int(rng.poisson(4)),
                "post_shares": int(rng.poisson(1)),
                "author_followers": int(rng.integers(10, 5000)),
                "post_embedding": json.dumps([round(float(v), 4) for v in content[i]]),
                **{k: int(v[i]) for k, v in labels.items()},
                "dwell_seconds": round(float(dwell[i]), 2),
            }
        )
    return rows


def arguments(train_dir: str, model_dir: str, *extra: str, checkpoints: str = "") -> list:
    return [
        "--train-dir",
        train_dir,
        "--model-dir",
        model_dir,
        "--checkpoint-dir",
        checkpoints,
        "--scalar-features",
        ",".join(SCALARS),
        "--vector-features",
        "post_embedding",
        "--binary-heads",
        ",".join(f"{k}={v}" for k, v in HEADS.items()),
        "--epochs",
        "15",
        "--hidden",
        "32",
        "--learning-rate",
        "0.005",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("news_feed")
    train_dir = write_channel(root / "train", synthetic_impressions(5000, seed=1))
    model_dir = str(root / "model")
    assert train.run(train.train, train.build_parser(), arguments(train_dir, model_dir)) == 0
    return model_dir


def test_backprop_matches_finite_differences():
    rng = np.random.default_rng(0)
    model = model_module.EngagementModel.initialize(3, 6, ["click", "skip"], 4, {})
    x, y = rng.normal(size=(5, 3)), (rng.random((5, 2)) < 0.4).astype(float)
    dwell = rng.random(5) * 3
    names = ("w1", "b1", "w2", "b2", "wc", "bc", "wd", "bd")
    assert_backprop_matches(lambda: model.gradients(x, y, dwell, 0.7, 0.01), model.params, names)


def test_learns_every_head_and_dwell(trained):
    metrics = read_metrics(trained)
    for head in HEADS:
        assert metrics[f"roc_auc_{head}"] > 0.75, head
        assert {f"precision_{head}", f"recall_{head}", f"f1_{head}"} <= set(metrics)
    assert metrics["roc_auc_mean"] > 0.8
    assert metrics["f1_click"] > 0.6
    assert metrics["dwell_rmse_log"] < 0.8 * metrics["dwell_rmse_log_baseline"]
    assert set(os.listdir(os.path.join(trained, "code"))) == {
        "inference.py",
        "news_feed_model.py",
        "numpy_nn.py",
        "serving_io.py",
    }


def test_ranks_engaging_posts_first_and_diversifies_authors(trained):
    model = inference.model_fn(trained)
    base = synthetic_impressions(1, seed=7)[0]
    close = dict(base, affinity_score=0.95, post_age_hours=1.0, author_id="friend", post_embedding=[1.5, 1, 1, 0])
    also_close = dict(close, affinity_score=0.9)
    stranger = dict(
        base, affinity_score=0.02, post_age_hours=60.0, author_id="stranger", post_embedding=[-1.5, 0, 0, 0]
    )
    body = json.dumps({"instances": [stranger, close, also_close]})
    predictions = inference.predict_fn(inference.input_fn(body, "application/json"), model)
    assert predictions[1]["score"] > predictions[0]["score"]
    assert predictions[1]["click"] > predictions[0]["click"]
    assert predictions[1]["skip"] < predictions[0]["skip"]
    # The two posts of "friend" outscore the stranger's, but are not shown back to back.
    assert [p["rank"] for p in predictions] == [2, 1, 3]
    text, content_type = inference.output_fn(predictions, "application/json")
    assert content_type == "application/json"
    assert json.loads(text)["predictions"][1]["rank"] == 1

    row = [*[close[s] for s in SCALARS], *close["post_embedding"]]
    csv_predictions = inference.predict_fn(inference.input_fn(",".join(map(str, row)) + "\n", "text/csv"), model)
    assert csv_predictions[0]["score"] == pytest.approx(predictions[1]["score"])
    csv_text, csv_type = inference.output_fn(csv_predictions, "text/csv")
    assert (csv_type, csv_text.strip().split(",")[1]) == ("text/csv", "1")


def test_takes_what_the_request_path_sends(trained):
    """Feature Store strings, pseudonymized ids, and no record for a pair or a user without interactions."""
    model = inference.model_fn(trained)
    base = synthetic_impressions(1, seed=11)[0]
    interactions = [name for name in SCALARS if name in inference.ABSENT_MEANS_ZERO]
    assert interactions == SCALARS[:6]
    sent = {name: str(value) for name, value in base.items() if name in SCALARS and name not in interactions}
    # The embedding is a JSON string, as stored.
    sent.update(id="3f0a" * 16, author_id="9b1c" * 16, post_embedding=base["post_embedding"])
    zeros = dict(base, **{name: 0 for name in interactions})
    served = inference.predict_fn(inference.input_fn(json.dumps({"instances": [sent]}), "application/json"), model)
    expected = inference.predict_fn([zeros], model)
    assert served[0]["score"] == pytest.approx(expected[0]["score"])
    # An affinity the path did fetch is used as sent (a string).
    fetched = inference.predict_fn([dict(sent, affinity_score="0.9")], model)
    direct = inference.predict_fn([dict(zeros, affinity_score=0.9)], model)
    assert fetched[0]["score"] == pytest.approx(direct[0]["score"])


def test_engagement_score_weights_the_heads():
    probabilities = np.array([[0.5, 0.1, 0.2]])
    score = model_module.engagement_scores(
        probabilities, np.array([2.0]), ["click", "share", "skip"], {"click": 1, "share": 20, "skip": -3, "dwell": 0.5}
    )
    assert score[0] == pytest.approx(0.5 + 2.0 - 0.6 + 1.0)


def test_bad_requests_name_the_problem(trained):
    model = inference.model_fn(trained)
    # Interaction features default to 0 when absent; the post's own features do not.
    with pytest.raises(ValueError, match="post_age_hours: missing"):
        inference.predict_fn([{"post_embedding": [0] * DIM}], model)
    with pytest.raises(ValueError, match="expected 4 values"):
        inference.predict_fn([dict(synthetic_impressions(1, 2)[0], post_embedding=[1])], model)
    assert_rejected(inference, model, "1,2\n", "text/csv", "expected 15 values")
    assert_rejected(inference, model, "x", "text/plain", "unsupported content type")
    with pytest.raises(ValueError, match="no instances"):
        inference.predict_fn([], model)


def test_bad_training_data_fails_with_a_reason(tmp_path):
    rows = synthetic_impressions(60, seed=3)
    rows[5]["dwell_seconds"] = -1
    train_dir = write_channel(tmp_path / "train", rows)
    args = arguments(train_dir, str(tmp_path / "m"))
    assert_training_fails(train, train.build_parser(), args, "dwell time must be >= 0")
    with pytest.raises(train.DataError, match="not heads"):
        train.train(
            train.build_parser().parse_args(arguments(train_dir, str(tmp_path / "m"), "--score-weights", "love=2"))
        )


def test_resumes_from_a_checkpoint(tmp_path):
    train_dir = write_channel(tmp_path / "train", synthetic_impressions(600, seed=5))
    checkpoints = tmp_path / "checkpoints"
    args = arguments(train_dir, str(tmp_path / "m1"), "--epochs", "4", checkpoints=str(checkpoints))
    assert_resumes(train, train.build_parser(), args, checkpoints / train.CHECKPOINT_FILE, "roc_auc_mean")
