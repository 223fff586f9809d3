"""Training entry point of the event-recommendation blueprint: a pointwise learning-to-rank GBDT.

Channel ``train``: the curated ranking log, one row per event shown to a user, with the features
the ranking service used (``event_recommendation_model.FEATURES``), ``user_id`` (a pseudonym),
``event_id``, ``impression_time`` (truncated to the hour) and the label ``registered`` (0/1).

The newest ``--validation-share`` of the rows (by impression time) is held out: the model is
trained on the past and evaluated on the future, as it will be served. A query is one user's
impressions in one hour; the ranking metrics rank its events by score against the events the
user registered for. ``metrics.json`` holds ROC-AUC and log loss (pointwise), and precision,
recall, mAP, nDCG at ``--k`` and MRR (listwise).

Continual fine-tuning: ``--window-days`` keeps only the newest days of the log, and a previous
model (``--warm-start-dir``, default the ``warm_start`` channel when there is one) is boosted
further with ``--trees`` new trees instead of training from scratch. Spot interruptions resume
from the trees checkpointed so far.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

import ml_metrics
import numpy as np
import training_io
from event_recommendation_model import FEATURES, GradientBoostedTrees, boost
from training_io import DataError

HERE = os.path.dirname(os.path.abspath(__file__))
LABEL = "registered"
ID_COLUMNS = ("user_id", "event_id", "impression_time")
CHECKPOINT_NAME = "event-ranker"


def parse_time(value: object, what: str) -> dt.datetime:
    """Athena's '2024-05-01 09:00:00.000', ISO-8601 with T or Z, or a date."""
    text = str(value).strip().replace("T", " ")
    for pattern, width in (("%Y-%m-%d %H:%M:%S", 19), ("%Y-%m-%d %H:%M", 16), ("%Y-%m-%d", 10)):
        try:
            return dt.datetime.strptime(text[:width], pattern)
        except ValueError:
            continue
    raise DataError(f"{what}: {value!r} is not a timestamp")


def load_examples(directory: str, window_days: float) -> dict:
    rows = training_io.read_rows(directory)
    training_io.require_columns(rows, [*ID_COLUMNS, *FEATURES, LABEL])
    times = np.array([parse_time(r["impression_time"], f"train record {i}: impression_time").timestamp()
                      for i, r in enumerate(rows)])
    if window_days > 0:
        keep = times > times.max() - window_days * 86400
        rows = [r for r, k in zip(rows, keep) if k]
        times = times[keep]
    order = np.argsort(times, kind="mergesort")
    rows = [rows[i] for i in order]
    x = np.array([[training_io.number(r[f], f"train record {i}: {f}") for f in FEATURES] for i, r in enumerate(rows)])
    y = np.array([training_io.number(r[LABEL], f"train record {i}: {LABEL}") for i, r in enumerate(rows)])
    if not np.isin(y, (0.0, 1.0)).all():
        raise DataError(f"{LABEL} must be 0 or 1")
    queries = [f"{r['user_id']}|{r['impression_time']}" for r in rows]
    events = [str(r["event_id"]) for r in rows]
    return {"x": x, "y": y, "time": times[order], "query": queries, "event": events}


def ranking_metrics(queries: list, events: list, labels: np.ndarray, scores: np.ndarray, k: int) -> dict:
    """Ranks each query's events by score; queries without a registration are skipped (no relevant item)."""
    by_query: dict = {}
    for q, e, label, score in zip(queries, events, labels, scores):
        by_query.setdefault(q, []).append((score, e, label))
    ranked, relevant = [], []
    for items in by_query.values():
        wanted = {e for _, e, label in items if label == 1}
        if wanted:
            ranked.append([e for _, e, _ in sorted(items, key=lambda t: -t[0])])
            relevant.append(wanted)
    if not ranked:
        return {"queries_evaluated": 0.0}
    return {
        f"precision_at_{k}": ml_metrics.precision_at_k(ranked, relevant, k),
        f"recall_at_{k}": ml_metrics.recall_at_k(ranked, relevant, k),
        f"map_at_{k}": ml_metrics.mean_average_precision_at_k(ranked, relevant, k),
        f"ndcg_at_{k}": ml_metrics.ndcg_at_k(ranked, relevant, k),
        "mrr": ml_metrics.mean_reciprocal_rank(ranked, relevant),
        "queries_evaluated": float(len(ranked)),
    }


def warm_start_model(directory: str | None) -> GradientBoostedTrees | None:
    if not directory or not os.path.isfile(os.path.join(directory, "model.json")):
        return None
    model = GradientBoostedTrees.load(directory)
    if model.features != list(FEATURES):
        raise DataError(f"warm-start model has features {model.features}, expected {list(FEATURES)}")
    return model


def train(args: argparse.Namespace) -> dict:
    if args.trees < 0 or not 0 < args.validation_share < 1 or args.checkpoint_every < 1:
        raise DataError("--trees must be >= 0, --validation-share between 0 and 1, --checkpoint-every >= 1")
    data = load_examples(args.train_dir, args.window_days)
    n = data["y"].size
    held_out = int(round(n * args.validation_share))
    if held_out < 1 or n - held_out < 10:
        raise DataError(f"{n} records are too few to train on and hold out {args.validation_share:.0%}")
    split = n - held_out
    x_train, y_train = data["x"][:split], data["y"][:split]
    if y_train.min() == y_train.max():
        raise DataError(f"the training rows have only one class ({LABEL}={int(y_train[0])})")

    checkpoint_dir = training_io.usable_checkpoint_dir(args.checkpoint_dir)
    resumed = warm_start_model(os.path.join(checkpoint_dir, CHECKPOINT_NAME)) if checkpoint_dir else None
    # The channel carries the previous version's model.tar.gz; warm_start_dir unpacks it.
    start = warm_start_model(training_io.warm_start_dir(args.warm_start_dir or None))
    initial_trees = len(start.trees) if start else 0
    model = resumed if resumed is not None and len(resumed.trees) >= initial_trees else start
    done = len(model.trees) - initial_trees if model is not None else 0
    remaining = max(0, args.trees - done)

    def checkpoint(current: GradientBoostedTrees) -> None:
        if checkpoint_dir and len(current.trees) % args.checkpoint_every == 0:
            current.save(os.path.join(checkpoint_dir, CHECKPOINT_NAME))

    model = boost(
        x_train, y_train, n_trees=remaining, model=model, learning_rate=args.learning_rate, max_depth=args.max_depth,
        max_bins=args.max_bins, reg_lambda=args.reg_lambda, min_child_weight=args.min_child_weight,
        subsample=args.subsample, seed=args.seed, on_tree=checkpoint,
    )

    x_val, y_val = data["x"][split:], data["y"][split:]
    scores = model.predict_proba(x_val)
    metrics = {
        "roc_auc": ml_metrics.roc_auc(y_val, scores),
        "log_loss": ml_metrics.log_loss(y_val, scores),
        "train_records": float(split),
        "validation_records": float(held_out),
        "trees": float(len(model.trees)),
        "warm_started_trees": float(initial_trees),
    }
    metrics.update(ranking_metrics(data["query"][split:], data["event"][split:], y_val, scores, args.k))
    model.save(args.model_dir)
    training_io.write_outputs(args.model_dir, metrics, training_io.serving_code(HERE, "event_recommendation_model.py"))
    return metrics


def parser() -> argparse.ArgumentParser:
    p = training_io.base_arguments("Trains the event ranking GBDT (pointwise learning to rank).")
    p.add_argument("--trees", type=int, default=100, help="trees to add (to the warm-start model, if any)")
    p.add_argument("--learning-rate", type=float, default=0.1)
    p.add_argument("--max-depth", type=int, default=4)
    p.add_argument("--max-bins", type=int, default=32)
    p.add_argument("--reg-lambda", type=float, default=1.0)
    p.add_argument("--min-child-weight", type=float, default=1.0)
    p.add_argument("--subsample", type=float, default=0.8)
    p.add_argument("--validation-share", type=float, default=0.2)
    p.add_argument("--window-days", type=float, default=0.0, help="train on the newest days only (0: all)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--warm-start-dir", default=os.environ.get("SM_CHANNEL_WARM_START", ""),
                   help="a directory holding a previous model.json to continue boosting from")
    return p


if __name__ == "__main__":
    sys.exit(training_io.run(train, parser()))
