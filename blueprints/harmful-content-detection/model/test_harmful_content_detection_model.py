"""Trains the harmful content classifier end to end on synthetic posts with planted signals, then serves it."""

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
model_module = load_script(HERE, "harmful_content_detection_model.py")

CLASSES = ["violence", "nudity", "hate", "misinformation", "spam"]
SCALARS = [
    "violations_30d",
    "violations_90d",
    "upheld_appeals_90d",
    "account_age_days",
    "likes",
    "comments",
    "shares",
    "reports",
    "hides",
]
DIM = 6


def synthetic_posts(n: int, seed: int) -> list:
    """Posts whose harm labels follow planted rules on the embeddings and features, plus noise."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n, DIM))
    image = rng.normal(size=(n, DIM))
    violations = rng.poisson(0.3, n)
    reports = rng.poisson(0.5, n)
    age = rng.integers(0, 2000, n)
    logits = {
        "violence": 2.5 * image[:, 0] + 1.0 * text[:, 0] - 4.0,
        "nudity": 3.0 * image[:, 1] - 4.0,
        "hate": 2.5 * text[:, 1] + 0.8 * violations - 4.0,
        "misinformation": 2.5 * text[:, 2] + 0.5 * reports - 4.0,
        "spam": 1.5 * reports - 0.002 * age + 1.5 * text[:, 3] - 3.0,
    }
    labels = {c: (rng.random(n) < 1 / (1 + np.exp(-v))).astype(int) for c, v in logits.items()}
    rows = []
    for i in range(n):
        rows.append(
            {
                "post_id": f"p{seed}-{i}",
                "text_embedding": json.dumps([round(float(v), 4) for v in text[i]]),
                "image_embedding": json.dumps([round(float(v), 4) for v in image[i]]),
                "violations_30d": int(violations[i] > 0),
                "violations_90d": int(violations[i]),
                "upheld_appeals_90d": 0,
                "account_age_days": int(age[i] // 30 * 30),
                "likes": int(rng.poisson(20)),
                "comments": int(rng.poisson(3)),
                "shares": int(rng.poisson(1)),
                "reports": int(reports[i]),
                "hides": int(rng.poisson(0.2)),
                **{c: int(labels[c][i]) for c in CLASSES},
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
        "--classes",
        ",".join(CLASSES),
        "--scalar-features",
        ",".join(SCALARS),
        "--vector-features",
        "text_embedding,image_embedding",
        "--epochs",
        "25",
        "--hidden",
        "32",
        "--learning-rate",
        "0.01",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("hcd")
    train_dir = write_channel(root / "train", synthetic_posts(4000, seed=1))
    model_dir = str(root / "model")
    assert train.run(train.train, train.build_parser(), arguments(train_dir, model_dir)) == 0
    return model_dir


def test_focal_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    meta = {"scalar_features": [], "vector_features": [], "vector_dims": {}, "thresholds": {}}
    model = model_module.MultiTaskClassifier.initialize(4, 5, CLASSES[:3], 3, meta)
    x, y = rng.normal(size=(7, 4)), (rng.random((7, 3)) < 0.3).astype(float)
    assert_backprop_matches(lambda: model.gradients(x, y, 0.25, 2.0, 0.01), model.params, ("w1", "b1", "w2", "b2"))


def test_learns_every_head_well_above_chance(trained):
    metrics = read_metrics(trained)
    for name in CLASSES:
        assert metrics[f"roc_auc_{name}"] > 0.8, name
        # A random ranking's PR-AUC is the prevalence.
        assert metrics[f"pr_auc_{name}"] > 2.5 * metrics[f"prevalence_{name}"], name
    assert metrics["pr_auc_macro"] > 0.4
    assert {"roc_auc_macro", "share_take_down", "share_send_to_review", "share_demote", "share_allow"} <= set(metrics)
    assert set(os.listdir(os.path.join(trained, "code"))) == {
        "harmful_content_detection_model.py",
        "inference.py",
        "numpy_nn.py",
        "serving_io.py",
    }


def test_serves_json_and_csv(trained):
    model = inference.model_fn(trained)
    harmful = synthetic_posts(1, seed=9)[0]
    harmful["image_embedding"] = json.dumps([4.0, 0, 0, 0, 0, 0])
    benign = dict(harmful, image_embedding=[-2.0] * DIM, text_embedding=[-2.0] * DIM, reports=0, violations_90d=0)
    body = json.dumps({"instances": [harmful, benign]})
    predictions = inference.predict_fn(inference.input_fn(body, "application/json"), model)
    assert predictions[0]["top_class"] == "violence"
    assert predictions[0]["decision"] in ("take_down", "send_to_review")
    assert predictions[1]["decision"] == "allow"
    assert set(predictions[0]["probabilities"]) == set(CLASSES)
    text, content_type = inference.output_fn(predictions, "application/json")
    assert content_type == "application/json"
    assert json.loads(text)["predictions"][0]["harm_score"] == predictions[0]["harm_score"]

    row = [
        *json.loads(harmful["text_embedding"]),
        *json.loads(harmful["image_embedding"]),
        *[harmful[s] for s in SCALARS],
    ]
    csv_body = ",".join(str(v) for v in row) + "\n"
    csv_predictions = inference.predict_fn(inference.input_fn(csv_body, "text/csv"), model)
    assert csv_predictions[0]["harm_score"] == pytest.approx(predictions[0]["harm_score"])
    csv_text, csv_type = inference.output_fn(csv_predictions, "text/csv")
    assert csv_type == "text/csv"
    assert csv_text.strip().split(",")[1] == csv_predictions[0]["decision"]


def test_decisions_follow_the_thresholds():
    thresholds = {"take_down": 0.9, "review": 0.5, "demote": 0.25}
    assert model_module.decide([0.95, 0.1], thresholds) == "take_down"
    assert model_module.decide([0.2, 0.6], thresholds) == "send_to_review"
    assert model_module.decide([0.3], thresholds) == "demote"
    assert model_module.decide([0.1], thresholds) == "allow"


def test_serves_what_the_request_path_sends(trained):
    # The author's history arrives as the feature store's strings; a new author has no record and a
    # new post no reactions: absent counts are 0, as if sent as 0.
    model = inference.model_fn(trained)
    post = synthetic_posts(1, seed=11)[0]
    embeddings = {"id": "p1", "text_embedding": post["text_embedding"], "image_embedding": post["image_embedding"]}
    as_strings = {**embeddings, **{name: str(post[name]) for name in SCALARS}}
    as_numbers = {**embeddings, **{name: post[name] for name in SCALARS}}
    assert inference.predict_fn([as_strings], model) == inference.predict_fn([as_numbers], model)
    new_author = {**embeddings, "likes": None}
    zeros = {**embeddings, **{name: 0 for name in SCALARS}}
    assert inference.predict_fn([new_author], model) == inference.predict_fn([zeros], model)
    body = json.dumps({"instances": [new_author]})
    assert inference.predict_fn(inference.input_fn(body, "application/json"), model)[0]["harm_score"] > 0


def test_bad_requests_name_the_problem(trained):
    model = inference.model_fn(trained)
    with pytest.raises(ValueError, match="missing 'text_embedding'"):
        inference.predict_fn([{"image_embedding": [0] * DIM}], model)
    with pytest.raises(ValueError, match="expected 6 values"):
        inference.predict_fn([dict(synthetic_posts(1, 2)[0], text_embedding=[1, 2])], model)
    assert_rejected(inference, model, "1,2,3\n", "text/csv", "expected 21 values")
    assert_rejected(inference, model, "{", "application/json", "not JSON")
    with pytest.raises(ValueError, match="no instances"):
        inference.predict_fn([], model)


def test_bad_training_data_fails_with_a_reason(tmp_path):
    rows = synthetic_posts(50, seed=3)
    rows[4]["hate"] = 2
    train_dir = write_channel(tmp_path / "train", rows)
    args = arguments(train_dir, str(tmp_path / "m"))
    assert_training_fails(train, train.build_parser(), args, "label must be 0 or 1")


def test_resumes_from_a_checkpoint(tmp_path):
    train_dir = write_channel(tmp_path / "train", synthetic_posts(600, seed=5))
    checkpoints = tmp_path / "checkpoints"
    args = arguments(train_dir, str(tmp_path / "m1"), "--epochs", "4", checkpoints=str(checkpoints))
    assert_resumes(train, train.build_parser(), args, checkpoints / train.CHECKPOINT_FILE, "pr_auc_macro")
