"""Training entry point of the Street View blurring detector (GpuTrainingJob runs it).

Channels (JSON Lines, as the job's Athena export writes them): ``train`` and optionally ``test`` (else
``--test-fraction`` of ``train`` is held out), one annotated
image per record: ``width``, ``height`` (pixels), ``pixels`` (base64 of the grayscale bytes, row
by row) and ``boxes`` (JSON list of ``{"label": "face"|"plate", "box": [x1, y1, x2, y2]}``).

Writes ``model.npz`` (the stage-2 weights), ``config.json`` (classes, anchors, thresholds),
``metrics.json`` (``map`` = mean over classes of AP at IoU 0.5, ``ap_face``, ``ap_plate``,
``mean_iou`` of each true box with its best detection, ``recall``) and ``code/`` (the handler).
The quality gate reads ``map``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import ml_metrics
import numpy as np
import numpy_nn
import street_view_blurring_model as detector
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
COLUMNS = ("width", "height", "pixels", "boxes")
CHECKPOINT = "detector-checkpoint.npz"


def parse_boxes(value: object, what: str) -> list:
    """The `boxes` column as a list of {"label", "box"}; DataError naming the record otherwise."""
    try:
        boxes = json.loads(value) if isinstance(value, str) else value
    except ValueError as error:
        raise DataError(f"{what}: boxes is not JSON ({error})") from error
    if not isinstance(boxes, list):
        raise DataError(f"{what}: boxes must be a JSON list")
    parsed = []
    for box in boxes:
        if not isinstance(box, dict) or box.get("label") not in detector.LABELS or box["label"] == "background":
            raise DataError(f"{what}: each box needs a label face or plate, but {box!r} was provided")
        coords = box.get("box")
        if not isinstance(coords, list) or len(coords) != 4:
            raise DataError(f"{what}: box must be [x1, y1, x2, y2], but {coords!r} was provided")
        x1, y1, x2, y2 = (number(v, what) for v in coords)
        if x2 <= x1 or y2 <= y1:
            raise DataError(f"{what}: box {coords!r} is empty")
        parsed.append({"label": box["label"], "box": [x1, y1, x2, y2]})
    return parsed


def load_images(directory: str, channel: str) -> tuple:
    rows = read_rows(directory)
    require_columns(rows, COLUMNS, channel)
    images, truths = [], []
    for index, row in enumerate(rows):
        what = f"{channel} record {index}"
        try:
            image = detector.decode_image(
                str(row["pixels"]), int(number(row["width"], what)), int(number(row["height"], what))
            )
        except ValueError as error:
            raise DataError(f"{what}: {error}") from error
        images.append(image)
        truths.append(parse_boxes(row["boxes"], what))
    return images, truths


def as_arrays(truth: list) -> tuple:
    boxes = np.array([t["box"] for t in truth], dtype=float).reshape(-1, 4)
    labels = np.array([detector.LABELS[t["label"]] for t in truth], dtype=int)
    return boxes, labels


def evaluate(params: dict, images: list, truths: list, score_threshold: float, nms_iou: float) -> dict:
    detections = [detector.detect(params, image, score_threshold, nms_iou) for image in images]
    metrics = {}
    aps = []
    for label in detector.CLASSES[1:]:
        ap = detector.average_precision_at_iou(detections, truths, label, 0.5)
        if ap is not None:
            metrics[f"ap_{label}"] = ap
            aps.append(ap)
    metrics["map"] = float(np.mean(aps)) if aps else 0.0
    best_ious, found = [], 0
    for found_boxes, truth in zip(detections, truths):
        for t in truth:
            same = [d["box"] for d in found_boxes if d["label"] == t["label"]]
            best = max((ml_metrics.iou(t["box"], b) for b in same), default=0.0)
            best_ious.append(best)
            found += best >= 0.5
    metrics["mean_iou"] = float(np.mean(best_ious)) if best_ious else 0.0
    metrics["recall"] = found / len(best_ious) if best_ious else 0.0
    metrics["test_images"] = len(images)
    return metrics


def train(args: argparse.Namespace) -> dict:
    images, truths = load_images(args.train_dir, "train")
    if args.test_dir:
        test_images, test_truths = load_images(args.test_dir, "test")
    else:  # hold out a share of the annotated images, chosen at random with the seed
        order = np.random.default_rng(args.seed).permutation(len(images))
        held = max(1, int(round(len(images) * args.test_fraction)))
        if held >= len(images):
            raise DataError(
                f"{len(images)} annotated image(s) are too few to hold out {args.test_fraction:.0%} for testing"
            )
        test_images, test_truths = [images[i] for i in order[:held]], [truths[i] for i in order[:held]]
        images, truths = [images[i] for i in order[held:]], [truths[i] for i in order[held:]]
    annotations = [as_arrays(t) for t in truths]

    checkpoint = checkpoint_file(args.checkpoint_dir, CHECKPOINT)
    params, start = numpy_nn.checkpoint_params(checkpoint)
    if params is not None:
        print(f"resuming from epoch {start}")

    def on_epoch(epoch: int, current: dict, history: list) -> None:
        print(f"epoch {epoch}: loss {history[-1]:.4f}")
        if checkpoint and (epoch + 1) % 5 == 0:
            numpy_nn.save_checkpoint(checkpoint, epoch + 1, current)  # epochs done

    params, _ = detector.train_detector(
        images,
        annotations,
        hidden=args.hidden,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        negative_ratio=args.negative_ratio,
        box_weight=args.box_weight,
        seed=args.seed,
        on_epoch=on_epoch,
        params=params,
        start_epoch=start,
    )
    metrics = evaluate(params, test_images, test_truths, args.score_threshold, args.nms_iou)
    metrics["train_images"] = len(images)

    os.makedirs(args.model_dir, exist_ok=True)
    np.savez(os.path.join(args.model_dir, "model.npz"), **params)
    save_json(
        os.path.join(args.model_dir, "config.json"),
        {
            "classes": list(detector.CLASSES),
            "anchors": [list(a) for a in detector.ANCHORS],
            "score_threshold": args.score_threshold,
            "nms_iou": args.nms_iou,
            "max_detections": args.max_detections,
        },
    )
    write_outputs(args.model_dir, metrics, serving_code(HERE, os.path.basename(detector.__file__)))
    return metrics


def parser() -> argparse.ArgumentParser:
    p = base_arguments(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--hidden", type=int, default=48)
    p.add_argument("--learning-rate", type=float, default=0.01)
    p.add_argument("--negative-ratio", type=float, default=3.0)
    p.add_argument("--box-weight", type=float, default=1.0)
    p.add_argument("--score-threshold", type=float, default=0.5)
    p.add_argument("--nms-iou", type=float, default=0.3)
    p.add_argument("--max-detections", type=int, default=50)
    p.add_argument("--test-fraction", type=float, default=0.1, help="held out when there is no test channel")
    return p


def main(argv: list | None = None) -> int:
    return run(train, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
