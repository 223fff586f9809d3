"""Training entry point of People You May Know (GpuTrainingJob runs it).

Channels (JSON Lines, as the job's Athena export writes them):
- ``friendships``: ``user_id``, ``friend_id`` (pseudonyms), ``created_at`` (day the friendship formed:
  ISO date or timestamp, or a number of days);
- ``profiles``: ``user_id``, ``school``, ``employer`` (pseudonyms; empty when unknown).

Snapshots: edges before the 70% quantile of ``created_at`` form graph t, the next 15% are the links
to predict (t+1) for training; graph t' (edges before the 85% quantile) and the last 15% test it.
Writes ``model.npz`` (GNN weights, the embeddings of the latest graph and its adjacency for
friends-of-friends candidates), ``config.json``, ``metrics.json`` (``roc_auc`` and ``average_precision``
over friends-of-friends candidate pairs, ``map`` = mAP@k of each user's ranked suggestions, and the
same for the mutual-friends baseline) and ``code/``. The quality gate reads ``roc_auc``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

import ml_metrics
import numpy as np
import numpy_nn
import people_you_may_know_model as pymk
from training_io import (
    DataError,
    base_arguments,
    checkpoint_file,
    number,
    read_rows,
    require_columns,
    run,
    save_json,
    serving_code,
    write_outputs,
)

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT = "pymk-checkpoint.npz"
EPOCH_DAY = datetime.date(1970, 1, 1)


def day_number(value: object, what: str) -> float:
    """Days since 1970-01-01 of an ISO date/timestamp, or a number as is."""
    text = str(value).strip()
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        try:
            return float((datetime.date.fromisoformat(text[:10]) - EPOCH_DAY).days)
        except ValueError as error:
            raise DataError(f"{what}: {value!r} is not a date") from error
    return number(value, what)


def load_graph_data(friendships_dir: str, profiles_dir: str) -> tuple:
    rows = read_rows(friendships_dir)
    require_columns(rows, ("user_id", "friend_id", "created_at"), "friendships")
    profile_rows = read_rows(profiles_dir) if profiles_dir and os.path.isdir(profiles_dir) else []
    if profile_rows:
        require_columns(profile_rows, ("user_id",), "profiles")
    profiles = {
        str(r["user_id"]): {"school": r.get("school") or "", "employer": r.get("employer") or ""} for r in profile_rows
    }
    nodes = sorted({str(r["user_id"]) for r in rows} | {str(r["friend_id"]) for r in rows} | set(profiles))
    index = {node: i for i, node in enumerate(nodes)}
    edges = [
        (
            index[str(r["user_id"])],
            index[str(r["friend_id"])],
            day_number(r["created_at"], f"friendships record {n}, created_at"),
        )
        for n, r in enumerate(rows)
    ]
    return nodes, edges, profiles


def evaluate(
    params: dict,
    graph: pymk.Graph,
    x: np.ndarray,
    future: list,
    now: float,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> dict:
    """Scores every friends-of-friends candidate of the users who made new friends after the snapshot."""
    z, _ = pymk.embed(params, graph, x)
    new_friends: dict = {}
    for i, j, _ in future:
        if i != j and not graph.connected(i, j):
            new_friends.setdefault(i, set()).add(j)
            new_friends.setdefault(j, set()).add(i)
    users = sorted(new_friends)
    if len(users) > args.eval_users:
        users = sorted(rng.choice(users, size=args.eval_users, replace=False).tolist())
    labels, scores, baseline = [], [], []
    ranked, ranked_baseline, relevant = [], [], []
    for u in users:
        found, mutual_counts = graph.candidates(u, args.max_candidates)
        if len(found) == 0:
            continue
        pairs = np.stack([np.full(len(found), u), found], axis=1)
        mutual = np.array([np.log1p(graph.discounted_mutual(u, int(c), now, args.tau_days)) for c in found])
        s = pymk.pair_logits(params, z, pairs, mutual)  # logits: ranks without saturation ties
        labels.extend(float(int(c) in new_friends[u]) for c in found)
        scores.extend(s.tolist())
        baseline.extend(mutual_counts.tolist())
        ranked.append([int(found[o]) for o in np.argsort(-s, kind="mergesort")])
        ranked_baseline.append([int(c) for c in found])  # already by mutual count
        relevant.append(new_friends[u])
    if not ranked or sum(labels) == 0:
        raise DataError("the test period has no new friendship between friends of friends: too little data to evaluate")
    return {
        "roc_auc": ml_metrics.roc_auc(labels, scores),
        "average_precision": ml_metrics.average_precision(labels, scores),
        "map": ml_metrics.mean_average_precision_at_k(ranked, relevant, args.top_k),
        "recall_at_k": ml_metrics.recall_at_k(ranked, relevant, args.top_k),
        "baseline_roc_auc": ml_metrics.roc_auc(labels, baseline),
        "baseline_map": ml_metrics.mean_average_precision_at_k(ranked_baseline, relevant, args.top_k),
        "test_users": len(ranked),
        "test_pairs": len(labels),
        "test_positive_rate": float(np.mean(labels)),  # the average precision of a random ranking
    }


def train(args: argparse.Namespace) -> dict:
    nodes, edges, profiles = load_graph_data(args.friendships_dir, args.profiles_dir)
    times = np.array([t for _, _, t in edges])
    if len(np.unique(times)) < 3:
        raise DataError("friendships need at least 3 distinct created_at values to form snapshots t → t+1")
    cut1, cut2 = np.quantile(times, [args.train_fraction, args.train_fraction + args.validation_fraction])
    rng = np.random.default_rng(args.seed)

    graph_t = pymk.snapshot(nodes, edges, cut1)
    future_t = [e for e in edges if cut1 <= e[2] < cut2]
    pairs, mutual, labels = pymk.link_examples(
        graph_t, future_t, cut1, args.tau_days, args.negatives, args.max_candidates, rng
    )
    if labels.sum() == 0:
        raise DataError("no friendship formed between the training snapshot and the next: nothing to learn")
    x_t = pymk.node_features(graph_t, profiles)

    checkpoint = checkpoint_file(args.checkpoint_dir, CHECKPOINT)
    params, start = numpy_nn.checkpoint_params(checkpoint)

    def on_epoch(epoch: int, current: dict, history: list) -> None:
        if (epoch + 1) % 50 == 0:
            print(f"epoch {epoch}: loss {history[-1]:.4f}")
            if checkpoint:
                numpy_nn.save_checkpoint(checkpoint, epoch + 1, current)  # epochs done

    params, _ = pymk.train_link_model(
        graph_t,
        x_t,
        pairs,
        mutual,
        labels,
        hidden=args.hidden,
        dimensions=args.dimensions,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        l2=args.l2,
        seed=args.seed,
        params=params,
        start_epoch=start,
        on_epoch=on_epoch,
    )

    graph_test = pymk.snapshot(nodes, edges, cut2)
    metrics = evaluate(
        params,
        graph_test,
        pymk.node_features(graph_test, profiles),
        [e for e in edges if e[2] >= cut2],
        cut2,
        args,
        rng,
    )
    metrics["train_pairs"] = len(labels)

    # Serving: embeddings of the latest graph, which the suggestions are for.
    latest = pymk.Graph(nodes, edges)
    z, _ = pymk.embed(params, latest, pymk.node_features(latest, profiles))
    os.makedirs(args.model_dir, exist_ok=True)
    np.savez(
        os.path.join(args.model_dir, "model.npz"),
        nodes=np.array(nodes),
        embeddings=z,
        indptr=latest.indptr,
        dst=latest.dst,
        times=latest.times,
        **{f"param_{k}": v for k, v in params.items()},
    )
    save_json(
        os.path.join(args.model_dir, "config.json"),
        {
            "now": float(times.max()),
            "tau_days": args.tau_days,
            "top_k": args.top_k,
            "max_candidates": args.max_candidates,
        },
    )
    write_outputs(args.model_dir, metrics, serving_code(HERE, os.path.basename(pymk.__file__)))
    return metrics


def parser() -> argparse.ArgumentParser:
    p = base_arguments(__doc__.splitlines()[0])
    p.add_argument(
        "--friendships-dir", default=os.environ.get("SM_CHANNEL_FRIENDSHIPS", "/opt/ml/input/data/friendships")
    )
    p.add_argument("--profiles-dir", default=os.environ.get("SM_CHANNEL_PROFILES", "/opt/ml/input/data/profiles"))
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--dimensions", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=0.03)
    p.add_argument("--l2", type=float, default=1e-3)
    p.add_argument("--negatives", type=int, default=6)
    p.add_argument("--tau-days", type=float, default=180.0)
    p.add_argument("--max-candidates", type=int, default=1000)
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--eval-users", type=int, default=5000)
    p.add_argument("--train-fraction", type=float, default=0.7)
    p.add_argument("--validation-fraction", type=float, default=0.15)
    return p


def main(argv: list | None = None) -> int:
    return run(train, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
