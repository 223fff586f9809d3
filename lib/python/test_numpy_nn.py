"""numpy_nn: activations, normalization, losses against finite differences, Adam, checkpoints, retrieval."""

from __future__ import annotations

import json
import os

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


def test_model_files_keep_params_and_a_readable_config(tmp_path):
    directory = str(tmp_path / "encoder")
    nn.save_model_files(directory, {"w": np.eye(2)}, {"dimensions": 2})
    assert sorted(os.listdir(directory)) == ["model.json", "model.npz"]
    with open(os.path.join(directory, "model.json"), encoding="utf-8") as handle:
        assert json.load(handle) == {"dimensions": 2}
    params, config = nn.load_model_files(directory)
    np.testing.assert_array_equal(params["w"], np.eye(2))
    assert config == {"dimensions": 2}


class TwoHeads(nn.MultiTaskNetwork):
    trunk_layers = 2

    @classmethod
    def initialize(cls, seed: int) -> TwoHeads:
        rng = np.random.default_rng(seed)
        params = cls.trunk_params(rng, 3, [5, 4])
        params["wh"], params["bh"] = rng.normal(size=(4, 2)), np.zeros(2)
        return cls(params, {"heads": ["a", "b"]})

    def gradients(self, x: np.ndarray, y: np.ndarray, l2: float) -> tuple:
        h, cache = self.trunk(x)
        loss, dz = nn.logistic_loss(h @ self.params["wh"] + self.params["bh"], y)
        grads = {"wh": h.T @ dz, "bh": dz.sum(axis=0)}
        grads.update(self.trunk_backward(dz @ self.params["wh"].T, cache))
        return loss + self.weight_decay(grads, l2, ("w1", "w2", "wh")), grads


def test_multi_task_trunk_backprop_matches_finite_differences():
    rng = np.random.default_rng(1)
    model = TwoHeads.initialize(2)
    model.params["mean"], model.params["std"] = rng.normal(size=3), rng.random(3) + 0.5
    assert model.params["w1"].shape == (3, 5) and model.params["w2"].shape == (5, 4)
    assert model.trainable == ["w1", "b1", "w2", "b2", "wh", "bh"]  # not the standardization
    x, y = rng.normal(size=(6, 3)), (rng.random((6, 2)) < 0.5).astype(float)
    _, grads = model.gradients(x, y, 0.1)
    assert_gradients_match(lambda: model.gradients(x, y, 0.1)[0], model.params, grads, model.trainable)


def test_model_saves_params_and_meta_in_one_file(tmp_path):
    model = TwoHeads.initialize(3)
    path = str(tmp_path / "model.npz")
    model.save(path)
    loaded = TwoHeads.load(path)
    assert isinstance(loaded, TwoHeads) and loaded.meta == {"heads": ["a", "b"]}
    np.testing.assert_array_equal(loaded.params["w2"], model.params["w2"])


def test_train_epochs_repeats_the_batches_of_an_uninterrupted_run_when_resumed():
    def record(seen: list):
        def step(batch: np.ndarray, rng: np.random.Generator) -> float:
            seen.append((batch.tolist(), float(rng.random())))
            return float(batch.size)

        return step

    straight, resumed, done = [], [], []
    history = nn.train_epochs(7, record(straight), epochs=3, batch_size=3, seed=5, min_batch=2)
    nn.train_epochs(
        7, record(resumed), epochs=3, batch_size=3, seed=5, start_epoch=1, min_batch=2,
        on_epoch=lambda epochs_done, loss: done.append(epochs_done),
    )
    assert len(straight) == 6  # two batches of 3 per epoch; the last batch of 1 is skipped
    assert resumed == straight[2:] and done == [2, 3]
    assert history == [3.0, 3.0, 3.0]  # the mean of the batch losses over the examples seen


def test_fit_adam_checkpoints_and_resumes_to_the_same_model(tmp_path):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 3)), (rng.random((40, 2)) < 0.5).astype(float)
    path = str(tmp_path / "ckpt.npz")

    def fit(model: TwoHeads, epochs: int, start: int = 0, optimizer: nn.Adam | None = None, on_epoch=None) -> list:
        return nn.fit_adam(
            model, len(x), lambda b: model.gradients(x[b], y[b], 0.01), epochs=epochs, learning_rate=0.01,
            batch_size=16, seed=1, start_epoch=start, optimizer=optimizer, on_epoch=on_epoch,
        )

    straight = TwoHeads.initialize(0)
    history = fit(straight, 5)
    assert len(history) == 5 and history[-1] < history[0]

    first = TwoHeads.initialize(0)
    fit(first, 3, on_epoch=nn.adam_checkpoints(path, first.params, every=2, last=3))
    assert nn.load_checkpoint(path).epoch == 3  # every 2 epochs and after the last
    params, epochs_done = nn.checkpoint_params(path)
    assert epochs_done == 3 and set(params) == set(first.params)
    assert nn.checkpoint_params(str(tmp_path / "absent.npz")) == (None, 0)

    resumed = TwoHeads.initialize(0)
    start, optimizer = nn.resume(path, resumed.params, resumed.trainable, learning_rate=0.01)
    assert fit(resumed, 5, start, optimizer) == pytest.approx(history[3:])
    for name in straight.params:
        np.testing.assert_allclose(resumed.params[name], straight.params[name])
