"""Training entry point of the news feed's multi-task engagement model (chapter 10), run by GpuTrainingJob.

Reads feed impressions (JSON Lines or CSV from the ``train`` channel: the features the feed service
logged when it ranked the post, and what the user then did: clicked, liked, shared, commented,
skipped, dwell seconds), holds out a deterministic share of users (by a hash of ``user_id``) for
validation unless a ``test`` channel is given, trains ``news_feed_model.EngagementModel`` and writes:

- ``model.npz``: weights, standardization, feature names, heads and engagement-score weights;
- ``metrics.json``: per head ROC-AUC, and precision, recall and F1 at ``--threshold``; their means
  (``roc_auc_mean`` is the quality gate's metric); the dwell head's RMSE on log(1 + seconds);
- ``code/``: ``inference.py`` and the modules it imports.

Usage: python3 train.py --scalar-features a,b --binary-heads click=clicked,skip=skipped --dwell-column dwell_seconds
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import numpy_nn
from ml_metrics import roc_auc
from news_feed_model import EngagementModel, features_matrix, fit
from serving_io import FeatureError
from training_io import (
    DataError,
    base_arguments,
    binary_label,
    checkpoint_file,
    comma_list,
    number,
    run,
    serving_code,
    train_and_validation,
    write_outputs,
)

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT_FILE = "news_feed_checkpoint.npz"


def pairs(text: str, what: str) -> dict:
    result = {}
    for item in comma_list(text):
        key, _, value = item.partition("=")
        if not key.strip() or not value.strip():
            raise DataError(f"--{what}: expected name=value pairs separated by commas, but got {item!r}")
        result[key.strip()] = value.strip()
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = base_arguments(__doc__.splitlines()[0])
    parser.add_argument("--scalar-features", default="")
    parser.add_argument("--vector-features", default="")
    parser.add_argument(
        "--binary-heads", default="click=clicked,like=liked,share=shared,comment=commented,skip=skipped"
    )
    parser.add_argument("--dwell-column", default="dwell_seconds")
    parser.add_argument("--score-weights", default="click=1,like=5,comment=10,share=20,skip=-3,dwell=0.5")
    parser.add_argument("--diversity-key", default="author_id")
    parser.add_argument("--id-column", default="user_id")
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=0.003)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--dwell-weight", type=float, default=0.5)
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--checkpoint-every", type=int, default=5)
    return parser


def targets(rows: list, label_columns: list, dwell_column: str, channel: str) -> tuple:
    y = np.zeros((len(rows), len(label_columns)))
    dwell = np.zeros(len(rows))
    for i, row in enumerate(rows):
        for j, column in enumerate(label_columns):
            y[i, j] = binary_label(row[column], f"{channel} record {i}, {column}")
        seconds = number(row[dwell_column], f"{channel} record {i}, {dwell_column}")
        if seconds < 0:
            raise DataError(
                f"{channel} record {i}, {dwell_column}: dwell time must be >= 0, but {seconds} was provided"
            )
        dwell[i] = np.log1p(seconds)
    return y, dwell


def classification_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    predicted = scores >= threshold
    tp = float(np.sum(predicted & (labels == 1)))
    fp = float(np.sum(predicted & (labels == 0)))
    fn = float(np.sum(~predicted & (labels == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"roc_auc": roc_auc(labels, scores), "precision": precision, "recall": recall, "f1": f1}


def evaluate(model: EngagementModel, x: np.ndarray, y: np.ndarray, dwell: np.ndarray, threshold: float) -> dict:
    probabilities, log_dwell = model.predict(x)
    metrics: dict = {}
    for j, head in enumerate(model.meta["heads"]):
        for name, value in classification_metrics(y[:, j], probabilities[:, j], threshold).items():
            metrics[f"{name}_{head}"] = value
        metrics[f"positive_rate_{head}"] = float(y[:, j].mean())
    for name in ("roc_auc", "precision", "recall", "f1"):
        metrics[f"{name}_mean"] = float(np.mean([metrics[f"{name}_{h}"] for h in model.meta["heads"]]))
    metrics["dwell_rmse_log"] = float(np.sqrt(np.mean((log_dwell - dwell) ** 2)))
    metrics["dwell_rmse_log_baseline"] = float(np.std(dwell))
    return metrics


def matrix(rows: list, meta: dict, dims: dict | None, channel: str) -> tuple:
    try:
        return features_matrix(rows, meta["scalar_features"], meta["vector_features"], dims)
    except FeatureError as error:
        raise DataError(f"{channel} {error}") from error


def train(args: argparse.Namespace) -> dict:
    heads = pairs(args.binary_heads, "binary-heads")
    try:
        weights = {k: float(v) for k, v in pairs(args.score_weights, "score-weights").items()}
    except ValueError as error:
        raise DataError(f"--score-weights: every weight must be a number ({error})") from error
    meta = {
        "scalar_features": comma_list(args.scalar_features),
        "vector_features": comma_list(args.vector_features),
        "score_weights": weights,
        "diversity_key": args.diversity_key,
    }
    if not heads or not (meta["scalar_features"] or meta["vector_features"]):
        raise DataError("--binary-heads and at least one of --scalar-features / --vector-features must name columns")
    unknown = sorted(set(weights) - set(heads) - {"dwell"})
    if unknown:
        raise DataError(f"--score-weights names {', '.join(unknown)}, which are not heads ({', '.join(heads)}, dwell)")
    needed = [*meta["scalar_features"], *meta["vector_features"], *heads.values(), args.dwell_column]
    # without a test channel, by a hash of the user, so that no user's impressions are on both sides
    train_rows, valid_rows = train_and_validation(
        args.train_dir, args.test_dir, needed, args.id_column, args.validation_fraction
    )
    x_train, dims = matrix(train_rows, meta, None, "train")
    x_valid, _ = matrix(valid_rows, meta, dims, "validation")
    y_train, dwell_train = targets(train_rows, list(heads.values()), args.dwell_column, "train")
    y_valid, dwell_valid = targets(valid_rows, list(heads.values()), args.dwell_column, "validation")

    model = EngagementModel.initialize(
        x_train.shape[1], args.hidden, list(heads), args.seed, {**meta, "vector_dims": dims}
    )
    model.params["mean"], model.params["std"] = numpy_nn.standardization(x_train)
    checkpoint = checkpoint_file(args.checkpoint_dir, CHECKPOINT_FILE)
    start, optimizer = numpy_nn.resume(checkpoint, model.params, model.trainable, learning_rate=args.learning_rate)
    history = fit(
        model,
        x_train,
        y_train,
        dwell_train,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        dwell_weight=args.dwell_weight,
        l2=args.l2,
        seed=args.seed,
        start_epoch=start,
        optimizer=optimizer,
        on_epoch=numpy_nn.adam_checkpoints(checkpoint, model.params, args.checkpoint_every, args.epochs),
    )
    metrics = evaluate(model, x_valid, y_valid, dwell_valid, args.threshold)
    metrics["threshold"] = args.threshold
    metrics["train_loss"] = history[-1] if history else float("nan")
    metrics["validation_records"] = len(valid_rows)
    os.makedirs(args.model_dir, exist_ok=True)
    model.save(os.path.join(args.model_dir, "model.npz"))
    write_outputs(args.model_dir, metrics, serving_code(HERE, "news_feed_model.py"))
    return metrics


if __name__ == "__main__":
    sys.exit(run(train, build_parser()))
