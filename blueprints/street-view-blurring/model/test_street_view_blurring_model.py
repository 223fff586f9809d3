from __future__ import annotations

import json
import os

import model_testing
import numpy as np
import pytest
from blueprint_scripts import load_script

HERE = os.path.dirname(__file__)
train = load_script(HERE, "train.py")
inference = load_script(HERE, "inference.py")
detector = train.detector

SIZE = 32


def synthetic_image(rng: np.random.Generator) -> tuple:
    """A noisy street scene with 1-2 objects: faces (bright squares, dark eyes), plates (bright bars, dark glyphs)."""
    image = rng.normal(90, 18, (SIZE, SIZE))
    for _ in range(2):  # distractors: small bright blobs that are neither
        x, y = rng.integers(0, SIZE - 3, 2)
        image[y : y + 3, x : x + 3] += 80
    boxes: list = []
    for _ in range(int(rng.integers(1, 3))):
        label = "face" if rng.random() < 0.5 else "plate"
        w, h = (
            (int(rng.integers(6, 10)),) * 2 if label == "face" else (int(rng.integers(10, 14)), int(rng.integers(4, 7)))
        )
        for _attempt in range(20):
            x, y = int(rng.integers(0, SIZE - w + 1)), int(rng.integers(0, SIZE - h + 1))
            if all(
                detector.box_iou(np.array([[x, y, x + w, y + h]], float), np.array([b["box"]], float))[0, 0] == 0
                for b in boxes
            ):
                break
        else:
            continue
        image[y : y + h, x : x + w] = 210 + rng.normal(0, 8, (h, w))
        if label == "face":
            image[y + h // 3, x + w // 4] = 40
            image[y + h // 3, x + (3 * w) // 4] = 40
        else:
            image[y + 1 : y + h - 1, x + 1 : x + w - 1 : 2] = 50
        boxes.append({"label": label, "box": [x, y, x + w, y + h]})
    return np.clip(image, 0, 255).astype(np.uint8), boxes


def write_channel(directory, count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    samples = [synthetic_image(rng) for _ in range(count)]
    model_testing.write_channel(
        directory,
        [
            {
                "image_id": "p",
                "width": SIZE,
                "height": SIZE,
                "pixels": detector.encode_image(image),
                "boxes": json.dumps(boxes),
            }
            for image, boxes in samples
        ],
    )
    return samples


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("svb")
    write_channel(root / "train", 160, 1)
    samples = write_channel(root / "test", 40, 2)
    model_dir = root / "model"
    code = train.main(
        [
            "--train-dir",
            str(root / "train"),
            "--test-dir",
            str(root / "test"),
            "--model-dir",
            str(model_dir),
            "--checkpoint-dir",
            str(root / "checkpoints"),
            "--epochs",
            "25",
        ]
    )
    assert code == 0
    metrics = json.loads((model_dir / "metrics.json").read_text())
    return model_dir, metrics, samples, root


def test_learns_to_find_faces_and_plates(trained):
    _, metrics, _, _ = trained
    for name in ("map", "ap_face", "ap_plate", "mean_iou", "recall"):
        assert name in metrics
    # A detector that proposes every anchor with a constant score has an AP near 0 here.
    assert metrics["map"] > 0.6, metrics
    assert metrics["mean_iou"] > 0.6, metrics


def test_nms_keeps_one_box_per_object():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=float)
    assert detector.nms(boxes, np.array([0.9, 0.8, 0.7]), 0.3) == [0, 2]


def test_writes_serving_code_and_resumes_from_checkpoint(trained):
    model_dir, _, _, root = trained
    assert set(os.listdir(model_dir / "code")) == {
        "inference.py",
        "numpy_nn.py",
        "serving_io.py",
        "street_view_blurring_model.py",
    }
    assert (root / "checkpoints" / train.CHECKPOINT).is_file()


def test_serves_json_lines_json_and_csv(trained):
    model_dir, _, samples, _ = trained
    model = inference.model_fn(str(model_dir))
    image, boxes = samples[0]
    instance = {"width": SIZE, "height": SIZE, "pixels": detector.encode_image(image)}
    body, content_type = inference.output_fn(
        inference.predict_fn(
            inference.input_fn(json.dumps(instance) + "\n" + json.dumps(instance) + "\n", "application/jsonlines"),
            model,
        ),
        "application/jsonlines",
    )
    lines = body.splitlines()
    assert content_type == "application/jsonlines" and len(lines) == 2
    first = json.loads(lines[0])
    assert first["count"] == len(first["detections"]) >= 1
    best = max(
        detector.box_iou(
            np.array([d["box"] for d in first["detections"]]), np.array([b["box"] for b in boxes], float)
        ).max(axis=0)
    )
    assert best > 0.5

    body, _ = inference.output_fn(
        inference.predict_fn(
            inference.input_fn(json.dumps({"instances": [{**instance, "blur": True}]}), "application/json"), model
        ),
        "application/json",
    )
    blurred = json.loads(body)["predictions"][0]["pixels"]
    assert detector.decode_image(blurred, SIZE, SIZE).shape == (SIZE, SIZE)
    assert blurred != instance["pixels"]

    body, _ = inference.output_fn(
        inference.predict_fn(inference.input_fn(f"{SIZE},{SIZE},{instance['pixels']}\n", "text/csv"), model), "text/csv"
    )
    assert int(body.split(",")[0]) >= 1


def test_blur_smooths_inside_the_box_only():
    image = np.zeros((10, 10), dtype=np.uint8)
    image[::2, ::2] = 255
    out = detector.blur(image, [[0, 0, 5, 5]], radius=1)
    assert out[:5, :5].std() < image[:5, :5].std()
    assert (out[6:, 6:] == image[6:, 6:]).all()


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ('{"instances": [{"width": 2, "height": 2}]}', "application/json", "missing 'pixels'"),
        ('{"instances": [{"width": 2, "height": 2, "pixels": "AAAA"}]}', "application/json", "needs 4"),
        ("2,2\n", "text/csv", "expected width,height,pixels"),
        ("not json\n", "application/jsonlines", "line 1 is not JSON"),
    ],
)
def test_bad_requests_say_what_is_wrong(trained, body, content_type, message):
    model = inference.model_fn(str(trained[0]))
    model_testing.assert_rejected(inference, model, body, content_type, message)


def test_bad_training_data_names_the_record(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "part").write_text(
        json.dumps({"width": 2, "height": 2, "pixels": "AAAA", "boxes": "[]"}) + "\n"
    )
    assert (
        train.main(["--train-dir", str(tmp_path / "train"), "--model-dir", str(tmp_path / "m"), "--checkpoint-dir", ""])
        == 1
    )


def test_holds_out_test_images_without_a_test_channel(tmp_path):
    write_channel(tmp_path / "train", 20, 5)
    args = ["--train-dir", str(tmp_path / "train"), "--model-dir", str(tmp_path / "m"), "--checkpoint-dir", ""]
    assert train.main([*args, "--epochs", "2", "--test-fraction", "0.25"]) == 0
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert (metrics["train_images"], metrics["test_images"]) == (15, 5)
