"""Training entry point of the visual search blueprint (chapter 2): contrastive image embeddings.

Channels (gzipped JSON Lines from Athena UNLOAD, or CSV with a header):

- ``train``: the image catalogue, ``image_id`` and the descriptor columns ``d00``..``dNN``. The
  encoder learns from two augmented views of each image (self-supervised, SimCLR-style), so
  no labels are needed.
- ``test``: user clicks, each a query image's descriptor (``d00``..``dNN``) and the catalogue image
  the user clicked (``clicked_image_id``): held-out query → match pairs. The whole catalogue is
  embedded, each query is ranked against it, and the clicked image is the relevant result.

Writes ``model.npz`` + ``model.json`` (the encoder), ``metrics.json`` (recall@1/10, MRR, nDCG@10,
precision@10, mAP@10 of the learned embeddings and recall@10 of the raw descriptors as the
baseline) and ``code/`` (``inference.py`` and its modules) under ``--model-dir``. Checkpoints the
encoder every few epochs and resumes from the last one after a spot interruption.
"""

from __future__ import annotations

import os
import sys

import ml_metrics
import numpy as np
import training_io as job
from visual_search_model import ImageEncoder, descriptor_columns, normalize_rows, rank, train_encoder

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT_EVERY = 5


def parser():
    p = job.base_arguments("Trains the visual search image encoder with a contrastive (InfoNCE) loss.")
    p.add_argument("--descriptor-dimensions", type=int, default=16, help="descriptor columns d00..dNN")
    p.add_argument("--embedding-dimensions", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=0.005)
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument(
        "--block-size", type=int, default=4, help="descriptor components that share a brightness/colour shift"
    )
    p.add_argument("--shift", type=float, default=1.0, help="standard deviation of the per-block shift")
    p.add_argument("--noise", type=float, default=0.1, help="standard deviation of the Gaussian noise")
    p.add_argument("--dropout", type=float, default=0.1, help="share of components zeroed in a view")
    p.add_argument("--k", type=int, default=10, help="cut-off of recall@k, nDCG@k, precision@k, mAP@k")
    p.add_argument("--id-column", default="image_id")
    p.add_argument("--match-column", default="clicked_image_id")
    return p


def descriptors(rows: list, columns: list, channel: str) -> np.ndarray:
    return np.array(
        [[job.number(row[c], f"{channel} record {i} column {c}") for c in columns] for i, row in enumerate(rows)],
        dtype=np.float64,
    )


def check_arguments(args) -> None:
    problems = []
    for name in ("descriptor_dimensions", "embedding_dimensions", "hidden", "epochs", "batch_size", "block_size", "k"):
        if getattr(args, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, but {getattr(args, name)} was provided")
    for name in ("learning_rate", "temperature"):
        if not getattr(args, name) > 0:
            problems.append(f"--{name.replace('_', '-')} must be above 0, but {getattr(args, name)} was provided")
    if not 0 <= args.dropout < 1:
        problems.append(f"--dropout must be in [0, 1), but {args.dropout} was provided")
    if problems:
        raise job.DataError("; ".join(problems))


def train(args) -> dict:
    check_arguments(args)
    columns = descriptor_columns(args.descriptor_dimensions)
    catalogue_rows = job.read_rows(args.train_dir)
    job.require_columns(catalogue_rows, [args.id_column, *columns], "train")
    if not args.test_dir:
        raise job.DataError("no test channel: held-out query → clicked image pairs are needed for the metrics")
    click_rows = job.read_rows(args.test_dir)
    job.require_columns(click_rows, [args.match_column, *columns], "test")

    ids = [str(row[args.id_column]) for row in catalogue_rows]
    catalogue = descriptors(catalogue_rows, columns, "train")
    known = set(ids)
    clicks = [row for row in click_rows if str(row[args.match_column]) in known]
    if not clicks:
        raise job.DataError(f"none of the {len(click_rows)} test clicks names an image of the train catalogue")
    queries = descriptors(clicks, columns, "test")
    relevant = [str(row[args.match_column]) for row in clicks]

    config = {
        "descriptor_columns": columns,
        "embedding_dimensions": args.embedding_dimensions,
        "hidden": args.hidden,
        "temperature": args.temperature,
    }
    checkpoint_dir = job.usable_checkpoint_dir(args.checkpoint_dir)
    encoder, start_epoch = job.resume_progress(checkpoint_dir, config, ImageEncoder.load)

    encoder, losses = train_encoder(
        catalogue,
        hidden=args.hidden,
        dimensions=args.embedding_dimensions,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        temperature=args.temperature,
        block=args.block_size,
        shift=args.shift,
        noise=args.noise,
        dropout=args.dropout,
        seed=args.seed,
        config=config,
        encoder=encoder,
        start_epoch=start_epoch,
        on_epoch=job.progress_checkpoints(checkpoint_dir, config, CHECKPOINT_EVERY),
    )

    k = args.k
    ranked = rank(encoder.embed(queries), encoder.embed(catalogue), ids, k)
    baseline = rank(normalize_rows(queries), normalize_rows(catalogue), ids, k)
    metrics = {
        **ml_metrics.retrieval_metrics(ranked, relevant, k),
        f"baseline_recall_at_{k}": ml_metrics.recall_at_k(baseline, relevant, k),
        "baseline_mrr": ml_metrics.mean_reciprocal_rank(baseline, relevant),
        "final_loss": losses[-1] if losses else float("nan"),
        "catalogue_images": float(len(ids)),
        "test_queries": float(len(clicks)),
    }
    if not losses:
        metrics.pop("final_loss")
    encoder.save(args.model_dir)
    job.write_outputs(args.model_dir, metrics, job.serving_code(HERE, "visual_search_model.py"))
    return metrics


if __name__ == "__main__":
    sys.exit(job.run(train, parser()))
