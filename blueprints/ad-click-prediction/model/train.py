"""Training entry point of the ad-click-prediction blueprint: a Deep & Cross Network with continual learning.

Channel ``train``: the curated impression log, one row per ad shown, with the sparse IDs
(``SPARSE_FIELDS``), the dense engagement statistics logged at serving time (``DENSE_FEATURES``),
``impression_time`` (truncated to the hour) and the label ``clicked`` (0/1).

The newest ``--validation-share`` of the rows (by impression time) is held out. ``metrics.json``
holds the chapter's metrics: normalized cross-entropy (log loss over the log loss of predicting
the base click rate; below 1 the model beats the prior, the quality gate's metric), log loss,
ROC-AUC, and the observed and predicted click rates (calibration).

Continual learning: the hourly run trains on the newest ``--window-days`` of the log and starts
from the previous model (``--warm-start-dir``, default the ``warm_start`` channel when there is
one) with its optimizer state, for a few ``--epochs``. Each epoch is checkpointed; a spot
interruption resumes at the last finished epoch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

import ml_metrics
import numpy as np
import training_io
from ad_click_prediction_model import DENSE_FEATURES, SPARSE_FIELDS, DeepCrossNetwork, dense_matrix, new_config
from training_io import DataError

HERE = os.path.dirname(os.path.abspath(__file__))
LABEL = "clicked"
CHECKPOINT_NAME = "ad-click-dcn"


def parse_time(value: object, what: str) -> float:
    """Epoch seconds of Athena's '2024-05-01 09:00:00.000', ISO-8601 with T or Z, or a date."""
    text = str(value).strip().replace("T", " ")
    for pattern, width in (("%Y-%m-%d %H:%M:%S", 19), ("%Y-%m-%d %H:%M", 16), ("%Y-%m-%d", 10)):
        try:
            return dt.datetime.strptime(text[:width], pattern).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            continue
    raise DataError(f"{what}: {value!r} is not a timestamp")


def load_examples(directory: str, window_days: float) -> tuple:
    rows = training_io.read_rows(directory)
    training_io.require_columns(rows, [*SPARSE_FIELDS, *DENSE_FEATURES, "impression_time", LABEL])
    times = np.array([parse_time(r["impression_time"], f"train record {i}: impression_time")
                      for i, r in enumerate(rows)])
    keep = times > times.max() - window_days * 86400 if window_days > 0 else np.ones(times.size, dtype=bool)
    order = [i for i in np.argsort(times, kind="mergesort") if keep[i]]
    rows = [rows[i] for i in order]
    y = np.array([training_io.number(r[LABEL], f"train record {i}: {LABEL}") for i, r in enumerate(rows)])
    if not np.isin(y, (0.0, 1.0)).all():
        raise DataError(f"{LABEL} must be 0 or 1")
    return rows, y


def starting_model(args: argparse.Namespace, rows: list, checkpoint_dir: str | None) -> tuple:
    """(model, epochs already done): the checkpoint of this run, else the warm-start model, else a new one."""
    if checkpoint_dir and os.path.isfile(os.path.join(checkpoint_dir, CHECKPOINT_NAME, "model.json")):
        model = DeepCrossNetwork.load(os.path.join(checkpoint_dir, CHECKPOINT_NAME))
        return model, int(model.config.get("epochs_this_run", 0)), int(model.config.get("warm_start_step", 0))
    # The channel carries the previous version's model.tar.gz; warm_start_dir unpacks it.
    previous = training_io.warm_start_dir(args.warm_start_dir or None)
    if previous and os.path.isfile(os.path.join(previous, "model.json")):
        model = DeepCrossNetwork.load(previous)
        fields = (model.config["sparse_fields"], model.config["dense_features"])
        if fields != (list(SPARSE_FIELDS), list(DENSE_FEATURES)):
            raise DataError("the warm-start model was trained on other features; train from scratch")
        return model, 0, model.step
    try:
        raw = dense_matrix(rows, DENSE_FEATURES, "train record")
    except ValueError as error:
        raise DataError(str(error)) from error
    config = new_config(raw, hash_buckets=args.hash_buckets, embedding_dim=args.embedding_dim,
                        cross_layers=args.cross_layers, deep_layers=[int(w) for w in args.deep_layers.split(",") if w])
    return DeepCrossNetwork(config, seed=args.seed), 0, 0


def train(args: argparse.Namespace) -> dict:
    if args.epochs < 0 or not 0 < args.validation_share < 1 or args.batch_size < 1:
        raise DataError("--epochs must be >= 0, --validation-share between 0 and 1, --batch-size >= 1")
    rows, y = load_examples(args.train_dir, args.window_days)
    held_out = int(round(y.size * args.validation_share))
    if held_out < 1 or y.size - held_out < 10:
        raise DataError(f"{y.size} records are too few to train on and hold out {args.validation_share:.0%}")
    split = y.size - held_out
    checkpoint_dir = training_io.usable_checkpoint_dir(args.checkpoint_dir)
    model, done, warm_start_step = starting_model(args, rows[:split], checkpoint_dir)
    try:
        ids, dense = model.encode(rows, "train record")
    except ValueError as error:
        raise DataError(str(error)) from error
    train_ids, train_dense, y_train = ids[:split], dense[:split], y[:split]

    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        order = rng.permutation(split)  # drawn every epoch, so a resumed run repeats the same batches
        if epoch < done:
            continue
        for start in range(0, split, args.batch_size):
            batch = order[start : start + args.batch_size]
            _, grads = model.loss_and_gradients(train_ids[batch], train_dense[batch], y_train[batch], args.l2)
            model.adam_step(grads, args.learning_rate)
        if checkpoint_dir:
            model.config["epochs_this_run"] = epoch + 1
            model.config["warm_start_step"] = warm_start_step
            model.save(os.path.join(checkpoint_dir, CHECKPOINT_NAME))

    probabilities = model.predict_proba(ids[split:], dense[split:])
    y_val = y[split:]
    metrics = {
        "normalized_cross_entropy": ml_metrics.normalized_cross_entropy(y_val, probabilities),
        "log_loss": ml_metrics.log_loss(y_val, probabilities),
        "roc_auc": ml_metrics.roc_auc(y_val, probabilities),
        "observed_ctr": float(y_val.mean()),
        "predicted_ctr": float(probabilities.mean()),
        "train_records": float(split),
        "validation_records": float(held_out),
        "warm_started": 1.0 if warm_start_step > 0 else 0.0,
        "optimizer_steps": float(model.step),
    }
    model.config.pop("epochs_this_run", None)
    model.config.pop("warm_start_step", None)
    model.save(args.model_dir)
    training_io.write_outputs(args.model_dir, metrics, training_io.serving_code(HERE, "ad_click_prediction_model.py"))
    return metrics


def parser() -> argparse.ArgumentParser:
    p = training_io.base_arguments("Trains the ad click DCN (continual learning: warm start from the last model).")
    p.add_argument("--epochs", type=int, default=1, help="CTR models overfit after about one pass over fresh data")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--learning-rate", type=float, default=0.005)
    p.add_argument("--l2", type=float, default=1e-4)
    p.add_argument("--hash-buckets", type=int, default=1 << 18)
    p.add_argument("--embedding-dim", type=int, default=8)
    p.add_argument("--cross-layers", type=int, default=2)
    p.add_argument("--deep-layers", default="64,32")
    p.add_argument("--validation-share", type=float, default=0.2)
    p.add_argument("--window-days", type=float, default=0.0, help="train on the newest days only (0: all)")
    p.add_argument("--warm-start-dir", default=os.environ.get("SM_CHANNEL_WARM_START", ""),
                   help="a directory holding a previous model.json and model.npz to continue from")
    return p


if __name__ == "__main__":
    sys.exit(training_io.run(train, parser()))
