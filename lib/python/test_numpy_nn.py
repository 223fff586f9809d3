"""numpy_nn: activations, normalization, losses against finite differences, Adam, checkpoints, retrieval."""

from __future__ import annotations

import numpy as np
import numpy_nn as nn
import pytest
from model_testing import assert_gradients_match, numeric_gradient


def test_sigmoid_is_stable_and_symmetric():
    z = np.array([-1000.0, -3.0, 0.0, 3.0, 1000.0])
    p = nn.sigmoid(z)
    assert np.all(np.isfinite(p))
    assert p[0] == 0.0 and p[-1] == 1.0 and p[2] == 0.5
    np.testing.assert_allclose(p + nn.sigmoid(-z), 1.0)
    assert p[3] == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_softmax_rows_sum_to_one_without_overflow():
    p = nn.softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    np.testing.assert_allclose(p, [[0.5, 0.5], [0.25, 0.75]])
    np.testing.assert_allclose(nn.softmax(np.array([[0.0], [np.log(3.0)]]), axis=0), [[0.25], [0.75]])


def test_logistic_loss_matches_its_definition_and_gradient():
    rng = np.random.default_rng(0)
    z, y = rng.normal(0, 3, (6, 2)), (rng.random((6, 2)) < 0.5).astype(float)
    loss, grad = nn.logistic_loss(z, y)
    p = 1 / (1 + np.exp(-z))
    assert loss == pytest.approx(-np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)) / 6)
    np.testing.assert_allclose(grad, numeric_gradient(lambda: nn.logistic_loss(z, y)[0], z), rtol=1e-6, atol=1e-9)
    assert np.isfinite(nn.logistic_loss(np.array([800.0]), np.array([0.0]))[0])


def test_info_nce_gradients_and_a_perfect_match():
    rng = np.random.default_rng(1)
    za, _ = nn.l2_normalize(rng.normal(size=(5, 3)))
    zb, _ = nn.l2_normalize(rng.normal(size=(5, 3)))
    _, dza, dzb = nn.info_nce(za, zb, 0.5)
    params, grads = {"za": za, "zb": zb}, {"za": dza, "zb": dzb}
    assert_gradients_match(lambda: nn.info_nce(za, zb, 0.5)[0], params, grads, ["za", "zb"])
    identical, _ = nn.l2_normalize(np.eye(4))
    assert nn.info_nce(identical, identical, 0.01)[0] < 1e-6  # each row is its own positive, far from the others


def test_l2_normalize_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    x, weights = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    z, norm = nn.l2_normalize(x)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0)
    analytic = nn.l2_normalize_backward(weights, z, norm)  # d/dx of sum(weights * normalize(x))
    numeric = numeric_gradient(lambda: float(np.sum(weights * nn.l2_normalize(x)[0])), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_adam_minimizes_a_quadratic_and_updates_only_the_given_rows():
    params = {"w": np.array([3.0, -2.0]), "table": np.ones((3, 2))}
    optimizer = nn.Adam(params, ["w", "table"], learning_rate=0.1)
    for _ in range(300):
        optimizer.update(params, {"w": 2 * params["w"]})
    np.testing.assert_allclose(params["w"], 0.0, atol=1e-2)
    optimizer = nn.Adam(params, ["table"], learning_rate=0.1)
    optimizer.update(params, {"table": (np.array([1]), np.array([[1.0, -1.0]]))})
    np.testing.assert_allclose(params["table"][[0, 2]], 1.0)
    np.testing.assert_allclose(params["table"][1], [0.9, 1.1])  # the first step moves by the learning rate
    with pytest.raises(KeyError, match="does not train 'other'"):
        optimizer.update(params, {"other": np.zeros(1)})


def test_adam_continues_from_its_state_exactly():
    grads = [{"w": np.array([0.5, -1.0])}, {"w": np.array([0.2, 0.3])}, {"w": np.array([-0.4, 0.1])}]
    straight = {"w": np.zeros(2)}
    optimizer = nn.Adam(straight, learning_rate=0.01)
    for g in grads:
        optimizer.update(straight, g)
    resumed = {"w": np.zeros(2)}
    first = nn.Adam(resumed, learning_rate=0.01)
    first.update(resumed, grads[0])
    second = nn.Adam.from_state(resumed, first.state(), learning_rate=0.01)
    for g in grads[1:]:
        second.update(resumed, g)
    np.testing.assert_array_equal(resumed["w"], straight["w"])
    assert second.t == 3


def test_checkpoints_round_trip_and_refuse_other_shapes(tmp_path):
    path = str(tmp_path / "ckpt" / "model.npz")
    params = {"w": np.arange(4.0).reshape(2, 2), "b": np.zeros(2)}
    optimizer = nn.Adam(params, learning_rate=0.1)
    optimizer.update(params, {"w": np.ones((2, 2)), "b": np.ones(2)})
    nn.save_checkpoint(path, 3, params, optimizer)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["model.npz"]  # the temporary file is gone
    saved = nn.load_checkpoint(path, like=params)
    assert saved.epoch == 3 and saved.optimizer_state["t"] == 1
    np.testing.assert_array_equal(saved.params["w"], params["w"])
    assert nn.load_checkpoint(path, like={"w": np.zeros((3, 2)), "b": np.zeros(2)}) is None
    assert nn.load_checkpoint(str(tmp_path / "absent.npz")) is None
    assert nn.load_checkpoint(None) is None

    fresh = {"w": np.zeros((2, 2)), "b": np.zeros(2)}
    epoch, resumed = nn.resume(path, fresh, learning_rate=0.1)
    assert epoch == 3 and resumed.t == 1
    np.testing.assert_array_equal(fresh["w"], params["w"])
    np.testing.assert_array_equal(resumed.m["b"], optimizer.m["b"])
    assert nn.resume(str(tmp_path / "absent.npz"), fresh) == (0, None)


def test_standardization_and_top_k():
    mean, std = nn.standardization(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(std, [1.0, 1.0])  # the constant column gets 1, not 0
    items = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    queries = np.array([[1.0, 0.1], [0.0, 1.0]])
    assert nn.top_k(queries, items, ["a", "b", "c"], 2) == [["a", "c"], ["b", "c"]]
    assert nn.top_k(queries, items, ["a", "b", "c"], 10)[0] == ["a", "c", "b"]


def test_params_and_meta_share_one_file(tmp_path):
    path = str(tmp_path / "model.npz")
    nn.save_params(path, {"w": np.eye(2)}, {"classes": ["a", "b"], "thresholds": {"t": 0.5}})
    params, meta = nn.load_params(path)
    np.testing.assert_array_equal(params["w"], np.eye(2))
    assert meta == {"classes": ["a", "b"], "thresholds": {"t": 0.5}}
    with pytest.raises(ValueError, match="ending in .npz"):
        nn.save_params(str(tmp_path / "model"), {"w": np.eye(2)}, {})
    with pytest.raises(ValueError, match="must not be named 'meta'"):
        nn.save_params(path, {"meta": np.zeros(1)}, {})
