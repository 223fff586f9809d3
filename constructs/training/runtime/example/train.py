"""Example entry point of a GpuTrainingJob: binary logistic regression by gradient descent.

Standard library only (plus ``training_io``, which GpuTrainingJob ships beside every entry point),
so it runs in any Python 3.8+ container (on a GPU instance it simply does not use the GPU; it is
here to show the contract, not to be fast). What it shows:

- inputs: the channel directories SageMaker fills (``SM_CHANNEL_<NAME>``), read by
  ``training_io.read_rows`` as JSON Lines or CSV with a header, gzipped or not;
- hyperparameters: arrive as ``--name value`` arguments;
- checkpoints: written to ``/opt/ml/checkpoints`` every few epochs and resumed from there, so a
  spot interruption costs at most that much work;
- warm start (GpuTrainingJob's ``warmStart``): the previous model's model.tar.gz arrives as the
  channel ``warm_start``; ``training_io.warm_start_dir`` unpacks it and training starts from its
  weights (when the features are the same) instead of zeros. A checkpoint still comes first;
- outputs: ``/opt/ml/model/model.json`` (the weights), ``/opt/ml/model/metrics.json`` (what the
  evaluation step and the quality gate read), and ``/opt/ml/model/code/inference.py`` (the handler
  the PyTorch inference container serves the model with).

Usage (SageMaker passes the directories through the environment):
  python3 train.py --label clicked [--features a,b,c] [--epochs 300] [--learning-rate 0.5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
from typing import Sequence

from training_io import DataError, load_json, number, read_rows, save_json, warm_start_dir

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT_FILE = "checkpoint.json"
TRUE_LABELS = {"1", "true", "yes", "t", "y"}
FALSE_LABELS = {"0", "false", "no", "f", "n"}


def _label(value: object, what: str) -> int:
    if isinstance(value, bool):
        return int(value)
    text = str(value).strip().lower()
    if text in TRUE_LABELS:
        return 1
    if text in FALSE_LABELS:
        return 0
    try:
        parsed = number(value, what)
    except DataError:
        parsed = math.nan
    if parsed in (0.0, 1.0):
        return int(parsed)
    raise DataError(f"{what}: {value!r} is not a binary label (0/1, true/false)")


def to_matrix(rows: Sequence[dict], features: Sequence[str], label: str) -> tuple:
    """Rows as (X, y); every feature and the label must be present in every row."""
    xs, ys = [], []
    for index, row in enumerate(rows):
        missing = [name for name in [*features, label] if row.get(name) in (None, "")]
        if missing:
            raise DataError(f"record {index}: missing {', '.join(missing)}")
        xs.append([number(row[name], f"record {index}, {name}") for name in features])
        ys.append(_label(row[label], f"record {index}, {label}"))
    return xs, ys


def numeric_features(rows: Sequence[dict], label: str) -> list:
    """The columns other than the label whose values are all numbers."""
    names = [name for name in rows[0] if name != label]

    def numeric(name: str) -> bool:
        try:
            for row in rows:
                number(row.get(name), name)
        except DataError:
            return False
        return True

    return [name for name in names if numeric(name)]


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def standardization(xs: Sequence[Sequence[float]]) -> tuple:
    n = len(xs)
    means = [sum(col) / n for col in zip(*xs)]
    stds = []
    for j, col in enumerate(zip(*xs)):
        variance = sum((v - means[j]) ** 2 for v in col) / n
        stds.append(math.sqrt(variance) or 1.0)
    return means, stds


def standardize(xs: Sequence[Sequence[float]], means: Sequence[float], stds: Sequence[float]) -> list:
    return [[(v - m) / s for v, m, s in zip(row, means, stds)] for row in xs]


def predict_proba(model: dict, xs: Sequence[Sequence[float]]) -> list:
    scaled = standardize(xs, model["means"], model["stds"])
    return [sigmoid(model["bias"] + sum(w * v for w, v in zip(model["weights"], row))) for row in scaled]


def log_loss(ys: Sequence[int], ps: Sequence[float]) -> float:
    eps = 1e-12
    return -sum(y * math.log(max(p, eps)) + (1 - y) * math.log(max(1 - p, eps)) for y, p in zip(ys, ps)) / len(ys)


def auc(ys: Sequence[int], ps: Sequence[float]) -> float:
    """Area under the ROC curve by ranks (ties get their average rank); 0.5 when a class is absent."""
    positives = sum(ys)
    negatives = len(ys) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    ranks = [0.0] * len(ps)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and ps[order[j + 1]] == ps[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positive_ranks = sum(r for r, y in zip(ranks, ys) if y == 1)
    return (positive_ranks - positives * (positives + 1) / 2) / (positives * negatives)


def metrics_of(ys: Sequence[int], ps: Sequence[float]) -> dict:
    predicted = [1 if p >= 0.5 else 0 for p in ps]
    tp = sum(1 for y, q in zip(ys, predicted) if y == 1 and q == 1)
    fp = sum(1 for y, q in zip(ys, predicted) if y == 0 and q == 1)
    fn = sum(1 for y, q in zip(ys, predicted) if y == 1 and q == 0)
    return {
        "accuracy": sum(1 for y, q in zip(ys, predicted) if y == q) / len(ys),
        "auc": auc(ys, ps),
        "log_loss": log_loss(ys, ps),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }


def load_checkpoint(checkpoint_dir: str | None, features: Sequence[str]) -> dict | None:
    if not checkpoint_dir:
        return None
    path = os.path.join(checkpoint_dir, CHECKPOINT_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        state = json.load(handle)
    return state if state.get("features") == list(features) else None


def warm_state(
    previous: dict | None, features: Sequence[str], means: Sequence[float], stds: Sequence[float]
) -> dict | None:
    """The previous model's weights, re-expressed for this run's standardization (the same predictions), or None.

    Only a model of the same features can be continued; any other starts from scratch.
    """
    if not previous or previous.get("features") != list(features):
        return None
    raw = [w / s for w, s in zip(previous["weights"], previous["stds"])]
    raw_bias = previous["bias"] - sum(r * m for r, m in zip(raw, previous["means"]))
    return {
        "features": list(features),
        "weights": [r * s for r, s in zip(raw, stds)],
        "bias": raw_bias + sum(r * m for r, m in zip(raw, means)),
        "epoch": 0,
    }


def fit(
    xs: Sequence[Sequence[float]],
    ys: Sequence[int],
    features: Sequence[str],
    epochs: int,
    learning_rate: float,
    l2: float,
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 25,
    previous: dict | None = None,
) -> dict:
    """Full-batch gradient descent on standardized features, resuming from a checkpoint if there is one,
    else continuing from the ``previous`` model (warm start) if it has the same features, else from zeros."""
    means, stds = standardization(xs)
    scaled = standardize(xs, means, stds)
    state = load_checkpoint(checkpoint_dir, features) or warm_state(previous, features, means, stds) or {
        "features": list(features),
        "weights": [0.0] * len(features),
        "bias": 0.0,
        "epoch": 0,
    }
    weights, bias, n = list(state["weights"]), float(state["bias"]), len(ys)
    for epoch in range(int(state["epoch"]), epochs):
        grad_w = [0.0] * len(weights)
        grad_b = 0.0
        for row, y in zip(scaled, ys):
            error = sigmoid(bias + sum(w * v for w, v in zip(weights, row))) - y
            grad_b += error
            for j, v in enumerate(row):
                grad_w[j] += error * v
        weights = [w - learning_rate * (g / n + l2 * w) for w, g in zip(weights, grad_w)]
        bias -= learning_rate * grad_b / n
        done = epoch + 1
        if checkpoint_dir and (done % checkpoint_every == 0 or done == epochs):
            state = {"features": list(features), "weights": weights, "bias": bias, "epoch": done}
            save_json(os.path.join(checkpoint_dir, CHECKPOINT_FILE), state)
    return {"features": list(features), "weights": weights, "bias": bias, "means": means, "stds": stds}


def split(rows: list, fraction: float, seed: int) -> tuple:
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    cut = max(1, int(round(len(shuffled) * fraction)))
    if cut >= len(shuffled):
        raise DataError(f"{len(rows)} records are too few to hold out {fraction:.0%} for validation")
    return shuffled[cut:], shuffled[:cut]


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="label", help="the binary label column")
    parser.add_argument("--features", default="", help="comma-separated; default: every numeric column")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=0.5)
    parser.add_argument("--l2", type=float, default=0.0)
    parser.add_argument("--validation-fraction", type=float, default=0.2, help="held out without a validation channel")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train-dir", default=env("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--validation-dir", default=env("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--model-dir", default=env("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--checkpoint-dir", default="/opt/ml/checkpoints")
    parser.add_argument("--warm-start-dir", default=None, help="default: SM_CHANNEL_WARM_START, when there is one")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {' '.join(unknown)}", file=sys.stderr)
    if args.epochs < 1 or args.learning_rate <= 0 or not 0 < args.validation_fraction < 1:
        parser.error("epochs must be >= 1, learning-rate > 0, and validation-fraction between 0 and 1")
    return args


def train(args: argparse.Namespace) -> dict:
    """Trains, writes the model, its metrics and its inference handler; returns the metrics."""
    rows = read_rows(args.train_dir)
    if args.validation_dir and os.path.isdir(args.validation_dir):
        train_rows, validation_rows = rows, read_rows(args.validation_dir)
    else:
        train_rows, validation_rows = split(rows, args.validation_fraction, args.seed)
    features = [f for f in args.features.split(",") if f] or numeric_features(train_rows, args.label)
    if not features:
        raise DataError(f"no numeric feature columns besides the label {args.label!r}")
    x_train, y_train = to_matrix(train_rows, features, args.label)
    x_valid, y_valid = to_matrix(validation_rows, features, args.label)
    checkpoint_dir = args.checkpoint_dir or None
    parent = os.path.dirname(checkpoint_dir or "") or "."
    if checkpoint_dir and not (os.path.isdir(checkpoint_dir) or os.access(parent, os.W_OK)):
        checkpoint_dir = None  # outside SageMaker without a writable /opt/ml: no checkpoints
    previous_dir = warm_start_dir(args.warm_start_dir)
    previous = load_json(os.path.join(previous_dir, "model.json")) if previous_dir else None
    if previous is not None:
        same = isinstance(previous, dict) and previous.get("features") == list(features)
        action = "continuing from" if same else "ignoring (other features)"
        print(f"warm start: {action} the previous model in {previous_dir}")
    model = fit(x_train, y_train, features, args.epochs, args.learning_rate, args.l2, checkpoint_dir,
                previous=previous if isinstance(previous, dict) else None)
    metrics = metrics_of(y_valid, predict_proba(model, x_valid))
    metrics["train_log_loss"] = log_loss(y_train, predict_proba(model, x_train))
    save_json(os.path.join(args.model_dir, "model.json"), {**model, "label": args.label})
    save_json(os.path.join(args.model_dir, "metrics.json"), metrics)
    os.makedirs(os.path.join(args.model_dir, "code"), exist_ok=True)
    shutil.copyfile(os.path.join(HERE, "inference.py"), os.path.join(args.model_dir, "code", "inference.py"))
    for name, value in sorted(metrics.items()):
        print(f"metric {name}={value:.6f}")  # SageMaker metric definitions can match these lines
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    try:
        train(parse_args(argv))
    except DataError as error:
        print(f"training failed: {error}", file=sys.stderr)
        failure = "/opt/ml/output/failure"
        if os.path.isdir(os.path.dirname(failure)):
            with open(failure, "w", encoding="utf-8") as handle:
                handle.write(str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
