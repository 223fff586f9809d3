"""training_io: channels, outputs and the failure contract."""

from __future__ import annotations

import gzip
import json
import os

import pytest
import training_io as t


def test_reads_json_lines_gzipped_and_csv_skipping_hidden_files(tmp_path):
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(b'{"x": 1}\n\n{"x": 2}\n'))
    (tmp_path / "b.csv").write_text("x,y\n3,4\n")
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".hidden").write_text("garbage")
    assert t.read_rows(str(tmp_path)) == [{"x": 1}, {"x": 2}, {"x": "3", "y": "4"}]


def test_data_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(t.DataError, match="does not exist"):
        t.read_rows(str(tmp_path / "missing"))
    with pytest.raises(t.DataError, match="no records"):
        t.read_rows(str(tmp_path))
    (tmp_path / "bad.json").write_text('{"x": 1}\n{oops\n')
    with pytest.raises(t.DataError, match="bad.json, line 2: not JSON"):
        t.read_rows(str(tmp_path))
    (tmp_path / "bad.json").write_bytes(b"PAR1....")
    with pytest.raises(t.DataError, match="Parquet"):
        t.read_rows(str(tmp_path))


def test_require_columns_and_number():
    with pytest.raises(t.DataError, match="train record 1: missing b"):
        t.require_columns([{"a": 1, "b": 2}, {"a": 1, "b": ""}], ["a", "b"])
    assert t.number("2.5", "x") == 2.5 and t.number(True, "x") == 1.0
    with pytest.raises(t.DataError, match="row 3, x: 'nan' is not a finite number"):
        t.number("nan", "row 3, x")
    with pytest.raises(t.DataError, match="is not a number"):
        t.number("abc", "x")


def test_write_outputs_and_run(tmp_path, capsys):
    handler = tmp_path / "handler.py"
    handler.write_text("# serving code\n")
    model_dir = tmp_path / "model"

    def train(args):
        metrics = {"auc": 0.9, "note": "text is kept but not printed"}
        t.write_outputs(args.model_dir, metrics, [str(handler)])
        return metrics

    parser = t.base_arguments("test")
    assert t.run(train, parser, ["--model-dir", str(model_dir)]) == 0
    assert json.loads((model_dir / "metrics.json").read_text())["auc"] == 0.9
    assert (model_dir / "code" / "handler.py").read_text() == "# serving code\n"
    assert "metric auc=0.900000" in capsys.readouterr().out

    def failing(_args):
        raise t.DataError("no labels")

    assert t.run(failing, parser, []) == 1
    assert "training failed: no labels" in capsys.readouterr().err


def test_checkpoint_dir_only_where_writable(tmp_path):
    assert t.usable_checkpoint_dir(str(tmp_path / "ckpt")) == str(tmp_path / "ckpt")
    assert t.usable_checkpoint_dir("") is None
    if os.geteuid() != 0:
        assert t.usable_checkpoint_dir("/proc/ckpt") is None


def test_save_and_load_json(tmp_path):
    path = str(tmp_path / "deep" / "state.json")
    assert t.load_json(path) is None
    t.save_json(path, {"epoch": 3})
    assert t.load_json(path) == {"epoch": 3}
