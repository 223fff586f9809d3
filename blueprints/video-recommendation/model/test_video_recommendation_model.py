"""Trains both stages end to end on impressions with a planted taste signal, then serves the model."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from blueprint_scripts import load_script
from model_testing import assert_rejected

HERE = os.path.dirname(__file__)
train = load_script(HERE, "train.py")
inference = load_script(HERE, "inference.py")

CLUSTERS, VIDEOS_PER_CLUSTER, USERS, IMPRESSIONS_PER_USER = 5, 40, 300, 40
LANGUAGES = ["en", "es", "en", "fr", "es"]  # languages alone do not reveal the cluster


def video_cluster(video: int) -> int:
    return video // VIDEOS_PER_CLUSTER


def impressions(seed: int = 3) -> list:
    """Each user prefers one cluster of videos: watches 80% of those shown, 10% of the others."""
    rng = np.random.default_rng(seed)
    videos = CLUSTERS * VIDEOS_PER_CLUSTER
    lengths = rng.integers(20, 3600, videos)
    rows = []
    for user in range(USERS):
        taste, age = rng.integers(CLUSTERS), int(rng.integers(16, 70))
        device = ["mobile", "desktop", "tv"][user % 3]
        for _ in range(IMPRESSIONS_PER_USER):
            if rng.random() < 0.5:
                video = int(taste * VIDEOS_PER_CLUSTER + rng.integers(VIDEOS_PER_CLUSTER))
            else:
                video = int(rng.integers(videos))
            watched = rng.random() < (0.8 if video_cluster(video) == taste else 0.1)
            rows.append({
                "user_id": f"u{user}", "video_id": f"v{video}",
                "shown_at": f"2024-05-01 {int(rng.integers(100000)):06d}",
                "video_length_s": int(lengths[video]), "video_language": LANGUAGES[video_cluster(video)],
                "user_age": age, "device_type": device, "watched": int(watched), "score": 0.5,
            })
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    root = tmp_path_factory.mktemp("vrec")
    channel = root / "train"
    channel.mkdir()
    with open(channel / "part-0", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in impressions())
    model_dir = root / "model"
    args = ["--train-dir", str(channel), "--model-dir", str(model_dir), "--checkpoint-dir", str(root / "ckpt"),
            "--retrieval-epochs", "30", "--ranker-epochs", "15", "--batch-size", "128", "--dimensions", "16"]
    assert train.training_io.run(train.train, train.parser(), args) == 0
    with open(model_dir / "metrics.json", encoding="utf-8") as handle:
        metrics = json.load(handle)
    return str(model_dir), metrics, args, root


def test_retrieval_finds_held_out_watches_far_above_chance(trained: tuple) -> None:
    _, metrics, _, _ = trained
    chance = 10 / (CLUSTERS * VIDEOS_PER_CLUSTER)
    assert metrics["recall_at_10"] > 3 * chance, metrics
    assert metrics["recall_at_50"] > metrics["recall_at_10"]


def test_ranker_separates_watched_from_skipped(trained: tuple) -> None:
    _, metrics, _, _ = trained
    assert metrics["roc_auc"] > 0.75, metrics
    assert metrics["map_at_5"] > 0.5, metrics
    for name in ("precision_at_5", "ndcg_at_5", "log_loss", "recall_at_50"):
        assert np.isfinite(metrics[name])


def test_outputs_serving_code_and_index_embeddings(trained: tuple) -> None:
    model_dir, _, _, _ = trained
    code = set(os.listdir(os.path.join(model_dir, "code")))
    assert code == {"inference.py", "numpy_nn.py", "serving_io.py", "video_recommendation_model.py"}
    with open(os.path.join(model_dir, "video_embeddings.jsonl"), encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert len(lines) == CLUSTERS * VIDEOS_PER_CLUSTER
    assert len(lines[0]["embedding"]) == 16


def test_resumes_retrieval_from_checkpoint(trained: tuple, tmp_path: str) -> None:
    _, metrics, args, root = trained
    assert os.path.isfile(root / "ckpt" / "retrieval.npz")
    again = [*args]
    again[again.index("--model-dir") + 1] = str(tmp_path)
    assert train.training_io.run(train.train, train.parser(), again) == 0
    with open(os.path.join(tmp_path, "metrics.json"), encoding="utf-8") as handle:
        resumed = json.load(handle)
    assert "retrieval_loss" not in resumed
    assert resumed["recall_at_10"] == pytest.approx(metrics["recall_at_10"])


def serve(model: object, body: str, content_type: str = "application/json", accept: str = "application/json") -> str:
    return inference.output_fn(inference.predict_fn(inference.input_fn(body, content_type), model), accept)


def test_serves_user_embeddings_and_ranks_candidates(trained: tuple) -> None:
    model = inference.model_fn(trained[0])
    history = [f"v{v}" for v in range(5)]  # cluster 0
    user = {"user_age": 30, "device_type": "mobile", "history": history}
    body, kind = serve(model, json.dumps({"instances": [user]}))
    assert kind == "application/json"
    embedding = json.loads(body)["predictions"][0]["embedding"]
    assert len(embedding) == 16

    candidates = [{**user, "video_id": f"v{v}", "video_length_s": 300, "video_language": LANGUAGES[video_cluster(v)]}
                  for v in (10, 20, 90, 130, 170, 35)]
    body, _ = serve(model, json.dumps({"instances": candidates}))
    scores = {p["video_id"]: p["score"] for p in json.loads(body)["predictions"]}
    in_taste = min(scores["v10"], scores["v20"], scores["v35"])
    assert in_taste > max(scores["v90"], scores["v130"], scores["v170"]), scores

    rows = "30,mobile,v1|v2|v3,v10,300,en\n30,mobile,v1|v2|v3,v170,300,es\n"
    csv_body, kind = serve(model, rows, "text/csv", "text/csv")
    assert kind == "text/csv"
    assert len(csv_body.strip().splitlines()) == 2
    embedded, _ = serve(model, "30,mobile,v1|v2\n", "text/csv", "text/csv")
    assert len(embedded.strip().split(",")) == 16


def test_embeds_catalogue_videos_for_the_index_and_the_user_vector_retrieves_them(trained: tuple) -> None:
    # The daily indexing transform sends catalogue rows as JSON Lines, without user fields.
    model = inference.model_fn(trained[0])
    videos = (10, 20, 35, 90, 130, 170)
    rows = [{"video_id": f"v{v}", "video_length_s": 300, "video_language": LANGUAGES[video_cluster(v)]} for v in videos]
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    body, kind = serve(model, lines, "application/jsonlines", "application/jsonlines")
    assert kind == "application/jsonlines"
    indexed = {p["video_id"]: np.asarray(p["embedding"]) for p in map(json.loads, body.splitlines())}
    assert sorted(indexed) == sorted(f"v{v}" for v in videos) and all(len(v) == 16 for v in indexed.values())
    user, _ = serve(model, json.dumps({"instances": [{"user_age": 30, "device_type": "mobile",
                                                      "history": [f"v{v}" for v in range(5)]}]}))
    query = np.asarray(json.loads(user)["predictions"][0]["embedding"])
    ranked = sorted(indexed, key=lambda v: -float(indexed[v] @ query))
    # The user's cluster comes first, as the inner-product ANN search over the index would rank it.
    assert set(ranked[:3]) == {"v10", "v20", "v35"}, ranked


def test_history_as_the_feature_store_holds_it(trained: tuple) -> None:
    # The request path sends the watch_history feature as it is stored: ids separated by |.
    model = inference.model_fn(trained[0])
    listed = {"user_age": 30, "device_type": "mobile", "history": ["v1", "v2"]}
    stored = {"user_age": "30", "device_type": "mobile", "history": "v1|v2"}
    as_list, _ = serve(model, json.dumps({"instances": [listed]}))
    as_text, _ = serve(model, json.dumps({"instances": [stored]}))
    assert json.loads(as_list) == json.loads(as_text)


def test_unknown_ids_still_get_scores(trained: tuple) -> None:
    model = inference.model_fn(trained[0])
    body, _ = serve(model, json.dumps([{"user_age": 22, "device_type": "vr-headset", "history": ["nope"],
                                        "video_id": "fresh-upload", "video_length_s": 42, "video_language": "pt"}]))
    score = json.loads(body)["predictions"][0]["score"]
    assert 0.0 <= score <= 1.0


@pytest.mark.parametrize(("body", "content_type", "message"), [
    ("{}", "application/json", "instances"),
    ('{"instances": []}', "application/json", "no instances"),
    ('{"instances": [{"device_type": "tv"}]}', "application/json", "user_age"),
    ('{"instances": [{"user_age": "old", "device_type": "tv"}]}', "application/json", "must be a number"),
    ('{"instances": [{"user_age": 3, "device_type": "tv", "history": 7}]}', "application/json", "history"),
    ('{"instances": [{"user_age": 3, "device_type": "tv", "video_id": "v1"}]}', "application/json", "video_length_s"),
    ("1,2\n", "text/csv", "expected 3 values"),
    ("x", "application/xml", "unsupported content type"),
])
def test_rejects_bad_requests(trained: tuple, body: str, content_type: str, message: str) -> None:
    model = inference.model_fn(trained[0])
    assert_rejected(inference, model, body, content_type, message)


def test_fails_clearly_without_required_columns(tmp_path: str) -> None:
    channel = os.path.join(tmp_path, "train")
    os.makedirs(channel)
    with open(os.path.join(channel, "part-0"), "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"user_id": "u1", "video_id": "v1"}) + "\n")
    code = train.training_io.run(train.train, train.parser(), ["--train-dir", channel, "--model-dir", str(tmp_path)])
    assert code == 1
