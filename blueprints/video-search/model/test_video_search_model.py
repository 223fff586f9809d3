"""Tests of the video search model: two-tower contrastive training end to end, then serving."""

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
model = load_script(HERE, "video_search_model.py")

FRAME_WIDTH = 16


def synthetic(seed: int = 0, videos: int = 300, pairs: int = 2400) -> tuple:
    """Videos with a planted 8-d topic latent seen through their frames (noisy, 6 frames each),
    and queries of 3 words drawn with probability rising with each word's affinity to the latent."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(0, 1, (8, FRAME_WIDTH))
    latent = rng.normal(0, 1, (videos, 8))
    words = rng.normal(0, 1, (150, 8))
    video_rows = [
        {
            "video_id": f"v{v}",
            "frame_features": json.dumps((latent[v] @ mixing + rng.normal(0, 1, (6, FRAME_WIDTH))).round(5).tolist()),
        }
        for v in range(videos)
    ]
    pair_rows = []
    for _ in range(pairs):
        v = int(rng.integers(videos))
        p = np.exp(3 * words @ latent[v])
        chosen = rng.choice(len(words), 3, p=p / p.sum())
        pair_rows.append(
            {"query_text": " ".join(f"Word{i}" for i in chosen), "query_language": "en", "video_id": f"v{v}"}
        )
    return pair_rows, video_rows


def write_channel(directory, rows) -> str:
    return model_testing.write_channel(directory, rows, gzipped=True)  # as Athena UNLOAD writes it


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    pairs, videos = synthetic()
    args = [
        "--train-dir",
        write_channel(root / "train", pairs),
        "--videos-dir",
        write_channel(root / "videos", videos),
        "--model-dir",
        str(root / "model"),
        "--checkpoint-dir",
        str(root / "checkpoints"),
        "--buckets",
        "4096",
    ]
    assert train.job.run(train.train, train.parser(), args) == 0
    with open(root / "model" / "metrics.json", encoding="utf-8") as handle:
        return str(root / "model"), json.load(handle), videos, pairs, root, args


def test_learned_towers_retrieve_the_watched_video(trained):
    _, metrics, *_ = trained
    # 300 videos: a random ranking finds the watched video in the top 10 3.3% of the time.
    assert metrics["random_recall_at_10"] == pytest.approx(10 / 300)
    assert metrics["recall_at_10"] > 0.6
    assert metrics["mrr"] > 0.3
    assert metrics["test_pairs"] == 240 and metrics["train_pairs"] == 2160
    for name in ("recall_at_1", "ndcg_at_10", "precision_at_10", "map_at_10", "final_loss"):
        assert name in metrics


def test_outputs_serving_code_and_resumes(trained, tmp_path):
    model_dir, metrics, _, _, root, args = trained
    assert set(os.listdir(os.path.join(model_dir, "code"))) == {
        "inference.py",
        "numpy_nn.py",
        "serving_io.py",
        "video_search_model.py",
    }
    assert json.loads((root / "checkpoints" / "progress.json").read_text())["epochs_done"] == 30
    resumed_args = [*args[:5], str(tmp_path / "model"), *args[6:]]
    assert train.job.run(train.train, train.parser(), resumed_args) == 0
    assert json.loads((tmp_path / "model" / "metrics.json").read_text())["recall_at_10"] == pytest.approx(
        metrics["recall_at_10"]
    )


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    config = {"embedding_dimensions": 4, "buckets": 11}
    encoder = model.TwoTowerEncoder.initialize(np.zeros(5), np.ones(5), config, seed=3)
    ids = [[1, 2, 2], [3], [4, 5, 9], [0, 7]]
    frames = rng.normal(0, 1, (4, 5))

    def loss():
        return model.info_nce(encoder.text_forward(ids)[0], encoder.video_forward(frames)[0], 0.5)[0]

    zt, ct = encoder.text_forward(ids)
    zv, cv = encoder.video_forward(frames)
    _, dzt, dzv = model.info_nce(zt, zv, 0.5)
    analytic = {"table": encoder.text_backward(dzt, ct), "projection": encoder.video_backward(dzv, cv)}
    for name, grad in analytic.items():
        param = encoder.params[name]
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(grad)), param.shape))
        numeric = model_testing.numeric_gradient(loss, param, [index], eps=1e-6)[index]
        assert numeric == pytest.approx(grad[index], rel=1e-4, abs=1e-8)


def test_serves_queries_and_videos(trained):
    model_dir, _, videos, pairs, *_ = trained
    encoder = inference.model_fn(model_dir)
    request = {
        "instances": [
            {"query_text": pairs[0]["query_text"], "query_language": "en"},
            {"frame_features": videos[0]["frame_features"]},
        ]
    }
    body, kind = inference.output_fn(
        inference.predict_fn(inference.input_fn(json.dumps(request), "application/json"), encoder), "application/json"
    )
    assert kind == "application/json"
    query, video = json.loads(body)["predictions"]
    assert query["query_token_count"] == 3 and video["frame_count"] == 6
    for prediction in (query, video):
        assert len(prediction["embedding"]) == 32
        assert np.linalg.norm(prediction["embedding"]) == pytest.approx(1.0, abs=1e-4)

    csv_out, csv_kind = inference.output_fn(
        inference.predict_fn(inference.input_fn(f'"{pairs[0]["query_text"]}",en\n', "text/csv"), encoder), "text/csv"
    )
    assert csv_kind == "text/csv"
    assert [float(v) for v in csv_out.strip().split(",")] == pytest.approx(query["embedding"], abs=1e-5)

    lines = "".join(json.dumps({"frame_features": v["frame_features"]}) + "\n" for v in videos[:4])
    out, kind = inference.output_fn(
        inference.predict_fn(inference.input_fn(lines, "application/jsonlines"), encoder), "application/jsonlines"
    )
    assert kind == "application/jsonlines" and len(out.strip().splitlines()) == 4


def test_serves_the_request_paths_single_query(trained):
    # The serving path's embed stage sends its one instance as a bare JSON object, without
    # query_language when the caller did not send one.
    encoder = inference.model_fn(trained[0])
    text = trained[3][0]["query_text"]

    def serve(body):
        return json.loads(inference.output_fn(inference.predict_fn(inference.input_fn(body), encoder))[0])

    query = {"query_text": text, "query_language": "en"}
    assert serve(json.dumps(query)) == serve(json.dumps({"instances": [query]}))
    assert serve(json.dumps({"query_text": text}).encode()) == serve(json.dumps({"instances": [{"query_text": text}]}))
    bare = json.dumps({"query_text": "!!"})
    model_testing.assert_rejected(inference, encoder, bare, "application/json", "letter or digit")


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([{"title": "x"}], "missing 'query_text' or 'frame_features'"),
        ([{"query_text": "!!"}], "at least one letter or digit"),
        ([{"query_text": "cats", "query_language": 3}], "query_language must be a string"),
        ([{"frame_features": [[1.0, 2.0]]}], "each frame must have 16 features"),
        ([{"frame_features": "[[1, "}], "not JSON"),
        (["cats"], "expected an object"),
        ([], "no instances"),
    ],
)
def test_bad_requests_are_explained(trained, instances, message):
    encoder = inference.model_fn(trained[0])
    model_testing.assert_rejected(inference, encoder, json.dumps({"instances": instances}), "application/json", message)


def test_bad_data_fails_with_the_reason(tmp_path):
    pairs, videos = synthetic(videos=20, pairs=50)
    args = [
        "--train-dir",
        write_channel(tmp_path / "train", pairs),
        "--videos-dir",
        write_channel(tmp_path / "videos", [{"video_id": "v0", "frame_features": "[[1, 2], [3]]"}]),
        "--model-dir",
        str(tmp_path / "model"),
        "--checkpoint-dir",
        "",
    ]
    with pytest.raises(train.job.DataError, match="videos record 0: frame_features must be"):
        train.train(train.parser().parse_args(args))
    args[3] = write_channel(tmp_path / "videos2", videos)
    args[1] = write_channel(tmp_path / "train2", [{**p, "video_id": "unknown"} for p in pairs])
    assert train.job.run(train.train, train.parser(), args) == 1
