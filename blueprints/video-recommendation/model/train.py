"""Training entry point of the video recommendation blueprint (chapter 6): both stages in one job.

Input: the ``train`` channel, impressions of the curated ``impressions`` table as JSON Lines
(columns below; ``watched`` is 1 when the user watched the shown video). The optional ``test``
channel holds later impressions; without it the latest ``--holdout-fraction`` of impressions by
``shown_at`` are held out (a temporal split, as the chapter evaluates recommendations).

1. Retrieval: the two towers of ``video_recommendation_model`` with an in-batch softmax on watched
   impressions, the user's history leaving the target video out.
2. Ranking: the MLP ranker with the logistic loss on every impression, on the frozen towers' outputs.

Outputs in ``--model-dir``: ``model.npz`` + ``vocab.json`` (both stages), ``video_embeddings.jsonl``
(``{"video_id", "embedding"}`` per video: what the indexer writes into the vector index),
``metrics.json`` (retrieval ``recall_at_10``/``recall_at_50``; ranking ``roc_auc``,
``precision_at_5``, ``map_at_5``, ``ndcg_at_5``, ``log_loss``) and ``code/`` for serving.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict

import ml_metrics
import numpy as np
import training_io
from training_io import DataError, number
from video_recommendation_model import (
    Adagrad,
    TwoStageModel,
    Vocabulary,
    history_matrix,
    length_bucket,
    ranker_step,
    retrieval_step,
)

HERE = os.path.dirname(os.path.abspath(__file__))
COLUMNS = ("user_id", "video_id", "shown_at", "video_length_s", "video_language", "user_age", "device_type", "watched")
RETRIEVAL_CHECKPOINT = "retrieval.npz"
RETRIEVAL_PARAMS = ("H", "E", "L", "B", "W1", "b1", "W2", "b2")


def parser() -> argparse.ArgumentParser:
    p = training_io.base_arguments(__doc__.splitlines()[0])
    p.add_argument("--dimensions", type=int, default=32, help="embedding size of both towers (the index's dimension)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units of the user tower")
    p.add_argument("--ranker-hidden", default="64,32", help="hidden layer sizes of the ranker, comma-separated")
    p.add_argument("--retrieval-epochs", type=int, default=30)
    p.add_argument("--ranker-epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--learning-rate", type=float, default=0.1)
    p.add_argument("--ranker-learning-rate", type=float, default=0.05)
    p.add_argument("--l2", type=float, default=1e-4)
    p.add_argument("--max-history", type=int, default=50, help="most recent watched videos the user tower averages")
    p.add_argument("--holdout-fraction", type=float, default=0.1)
    return p


class Impressions:
    """Impression rows as arrays, indexed by a vocabulary."""

    def __init__(self, rows: list, vocab: Vocabulary, users: dict) -> None:
        self.user = np.asarray([users.setdefault(str(r["user_id"]), len(users)) for r in rows], dtype=np.int64)
        self.video_id = [str(r["video_id"]) for r in rows]
        self.video = np.asarray([vocab.video(r["video_id"]) for r in rows], dtype=np.int64)
        self.language = np.asarray([vocab.language(r["video_language"]) for r in rows], dtype=np.int64)
        self.length = np.asarray([length_bucket(number(r["video_length_s"], "video_length_s")) for r in rows])
        self.age = np.asarray([number(r["user_age"], "user_age") for r in rows])
        self.device = np.asarray([vocab.device(r["device_type"]) for r in rows], dtype=np.int64)
        self.watched = np.asarray([1.0 if number(r["watched"], "watched") > 0 else 0.0 for r in rows])


def split(rows: list, test_dir: str, fraction: float) -> tuple:
    if test_dir and os.path.isdir(test_dir):
        test = training_io.read_rows(test_dir)
        training_io.require_columns(test, COLUMNS, "test")
        return rows, test
    if not 0 < fraction < 1:
        raise DataError(f"--holdout-fraction must be between 0 and 1, but {fraction} was provided")
    ordered = sorted(rows, key=lambda r: str(r["shown_at"]))
    cut = int(round(len(ordered) * (1 - fraction)))
    if cut <= 0 or cut >= len(ordered):
        raise DataError(f"{len(rows)} impressions are too few to hold out {fraction:.0%} for evaluation")
    return ordered[:cut], ordered[cut:]


def build_vocabulary(rows: list) -> Vocabulary:
    attributes = {}
    for row in sorted(rows, key=lambda r: str(r["shown_at"])):
        attributes[str(row["video_id"])] = (str(row["video_language"]), number(row["video_length_s"], "video_length_s"))
    videos = sorted(attributes)
    languages = sorted({language for language, _ in attributes.values()})
    devices = sorted({str(r["device_type"]) for r in rows})
    language_index = {x: i + 1 for i, x in enumerate(languages)}
    return Vocabulary(videos, languages, devices, [language_index[attributes[v][0]] for v in videos],
                      [length_bucket(attributes[v][1]) for v in videos])


def histories(rows: list, data: Impressions, user_count: int) -> list:
    """Each user's watched videos in time order (training impressions only)."""
    order = sorted(range(len(rows)), key=lambda i: str(rows[i]["shown_at"]))
    result = [[] for _ in range(user_count)]
    for i in order:
        if data.watched[i] > 0 and data.video[i] > 0:
            result[data.user[i]].append(int(data.video[i]))
    return result


def train_retrieval(model: TwoStageModel, data: Impressions, history: np.ndarray, args: argparse.Namespace,
                    rng: np.random.Generator) -> list:
    pairs = np.flatnonzero(data.watched > 0)
    if pairs.size < 2:
        raise DataError("fewer than two watched impressions: nothing to train the retrieval towers on")
    optimizer = Adagrad(model.params, args.learning_rate)
    losses = []
    for _ in range(args.retrieval_epochs):
        rng.shuffle(pairs)
        epoch = []
        for start in range(0, pairs.size, args.batch_size):
            batch = pairs[start:start + args.batch_size]
            if batch.size < 2:
                continue
            epoch.append(retrieval_step(model, optimizer, history[data.user[batch]], data.video[batch],
                                        data.age[batch], data.device[batch], args.l2))
        losses.append(float(np.mean(epoch)))
    return losses


def ranker_inputs(model: TwoStageModel, data: Impressions, history: np.ndarray, leave_out: bool) -> np.ndarray:
    user_history = history[data.user]
    exclude = np.where(data.watched > 0, data.video, -2) if leave_out else None
    x, mask, count = model.user_inputs(user_history, exclude, data.age, data.device)
    u, _, _ = model.user_tower(x)
    v = model.video_vectors(data.video, data.language, data.length)
    return model.ranker_features(u, v, user_history, mask, count, data.language, data.age, data.device, data.length)


def train_ranker(model: TwoStageModel, data: Impressions, history: np.ndarray, args: argparse.Namespace,
                 rng: np.random.Generator) -> list:
    if len(set(data.watched.tolist())) < 2:
        raise DataError("the training impressions need both watched and unwatched rows to train the ranker")
    model.params["mu"][:] = 0.0
    model.params["sigma"][:] = 1.0
    raw = ranker_inputs(model, data, history, leave_out=True)
    model.params["mu"][:] = raw.mean(axis=0)
    model.params["sigma"][:] = np.where(raw.std(axis=0) > 1e-6, raw.std(axis=0), 1.0)
    features = (raw - model.params["mu"]) / model.params["sigma"]
    optimizer = Adagrad({k: v for k, v in model.params.items() if k[0] in "Rr"}, args.ranker_learning_rate)
    order = np.arange(len(data.watched))
    losses = []
    for _ in range(args.ranker_epochs):
        rng.shuffle(order)
        epoch = [ranker_step(model, optimizer, features[b], data.watched[b], args.l2)
                 for b in (order[s:s + args.batch_size] for s in range(0, order.size, args.batch_size))]
        losses.append(float(np.mean(epoch)))
    return losses


def evaluate(model: TwoStageModel, train: Impressions, test: Impressions, history: np.ndarray,
             user_count: int) -> dict:
    metrics = {}
    # Retrieval: each test user's watched videos among all videos, those watched in training left out.
    videos = model.all_video_vectors()
    ranked, relevant = [], []
    for user in np.unique(test.user[test.watched > 0]):
        rows = np.flatnonzero((test.user == user) & (test.watched > 0))
        wanted = {int(v) for v in test.video[rows] if v > 0}
        if not wanted:
            continue
        user_history = history[[user]] if user < len(history) else np.full((1, history.shape[1]), -1)
        x, _, _ = model.user_inputs(user_history, None, test.age[rows[:1]], test.device[rows[:1]])
        scores = videos @ model.user_tower(x)[0][0]
        seen = [int(v) - 1 for v in user_history[0] if v > 0]
        scores[seen] = -np.inf
        ranked.append((np.argsort(-scores)[:50] + 1).tolist())
        relevant.append(wanted)
    if ranked:
        metrics["recall_at_10"] = ml_metrics.recall_at_k(ranked, relevant, 10)
        metrics["recall_at_50"] = ml_metrics.recall_at_k(ranked, relevant, 50)
        metrics["retrieval_queries"] = float(len(ranked))
    # Ranking: the held-out impressions, scored with the users' training histories.
    padded = np.vstack([history, np.full((max(0, user_count - len(history)), history.shape[1]), -1)])
    probabilities = model.ranker_forward(ranker_inputs(model, test, padded, leave_out=False))[0]
    metrics["roc_auc"] = ml_metrics.roc_auc(test.watched, probabilities)
    metrics["log_loss"] = ml_metrics.log_loss(test.watched, probabilities)
    lists, wanted_lists = [], []
    by_user = defaultdict(list)
    for i, user in enumerate(test.user):
        by_user[int(user)].append(i)
    for rows in by_user.values():
        positives = {test.video_id[i] for i in rows if test.watched[i] > 0}
        if positives and len(positives) < len(rows):
            lists.append([test.video_id[i] for i in sorted(rows, key=lambda i: -probabilities[i])])
            wanted_lists.append(positives)
    if lists:
        metrics["precision_at_5"] = ml_metrics.precision_at_k(lists, wanted_lists, 5)
        metrics["map_at_5"] = ml_metrics.mean_average_precision_at_k(lists, wanted_lists, 5)
        metrics["ndcg_at_5"] = ml_metrics.ndcg_at_k(lists, wanted_lists, 5)
    metrics["test_impressions"] = float(len(test.watched))
    return metrics


def train(args: argparse.Namespace) -> dict:
    rows = training_io.read_rows(args.train_dir)
    training_io.require_columns(rows, COLUMNS, "train")
    train_rows, test_rows = split(rows, args.test_dir, args.holdout_fraction)
    vocab = build_vocabulary(train_rows)
    users: dict = {}
    train_data = Impressions(train_rows, vocab, users)
    test_data = Impressions(test_rows, vocab, users)
    history = history_matrix(histories(train_rows, train_data, len(users)), args.max_history)
    hidden = [int(h) for h in str(args.ranker_hidden).split(",") if h.strip()]
    model = TwoStageModel.initialize(vocab, args.dimensions, args.hidden, hidden, args.seed)
    model.config["max_history"] = args.max_history
    rng = np.random.default_rng(args.seed)

    checkpoint_dir = training_io.usable_checkpoint_dir(args.checkpoint_dir)
    checkpoint = os.path.join(checkpoint_dir, RETRIEVAL_CHECKPOINT) if checkpoint_dir else None
    if checkpoint and os.path.isfile(checkpoint):
        with np.load(checkpoint) as saved:
            if all(name in saved.files and saved[name].shape == model.params[name].shape for name in RETRIEVAL_PARAMS):
                model.params.update({name: saved[name] for name in RETRIEVAL_PARAMS})
                retrieval_losses = []
                print(f"resumed the retrieval towers from {checkpoint}")
            else:
                retrieval_losses = train_retrieval(model, train_data, history, args, rng)
    else:
        retrieval_losses = train_retrieval(model, train_data, history, args, rng)
    if checkpoint:
        os.makedirs(checkpoint_dir, exist_ok=True)
        np.savez(checkpoint, **{name: model.params[name] for name in RETRIEVAL_PARAMS})
    ranker_losses = train_ranker(model, train_data, history, args, rng)

    metrics = evaluate(model, train_data, test_data, history, len(users))
    if retrieval_losses:
        metrics["retrieval_loss"] = retrieval_losses[-1]
    metrics["ranker_loss"] = ranker_losses[-1]
    metrics["videos"] = float(len(vocab.videos) - 1)
    model.save(args.model_dir)
    vectors = model.all_video_vectors()
    with open(os.path.join(args.model_dir, "video_embeddings.jsonl"), "w", encoding="utf-8") as handle:
        for video_id, vector in zip(vocab.videos[1:], vectors):
            handle.write(json.dumps({"video_id": video_id, "embedding": [round(float(x), 6) for x in vector]}) + "\n")
    training_io.write_outputs(args.model_dir, metrics, training_io.serving_code(HERE, "video_recommendation_model.py"))
    return metrics


if __name__ == "__main__":
    sys.exit(training_io.run(train, parser()))
