"""Tests for evaluate.py, on model.tar.gz archives the tests build."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path):
    # Loaded by path under a unique name: other constructs may ship scripts called evaluate.py too.
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


evaluate = _load("training_evaluate", HERE / "evaluate.py")


def model_tar(directory: Path, members: dict[str, bytes], name: str = "model.tar.gz") -> Path:
    """A gzipped tarball with `members` (path -> content), as SageMaker packs /opt/ml/model."""
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / name
    with tarfile.open(archive, "w:gz") as tar:
        for member, content in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return archive


def metrics_bytes(metrics: object) -> bytes:
    return json.dumps(metrics).encode("utf-8")


def run(tmp_path: Path, metric: str = "auc", test_dir: str | None = None) -> tuple[int, Path]:
    output = tmp_path / "output" / "exec-1" / "evaluation.json"
    argv = ["--model-dir", str(tmp_path / "model"), "--metric-name", metric, "--output", str(output)]
    if test_dir is not None:
        argv += ["--test-dir", test_dir]
    return evaluate.main(argv), output


def test_republishes_the_metrics_of_model_tar_gz(tmp_path: Path) -> None:
    model_tar(tmp_path / "model", {
        "model.json": b"{}",
        "metrics.json": metrics_bytes({"auc": 0.91, "accuracy": 0.87, "epochs": 30}),
        "code/inference.py": b"",
    })
    status, output = run(tmp_path)
    assert status == 0
    assert json.loads(output.read_text()) == {"metrics": {"auc": 0.91, "accuracy": 0.87, "epochs": 30.0}}


def test_accepts_members_written_with_a_leading_dot_slash(tmp_path: Path) -> None:
    model_tar(tmp_path / "model", {"./metrics.json": metrics_bytes({"auc": 0.5})})
    status, output = run(tmp_path)
    assert status == 0
    assert json.loads(output.read_text())["metrics"] == {"auc": 0.5}


def test_finds_the_single_archive_under_another_name_and_accepts_a_test_dir(tmp_path: Path) -> None:
    model_tar(tmp_path / "model", {"metrics.json": metrics_bytes({"auc": 0.7})}, name="output.tar.gz")
    (tmp_path / "test").mkdir()
    status, _ = run(tmp_path, test_dir=str(tmp_path / "test"))
    assert status == 0


def test_reads_only_metrics_json_and_extracts_nothing(tmp_path: Path) -> None:
    model_tar(tmp_path / "model", {"../escape.txt": b"x", "metrics.json": metrics_bytes({"auc": 1})})
    status, _ = run(tmp_path)
    assert status == 0
    assert not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["model.tar.gz"]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"model.json": b"{}"}, "has no metrics.json at its root"),
        ({"nested/metrics.json": metrics_bytes({"auc": 1})}, "has no metrics.json at its root"),
        ({"metrics.json": b"not json"}, "metrics.json is not valid JSON"),
        ({"metrics.json": metrics_bytes([0.9])}, "must be a non-empty JSON object"),
        ({"metrics.json": metrics_bytes({})}, "must be a non-empty JSON object"),
        ({"metrics.json": metrics_bytes({"auc": "0.9"})}, "'auc' is '0.9', not a number"),
        ({"metrics.json": metrics_bytes({"auc": True})}, "'auc' is True, not a number"),
        ({"metrics.json": b'{"auc": NaN}'}, "'auc' is nan, not a finite number"),
        ({"metrics.json": metrics_bytes({"accuracy": 0.9})}, "has no metric 'auc' (it has: accuracy)"),
    ],
)
def test_fails_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], members: dict, message: str
) -> None:
    model_tar(tmp_path / "model", members)
    status, output = run(tmp_path)
    assert status == 1
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_fails_without_an_archive_or_with_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model").mkdir()
    assert run(tmp_path)[0] == 1
    assert "expected one model.tar.gz" in capsys.readouterr().err
    model_tar(tmp_path / "model", {"metrics.json": b"{}"}, name="a.tar.gz")
    model_tar(tmp_path / "model", {"metrics.json": b"{}"}, name="b.tar.gz")
    assert run(tmp_path)[0] == 1
    assert "found: a.tar.gz, b.tar.gz" in capsys.readouterr().err


def test_fails_on_a_file_that_is_not_a_tarball(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.tar.gz").write_bytes(b"plain text")
    assert run(tmp_path)[0] == 1
    assert "is not a readable tar.gz archive" in capsys.readouterr().err


def test_fails_when_the_test_dir_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_tar(tmp_path / "model", {"metrics.json": metrics_bytes({"auc": 1})})
    assert run(tmp_path, test_dir=str(tmp_path / "nowhere"))[0] == 1
    assert "test directory" in capsys.readouterr().err
