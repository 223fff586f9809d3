"""End to end: train the DCN on a synthetic impression log with planted crosses, continue it, serve it."""

from __future__ import annotations

import datetime as dt
import json
import os
import tarfile

import numpy as np
import pytest
from blueprint_scripts import load_script
from model_testing import assert_rejected

HERE = os.path.dirname(__file__)
train = load_script(HERE, "train.py")
inference = load_script(HERE, "inference.py")
dcn = load_script(HERE, "ad_click_prediction_model.py")

CATEGORIES = ["travel", "games", "finance", "fashion", "food"]
SEGMENTS = [f"s{i}" for i in range(8)]


def synthetic_log(seed: int = 5, rows: int = 40000, start: dt.datetime = dt.datetime(2024, 5, 1)) -> list:
    """Clicks depend on a segment × category cross, the advertiser, the ad's CTR, the user's activity and the hour."""
    world = np.random.default_rng(42)  # the same advertisers and tastes in every sample
    advertiser_quality = world.normal(0, 0.6, 40)
    affinity = world.normal(0, 1.6, (len(SEGMENTS), len(CATEGORIES)))
    rng = np.random.default_rng(seed)
    log = []
    for i in range(rows):
        advertiser = int(rng.integers(40))
        campaign = advertiser * 3 + int(rng.integers(3))
        category = int(rng.integers(len(CATEGORIES)))
        segment = int(rng.integers(len(SEGMENTS)))
        ad_ctr = float(rng.beta(2, 60))
        clicks = int(rng.poisson(2))
        impressions = clicks * 20 + int(rng.poisson(80))
        hour = int(rng.integers(24))
        z = (-3.6 + 1.3 * affinity[segment, category] + advertiser_quality[advertiser] + 25 * (ad_ctr - 0.032)
             + 0.25 * clicks + (0.4 if 18 <= hour <= 22 else 0.0))
        log.append({
            "ad_id": f"ad{campaign}-{int(rng.integers(5))}", "advertiser_id": f"adv{advertiser}",
            "campaign_id": f"c{campaign}", "ad_category": CATEGORIES[category], "user_segment": SEGMENTS[segment],
            "ad_ctr_7d": round(ad_ctr, 5),
            "advertiser_ctr_30d": round(float(np.clip(0.03 + 0.01 * advertiser_quality[advertiser], 0.001, 1)), 5),
            "user_clicks_7d": clicks, "user_impressions_7d": impressions, "hour_of_day": hour,
            "impression_time": (start + dt.timedelta(minutes=i // 10)).strftime("%Y-%m-%d %H:00:00.000"),
            "clicked": int(rng.random() < 1 / (1 + np.exp(-z)))
        })
    return log


def write_channel(directory, rows) -> str:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "part-0000"), "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return str(directory)


SMALL = ["--hash-buckets", "4096", "--epochs", "2", "--batch-size", "128", "--learning-rate", "0.01", "--l2", "0.001",
         "--deep-layers", "32,16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("adctr")
    train_dir = write_channel(base / "train", synthetic_log())
    model_dir = str(base / "model")
    code = train.training_io.run(train.train, train.parser(), [
        "--train-dir", train_dir, "--model-dir", model_dir, "--checkpoint-dir", str(base / "checkpoints"), *SMALL,
    ])
    assert code == 0
    with open(os.path.join(model_dir, "metrics.json"), encoding="utf-8") as handle:
        return {"base": base, "train_dir": train_dir, "model_dir": model_dir, "metrics": json.load(handle)}


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    config = dcn.new_config(rng.normal(size=(20, len(dcn.DENSE_FEATURES))), hash_buckets=64, embedding_dim=3,
                            cross_layers=2, deep_layers=[5, 4])
    model = dcn.DeepCrossNetwork(config, seed=1)
    ids = rng.integers(0, 64, (16, len(dcn.SPARSE_FIELDS)))
    dense = rng.normal(size=(16, len(dcn.DENSE_FEATURES)))
    y = (rng.random(16) < 0.4).astype(float)
    _, grads = model.loss_and_gradients(ids, dense, y, l2=0.01)
    rows, row_grads = grads["embeddings"]
    checks = [("cross_w0", (1, 2)), ("cross_w1", (3, 0)), ("cross_b1", (4,)), ("deep_w0", (2, 1)), ("deep_b1", (0,)),
              ("out_w", (5,)), ("out_b", (0,)), ("embeddings", (int(rows[0]), 1))]
    for name, index in checks:
        analytic = row_grads[0, 1] if name == "embeddings" else grads[name][index]
        saved = model.params[name][index]
        model.params[name][index] = saved + 1e-5
        up = model.loss_and_gradients(ids, dense, y, l2=0.01)[0]
        model.params[name][index] = saved - 1e-5
        down = model.loss_and_gradients(ids, dense, y, l2=0.01)[0]
        model.params[name][index] = saved
        assert analytic == pytest.approx((up - down) / 2e-5, rel=1e-3, abs=1e-7), name


def test_beats_the_base_rate(trained):
    metrics = trained["metrics"]
    assert metrics["normalized_cross_entropy"] < 0.9  # the quality gate's metric: below 1 beats the prior
    assert metrics["roc_auc"] > 0.75
    assert abs(metrics["predicted_ctr"] - metrics["observed_ctr"]) < 0.03  # calibrated
    assert {"log_loss", "observed_ctr", "predicted_ctr"} <= set(metrics)


def test_writes_the_serving_code(trained):
    code = set(os.listdir(os.path.join(trained["model_dir"], "code")))
    assert {"inference.py", "ad_click_prediction_model.py", "serving_io.py"} <= code
    assert {"model.json", "model.npz", "metrics.json"} <= set(os.listdir(trained["model_dir"]))


def test_continual_learning_starts_from_the_last_model(trained, tmp_path):
    next_hour = synthetic_log(seed=9, rows=10000, start=dt.datetime(2024, 5, 2))
    train_dir = write_channel(tmp_path / "train", next_hour)
    before = dcn.DeepCrossNetwork.load(trained["model_dir"])
    metrics = train.train(train.parser().parse_args([
        "--train-dir", train_dir, "--model-dir", str(tmp_path / "model"), "--checkpoint-dir", "",
        "--warm-start-dir", trained["model_dir"], "--epochs", "1", "--batch-size", "128", "--l2", "0.001",
        "--window-days", "1",
    ]))
    assert metrics["warm_started"] == 1.0
    assert metrics["optimizer_steps"] > before.step
    assert metrics["normalized_cross_entropy"] < 0.9
    after = dcn.DeepCrossNetwork.load(str(tmp_path / "model"))
    assert after.config["dense_mean"] == before.config["dense_mean"]  # the first model's standardization is kept


def test_continues_from_the_model_tar_gz_the_warm_start_channel_carries(trained, tmp_path):
    # GpuTrainingJob's warmStart hands the newest model package's model.tar.gz to the channel.
    channel = tmp_path / "warm_start"
    channel.mkdir()
    with tarfile.open(channel / "model.tar.gz", "w:gz") as archive:
        for name in sorted(os.listdir(trained["model_dir"])):
            archive.add(os.path.join(trained["model_dir"], name), arcname=name)
    train_dir = write_channel(tmp_path / "train", synthetic_log(seed=11, rows=4000, start=dt.datetime(2024, 5, 2)))
    metrics = train.train(train.parser().parse_args([
        "--train-dir", train_dir, "--model-dir", str(tmp_path / "model"), "--checkpoint-dir", "",
        "--warm-start-dir", str(channel), "--epochs", "1", "--batch-size", "128", "--window-days", "1",
    ]))
    assert metrics["warm_started"] == 1.0


def test_resumes_from_its_checkpoint(trained):
    before = dcn.DeepCrossNetwork.load(trained["model_dir"])
    metrics = train.train(train.parser().parse_args([
        "--train-dir", trained["train_dir"], "--model-dir", str(trained["base"] / "resumed"),
        "--checkpoint-dir", str(trained["base"] / "checkpoints"), *SMALL,
    ]))
    assert metrics["optimizer_steps"] == before.step  # every epoch was already in the checkpoint


def candidate(ad_id, **overrides):
    base = {"ad_id": ad_id, "advertiser_id": "adv1", "campaign_id": "c3", "ad_category": "travel", "user_segment": "s1",
            "ad_ctr_7d": 0.03, "advertiser_ctr_30d": 0.03, "user_clicks_7d": 2, "user_impressions_7d": 100,
            "hour_of_day": 20}
    return {**base, **overrides}


def test_serves_click_probabilities(trained):
    model = inference.model_fn(trained["model_dir"])
    body = json.dumps({"instances": [
        candidate("hot", ad_ctr_7d=0.09, user_clicks_7d=8),
        candidate("cold", ad_ctr_7d=0.005),
        candidate("new-ad", campaign_id="never-seen"),
    ]})
    predictions = inference.predict_fn(inference.input_fn(body, "application/json"), model)
    response, content_type = inference.output_fn(predictions, "application/json")
    assert content_type == "application/json"
    predictions = json.loads(response)["predictions"]
    assert [p["ad_id"] for p in predictions] == ["hot", "cold", "new-ad"]
    assert all(0 < p["click_probability"] < 1 for p in predictions)
    assert predictions[0]["click_probability"] > predictions[1]["click_probability"]


def test_serves_what_the_request_path_sends(trained):
    # The candidate's id, the ad's statistics and the user's engagement as the feature store's strings.
    model = inference.model_fn(trained["model_dir"])
    stored = {k: str(v) for k, v in candidate("a1").items() if k != "ad_id"}
    sent = {"id": "a1", **stored}
    served = inference.predict_fn(inference.input_fn(json.dumps({"instances": [sent]}), "application/json"), model)
    direct = inference.predict_fn([candidate("a1")], model)
    assert served == direct
    assert served[0]["ad_id"] == "a1"
    # A user without an engagement record: no clicks or impressions, an unknown segment.
    new_user = {k: v for k, v in sent.items() if k not in ("user_segment", "user_clicks_7d", "user_impressions_7d")}
    defaults = {**sent, "user_segment": "unknown", "user_clicks_7d": 0, "user_impressions_7d": 0}
    assert inference.predict_fn(inference.input_fn(json.dumps([new_user]), "application/json"), model) == \
        inference.predict_fn(inference.input_fn(json.dumps([defaults]), "application/json"), model)
    # Part of a record is not a new user: the missing feature is still an error.
    partial = {k: v for k, v in sent.items() if k != "user_clicks_7d"}
    with pytest.raises(ValueError, match="missing user_clicks_7d"):
        inference.predict_fn(inference.input_fn(json.dumps([partial]), "application/json"), model)


def test_serves_csv(trained):
    model = inference.model_fn(trained["model_dir"])
    lines = [",".join(str(c[k]) for k in inference.COLUMNS) for c in (candidate("a"), candidate("b", hour_of_day=3))]
    predictions = inference.predict_fn(inference.input_fn("\n".join(lines), "text/csv"), model)
    body, content_type = inference.output_fn(predictions, "text/csv")
    assert content_type == "text/csv"
    assert len(body.strip().splitlines()) == 2


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ('{"instances": [{"ad_id": "a1"}]}', "application/json", "missing advertiser_id"),
        ('{"instances": []}', "application/json", "no ad candidates"),
        ("{", "application/json", "not JSON"),
        ("a,b,c\n", "text/csv", "expected 10 values"),
        ('{"instances": [7]}', "application/json", "expected an object"),
        ("x", "text/plain", "unsupported content type"),
    ],
)
def test_rejects_bad_requests(trained, body, content_type, message):
    model = inference.model_fn(trained["model_dir"])
    assert_rejected(inference, model, body, content_type, message)


def test_rejects_non_numeric_statistics(trained):
    model = inference.model_fn(trained["model_dir"])
    with pytest.raises(ValueError, match="ad_ctr_7d 'high' is not a number"):
        inference.predict_fn([candidate("a", ad_ctr_7d="high")], model)


def test_bad_training_data_fails_with_a_reason(tmp_path):
    rows = synthetic_log(rows=200)
    rows[3]["clicked"] = 2
    code = train.training_io.run(train.train, train.parser(), [
        "--train-dir", write_channel(tmp_path / "train", rows), "--model-dir", str(tmp_path / "model"),
        "--checkpoint-dir", "",
    ])
    assert code == 1
