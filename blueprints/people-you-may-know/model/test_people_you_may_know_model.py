from __future__ import annotations

import datetime
import json
import os

import numpy as np
import pytest
from blueprint_scripts import load_script
from model_testing import assert_rejected, write_channel

HERE = os.path.dirname(__file__)
train = load_script(HERE, "train.py")
inference = load_script(HERE, "inference.py")
pymk = train.pymk

USERS = 300


def synthetic_network(seed: int = 3) -> tuple:
    """Friendships formed day by day: people befriend schoolmates, colleagues and friends of friends
    (the planted signal), plus some random links."""
    rng = np.random.default_rng(seed)
    school = rng.integers(0, 8, USERS)
    employer = rng.integers(0, 8, USERS)
    adjacency = np.zeros((USERS, USERS), dtype=bool)
    edges = []
    for day in range(120):
        for u in rng.integers(0, USERS, 20):
            mutual = adjacency[u].astype(float) @ adjacency.astype(float)
            affinity = 2.0 * (school == school[u]) + 1.5 * (employer == employer[u]) + 0.9 * np.minimum(mutual, 4)
            affinity[u] = -np.inf
            affinity[adjacency[u]] = -np.inf
            weights = np.exp(affinity - affinity[np.isfinite(affinity)].max())
            v = int(rng.choice(USERS, p=weights / weights.sum()))
            adjacency[u, v] = adjacency[v, u] = True
            edges.append((f"u{u:04d}", f"u{v:04d}", day))
    profiles = [
        {"user_id": f"u{i:04d}", "school": f"s{school[i]}", "employer": f"e{employer[i]}" if i % 7 else ""}
        for i in range(USERS)
    ]
    return edges, profiles


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("pymk")
    edges, profiles = synthetic_network()
    # created_at as Athena writes a timestamp truncated to the day, and once as a day number.
    start = datetime.date(2024, 1, 1)
    rows = [
        {
            "user_id": u,
            "friend_id": v,
            "created_at": f"{start + datetime.timedelta(days=day)} 00:00:00.000"
            if n % 2
            else (start - datetime.date(1970, 1, 1)).days + day,
        }
        for n, (u, v, day) in enumerate(edges)
    ]
    write_channel(root / "friendships", rows)
    write_channel(root / "profiles", profiles)
    model_dir = root / "model"
    code = train.main(
        [
            "--friendships-dir",
            str(root / "friendships"),
            "--profiles-dir",
            str(root / "profiles"),
            "--model-dir",
            str(model_dir),
            "--checkpoint-dir",
            str(root / "checkpoints"),
        ]
    )
    assert code == 0
    return model_dir, json.loads((model_dir / "metrics.json").read_text()), root


def test_learns_who_befriends_whom(trained):
    _, metrics, _ = trained
    for name in ("roc_auc", "average_precision", "map", "baseline_roc_auc", "baseline_map"):
        assert name in metrics
    # Random ranking: ROC-AUC 0.5, average precision = the share of positives (about 2% here).
    assert metrics["roc_auc"] > 0.72, metrics
    assert metrics["average_precision"] > 2.5 * metrics["test_positive_rate"], metrics
    assert metrics["map"] > 0.08, metrics


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    graph = pymk.Graph(list(range(6)), [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 3.0), (3, 4, 1.0), (0, 5, 2.0)])
    x = rng.normal(size=(6, 4))
    params = pymk.init_params(4, 5, 3, rng)
    pairs, mutual, labels = np.array([[0, 2], [1, 4], [5, 3]]), np.array([0.3, 0.0, 0.1]), np.array([1.0, 0.0, 1.0])
    _, grads = pymk.loss_and_gradients(params, graph, x, pairs, mutual, labels, 1e-3)
    for name in ("self1", "neigh1", "self2", "neigh2", "scale", "mutual"):
        flat = params[name].reshape(-1)
        old = flat[0]
        flat[0] = old + 1e-6
        up, _ = pymk.loss_and_gradients(params, graph, x, pairs, mutual, labels, 1e-3)
        flat[0] = old - 1e-6
        down, _ = pymk.loss_and_gradients(params, graph, x, pairs, mutual, labels, 1e-3)
        flat[0] = old
        assert grads[name].reshape(-1)[0] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8)


def test_candidates_are_friends_of_friends_only():
    graph = pymk.Graph(list("abcde"), [(0, 1, 0.0), (1, 2, 0.0), (0, 3, 0.0), (3, 2, 0.0), (2, 4, 0.0)])
    found, mutual = graph.candidates(0, 10)
    assert found.tolist() == [2] and mutual.tolist() == [2.0]


def test_writes_serving_code_and_checkpoint(trained):
    model_dir, _, root = trained
    assert set(os.listdir(model_dir / "code")) == {
        "inference.py",
        "numpy_nn.py",
        "people_you_may_know_model.py",
        "serving_io.py",
    }
    assert (root / "checkpoints" / train.CHECKPOINT).is_file()


def test_serves_suggestions_and_pair_scores(trained):
    model = inference.model_fn(str(trained[0]))
    body, content_type = inference.output_fn(
        inference.predict_fn(
            inference.input_fn('{"user_ref": "u0001"}\n{"user_ref": "nobody"}\n', "application/jsonlines"), model
        ),
        "application/jsonlines",
    )
    first, unknown = (json.loads(line) for line in body.splitlines())
    assert content_type == "application/jsonlines"
    assert len(first["suggestions"]) == 10 and unknown == {"suggestions": []}
    scores = [s["score"] for s in first["suggestions"]]
    assert scores == sorted(scores, reverse=True)
    graph = model["graph"]
    u = graph.index["u0001"]
    assert all(not graph.connected(u, graph.index[s["user_id"]]) for s in first["suggestions"])

    body, _ = inference.output_fn(
        inference.predict_fn(
            inference.input_fn(
                json.dumps(
                    {
                        "instances": [
                            {"user_id": "u0001", "candidate_id": first["suggestions"][0]["user_id"]},
                            {"user_id": "u0001", "k": 3},
                        ]
                    }
                ),
                "application/json",
            ),
            model,
        ),
        "application/json",
    )
    pair, top3 = json.loads(body)["predictions"]
    assert pair["score"] == pytest.approx(scores[0], abs=1e-6) and len(top3["suggestions"]) == 3

    body, _ = inference.output_fn(inference.predict_fn(inference.input_fn("u0001\n", "text/csv"), model), "text/csv")
    assert len(body.strip().split(",")) == 20


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ('{"instances": [{"k": 3}]}', "application/json", "missing 'user_id'"),
        ('{"instances": [{"user_id": "u0001", "k": 0}]}', "application/json", "k must be a whole number"),
        ("a,b,c\n", "text/csv", "expected user_id"),
        ("{oops\n", "application/jsonlines", "line 1 is not JSON"),
        ("{}", "text/plain", "unsupported content type"),
    ],
)
def test_bad_requests_say_what_is_wrong(trained, body, content_type, message):
    model = inference.model_fn(str(trained[0]))
    assert_rejected(inference, model, body, content_type, message)


def test_bad_training_data_names_the_record(tmp_path):
    write_channel(tmp_path / "friendships", [{"user_id": "a", "friend_id": "b", "created_at": "yesterday"}])
    assert (
        train.main(
            [
                "--friendships-dir",
                str(tmp_path / "friendships"),
                "--profiles-dir",
                "",
                "--model-dir",
                str(tmp_path / "m"),
                "--checkpoint-dir",
                "",
            ]
        )
        == 1
    )
