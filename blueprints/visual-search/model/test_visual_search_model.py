"""Tests of the visual search model: contrastive training end to end, then serving."""

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
model = load_script(HERE, "visual_search_model.py")

DIMENSIONS = 16
COLUMNS = [f"d{i:02d}" for i in range(DIMENSIONS)]


def synthetic(seed: int = 0, images: int = 400, queries: int = 150) -> tuple:
    """Images with a planted identity (a 6-d content latent seen through a fixed mixing) and,
    per photo, a large brightness/colour shift per block of 4 components plus noise: raw cosine
    similarity is dominated by the shifts, which the augmentations teach the encoder to ignore."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(0, 1, (6, DIMENSIONS))
    content = rng.normal(0, 1, (images, 6))

    def photo(latent):
        x = latent @ mixing
        shifts = rng.normal(0, 2.0, (latent.shape[0], DIMENSIONS // 4))
        return x + np.repeat(shifts, 4, axis=1) + rng.normal(0, 0.2, x.shape)

    catalogue = photo(content)
    picked = rng.choice(images, queries, replace=False)
    query = photo(content[picked])
    catalogue_rows = [
        {"image_id": f"img-{i}", **dict(zip(COLUMNS, map(float, row)))} for i, row in enumerate(catalogue)
    ]
    click_rows = [
        {
            "clicked_image_id": f"img-{i}",
            "descriptor_norm": float(np.linalg.norm(row)),
            **dict(zip(COLUMNS, map(float, row))),
        }
        for i, row in zip(picked, query)
    ]
    return catalogue_rows, click_rows


def write_channel(directory, rows, gzipped=True) -> str:
    return model_testing.write_channel(directory, rows, gzipped=gzipped)  # as Athena UNLOAD writes it


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("visual")
    catalogue, clicks = synthetic()
    train_dir = write_channel(root / "train", catalogue)
    test_dir = write_channel(root / "test", clicks, gzipped=False)
    model_dir = str(root / "model")
    code = train.job.run(
        train.train,
        train.parser(),
        [
            "--train-dir",
            train_dir,
            "--test-dir",
            test_dir,
            "--model-dir",
            model_dir,
            "--checkpoint-dir",
            str(root / "checkpoints"),
            "--epochs",
            "60",
        ],
    )
    assert code == 0
    with open(os.path.join(model_dir, "metrics.json"), encoding="utf-8") as handle:
        return model_dir, json.load(handle), catalogue, clicks, root


def test_learned_embeddings_beat_raw_descriptors(trained):
    _, metrics, *_ = trained
    # 400 images: a random ranking finds the click in the top 10 2.5% of the time.
    assert metrics["recall_at_10"] > 0.65
    assert metrics["recall_at_10"] > metrics["baseline_recall_at_10"] + 0.15
    assert metrics["mrr"] > metrics["baseline_mrr"] + 0.1
    for name in ("recall_at_1", "ndcg_at_10", "precision_at_10", "map_at_10", "final_loss"):
        assert name in metrics
    assert metrics["catalogue_images"] == 400 and metrics["test_queries"] == 150


def test_outputs_serving_code_and_checkpoint(trained):
    model_dir, _, _, _, root = trained
    assert set(os.listdir(os.path.join(model_dir, "code"))) == {
        "inference.py",
        "numpy_nn.py",
        "serving_io.py",
        "visual_search_model.py",
    }
    assert os.path.isfile(os.path.join(model_dir, "model.npz"))
    progress = json.loads((root / "checkpoints" / "progress.json").read_text())
    assert progress["epochs_done"] == 60


def test_resumes_from_checkpoint(trained, tmp_path):
    _, metrics, catalogue, clicks, root = trained
    model_dir = str(tmp_path / "model")
    args = [
        "--train-dir",
        str(root / "train"),
        "--test-dir",
        str(root / "test"),
        "--model-dir",
        model_dir,
        "--checkpoint-dir",
        str(root / "checkpoints"),
        "--epochs",
        "60",
    ]
    assert train.job.run(train.train, train.parser(), args) == 0
    resumed = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert resumed["recall_at_10"] == pytest.approx(metrics["recall_at_10"])


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (6, 5))
    encoder = model.ImageEncoder.initialize(np.zeros(5), np.ones(5), 7, 4, seed=1, config={})
    views = x + rng.normal(0, 0.1, x.shape)

    def loss():
        za, _ = encoder.forward(x)
        zb, _ = encoder.forward(views)
        return model.info_nce(za, zb, 0.5)[0]

    za, cache_a = encoder.forward(x)
    zb, cache_b = encoder.forward(views)
    _, dza, dzb = model.info_nce(za, zb, 0.5)
    ga, gb = encoder.backward(dza, cache_a), encoder.backward(dzb, cache_b)
    for name in encoder.trainable:
        analytic = ga[name] + gb[name]
        param = encoder.params[name]
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(analytic)), param.shape))
        numeric = model_testing.numeric_gradient(loss, param, [index], eps=1e-6)[index]
        assert numeric == pytest.approx(analytic[index], rel=1e-4, abs=1e-8)


def test_serves_json_csv_and_json_lines(trained):
    model_dir, _, catalogue, clicks, _ = trained
    encoder = inference.model_fn(model_dir)
    query = {c: clicks[0][c] for c in COLUMNS}
    body, content_type = inference.output_fn(
        inference.predict_fn(inference.input_fn(json.dumps({"instances": [query]}), "application/json"), encoder),
        "application/json",
    )
    assert content_type == "application/json"
    prediction = json.loads(body)["predictions"][0]
    assert len(prediction["embedding"]) == 32
    assert np.linalg.norm(prediction["embedding"]) == pytest.approx(1.0, abs=1e-4)
    assert prediction["descriptor_norm"] == pytest.approx(clicks[0]["descriptor_norm"], abs=1e-5)

    csv_body = ",".join(str(clicks[0][c]) for c in COLUMNS) + "\n"
    csv_out, csv_type = inference.output_fn(
        inference.predict_fn(inference.input_fn(csv_body, "text/csv"), encoder), "text/csv"
    )
    assert csv_type == "text/csv"
    assert [float(v) for v in csv_out.strip().split(",")] == pytest.approx(prediction["embedding"], abs=1e-5)

    lines = "".join(json.dumps({c: row[c] for c in COLUMNS}) + "\n" for row in catalogue[:3])
    out, kind = inference.output_fn(
        inference.predict_fn(inference.input_fn(lines.encode(), "application/jsonlines"), encoder),
        "application/jsonlines",
    )
    assert kind == "application/jsonlines"
    assert len(out.strip().splitlines()) == 3

    # The query's nearest catalogue image is found by cosine similarity of the served embeddings.
    catalogue_embeddings = encoder.embed(np.array([[row[c] for c in COLUMNS] for row in catalogue]))
    top = np.argsort(-(catalogue_embeddings @ np.array(prediction["embedding"])))[:10]
    assert clicks[0]["clicked_image_id"] in {catalogue[i]["image_id"] for i in top}


def test_serves_the_request_paths_single_instance(trained):
    # The serving path's embed stage sends its one instance as a bare JSON object.
    encoder = inference.model_fn(trained[0])
    query = {c: trained[3][0][c] for c in COLUMNS}

    def serve(body):
        return json.loads(inference.output_fn(inference.predict_fn(inference.input_fn(body), encoder))[0])

    assert serve(json.dumps(query)) == serve(json.dumps({"instances": [query]}))
    assert len(serve(json.dumps(query).encode())["predictions"]) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ('{"instances": [{"d00": 1}]}', "application/json", "missing d01"),
        ('{"d00": 1}', "application/json", "missing d01"),
        ('{"instances": [[1, 2]]}', "application/json", "expected 16 descriptor values"),
        (
            '{"instances": [{' + ", ".join(f'"{c}": "x"' for c in COLUMNS) + "}]}",
            "application/json",
            "d00 is not a number",
        ),
        ('{"instances": []}', "application/json", "no instances"),
        ("not json", "application/json", "not JSON"),
        ("a,b", "text/plain", "unsupported content type"),
    ],
)
def test_bad_requests_are_explained(trained, body, content_type, message):
    encoder = inference.model_fn(trained[0])
    model_testing.assert_rejected(inference, encoder, body, content_type, message)


def test_bad_data_fails_with_the_reason(tmp_path):
    catalogue, clicks = synthetic(images=20, queries=5)
    train_dir = write_channel(tmp_path / "train", [{"image_id": "x", "d00": 1.0}])
    test_dir = write_channel(tmp_path / "test", clicks)
    args = [
        "--train-dir",
        train_dir,
        "--test-dir",
        test_dir,
        "--model-dir",
        str(tmp_path / "model"),
        "--checkpoint-dir",
        "",
    ]
    with pytest.raises(train.job.DataError, match="train record 0: missing d01"):
        train.train(train.parser().parse_args(args))
    train_dir = write_channel(tmp_path / "train2", catalogue)
    test_dir = write_channel(tmp_path / "test2", [{**clicks[0], "clicked_image_id": "unknown"}])
    args = [
        "--train-dir",
        train_dir,
        "--test-dir",
        test_dir,
        "--model-dir",
        str(tmp_path / "model"),
        "--checkpoint-dir",
        "",
    ]
    assert train.job.run(train.train, train.parser(), args) == 1
