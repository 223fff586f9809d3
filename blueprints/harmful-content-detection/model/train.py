"""Training entry point of the harmful content classifier (chapter 5), run by GpuTrainingJob.

Reads labelled posts (JSON Lines or CSV from the ``train`` channel: the text and image embeddings,
author and reaction features, and one 0/1 label per harm class), holds out a deterministic share of
posts (by a hash of ``post_id``) for validation unless a ``test`` channel is given, trains the
early-fusion multi-task classifier with focal loss (``harmful_content_detection_model``), and writes:

- ``model.npz``: weights, standardization, feature names and decision thresholds;
- ``metrics.json``: PR-AUC and ROC-AUC per head and their macro averages (``pr_auc_macro`` is the
  quality gate's metric), the share of each decision on the validation posts;
- ``code/``: ``inference.py`` and the modules it imports.

Usage: python3 train.py --classes violence,nudity --scalar-features a,b --vector-features text_embedding
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import numpy_nn
from harmful_content_detection_model import DECISIONS, MultiTaskClassifier, check_thresholds, decide, fit, fuse
from ml_metrics import average_precision, roc_auc
from serving_io import FeatureError
from training_io import (
    DataError,
    base_arguments,
    binary_label,
    checkpoint_file,
    comma_list,
    run,
    serving_code,
    train_and_validation,
    write_outputs,
)

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT_FILE = "hcd_checkpoint.npz"


def build_parser() -> argparse.ArgumentParser:
    parser = base_arguments(__doc__.splitlines()[0])
    parser.add_argument("--classes", default="violence,nudity,hate,misinformation,spam")
    parser.add_argument("--scalar-features", default="")
    parser.add_argument("--vector-features", default="text_embedding,image_embedding")
    parser.add_argument("--id-column", default="post_id")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--focal-alpha", type=float, default=0.25)
    parser.add_argument("--focal-gamma", type=float, default=2.0)
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--take-down-threshold", type=float, default=0.9)
    parser.add_argument("--review-threshold", type=float, default=0.5)
    parser.add_argument("--demote-threshold", type=float, default=0.25)
    parser.add_argument("--checkpoint-every", type=int, default=5)
    return parser


def labels_of(rows: list, classes: list, channel: str) -> np.ndarray:
    return np.array(
        [[binary_label(row[name], f"{channel} record {i}, {name}") for name in classes] for i, row in enumerate(rows)]
    ).reshape(len(rows), len(classes))


def matrix(rows: list, scalars: list, vectors: list, dims: dict | None, channel: str) -> tuple:
    try:
        return fuse(rows, scalars, vectors, dims)
    except FeatureError as error:
        raise DataError(f"{channel} {error}") from error


def evaluate(model: MultiTaskClassifier, x: np.ndarray, y: np.ndarray) -> dict:
    classes = model.meta["classes"]
    p = model.predict_proba(x)
    metrics: dict = {}
    for j, name in enumerate(classes):
        metrics[f"pr_auc_{name}"] = average_precision(y[:, j], p[:, j])
        metrics[f"roc_auc_{name}"] = roc_auc(y[:, j], p[:, j])
        metrics[f"prevalence_{name}"] = float(y[:, j].mean())
    metrics["pr_auc_macro"] = float(np.mean([metrics[f"pr_auc_{c}"] for c in classes]))
    metrics["roc_auc_macro"] = float(np.mean([metrics[f"roc_auc_{c}"] for c in classes]))
    decisions = [decide(row, model.meta["thresholds"]) for row in p]
    for decision in DECISIONS:
        metrics[f"share_{decision}"] = decisions.count(decision) / len(decisions)
    return metrics


def train(args: argparse.Namespace) -> dict:
    classes = comma_list(args.classes)
    scalars, vectors = comma_list(args.scalar_features), comma_list(args.vector_features)
    if not classes or not (scalars or vectors):
        raise DataError("--classes and at least one of --scalar-features / --vector-features must name columns")
    thresholds = {
        "take_down": args.take_down_threshold,
        "review": args.review_threshold,
        "demote": args.demote_threshold,
    }
    try:
        check_thresholds(thresholds)
    except ValueError as error:
        raise DataError(str(error)) from error
    # without a test channel, by a hash of the post id, so that a post stays on one side across runs
    train_rows, valid_rows = train_and_validation(
        args.train_dir, args.test_dir, [*vectors, *scalars, *classes], args.id_column, args.validation_fraction
    )
    x_train, dims = matrix(train_rows, scalars, vectors, None, "train")
    x_valid, _ = matrix(valid_rows, scalars, vectors, dims, "validation")
    y_train, y_valid = labels_of(train_rows, classes, "train"), labels_of(valid_rows, classes, "validation")

    meta = {"scalar_features": scalars, "vector_features": vectors, "vector_dims": dims, "thresholds": thresholds}
    model = MultiTaskClassifier.initialize(x_train.shape[1], args.hidden, classes, args.seed, meta)
    model.params["mean"], model.params["std"] = numpy_nn.standardization(x_train)

    checkpoint = checkpoint_file(args.checkpoint_dir, CHECKPOINT_FILE)
    start, optimizer = numpy_nn.resume(checkpoint, model.params, model.trainable, learning_rate=args.learning_rate)
    history = fit(
        model,
        x_train,
        y_train,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        alpha=args.focal_alpha,
        gamma=args.focal_gamma,
        l2=args.l2,
        seed=args.seed,
        start_epoch=start,
        optimizer=optimizer,
        on_epoch=numpy_nn.adam_checkpoints(checkpoint, model.params, args.checkpoint_every, args.epochs),
    )
    metrics = evaluate(model, x_valid, y_valid)
    metrics["train_focal_loss"] = history[-1] if history else float("nan")
    metrics["validation_records"] = len(valid_rows)
    os.makedirs(args.model_dir, exist_ok=True)
    model.save(os.path.join(args.model_dir, "model.npz"))
    write_outputs(args.model_dir, metrics, serving_code(HERE, "harmful_content_detection_model.py"))
    return metrics


if __name__ == "__main__":
    sys.exit(run(train, build_parser()))
