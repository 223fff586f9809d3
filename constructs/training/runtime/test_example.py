"""Tests for the example training script and its inference handler, on synthetic data."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import random
import tarfile
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent / "example"


def _load(name: str, path: Path):
    # Loaded by path under a unique name: other constructs may ship scripts called train.py too.
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train = _load("training_example_train", EXAMPLE / "train.py")
inference = _load("training_example_inference", EXAMPLE / "inference.py")


def synthetic_rows(count: int, seed: int = 1) -> list[dict]:
    """A label that depends on two of three features (clicks_7d, ctr_7d), with noise; noise_feature is noise."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        clicks = rng.randint(0, 40)
        ctr = rng.random()
        noise = rng.gauss(0, 1)
        score = 0.15 * (clicks - 20) + 4 * (ctr - 0.5) + rng.gauss(0, 0.5)
        rows.append({"user_id": f"u{rng.randint(0, 10**6)}", "clicks_7d": clicks, "ctr_7d": ctr, "noise_feature": noise,
                     "clicked": score > 0})
    return rows


def write_json_lines_gz(directory: Path, rows: list[dict], parts: int = 2) -> None:
    """As Athena UNLOAD writes JSON: several gzipped JSON Lines files without an extension."""
    directory.mkdir(parents=True, exist_ok=True)
    for part in range(parts):
        with gzip.open(directory / f"20240101_000000_00001_abcde_part{part}", "wt", encoding="utf-8") as handle:
            for row in rows[part::parts]:
                handle.write(json.dumps(row) + "\n")


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def args_for(tmp_path: Path, *extra: str) -> list[str]:
    return ["--train-dir", str(tmp_path / "train"), "--model-dir", str(tmp_path / "model"),
            "--checkpoint-dir", str(tmp_path / "checkpoints"), "--label", "clicked", *extra]


def test_learns_the_synthetic_rule_and_writes_model_metrics_and_handler(tmp_path: Path) -> None:
    write_json_lines_gz(tmp_path / "train", synthetic_rows(600))
    assert train.main(args_for(tmp_path, "--features", "clicks_7d,ctr_7d,noise_feature")) == 0
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert set(metrics) == {"accuracy", "auc", "log_loss", "precision", "recall", "train_log_loss"}
    assert metrics["auc"] > 0.9
    assert metrics["accuracy"] > 0.8
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert model["features"] == ["clicks_7d", "ctr_7d", "noise_feature"]
    assert abs(model["weights"][2]) < min(abs(model["weights"][0]), abs(model["weights"][1]))
    assert (tmp_path / "model" / "code" / "inference.py").read_text() == (EXAMPLE / "inference.py").read_text()
    assert json.loads((tmp_path / "checkpoints" / "checkpoint.json").read_text())["epoch"] == 300


def test_reads_csv_with_a_header_and_a_validation_channel_and_picks_numeric_features(tmp_path: Path) -> None:
    rows = synthetic_rows(500, seed=3)
    write_csv(tmp_path / "train" / "part.csv", rows[:400])
    write_csv(tmp_path / "validation" / "part.csv", rows[400:])
    assert train.main(args_for(tmp_path, "--validation-dir", str(tmp_path / "validation"), "--epochs", "150")) == 0
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert model["features"] == ["clicks_7d", "ctr_7d", "noise_feature"]  # user_id is not numeric
    assert json.loads((tmp_path / "model" / "metrics.json").read_text())["auc"] > 0.85


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    rows = synthetic_rows(200, seed=5)
    features = ["clicks_7d", "ctr_7d"]
    xs, ys = train.to_matrix(rows, features, "clicked")
    uninterrupted = train.fit(xs, ys, features, 60, 0.5, 0.0)
    checkpoints = str(tmp_path / "checkpoints")
    train.fit(xs, ys, features, 30, 0.5, 0.0, checkpoints, checkpoint_every=10)  # "interrupted" at epoch 30
    assert json.loads((tmp_path / "checkpoints" / "checkpoint.json").read_text())["epoch"] == 30
    resumed = train.fit(xs, ys, features, 60, 0.5, 0.0, checkpoints, checkpoint_every=10)
    assert resumed["weights"] == pytest.approx(uninterrupted["weights"])
    assert resumed["bias"] == pytest.approx(uninterrupted["bias"])


def test_warm_state_keeps_the_previous_predictions_under_a_new_standardization() -> None:
    rows = synthetic_rows(300, seed=11)
    features = ["clicks_7d", "ctr_7d"]
    xs, ys = train.to_matrix(rows, features, "clicked")
    previous = train.fit(xs[:150], ys[:150], features, 80, 0.5, 0.0)
    means, stds = train.standardization(xs[150:])
    state = train.warm_state(previous, features, means, stds)
    continued = {**state, "means": means, "stds": stds}
    assert train.predict_proba(continued, xs) == pytest.approx(train.predict_proba(previous, xs))
    assert train.warm_state(previous, ["ctr_7d"], means[:1], stds[:1]) is None
    assert train.warm_state(None, features, means, stds) is None


def test_continues_from_the_previous_model_of_the_warm_start_channel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, later = tmp_path / "first", tmp_path / "later"
    write_json_lines_gz(first / "train", synthetic_rows(600, seed=21))
    assert train.main(args_for(first, "--features", "clicks_7d,ctr_7d")) == 0
    trained = json.loads((first / "model" / "metrics.json").read_text())
    # What the warm start channel receives: the model package's model.tar.gz.
    channel = tmp_path / "warm_start"
    channel.mkdir()
    with tarfile.open(channel / "model.tar.gz", "w:gz") as tar:
        for path in sorted((first / "model").rglob("*")):
            tar.add(path, arcname=str(path.relative_to(first / "model")), recursive=False)
    write_json_lines_gz(later / "train", synthetic_rows(600, seed=22))
    one_epoch = ["--features", "clicks_7d,ctr_7d", "--epochs", "1"]
    assert train.main(args_for(later, *one_epoch, "--warm-start-dir", str(channel))) == 0
    assert "warm start: continuing from the previous model" in capsys.readouterr().out
    warm = json.loads((later / "model" / "metrics.json").read_text())
    cold_dir = tmp_path / "cold"
    write_json_lines_gz(cold_dir / "train", synthetic_rows(600, seed=22))
    assert train.main(args_for(cold_dir, *one_epoch, "--warm-start-dir", str(tmp_path / "no-channel"))) == 0
    cold = json.loads((cold_dir / "model" / "metrics.json").read_text())
    assert warm["log_loss"] < trained["log_loss"] + 0.05
    assert warm["log_loss"] < cold["log_loss"] - 0.1


def test_auc_counts_ties_as_half() -> None:
    assert train.auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0
    assert train.auc([0, 1], [0.5, 0.5]) == 0.5
    assert train.auc([1, 1], [0.2, 0.3]) == 0.5


@pytest.mark.parametrize(
    ("line", "features", "message"),
    [
        (b"PAR1....", [], "is Parquet, which needs pyarrow"),
        (b'{"clicks_7d": 1, "clicked": "maybe"}', ["--features", "clicks_7d"], "is not a binary label"),
        (b'{"clicks_7d": "many", "clicked": 1}', ["--features", "clicks_7d"], "is not a number"),
        (b'{"clicks_7d": 1}', ["--features", "clicks_7d"], "missing clicked"),
        (b'{"clicked": 1}', [], "no numeric feature columns"),
        (b"", [], "no records"),
    ],
)
def test_fails_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: bytes, features: list[str], message: str
) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "part").write_bytes(b"\n".join([line] * 10))
    assert train.main(args_for(tmp_path, *features)) == 1
    assert message in capsys.readouterr().err


def test_inference_handler_serves_csv_and_json(tmp_path: Path) -> None:
    write_json_lines_gz(tmp_path / "train", synthetic_rows(400, seed=9))
    assert train.main(args_for(tmp_path, "--features", "clicks_7d,ctr_7d", "--epochs", "100")) == 0
    model = inference.model_fn(str(tmp_path / "model"))
    from_csv = inference.predict_fn(inference.input_fn(b"40,0.95\n0,0.05\n", "text/csv"), model)
    assert from_csv[0] > 0.9 > 0.1 > from_csv[1]
    body = json.dumps({"instances": [{"clicks_7d": 40, "ctr_7d": 0.95}, [0, 0.05]]})
    from_json = inference.predict_fn(inference.input_fn(body, "application/json; charset=utf-8"), model)
    assert from_json == pytest.approx(from_csv)
    text, content_type = inference.output_fn(from_json, "application/json")
    assert content_type == "application/json" and json.loads(text)["predictions"] == pytest.approx(from_csv)
    text, content_type = inference.output_fn(from_csv, "text/csv")
    assert content_type == "text/csv" and len(text.splitlines()) == 2
    with pytest.raises(ValueError, match="missing ctr_7d"):
        inference.predict_fn([{"clicks_7d": 1}], model)
    with pytest.raises(ValueError, match="unsupported content type"):
        inference.input_fn(b"", "application/x-parquet")
