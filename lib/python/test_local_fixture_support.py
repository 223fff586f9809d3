"""Tests for local_fixture_support.py: the mechanics the blueprints' local fixtures share."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import anonymize
import local_fixture_support as support  # lib/python is on pytest's pythonpath (pyproject.toml)
import pytest

LIB = os.path.dirname(os.path.abspath(support.__file__))


def test_prepare_build_checks_the_key_makes_the_workdir_and_loads_the_tests_module(tmp_path):
    (tmp_path / "test_some_model.py").write_text("SYNTHETIC = [1, 2]\n", encoding="utf-8")
    workdir = tmp_path / "work" / "fixture"
    with pytest.raises(ValueError, match="must not be empty"):
        support.prepare_build(str(workdir), "", str(tmp_path), "test_some_model.py")
    assert not workdir.exists()
    tests = support.prepare_build(str(workdir), "k3y", str(tmp_path), "test_some_model.py")
    assert tests.SYNTHETIC == [1, 2]
    assert workdir.is_dir()


def test_write_jsonl_writes_one_json_document_a_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    support.write_jsonl(str(path), ({"id": i, "tags": ["a", "é"]} for i in range(2)))
    line = '"tags": ["a", "\\u00e9"]}\n'  # json.dumps' defaults: ASCII, ", " and ": "
    assert path.read_text(encoding="utf-8") == '{"id": 0, ' + line + '{"id": 1, ' + line


def test_write_manifest_writes_fixture_json_indented_by_one_and_returns_the_manifest(tmp_path):
    manifest = {"blueprint": "b", "metrics": {"auc": 0.5}}
    assert support.write_manifest(str(tmp_path), manifest) is manifest
    assert (tmp_path / support.MANIFEST).read_text(encoding="utf-8") == json.dumps(manifest, indent=1)


def test_model_entry_is_the_model_folder_and_its_serving_code_relative_to_the_workdir(tmp_path):
    entry = support.model_entry(str(tmp_path), str(tmp_path / "champion"))
    assert list(entry.items()) == [("codeDir", os.path.join("champion", "code")), ("modelDir", "champion")]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    return parser


def _train(args: argparse.Namespace) -> dict:
    print("metric auc=0.900000")  # as training_io.write_outputs prints them
    metrics = {"auc": 0.9}
    Path(args.model_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.model_dir) / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def _run(train, parser: argparse.ArgumentParser, argv: list) -> int:
    train(parser.parse_args(argv))
    return 0


def test_run_training_returns_the_metrics_written_and_keeps_the_training_output_off_stdout(tmp_path, capsys):
    model_dir = str(tmp_path / "model")
    assert support.run_training(_run, _train, _parser(), ("--model-dir", model_dir), model_dir) == {"auc": 0.9}
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("name", "message"), [(None, "training failed (exit 1)"),
                                               ("ranker", "training the ranker failed (exit 1)")])
def test_run_training_raises_on_a_failed_training(tmp_path, name, message):
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        support.run_training(lambda train, parser, argv: 1, _train, _parser(), [], str(tmp_path), name)


def test_batch_answers_sends_json_lines_as_the_batch_transform_does():
    seen = {}

    def input_fn(body, content_type):
        seen["input"] = (body, content_type)
        return [json.loads(line) for line in body.splitlines()]

    def predict_fn(rows, model):
        return [{"id": row["id"], "score": model * row["x"]} for row in rows]

    def output_fn(predictions, accept):
        seen["accept"] = accept
        return "".join(json.dumps(p) + "\n" for p in predictions), accept

    inference = SimpleNamespace(input_fn=input_fn, predict_fn=predict_fn, output_fn=output_fn)
    answers = support.batch_answers(inference, 2, [{"id": "a", "x": 1}, {"id": "b", "x": 3}])
    assert answers == [{"id": "a", "score": 2}, {"id": "b", "score": 6}]
    assert seen == {"input": ('{"id": "a", "x": 1}\n{"id": "b", "x": 3}\n', "application/jsonlines"),
                    "accept": "application/jsonlines"}


def test_fixture_main_builds_with_the_key_and_prints_the_manifest_path_and_metrics(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(support.KEY_ENV, "k3y")
    calls = []

    def build(workdir: str, key: str) -> dict:
        calls.append((workdir, key))
        return {"metrics": {"auc": 0.9}, "facts": {}}

    assert support.fixture_main(build, "A fixture.\n\nMore.", ["--workdir", str(tmp_path)]) == 0
    assert calls == [(str(tmp_path), "k3y")]
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1
    assert json.loads(out) == {"fixture": os.path.join(str(tmp_path), "fixture.json"), "metrics": {"auc": 0.9}}


def test_fixture_main_without_the_key_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(support.KEY_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_:
        support.fixture_main(lambda workdir, key: pytest.fail("built without a key"), "A fixture.",
                             ["--workdir", str(tmp_path)])
    assert exit_.value.code == 2
    assert support.KEY_ENV in capsys.readouterr().err


def test_it_re_exports_the_data_lake_pseudonym_and_load_script():
    assert support.pseudonym is anonymize.pseudonym
    assert support.load_script.__module__ == "blueprint_scripts"


def test_a_fixture_run_as_a_script_needs_only_this_folder_on_its_path(tmp_path):
    # As local/run.ts starts a fixture: a fresh interpreter, only the fixture's own folder on sys.path.
    script = tmp_path / "local_fixture.py"
    script.write_text(
        '"""A fixture."""\n'
        "import sys\n"
        f"sys.path.append({LIB!r})\n"
        "from local_fixture_support import fixture_main, pseudonym, write_manifest\n"
        "def build(workdir, key):\n"
        "    return write_manifest(workdir, {'user': pseudonym(key, 'u1'), 'metrics': {'auc': 1.0}})\n"
        "sys.exit(fixture_main(build, __doc__))\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env[support.KEY_ENV] = "k3y"
    done = subprocess.run([sys.executable, str(script), "--workdir", str(tmp_path)], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"fixture": os.path.join(str(tmp_path), "fixture.json"), "metrics": {"auc": 1.0}}
    manifest = json.loads((tmp_path / "fixture.json").read_text(encoding="utf-8"))
    assert manifest["user"] == anonymize.pseudonym("k3y", "u1")
