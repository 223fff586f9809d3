"""Tests for drift.py, on data the tests make (seeded random.Random, so every run sees the same data)."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import math
import random
from pathlib import Path
from typing import Any

import drift  # the runtime folder is put on sys.path by conftest.py
import pytest

MODEL = "ctr"
FEATURES = {"amount": "numeric", "tenure": "numeric", "country": "categorical"}
COUNTRIES = ["de", "fr", "nl", "it", "es"]
WEIGHTS = [0.4, 0.25, 0.15, 0.12, 0.08]
SHIFTED_WEIGHTS = [0.1, 0.15, 0.15, 0.2, 0.4]
END = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
END_TEXT = "2024-05-01T10:00:00.123Z"


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def sample(rng: random.Random, mean: float = 50.0, weights: list[float] = WEIGHTS,
           score_shift: float = 0.0) -> dict[str, Any]:
    amount = rng.gauss(mean, 10)
    return {
        "amount": round(amount, 2),
        "tenure": int(rng.expovariate(1 / 3)),  # few distinct values: ties in the quantile edges
        "country": rng.choices(COUNTRIES, weights)[0],
        "score": round(sigmoid((amount - 50) / 10 + rng.gauss(0, 0.5) + score_shift), 4),
    }


def write(path: Path, lines: list[str], compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def baseline_dir(tmp: Path, rows: list[dict[str, Any]], name: str = "baseline") -> Path:
    """What Athena UNLOAD writes: gzipped JSON lines in several files without a reliable extension."""
    half = len(rows) // 2
    write(tmp / name / "20240501_part0", [json.dumps(r) for r in rows[:half]], compress=True)
    write(tmp / name / "20240501_part1", [json.dumps(r) for r in rows[half:]], compress=True)
    return tmp / name


def capture_record(event_id: str, when: dt.datetime, input_data: str, output_data: str | None,
                   encoding: str = "CSV", content_type: str = "text/csv") -> str:
    data: dict[str, Any] = {"endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": input_data,
                                              "encoding": encoding}}
    if output_data is not None:
        data["endpointOutput"] = {"observedContentType": content_type, "mode": "OUTPUT", "data": output_data,
                                  "encoding": encoding}
    inference_time = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return json.dumps({"captureData": data, "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time}})


def csv_record(i: int, row: dict[str, Any], when: dt.datetime | None = None) -> str:
    when = when or END - dt.timedelta(seconds=10 + i)
    return capture_record(f"e{i}", when, f"{row['amount']},{row['tenure']},{row['country']}", str(row["score"]))


def capture_dir(tmp: Path, lines: list[str], name: str = "capture") -> Path:
    # The data capture layout: <endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
    write(tmp / name / "AllTraffic" / "2024" / "05" / "01" / "09" / "a.jsonl", lines)
    return tmp / name


def features_file(tmp: Path, spec: Any = FEATURES) -> Path:
    return write(tmp / "spec" / "features.json", [json.dumps(spec)])


def argv(tmp: Path, baseline: Path, capture: Path, *extra: str) -> list[str]:
    return ["--model-name", MODEL, "--features-file", str(features_file(tmp)), "--prediction-field", "score",
            "--baseline", str(baseline), "--capture", str(capture), "--window-end", END_TEXT,
            "--output", str(tmp / "out"), "--dry-run", *extra]


def run(tmp: Path, baseline_rows: list[dict[str, Any]], capture_lines: list[str], *extra: str) -> dict[str, Any]:
    code = drift.main(argv(tmp, baseline_dir(tmp, baseline_rows), capture_dir(tmp, capture_lines), *extra))
    assert code == 0
    return json.loads((tmp / "out" / "drift_report.json").read_text())


def metrics(report: dict[str, Any]) -> dict[tuple[str, str | None], float]:
    out = {}
    for d in report["metrics"]:
        dims = {x["Name"]: x["Value"] for x in d["Dimensions"]}
        assert dims["ModelName"] == MODEL
        out[(d["MetricName"], dims.get("Feature"))] = d["Value"]
    return out


@pytest.fixture(scope="module")
def training() -> list[dict[str, Any]]:
    rng = random.Random(1)
    return [sample(rng) for _ in range(5000)]


def traffic(seed: int, n: int = 2000, **shift: Any) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [sample(rng, **shift) for _ in range(n)]


# ------------------------------------------------------------------------------------------------
# Drift end to end
# ------------------------------------------------------------------------------------------------


def test_no_drift_keeps_every_metric_under_the_usual_thresholds(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    report = run(tmp_path, training, [csv_record(i, r) for i, r in enumerate(traffic(2))])
    m = metrics(report)
    assert report["status"] == "ok"
    assert m[("SampleCount", None)] == 2000
    assert m[("InvalidRecords", None)] == 0
    for feature in FEATURES:
        assert m[("FeaturePSI", feature)] < 0.1, feature
    assert m[("FeatureKS", "amount")] < 0.05
    assert m[("FeatureKS", "tenure")] < 0.05
    assert m[("FeatureJSD", "country")] < 0.05
    assert m[("PredictionPSI", None)] < 0.1
    # the tied feature has fewer bins than asked for, the continuous one all ten
    assert len(report["features"]["amount"]["bins"]) == 10
    assert len(report["features"]["tenure"]["bins"]) < 10


def test_a_mean_shift_and_reweighted_categories_go_over_the_threshold(tmp_path: Path,
                                                                      training: list[dict[str, Any]]) -> None:
    shifted = traffic(3, mean=60.0, weights=SHIFTED_WEIGHTS)
    m = metrics(run(tmp_path, training, [csv_record(i, r) for i, r in enumerate(shifted)]))
    assert m[("FeaturePSI", "amount")] > 0.2
    assert m[("FeatureKS", "amount")] > 0.3
    assert m[("FeaturePSI", "country")] > 0.2
    assert m[("FeatureJSD", "country")] > 0.2
    assert m[("FeaturePSI", "tenure")] < 0.1  # untouched feature stays quiet


def test_prediction_drift_without_feature_drift(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    m = metrics(run(tmp_path, training, [csv_record(i, r) for i, r in enumerate(traffic(4, score_shift=1.5))]))
    assert m[("PredictionPSI", None)] > 0.2
    assert m[("FeaturePSI", "amount")] < 0.1


def test_unseen_categories_land_in_the_other_bucket(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    rows = traffic(5)
    for r in rows[:600]:
        r["country"] = "pl"
    report = run(tmp_path, training, [csv_record(i, r) for i, r in enumerate(rows)])
    other = report["features"]["country"]["bins"][-1]
    assert other["category"] == drift.OTHER
    assert other["baseline"] == 0 and other["current"] == pytest.approx(0.3)
    assert report["features"]["country"]["psi"] > 0.2


def test_model_quality_joins_ground_truth_by_event_id(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    rng = random.Random(6)
    rows = traffic(7)
    labels = [json.dumps({"eventId": f"e{i}", "label": int(rng.random() < r["score"])}) for i, r in enumerate(rows)]
    write(tmp_path / "truth" / "labels.jsonl", labels[:1500])  # labels arrive for part of the traffic
    report = run(tmp_path, training, [csv_record(i, r) for i, r in enumerate(rows)],
                 "--ground-truth", str(tmp_path / "truth"))
    m = metrics(report)
    assert report["quality"]["labeled"] == 1500
    assert m[("LabeledCount", None)] == 1500
    assert 0.65 < m[("Quality", None)] < 0.9  # AUC of a useful, imperfect model (labels drawn with p = score)
    assert 0.6 < m[("Accuracy", None)] < 0.9
    pairs = [(r["score"], json.loads(line)["label"]) for r, line in zip(rows, labels[:1500])]
    assert m[("Quality", None)] == round(drift.roc_auc([p for p, _ in pairs], [float(y) for _, y in pairs]), 6)


def test_regression_quality_is_r2_with_rmse(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    rows = traffic(8, n=200)
    rng = random.Random(9)
    labels = [json.dumps({"eventId": f"e{i}", "label": r["score"] + rng.gauss(0, 0.05)}) for i, r in enumerate(rows)]
    write(tmp_path / "truth" / "labels.jsonl", labels)
    m = metrics(run(tmp_path, training, [csv_record(i, r) for i, r in enumerate(rows)],
                    "--ground-truth", str(tmp_path / "truth"), "--problem-type", "regression"))
    assert 0.03 < m[("RMSE", None)] < 0.07
    assert m[("Quality", None)] > 0.8
    assert ("Accuracy", None) not in m


def test_quality_uses_its_own_window(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    rows = traffic(10, n=300)
    old = END - dt.timedelta(hours=5)  # outside the drift hour, inside a 24-hour quality window
    lines = [csv_record(i, r, old if i < 150 else None) for i, r in enumerate(rows)]
    write(tmp_path / "truth" / "labels.jsonl", [json.dumps({"eventId": f"e{i}", "label": i % 2}) for i in range(300)])
    report = run(tmp_path, training, lines, "--ground-truth", str(tmp_path / "truth"),
                 "--quality-window-minutes", "1440")
    assert report["records"]["rows"] == 150
    assert report["quality"]["labeled"] == 300
    hourly = run(tmp_path / "h", training, lines, "--ground-truth", str(tmp_path / "truth"))
    assert hourly["quality"]["labeled"] == 150


def test_records_outside_the_window_are_ignored(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    rows = traffic(11, n=400)
    lines = [csv_record(i, r, END - dt.timedelta(minutes=90)) for i, r in enumerate(rows[:200])]
    lines += [csv_record(i, r, END + dt.timedelta(seconds=1)) for i, r in enumerate(rows[200:300])]
    lines += [csv_record(i, r) for i, r in enumerate(rows[300:])]
    report = run(tmp_path, training, lines, "--min-samples", "50")
    assert report["records"] == {"read": 400, "inWindow": 100, "invalid": 0, "rows": 100}


def test_too_few_samples_publish_counts_only(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    report = run(tmp_path, training, [csv_record(i, r) for i, r in enumerate(traffic(12, n=99))])
    assert report["status"] == "insufficient-data"
    assert report["features"] == {} and report["prediction"] is None
    assert [d["MetricName"] for d in report["metrics"]] == ["SampleCount", "InvalidRecords"]


def test_no_captured_output_means_no_prediction_drift(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    lines = [capture_record(f"e{i}", END - dt.timedelta(seconds=1), f"{r['amount']},{r['tenure']},{r['country']}", None)
             for i, r in enumerate(traffic(13, n=300))]
    report = run(tmp_path, training, lines)
    assert report["prediction"] is None
    assert "PredictionPSI" not in [d["MetricName"] for d in report["metrics"]]
    assert set(report["features"]) == set(FEATURES)


# ------------------------------------------------------------------------------------------------
# Capture payloads
# ------------------------------------------------------------------------------------------------

PARSED = {"amount": 1.5, "tenure": 2.0, "country": "de"}


def parse(input_data: str, output_data: str | None, encoding: str, content_type: str) -> tuple[Any, Any]:
    record = json.loads(capture_record("x", END, input_data, output_data, encoding, content_type))
    _, _, rows, predictions = drift.parse_record(record, FEATURES, "score")
    return rows, predictions


@pytest.mark.parametrize(("input_data", "output_data", "content_type"), [
    ('{"amount": 1.5, "tenure": 2, "country": "de"}', '{"score": 0.8}', "application/json"),
    ('[{"amount": 1.5, "tenure": 2, "country": "de"}]', "[0.8]", "application/json"),
    ('{"instances": [[1.5, 2, "de"]]}', '{"predictions": [{"score": 0.8}]}', "application/json"),
    ('[1.5, 2, "de"]', "0.8", "application/json"),
    ('{"amount": 1.5, "tenure": 2, "country": "de"}', '{"score": 0.8}', "application/jsonlines"),
])
def test_json_payloads(input_data: str, output_data: str, content_type: str) -> None:
    assert parse(input_data, output_data, "JSON", content_type) == ([PARSED], [0.8])


def test_csv_payloads_with_several_rows_and_quoted_values() -> None:
    rows, predictions = parse('1.5,2,de\n3,,"fr, south"\n', "0.8\n0.1", "CSV", "text/csv")
    assert rows == [PARSED, {"amount": 3.0, "tenure": None, "country": "fr, south"}]
    assert predictions == [0.8, 0.1]
    # XGBoost writes the predictions of a batch on one line
    assert parse("1,1,de\n2,2,fr", "0.3,0.4", "CSV", "text/csv")[1] == [0.3, 0.4]


def test_base64_payloads_are_decoded_by_content_type() -> None:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    assert parse(b64("1.5,2,de"), b64("0.8"), "BASE64", "text/csv") == ([PARSED], [0.8])
    assert parse(b64('{"amount": 1.5, "tenure": 2, "country": "de"}'), b64('{"score": 0.8}'), "BASE64",
                 "application/json") == ([PARSED], [0.8])


@pytest.mark.parametrize(("input_data", "output_data", "encoding", "content_type", "reason"), [
    ("1.5,2", "0.8", "CSV", "text/csv", "2 values for 3 features"),
    ("1.5,2,de", "0.8,0.1", "CSV", "text/csv", "2 predictions for 1 rows"),
    ("abc,2,de", "0.8", "CSV", "text/csv", "numeric feature 'amount'"),
    ("1.5,2,de", "high", "CSV", "text/csv", "prediction"),
    ('{"amount": ', "0.8", "JSON", "application/json", "invalid JSON"),
    ('{"other": 1}', "0.8", "JSON", "application/json", "without any declared feature"),
    ('{"amount": 1}', '{"label": 1}', "JSON", "application/json", "no prediction field 'score'"),
    ("!!!", "0.8", "BASE64", "text/csv", "invalid base64"),
    (base64.b64encode(b"1,2,de").decode(), "MC44", "BASE64", "image/png", "unsupported content type"),
    ("1.5,2,de", "0.8", "PROTOBUF", "text/csv", "unsupported encoding"),
])
def test_malformed_payloads_are_record_errors(input_data: str, output_data: str, encoding: str, content_type: str,
                                              reason: str) -> None:
    with pytest.raises(drift.RecordError, match=reason):
        parse(input_data, output_data, encoding, content_type)


def test_values_normalize_across_payload_formats() -> None:
    assert [drift.to_category(v) for v in [1, 1.0, "1", True, "TRUE", " de ", "", None]] == \
        ["1", "1", "1", "true", "true", "de", None, None]
    assert [drift.to_float(v) for v in [1, "2.5", True, "false", "", None]] == [1.0, 2.5, 1.0, 0.0, None, None]
    for bad in ["nan", "inf", "x", [1], {"a": 1}]:
        with pytest.raises(ValueError):
            drift.to_float(bad)
    assert drift.parse_time("2024-05-01T10:00:00.123456789Z") == END.replace(microsecond=123456)
    assert drift.parse_time("2024-05-01T12:00:00+02:00") == END


# ------------------------------------------------------------------------------------------------
# Formulas
# ------------------------------------------------------------------------------------------------


def test_psi_ks_and_jsd_by_hand() -> None:
    # PSI of 50/50 against 25/75: (0.25-0.5)ln(0.5) + (0.75-0.5)ln(1.5)
    assert drift.psi([50, 50], [25, 75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5), rel=1e-3)
    assert drift.psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0)
    # an empty bin is smoothed, not infinite
    assert math.isfinite(drift.psi([50, 50], [0, 100]))
    assert drift.ks_statistic([1, 2, 3, 4], [1, 2, 3, 4]) == 0
    assert drift.ks_statistic([1, 2], [3, 4]) == 1
    assert drift.ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) == 0.5
    assert drift.js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert drift.js_distance([0.5, 0.5], [0.5, 0.5]) == 0
    assert drift.bin_edges([float(x) for x in range(11)], 10) == pytest.approx([1, 2, 3, 4, 5, 6, 7, 8, 9])
    # ties collapse into fewer bins: q=0.1..0.8 all give 0, q=0.9 interpolates between 0 and 1
    assert drift.bin_edges([0.0] * 90 + [1.0] * 10, 10) == pytest.approx([0.0, 0.1])
    assert drift.histogram([0.0, 0.5, 1.0, 2.0], [0.0, 1.0]) == [1, 2, 1]  # (-inf, 0], (0, 1], (1, inf)


def test_auc_accuracy_rmse_r2_by_hand() -> None:
    assert drift.roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1
    assert drift.roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0
    assert drift.roc_auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5  # ties count half
    assert drift.roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert drift.roc_auc([0.1, 0.2], [1, 1]) is None  # one class only
    assert drift.quality("binary-classification", [(0.9, 1), (0.4, 1), (0.2, 0), (0.6, 0)])["accuracy"] == 0.5
    q = drift.quality("regression", [(1.0, 1.0), (2.0, 3.0), (3.0, 3.0)])
    assert q["rmse"] == pytest.approx(math.sqrt(1 / 3))
    assert q["r2"] == pytest.approx(1 - 1 / (8 / 3))  # mean 7/3, SS_tot = 16/9 + 4/9 + 4/9
    assert drift.quality("regression", [(1.0, 2.0), (3.0, 2.0)])["value"] is None  # labels do not vary


# ------------------------------------------------------------------------------------------------
# Publishing
# ------------------------------------------------------------------------------------------------


class FakeCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {}


def test_metrics_are_published_with_exact_metric_data(tmp_path: Path) -> None:
    rows = [{"amount": float(i % 10), "tenure": i % 3, "country": COUNTRIES[i % 2], "score": (i % 4) / 4}
            for i in range(200)]
    baseline = baseline_dir(tmp_path, rows)
    capture = capture_dir(tmp_path, [csv_record(i, r) for i, r in enumerate(rows)])
    client = FakeCloudWatch()
    args = [a for a in argv(tmp_path, baseline, capture) if a != "--dry-run"]
    assert drift.main(args, cloudwatch=client) == 0

    def dims(feature: str | None = None) -> list[dict[str, str]]:
        return [{"Name": "ModelName", "Value": MODEL}] + ([{"Name": "Feature", "Value": feature}] if feature else [])

    assert client.calls == [{"Namespace": "mlsd/ModelMonitor", "MetricData": [
        {"MetricName": "SampleCount", "Dimensions": dims(), "Value": 200.0, "Unit": "Count"},
        {"MetricName": "InvalidRecords", "Dimensions": dims(), "Value": 0.0, "Unit": "Count"},
        {"MetricName": "FeaturePSI", "Dimensions": dims("amount"), "Value": 0.0, "Unit": "None"},
        {"MetricName": "FeatureKS", "Dimensions": dims("amount"), "Value": 0.0, "Unit": "None"},
        {"MetricName": "FeaturePSI", "Dimensions": dims("tenure"), "Value": 0.0, "Unit": "None"},
        {"MetricName": "FeatureKS", "Dimensions": dims("tenure"), "Value": 0.0, "Unit": "None"},
        {"MetricName": "FeaturePSI", "Dimensions": dims("country"), "Value": 0.0, "Unit": "None"},
        {"MetricName": "FeatureJSD", "Dimensions": dims("country"), "Value": 0.0, "Unit": "None"},
        {"MetricName": "PredictionPSI", "Dimensions": dims(), "Value": 0.0, "Unit": "None"},
    ]}]


def test_metrics_are_sent_20_per_call() -> None:
    client = FakeCloudWatch()
    data = [drift.datum("FeaturePSI", 0.1, MODEL, f"f{i}") for i in range(45)]
    drift.publish(data, client)
    assert [len(c["MetricData"]) for c in client.calls] == [20, 20, 5]
    assert [d for c in client.calls for d in c["MetricData"]] == data


def test_dry_run_prints_instead_of_publishing(tmp_path: Path, training: list[dict[str, Any]],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeCloudWatch()
    baseline = baseline_dir(tmp_path, training)
    capture = capture_dir(tmp_path, [csv_record(i, r) for i, r in enumerate(traffic(14, n=150))])
    assert drift.main(argv(tmp_path, baseline, capture), cloudwatch=client) == 0
    assert client.calls == []
    out = capsys.readouterr().out
    printed = json.loads(out[:out.rindex("}") + 1])
    assert printed["Namespace"] == "mlsd/ModelMonitor"
    assert printed["MetricData"] == json.loads((tmp_path / "out" / "drift_report.json").read_text())["metrics"]


def test_publishing_errors_propagate(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    class Failing:
        def put_metric_data(self, **_: Any) -> None:
            raise RuntimeError("AccessDenied")

    baseline = baseline_dir(tmp_path, training)
    capture = capture_dir(tmp_path, [csv_record(i, r) for i, r in enumerate(traffic(15, n=150))])
    with pytest.raises(RuntimeError):
        drift.main([a for a in argv(tmp_path, baseline, capture) if a != "--dry-run"], cloudwatch=Failing())


# ------------------------------------------------------------------------------------------------
# Bad input: exit 2, nothing published
# ------------------------------------------------------------------------------------------------


def test_baseline_as_csv_with_a_header(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    lines = ["amount,tenure,country,score"]
    lines += [f"{r['amount']},{r['tenure']},{r['country']},{r['score']}" for r in training]
    write(tmp_path / "csv" / "train.csv", lines)
    capture = capture_dir(tmp_path, [csv_record(i, r) for i, r in enumerate(traffic(16))])
    assert drift.main(argv(tmp_path, tmp_path / "csv", capture)) == 0
    m = metrics(json.loads((tmp_path / "out" / "drift_report.json").read_text()))
    assert m[("FeaturePSI", "amount")] < 0.1


@pytest.mark.parametrize(("change", "message"), [
    ("features-kind", "kinds must be one of numeric, categorical"),
    ("features-empty", "must be a non-empty JSON object"),
    ("baseline-column", "no row has column(s) tenure"),
    ("baseline-json", "not a JSON line"),
    ("baseline-value", "numeric feature 'amount'"),
    ("baseline-empty", "no data files"),
    ("prediction-column", "no row has column(s) label"),
    ("capture-invalid", "records of the windows cannot be parsed"),
    ("truth-label", "label must be 0 or 1, but 2 was found"),
    ("truth-shape", "a ground-truth line must be an object"),
    ("prediction-is-feature", "is also a declared feature"),
])
def test_bad_input_exits_2_without_publishing(tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str,
                                              message: str) -> None:
    rows = traffic(17, n=200)
    baseline_rows: list[Any] = [dict(r) for r in rows]
    capture_lines = [csv_record(i, r) for i, r in enumerate(rows)]
    extra: list[str] = []
    spec: Any = FEATURES
    if change == "features-kind":
        spec = {**FEATURES, "country": "text"}
    elif change == "features-empty":
        spec = {}
    elif change == "baseline-column":
        for r in baseline_rows:
            del r["tenure"]
    elif change == "baseline-value":
        baseline_rows[3]["amount"] = "abc"
    elif change == "prediction-column":
        extra = ["--baseline-prediction-column", "label"]
    elif change == "capture-invalid":
        capture_lines[:30] = ["not json"] * 10 + [capture_record("x", END, "1,2", "0.1")] * 20
    elif change in ("truth-label", "truth-shape"):
        line = {"eventId": "e1", "label": 2} if change == "truth-label" else ["e1", 1]
        write(tmp_path / "truth" / "labels.jsonl", [json.dumps({"eventId": "e0", "label": 1}), json.dumps(line)])
        extra = ["--ground-truth", str(tmp_path / "truth")]
    elif change == "prediction-is-feature":
        spec = {**FEATURES, "score": "numeric"}
    baseline = baseline_dir(tmp_path, baseline_rows)
    if change == "baseline-json":
        write(baseline / "broken", ['{"amount": 1'])
    if change == "baseline-empty":
        baseline = tmp_path / "empty"
        baseline.mkdir()
    args = argv(tmp_path, baseline, capture_dir(tmp_path, capture_lines), *extra)
    args[args.index("--features-file") + 1] = str(features_file(tmp_path / "bad", spec))
    client = FakeCloudWatch()
    assert drift.main([a for a in args if a != "--dry-run"], cloudwatch=client) == 2
    assert client.calls == []
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "drift_report.json").exists()


def test_a_few_invalid_records_are_counted_not_fatal(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    lines = [csv_record(i, r) for i, r in enumerate(traffic(18, n=300))]
    lines[5] = "not json"
    lines[6] = capture_record("bad", END - dt.timedelta(seconds=1), "1,2", "0.1")
    m = metrics(run(tmp_path, training, lines))
    assert m[("InvalidRecords", None)] == 2
    assert m[("SampleCount", None)] == 298


def test_the_invalid_share_is_over_every_record_of_the_windows(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    rows = traffic(19, n=2300)
    earlier = END - dt.timedelta(hours=5)
    lines = [csv_record(i, r, None if i < 300 else earlier) for i, r in enumerate(rows)]
    lines += [capture_record(f"bad{i}", earlier, "1,2", "0.1") for i in range(60)]  # 2.5% of the day, 17% of the hour
    report = run(tmp_path, training, lines, "--quality-window-minutes", "1440")
    assert report["records"]["invalid"] == 60
    assert report["records"]["rows"] == 300


@pytest.mark.parametrize("args", [
    ["--bins", "1"],
    ["--min-samples", "0"],
    ["--window-end", "yesterday"],
    ["--window-end", "2024-05-01T10:00:00"],  # no zone
    ["--problem-type", "multiclass"],
    ["--max-invalid-fraction", "1.5"],
])
def test_usage_errors_exit_2(tmp_path: Path, training: list[dict[str, Any]], args: list[str]) -> None:
    baseline = baseline_dir(tmp_path, training[:10])
    capture = capture_dir(tmp_path, [])
    assert drift.main(argv(tmp_path, baseline, capture, *args)) == 2


def test_missing_input_directory_exits_2(tmp_path: Path, training: list[dict[str, Any]]) -> None:
    baseline = baseline_dir(tmp_path, training[:10])
    assert drift.main(argv(tmp_path, baseline, tmp_path / "nowhere")) == 2
