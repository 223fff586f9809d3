"""training_io: channels, outputs and the failure contract."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile

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


def _tar_gz(path, members):
    """Writes a tar.gz of ``members``: name -> bytes (a file), None (a directory) or TarInfo (as given)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            if isinstance(content, tarfile.TarInfo):
                tar.addfile(content, io.BytesIO(b"x" * content.size) if content.isfile() else None)
            elif content is None:
                info = tarfile.TarInfo(name)
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return str(path)


def test_warm_start_dir_extracts_the_previous_model(tmp_path):
    channel = tmp_path / "warm_start"
    channel.mkdir()
    _tar_gz(channel / "model.tar.gz", {"model.json": b'{"bias": 1}', "code": None, "code/inference.py": b"# handler\n"})
    work = tmp_path / "work"
    found = t.warm_start_dir(str(channel), str(work))
    assert found == str(work)
    assert t.load_json(os.path.join(found, "model.json")) == {"bias": 1}
    assert (work / "code" / "inference.py").read_text() == "# handler\n"


def test_warm_start_dir_defaults_to_the_channel_of_the_environment_and_a_temporary_directory(tmp_path, monkeypatch):
    channel = tmp_path / "previous"
    (channel / "nested").mkdir(parents=True)
    _tar_gz(channel / "nested" / "weights.tar.gz", {"weights.json": b"[1, 2]"})
    monkeypatch.setenv("SM_CHANNEL_WARM_START", str(channel))
    found = t.warm_start_dir()
    try:
        assert found is not None and found != str(channel)
        assert t.load_json(os.path.join(found, "weights.json")) == [1, 2]
    finally:
        if found:
            shutil.rmtree(found)


def test_warm_start_dir_without_a_previous_model(tmp_path, monkeypatch):
    monkeypatch.delenv("SM_CHANNEL_WARM_START", raising=False)
    assert t.warm_start_dir(str(tmp_path / "absent")) is None
    assert t.warm_start_dir("") is None
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden").write_text("")
    assert t.warm_start_dir(str(tmp_path / "empty")) is None
    if not os.path.isdir("/opt/ml/input/data/warm_start"):
        assert t.warm_start_dir() is None  # outside SageMaker, and on a first run


def test_warm_start_dir_returns_a_model_extracted_already(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    assert t.warm_start_dir(str(tmp_path)) == str(tmp_path)


def test_warm_start_dir_prefers_model_tar_gz_and_refuses_ambiguity(tmp_path):
    _tar_gz(tmp_path / "model.tar.gz", {"a.json": b"1"})
    _tar_gz(tmp_path / "other.tar.gz", {"b.json": b"2"})
    found = t.warm_start_dir(str(tmp_path), str(tmp_path / "w1"))
    assert os.listdir(found) == ["a.json"]
    (tmp_path / "model.tar.gz").unlink()
    _tar_gz(tmp_path / "third.tar.gz", {"c.json": b"3"})
    with pytest.raises(t.DataError, match=r"several archives \(other.tar.gz, third.tar.gz\)"):
        t.warm_start_dir(str(tmp_path), str(tmp_path / "w2"))


def _link(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _device(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    return info


@pytest.mark.parametrize(
    ("name", "member", "reason"),
    [
        ("../escape.txt", b"pwned", "a '..' component"),
        ("code/../../escape.txt", b"pwned", "a '..' component"),
        ("/tmp/escape.txt", b"pwned", "an absolute path"),
        ("link", _link("link", "/etc/passwd", tarfile.SYMTYPE), "a link"),
        ("hard", _link("hard", "/etc/passwd", tarfile.LNKTYPE), "a link"),
        ("device", _device("device"), "not a regular file or directory"),
    ],
)
def test_warm_start_dir_refuses_a_malicious_archive_before_extracting_anything(tmp_path, name, member, reason):
    channel = tmp_path / "channel"
    channel.mkdir()
    # A harmless member first: nothing at all may be written when any member is unsafe.
    _tar_gz(channel / "model.tar.gz", {"model.json": b"{}", name: member})
    work = tmp_path / "work" / "inner"
    with pytest.raises(t.DataError, match=f"member {name!r} is {reason}; the archive was not extracted"):
        t.warm_start_dir(str(channel), str(work))
    assert not work.exists()
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "work" / "escape.txt").exists()


def test_warm_start_dir_refuses_a_symlink_planted_in_the_work_directory(tmp_path):
    channel = tmp_path / "channel"
    channel.mkdir()
    _tar_gz(channel / "model.tar.gz", {"sub/model.json": b"{}"})
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "sub").symlink_to(outside)
    with pytest.raises(t.DataError, match="would be written outside"):
        t.warm_start_dir(str(channel), str(work))
    assert list(outside.iterdir()) == []


def test_warm_start_dir_reports_a_broken_archive(tmp_path):
    (tmp_path / "model.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(t.DataError, match="model.tar.gz is not a readable tar.gz"):
        t.warm_start_dir(str(tmp_path), str(tmp_path / "work"))


def test_binary_label_and_comma_list():
    assert t.binary_label("1", "r") == 1.0 and t.binary_label(False, "r") == 0.0
    with pytest.raises(t.DataError, match=r"train record 2, spam: label must be 0 or 1, but 2 was provided"):
        t.binary_label(2, "train record 2, spam")
    assert t.comma_list(" a, b,,c ") == ["a", "b", "c"]
    assert t.comma_list("") == []


def test_hash_split_is_deterministic_and_keeps_ids_together():
    rows = [{"user_id": f"u{i % 50}", "n": i} for i in range(500)]
    train, valid = t.hash_split(rows, "user_id", 0.2)
    assert len(train) + len(valid) == 500
    assert {r["user_id"] for r in train}.isdisjoint({r["user_id"] for r in valid})
    assert 0.05 < len(valid) / 500 < 0.4
    assert t.hash_split(rows, "user_id", 0.2) == (train, valid)
    with pytest.raises(t.DataError, match="too few to hold out 20% by user_id"):
        t.hash_split(rows[:1], "user_id", 0.2)


def test_progress_resumes_only_the_same_configuration(tmp_path):
    directory = str(tmp_path / "checkpoints")
    assert t.load_progress(directory, {"k": 1}) == 0
    assert t.load_progress(None, {"k": 1}) == 0
    t.save_progress(directory, {"k": 1}, 5)
    assert t.load_progress(directory, {"k": 1}) == 5
    assert t.load_progress(directory, {"k": 2}) == 0


def test_checkpoint_file_only_where_writable(tmp_path):
    assert t.checkpoint_file(str(tmp_path / "checkpoints"), "model.npz") == str(tmp_path / "checkpoints" / "model.npz")
    assert t.checkpoint_file("", "model.npz") is None
    assert t.checkpoint_file(None, "model.npz") is None


def test_train_and_validation_uses_the_test_channel_or_holds_out_ids(tmp_path):
    rows = [{"user_id": f"u{i}", "x": i} for i in range(200)]
    train_dir, test_dir = tmp_path / "train", tmp_path / "test"
    for directory, content in ((train_dir, rows), (test_dir, rows[:3])):
        directory.mkdir()
        (directory / "part").write_text("".join(json.dumps(r) + "\n" for r in content))
    train, valid = t.train_and_validation(str(train_dir), str(test_dir), ["x"], "user_id", 0.2)
    assert (len(train), len(valid)) == (200, 3)
    train, valid = t.train_and_validation(str(train_dir), "", ["x"], "user_id", 0.2)
    assert (train, valid) == t.hash_split(rows, "user_id", 0.2)
    with pytest.raises(t.DataError, match="train record 0: missing y"):
        t.train_and_validation(str(train_dir), "", ["y"], "user_id", 0.2)


class Saved:
    def __init__(self, value: int) -> None:
        self.value = value

    def save(self, directory: str) -> None:
        t.save_json(os.path.join(directory, "value.json"), self.value)

    @classmethod
    def load(cls, directory: str) -> Saved:
        return cls(t.load_json(os.path.join(directory, "value.json")))


def test_progress_checkpoints_save_every_few_epochs_and_resume_the_same_configuration(tmp_path):
    directory = str(tmp_path / "checkpoints")
    assert t.resume_progress(directory, {"k": 1}, Saved.load) == (None, 0)
    save = t.progress_checkpoints(directory, {"k": 1}, every=2)
    save(1, Saved(1), 0.5)
    assert t.load_progress(directory, {"k": 1}) == 0
    save(2, Saved(2), 0.4)
    model, done = t.resume_progress(directory, {"k": 1}, Saved.load)
    assert (model.value, done) == (2, 2)
    assert t.resume_progress(directory, {"k": 2}, Saved.load) == (None, 0)
    t.progress_checkpoints(None, {"k": 1}, every=1)(4, Saved(4))  # no checkpoint directory: nothing saved


def test_serving_code_lists_the_handler_its_modules_and_the_kit_serving_modules(tmp_path):
    files = t.serving_code(str(tmp_path), "my_model.py")
    assert files[:2] == [str(tmp_path / "inference.py"), str(tmp_path / "my_model.py")]
    assert [os.path.basename(f) for f in files[2:]] == list(t.SERVING_SUPPORT_MODULES)
    # The kit's modules sit beside training_io, as GpuTrainingJob ships them.
    assert all(os.path.isfile(f) for f in files[2:])
