"""Default evaluation of a GpuTrainingJob: checks and republishes the training script's metrics.

Runs in SageMaker's scikit-learn processing container (Python 3.8+, standard library only),
network-isolated: its inputs arrive as processing inputs, its output leaves as a processing output.

Contract:
  - the training script writes ``/opt/ml/model/metrics.json`` = ``{"<metric>": <number>, ...}``;
    SageMaker packs /opt/ml/model into ``model.tar.gz``;
  - this script finds ``metrics.json`` in ``model.tar.gz`` (without extracting anything else),
    checks that it is a non-empty object of finite numbers that includes ``--metric-name``, and
    writes ``{"metrics": {...}}`` to ``--output`` (the workflow's quality gate reads it).

Exit status 0 on success; 1 with a message on stderr when the model or its metrics are unusable.

Usage:
  python3 evaluate.py --model-dir /opt/ml/processing/model --metric-name auc \\
      --output /opt/ml/processing/output/<execution>/evaluation.json [--test-dir /opt/ml/processing/test]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tarfile

METRICS_FILE = "metrics.json"
MAX_METRICS_BYTES = 1024 * 1024


class EvaluationError(Exception):
    """The model archive or its metrics do not follow the contract."""


def find_model_archive(model_dir: str) -> str:
    """The model.tar.gz in ``model_dir`` (or ``model_dir`` itself when it is the archive)."""
    if os.path.isfile(model_dir):
        return model_dir
    if not os.path.isdir(model_dir):
        raise EvaluationError(f"model directory {model_dir} does not exist")
    archives = sorted(name for name in os.listdir(model_dir) if name.endswith(".tar.gz"))
    if "model.tar.gz" in archives:
        return os.path.join(model_dir, "model.tar.gz")
    if len(archives) == 1:
        return os.path.join(model_dir, archives[0])
    found = ", ".join(archives) if archives else "none"
    raise EvaluationError(f"expected one model.tar.gz in {model_dir}, found: {found}")


def _member_name(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def read_metrics(archive: str) -> dict[str, float]:
    """The metrics.json at the root of the archive, validated."""
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            member = next((m for m in tar.getmembers() if _member_name(m.name) == METRICS_FILE), None)
            if member is None:
                raise EvaluationError(
                    f"{os.path.basename(archive)} has no {METRICS_FILE} at its root: "
                    "the training script must write /opt/ml/model/metrics.json"
                )
            if not member.isfile():
                raise EvaluationError(f"{METRICS_FILE} in {os.path.basename(archive)} is not a regular file")
            if member.size > MAX_METRICS_BYTES:
                raise EvaluationError(f"{METRICS_FILE} is {member.size} bytes; at most {MAX_METRICS_BYTES} allowed")
            stream = tar.extractfile(member)
            if stream is None:
                raise EvaluationError(f"{METRICS_FILE} in {os.path.basename(archive)} cannot be read")
            raw = stream.read()
    except tarfile.TarError as error:
        raise EvaluationError(f"{os.path.basename(archive)} is not a readable tar.gz archive: {error}") from error
    try:
        metrics = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise EvaluationError(f"{METRICS_FILE} is not valid JSON: {error}") from error
    return validate_metrics(metrics)


def validate_metrics(metrics: object) -> dict[str, float]:
    """Metrics must be a non-empty object whose values are finite numbers (booleans are not numbers)."""
    if not isinstance(metrics, dict) or not metrics:
        example = '{"auc": 0.91}'
        raise EvaluationError(f"{METRICS_FILE} must be a non-empty JSON object such as {example}, got {metrics!r}")
    problems: list[str] = []
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{name!r} is {value!r}, not a number")
        elif not math.isfinite(value):
            problems.append(f"{name!r} is {value!r}, not a finite number")
    if problems:
        raise EvaluationError(f"{METRICS_FILE}: " + "; ".join(problems))
    return {str(name): float(value) for name, value in metrics.items()}


def evaluate(model_dir: str, metric_name: str, output: str, test_dir: str | None = None) -> dict[str, object]:
    """Reads, checks and writes the evaluation; returns the report written."""
    metrics = read_metrics(find_model_archive(model_dir))
    if metric_name not in metrics:
        raise EvaluationError(
            f"{METRICS_FILE} has no metric {metric_name!r} (it has: {', '.join(sorted(metrics))}); "
            "the quality gate compares that metric"
        )
    if test_dir is not None and not os.path.isdir(test_dir):
        raise EvaluationError(f"test directory {test_dir} does not exist")
    report: dict[str, object] = {"metrics": metrics}
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="directory holding model.tar.gz (or the archive itself)")
    parser.add_argument("--metric-name", required=True, help="metric the quality gate compares; must be reported")
    parser.add_argument("--output", required=True, help="where to write evaluation.json")
    parser.add_argument("--test-dir", help="the test channel's export (unused by this script; for custom evaluations)")
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.model_dir, args.metric_name, args.output, args.test_dir)
    except EvaluationError as error:
        print(f"evaluation failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
