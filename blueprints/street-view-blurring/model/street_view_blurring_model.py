"""A small two-stage object detector for faces and licence plates (chapter 3), numpy only.

Stage 1 proposes regions: anchors of a few sizes and shapes slid over the image on a grid (the
region proposal step of a two-stage detector, without a learned proposal network). Stage 2 looks
at each proposal through a fixed-size sample of its surroundings and, with one shared hidden
layer, classifies it (background / face / plate, softmax cross-entropy) and regresses the offsets
of the true box from the anchor (mean squared error on (dx, dy, dw, dh)), as the chapter's detector
does. Training samples every positive anchor and mines hard negatives; inference keeps confident
proposals, applies the regressed offsets and removes duplicates with non-maximum suppression.

Images are 2-D uint8 arrays (grayscale); boxes are (x1, y1, x2, y2) in pixels, x2/y2 exclusive.
"""

from __future__ import annotations

import base64

import numpy as np
from numpy_nn import Adam, softmax

CLASSES = ("background", "face", "plate")
LABELS = {name: index for index, name in enumerate(CLASSES)}
# Anchor (width, height): squares for faces, wide boxes for plates.
ANCHORS = ((6, 6), (8, 8), (10, 10), (10, 4), (13, 6))
STRIDE = 2
GRID = 8  # each proposal is sampled at GRID × GRID points
CONTEXT = 1.5  # ... over a window CONTEXT times the anchor, so that the regressor sees the box's edges
POSITIVE_IOU = 0.5
NEGATIVE_IOU = 0.3
BOX_SCALE = np.array([0.1, 0.1, 0.2, 0.2])  # the usual normalization of box deltas


# ------------------------------------------------------------------------------------------------
# Images
# ------------------------------------------------------------------------------------------------


def encode_image(image: np.ndarray) -> str:
    """Base64 of the image's bytes, row-major (the dataset's `pixels` column)."""
    return base64.b64encode(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).decode("ascii")


def decode_image(pixels: str, width: int, height: int) -> np.ndarray:
    """The image of a `pixels` column; ValueError when it does not hold width × height bytes."""
    if width < 1 or height < 1:
        raise ValueError(f"width and height must be at least 1, but {width}×{height} was provided")
    try:
        raw = base64.b64decode(pixels, validate=True)
    except (ValueError, TypeError) as error:
        raise ValueError(f"pixels must be base64: {error}") from error
    if len(raw) != width * height:
        raise ValueError(f"pixels hold {len(raw)} bytes, but a {width}×{height} image needs {width * height}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width)


def blur(image: np.ndarray, boxes: list, radius: int = 2) -> np.ndarray:
    """The image with each box replaced by a box-filtered (mean over (2r+1)²) copy of itself."""
    out = image.astype(float).copy()
    padded = np.pad(image.astype(float), radius, mode="edge")
    size = 2 * radius + 1
    # Mean filter of the whole image by summing shifted copies (small images, small radius).
    smooth = sum(padded[dy : dy + image.shape[0], dx : dx + image.shape[1]] for dy in range(size) for dx in range(size))
    smooth = smooth / (size * size)
    for box in boxes:
        x1, y1, x2, y2 = (int(round(v)) for v in box[:4])
        x1, y1 = max(0, x1), max(0, y1)
        x2, y2 = min(image.shape[1], x2), min(image.shape[0], y2)
        if x2 > x1 and y2 > y1:
            out[y1:y2, x1:x2] = smooth[y1:y2, x1:x2]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------
# Stage 1: proposals, and the features stage 2 reads
# ------------------------------------------------------------------------------------------------

_ANCHOR_CACHE: dict = {}


def anchors_for(height: int, width: int) -> tuple:
    """(anchors (A, 4) as x1, y1, x2, y2; anchor shape index (A,)) for an image size."""
    key = (height, width)
    if key not in _ANCHOR_CACHE:
        boxes, shapes = [], []
        for index, (w, h) in enumerate(ANCHORS):
            for y in range(0, max(1, height - h + 1), STRIDE):
                for x in range(0, max(1, width - w + 1), STRIDE):
                    boxes.append((x, y, x + w, y + h))
                    shapes.append(index)
        _ANCHOR_CACHE[key] = (np.array(boxes, dtype=float), np.array(shapes, dtype=int))
    return _ANCHOR_CACHE[key]


def proposal_features(image: np.ndarray, anchors: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """(A, GRID² + anchors) features: the window around each anchor sampled on a grid, and its shape."""
    height, width = image.shape
    pixels = image.astype(float) / 255.0
    pixels = pixels - pixels.mean()
    cx = (anchors[:, 0] + anchors[:, 2]) / 2
    cy = (anchors[:, 1] + anchors[:, 3]) / 2
    aw = (anchors[:, 2] - anchors[:, 0]) * CONTEXT
    ah = (anchors[:, 3] - anchors[:, 1]) * CONTEXT
    steps = (np.arange(GRID) + 0.5) / GRID - 0.5
    xs = np.clip(np.floor(cx[:, None] + steps[None, :] * aw[:, None]), 0, width - 1).astype(int)
    ys = np.clip(np.floor(cy[:, None] + steps[None, :] * ah[:, None]), 0, height - 1).astype(int)
    samples = pixels[ys[:, :, None], xs[:, None, :]].reshape(len(anchors), GRID * GRID)
    one_hot = np.eye(len(ANCHORS))[shapes]
    return np.hstack([samples, one_hot])


def box_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(len(boxes), len(others)) intersection over union."""
    if len(boxes) == 0 or len(others) == 0:
        return np.zeros((len(boxes), len(others)))
    x1 = np.maximum(boxes[:, None, 0], others[None, :, 0])
    y1 = np.maximum(boxes[:, None, 1], others[None, :, 1])
    x2 = np.minimum(boxes[:, None, 2], others[None, :, 2])
    y2 = np.minimum(boxes[:, None, 3], others[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area_b = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def encode_deltas(anchors: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Regression targets (dx, dy, dw, dh) of `boxes` relative to `anchors`, normalized."""
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    dx = ((boxes[:, 0] + boxes[:, 2]) - (anchors[:, 0] + anchors[:, 2])) / 2 / aw
    dy = ((boxes[:, 1] + boxes[:, 3]) - (anchors[:, 1] + anchors[:, 3])) / 2 / ah
    return np.stack([dx, dy, np.log(bw / aw), np.log(bh / ah)], axis=1) / BOX_SCALE


def decode_deltas(anchors: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    d = deltas * BOX_SCALE
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    cx = (anchors[:, 0] + anchors[:, 2]) / 2 + d[:, 0] * aw
    cy = (anchors[:, 1] + anchors[:, 3]) / 2 + d[:, 1] * ah
    w = aw * np.exp(np.clip(d[:, 2], -2, 2))
    h = ah * np.exp(np.clip(d[:, 3], -2, 2))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def assign(anchors: np.ndarray, truth: np.ndarray, truth_labels: np.ndarray) -> tuple:
    """Per anchor: class (0 background, -1 ignored) and the matched true box."""
    labels = np.zeros(len(anchors), dtype=int)
    matched = np.zeros((len(anchors), 4))
    if len(truth) == 0:
        return labels, matched
    overlaps = box_iou(anchors, truth)
    best = overlaps.argmax(axis=1)
    best_iou = overlaps.max(axis=1)
    labels[(best_iou >= NEGATIVE_IOU) & (best_iou < POSITIVE_IOU)] = -1
    positive = best_iou >= POSITIVE_IOU
    # Every true box gets at least its best anchor.
    for t in range(len(truth)):
        a = int(overlaps[:, t].argmax())
        if overlaps[a, t] > 0:
            positive[a] = True
            best[a] = t
    labels[positive] = truth_labels[best[positive]]
    matched[positive] = truth[best[positive]]
    return labels, matched


# ------------------------------------------------------------------------------------------------
# Stage 2: shared hidden layer, classification head (CE) and box head (MSE)
# ------------------------------------------------------------------------------------------------


def init_params(features: int, hidden: int, rng: np.random.Generator) -> dict:
    return {
        "w1": rng.normal(0, np.sqrt(2.0 / features), (features, hidden)),
        "b1": np.zeros(hidden),
        "wc": rng.normal(0, np.sqrt(1.0 / hidden), (hidden, len(CLASSES))),
        "bc": np.zeros(len(CLASSES)),
        "wr": rng.normal(0, 0.01, (hidden, 4)),
        "br": np.zeros(4),
    }


def forward(params: dict, x: np.ndarray) -> tuple:
    pre = x @ params["w1"] + params["b1"]
    hidden = np.maximum(pre, 0)
    probabilities = softmax(hidden @ params["wc"] + params["bc"])
    deltas = hidden @ params["wr"] + params["br"]
    return pre, hidden, probabilities, deltas


def loss_and_gradients(
    params: dict, x: np.ndarray, labels: np.ndarray, targets: np.ndarray, box_weight: float
) -> tuple:
    """Cross-entropy over every sample + box_weight × MSE over the positives, and its gradients."""
    n = len(x)
    pre, hidden, probabilities, deltas = forward(params, x)
    ce = -np.log(np.clip(probabilities[np.arange(n), labels], 1e-12, None)).mean()
    positive = labels > 0
    count = max(1, int(positive.sum()))
    diff = (deltas - targets) * positive[:, None]
    mse = (diff**2).sum() / (4 * count)

    d_logits = probabilities.copy()
    d_logits[np.arange(n), labels] -= 1
    d_logits /= n
    d_deltas = box_weight * 2 * diff / (4 * count)
    grads = {
        "wc": hidden.T @ d_logits,
        "bc": d_logits.sum(axis=0),
        "wr": hidden.T @ d_deltas,
        "br": d_deltas.sum(axis=0),
    }
    d_hidden = (d_logits @ params["wc"].T + d_deltas @ params["wr"].T) * (pre > 0)
    grads["w1"] = x.T @ d_hidden
    grads["b1"] = d_hidden.sum(axis=0)
    return ce + box_weight * mse, ce, mse, grads


def training_samples(images: list, annotations: list, flip: bool) -> tuple:
    """Features, labels (-1 ignored) and box targets of every anchor of every image (flipped copies too)."""
    xs, ys, ts = [], [], []
    for image, (boxes, labels) in zip(images, annotations):
        variants = [(image, boxes)]
        if flip:  # augmentation: the mirrored street scene, boxes mirrored with it
            width = image.shape[1]
            mirrored = boxes.copy()
            if len(boxes):
                mirrored[:, 0], mirrored[:, 2] = width - boxes[:, 2], width - boxes[:, 0]
            variants.append((image[:, ::-1], mirrored))
        for pixels, truth in variants:
            anchors, shapes = anchors_for(*pixels.shape)
            assigned, matched = assign(anchors, truth, labels)
            keep = assigned >= 0
            targets = np.zeros((len(anchors), 4))
            positive = assigned > 0
            targets[positive] = encode_deltas(anchors[positive], matched[positive])
            xs.append(proposal_features(pixels, anchors, shapes)[keep])
            ys.append(assigned[keep])
            ts.append(targets[keep])
    return np.vstack(xs), np.concatenate(ys), np.vstack(ts)


def train_detector(
    images: list,
    annotations: list,
    hidden: int = 48,
    epochs: int = 30,
    learning_rate: float = 0.01,
    batch_size: int = 256,
    negative_ratio: float = 3.0,
    box_weight: float = 1.0,
    seed: int = 7,
    on_epoch=None,
    params: dict | None = None,
    start_epoch: int = 0,
) -> tuple:
    """Trains stage 2 with hard-negative mining; returns (params, history of losses)."""
    rng = np.random.default_rng(seed)
    x, labels, targets = training_samples(images, annotations, flip=True)
    params = params or init_params(x.shape[1], hidden, rng)
    optimizer = Adam(params, learning_rate=learning_rate)
    positives = np.flatnonzero(labels > 0)
    negatives = np.flatnonzero(labels == 0)
    history = []
    for epoch in range(start_epoch, epochs):
        wanted = min(len(negatives), int(max(1, len(positives)) * negative_ratio))
        if epoch == 0 or wanted == len(negatives):
            chosen = rng.choice(negatives, size=wanted, replace=False)
        else:
            # Hard-negative mining: half the negatives are those the model now finds most object-like.
            _, _, probabilities, _ = forward(params, x[negatives])
            hardest = negatives[np.argsort(probabilities[:, 0])[: wanted // 2]]
            rest = rng.choice(negatives, size=wanted - len(hardest), replace=False)
            chosen = np.concatenate([hardest, rest])
        order = rng.permutation(np.concatenate([positives, chosen]))
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss, _, _, grads = loss_and_gradients(params, x[batch], labels[batch], targets[batch], box_weight)
            optimizer.update(params, grads)
            total += loss * len(batch)
        history.append(total / len(order))
        if on_epoch is not None:
            on_epoch(epoch, params, history)
    return params, history


# ------------------------------------------------------------------------------------------------
# Inference
# ------------------------------------------------------------------------------------------------


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = list(np.argsort(-scores, kind="mergesort"))
    keep = []
    while order:
        best = order.pop(0)
        keep.append(best)
        if order:
            overlaps = box_iou(boxes[[best]], boxes[order])[0]
            order = [i for i, o in zip(order, overlaps) if o <= threshold]
    return keep


def detect(
    params: dict, image: np.ndarray, score_threshold: float = 0.5, nms_iou: float = 0.3, max_detections: int = 50
) -> list:
    """Detections [{"label", "score", "box": [x1, y1, x2, y2]}], best first."""
    height, width = image.shape
    anchors, shapes = anchors_for(height, width)
    _, _, probabilities, deltas = forward(params, proposal_features(image, anchors, shapes))
    boxes = decode_deltas(anchors, deltas)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    found = []
    for label in range(1, len(CLASSES)):
        scores = probabilities[:, label]
        candidates = np.flatnonzero(scores >= score_threshold)
        for i in nms(boxes[candidates], scores[candidates], nms_iou):
            index = candidates[i]
            found.append(
                {
                    "label": CLASSES[label],
                    "score": float(scores[index]),
                    "box": [round(float(v), 1) for v in boxes[index]],
                }
            )
    found.sort(key=lambda d: -d["score"])
    return found[:max_detections]


def average_precision_at_iou(detections: list, truths: list, label: str, threshold: float = 0.5) -> float:
    """AP of one class over images: detections matched greedily to unmatched true boxes (IoU ≥ threshold),
    area under the precision envelope (all points). None when the class has no true box."""
    total = sum(1 for boxes in truths for t in boxes if t["label"] == label)
    if total == 0:
        return None  # type: ignore[return-value]
    ranked = sorted(
        ((d["score"], image, d["box"]) for image, found in enumerate(detections) for d in found if d["label"] == label),
        key=lambda r: -r[0],
    )
    used: set = set()
    hits = []
    for _, image, box in ranked:
        candidates = [(j, t) for j, t in enumerate(truths[image]) if t["label"] == label and (image, j) not in used]
        best, best_iou = None, 0.0
        for j, t in candidates:
            overlap = box_iou(np.array([box], dtype=float), np.array([t["box"]], dtype=float))[0, 0]
            if overlap > best_iou:
                best, best_iou = j, overlap
        if best is not None and best_iou >= threshold:
            used.add((image, best))
            hits.append(1)
        else:
            hits.append(0)
    if not hits:
        return 0.0
    hits_array = np.array(hits, dtype=float)
    tp = np.cumsum(hits_array)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / total
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    previous = np.concatenate([[0.0], recall[:-1]])
    return float(((recall - previous) * envelope).sum())
