"""Training entry point of the video search blueprint (chapter 4): text and video encoders.

Channels (gzipped JSON Lines from Athena UNLOAD, or CSV with a header):

- ``train``: ⟨video, query⟩ pairs from the search logs: ``query_text``, ``query_language`` and the
  ``video_id`` the user watched from the results;
- ``videos``: the catalogue, ``video_id`` and ``frame_features`` (a JSON list of frames, each a
  list of frame feature values).

A share of the pairs (``--holdout``, chosen with the seed) is held out. The towers are trained
with a symmetric InfoNCE loss on the rest; then every catalogue video is embedded, each held-out
query is ranked against the catalogue, and its watched video is the relevant result.

Writes ``model.npz`` + ``model.json``, ``metrics.json`` (recall@1/10, MRR, nDCG@10, precision@10,
mAP@10, and recall@10 of a random ranking for scale) and ``code/`` under ``--model-dir``.
Checkpoints every few epochs and resumes from the last checkpoint.
"""

from __future__ import annotations

import os
import sys

import ml_metrics
import numpy as np
import training_io as job
from video_search_model import TwoTowerEncoder, parse_frames, rank, token_ids, train_two_tower

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT_EVERY = 5


def parser():
    p = job.base_arguments("Trains the video search text and video encoders with a contrastive (InfoNCE) loss.")
    p.add_argument("--videos-dir", default=os.environ.get("SM_CHANNEL_VIDEOS", "/opt/ml/input/data/videos"))
    p.add_argument("--embedding-dimensions", type=int, default=32)
    p.add_argument("--buckets", type=int, default=8192, help="rows of the hashed token table")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=0.01)
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--holdout", type=float, default=0.1, help="share of the pairs held out for the metrics")
    p.add_argument("--k", type=int, default=10)
    return p


def check_arguments(args) -> None:
    problems = []
    for name in ("embedding_dimensions", "buckets", "epochs", "batch_size", "k"):
        if getattr(args, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, but {getattr(args, name)} was provided")
    for name in ("learning_rate", "temperature"):
        if not getattr(args, name) > 0:
            problems.append(f"--{name.replace('_', '-')} must be above 0, but {getattr(args, name)} was provided")
    if not 0 < args.holdout < 1:
        problems.append(f"--holdout must be between 0 and 1, but {args.holdout} was provided")
    if problems:
        raise job.DataError("; ".join(problems))


def catalogue(rows: list) -> tuple:
    ids, means, width = [], [], None
    for i, row in enumerate(rows):
        try:
            frames = parse_frames(row["frame_features"], width, f"videos record {i}")
        except ValueError as error:
            raise job.DataError(str(error)) from error
        width = frames.shape[1]
        ids.append(str(row["video_id"]))
        means.append(frames.mean(axis=0))
    return ids, np.stack(means)


def train(args) -> dict:
    check_arguments(args)
    pairs = job.read_rows(args.train_dir)
    job.require_columns(pairs, ["query_text", "video_id"], "train")
    video_rows = job.read_rows(args.videos_dir)
    job.require_columns(video_rows, ["video_id", "frame_features"], "videos")
    ids, mean_frames = catalogue(video_rows)
    position = {video_id: i for i, video_id in enumerate(ids)}
    usable = [row for row in pairs if str(row["video_id"]) in position]
    if len(usable) < 10:
        raise job.DataError(
            f"only {len(usable)} of {len(pairs)} pairs name a video of the catalogue; at least 10 are needed"
        )

    order = np.random.default_rng(args.seed).permutation(len(usable))
    held = max(1, int(round(len(usable) * args.holdout)))
    test_rows = [usable[i] for i in order[:held]]
    train_rows = [usable[i] for i in order[held:]]

    config = {
        "embedding_dimensions": args.embedding_dimensions,
        "buckets": args.buckets,
        "frame_width": int(mean_frames.shape[1]),
        "temperature": args.temperature,
    }
    checkpoint_dir = job.usable_checkpoint_dir(args.checkpoint_dir)
    encoder, start_epoch = job.resume_progress(checkpoint_dir, config, TwoTowerEncoder.load)

    std = mean_frames.std(axis=0)
    encoder, losses = train_two_tower(
        [token_ids(row["query_text"], row.get("query_language"), args.buckets) for row in train_rows],
        mean_frames[[position[str(row["video_id"])] for row in train_rows]],
        config=config,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        temperature=args.temperature,
        seed=args.seed,
        encoder=encoder,
        frame_stats=(mean_frames.mean(axis=0), std),
        start_epoch=start_epoch,
        on_epoch=job.progress_checkpoints(checkpoint_dir, config, CHECKPOINT_EVERY),
    )

    k = args.k
    queries = encoder.embed_queries(
        [row["query_text"] for row in test_rows], [row.get("query_language") for row in test_rows]
    )
    ranked = rank(queries, encoder.embed_videos(mean_frames), ids, k)
    relevant = [str(row["video_id"]) for row in test_rows]
    metrics = {
        **ml_metrics.retrieval_metrics(ranked, relevant, k),
        f"random_recall_at_{k}": min(1.0, k / len(ids)),
        "catalogue_videos": float(len(ids)),
        "train_pairs": float(len(train_rows)),
        "test_pairs": float(len(test_rows)),
    }
    if losses:
        metrics["final_loss"] = losses[-1]
    encoder.save(args.model_dir)
    job.write_outputs(args.model_dir, metrics, job.serving_code(HERE, "video_search_model.py"))
    return metrics


if __name__ == "__main__":
    sys.exit(job.run(train, parser()))
