"""The SageMaker training contract, shared by every blueprint's ``train.py``.

GpuTrainingJob ships this module beside the entry point in ``sourcedir.tar.gz``. It covers what
each training script would otherwise repeat:

- channels: the directories SageMaker fills (``SM_CHANNEL_<NAME>``), read as JSON Lines or CSV with
  a header, gzipped or not (Athena UNLOAD with ``format: 'json'`` writes gzipped JSON Lines);
- directories: ``SM_MODEL_DIR`` (the model), ``/opt/ml/checkpoints`` (resumed after a spot
  interruption), ``/opt/ml/output/failure`` (the reason SageMaker shows for a failed job);
- outputs: the model files, ``metrics.json`` (what the evaluation step and the quality gate read)
  and ``code/`` (the inference handler and its modules, which the inference container serves);
- warm start: the previous model's ``model.tar.gz`` (``warmStart`` of GpuTrainingJob), unpacked
  safely by ``warm_start_dir`` so that training can continue from it.

Standard library only, so that it runs in any Python 3.8+ container.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import zlib
from typing import Callable, Iterator, Sequence

CHECKPOINT_DIR = "/opt/ml/checkpoints"
PROGRESS_FILE = "progress.json"
FAILURE_FILE = "/opt/ml/output/failure"
WARM_START_CHANNEL = "warm_start"


class DataError(Exception):
    """The training data cannot be used; the message says which record and why."""


def _open_text(path: str) -> io.TextIOBase:
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        raise DataError(f"{path} is Parquet, which needs pyarrow; export the channel with format: 'json' instead")
    if magic[:2] == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")  # noqa: SIM115 - closed by the caller


def _rows_of_file(path: str) -> Iterator[dict]:
    with _open_text(path) as handle:
        lines = iter(handle)
        first = next((line for line in lines if line.strip()), "")
        if not first:
            return
        if not first.lstrip().startswith("{"):
            yield from csv.DictReader([first, *lines])
            return
        for number, line in enumerate([first, *lines], start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                raise DataError(f"{path}, line {number}: not JSON ({error})") from error
            if not isinstance(record, dict):
                raise DataError(f"{path}, line {number}: expected a JSON object")
            yield record


def read_rows(directory: str) -> list:
    """Every record of every file under ``directory`` (sorted by path; hidden and ``_`` files skipped)."""
    if not os.path.isdir(directory):
        raise DataError(f"channel directory {directory} does not exist")
    files = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith((".", "_")))
    rows = [row for path in sorted(files) for row in _rows_of_file(path)]
    if not rows:
        raise DataError(f"no records in {directory}")
    return rows


def require_columns(rows: Sequence[dict], columns: Sequence[str], channel: str = "train") -> None:
    """Fails naming the first record that lacks one of ``columns``."""
    for index, row in enumerate(rows):
        missing = [name for name in columns if row.get(name) in (None, "")]
        if missing:
            raise DataError(f"{channel} record {index}: missing {', '.join(missing)}")


def number(value: object, what: str) -> float:
    """A finite float from a JSON or CSV value, or a DataError naming ``what``."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise DataError(f"{what}: {value!r} is not a number") from error
    if result != result or result in (float("inf"), float("-inf")):
        raise DataError(f"{what}: {value!r} is not a finite number")
    return result


def binary_label(value: object, what: str) -> float:
    """A 0/1 label (JSON number, boolean or text), or a DataError naming ``what``."""
    result = number(value, what)
    if result not in (0.0, 1.0):
        raise DataError(f"{what}: label must be 0 or 1, but {value!r} was provided")
    return result


def comma_list(text: str) -> list:
    """The names of a comma-separated hyperparameter (``"a, b,,c"`` → ``["a", "b", "c"]``)."""
    return [name.strip() for name in str(text).split(",") if name.strip()]


def hash_split(rows: Sequence[dict], id_column: str, fraction: float) -> tuple:
    """(train rows, validation rows): ``fraction`` of the ids, chosen by a CRC-32 of ``id_column``.

    The split is deterministic, so an id stays on one side across runs, and all the rows of one id
    (say, one user's impressions) land on the same side. DataError when a side would be empty.
    """
    train, valid = [], []
    for row in rows:
        bucket = zlib.crc32(str(row.get(id_column, "")).encode("utf-8")) % 10_000
        (valid if bucket < fraction * 10_000 else train).append(row)
    if not train or not valid:
        raise DataError(f"{len(rows)} records are too few to hold out {fraction:.0%} by {id_column}")
    return train, valid


def _unsafe_member(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` must not be extracted, or None: only plain files and directories under the target."""
    name = member.name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a '..' component"
    if member.issym() or member.islnk():
        return "a link"
    if not (member.isfile() or member.isdir()):
        return "not a regular file or directory"
    return None


def extract_model(archive: str, target: str) -> str:
    """Unpacks a model.tar.gz into ``target``, refusing the whole archive if any member could escape it.

    Only regular files and directories are written; absolute paths, ``..`` components, links and
    devices are refused (DataError naming the member) before anything is extracted.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                reason = _unsafe_member(member)
                if reason is not None:
                    raise DataError(f"{archive}: member {member.name!r} is {reason}; the archive was not extracted")
            root = os.path.realpath(target)
            os.makedirs(root, exist_ok=True)
            for member in members:
                path = os.path.realpath(os.path.join(root, member.name))
                if path != root and not path.startswith(root + os.sep):
                    raise DataError(f"{archive}: member {member.name!r} would be written outside {target}")
                if member.isdir():
                    os.makedirs(path, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise DataError(f"{archive}: member {member.name!r} cannot be read")
                with source, open(path, "wb") as handle:
                    shutil.copyfileobj(source, handle)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{archive} is not a readable tar.gz ({error})") from error
    return target


def warm_start_dir(channel_dir: str | None = None, work_dir: str | None = None) -> str | None:
    """The previous model, unpacked, to continue training from; None when this run starts from scratch.

    ``channel_dir`` is the warm start channel (default ``SM_CHANNEL_WARM_START``, else
    ``/opt/ml/input/data/warm_start``). GpuTrainingJob hands it the newest model package's
    ``model.tar.gz``; that archive (or the only ``*.tar.gz`` there) is extracted safely into
    ``work_dir`` (default: a new temporary directory) and that directory returned. A channel that
    holds an extracted model already is returned as it is. An absent or empty channel (the first
    run, when the group has no version yet) gives None.
    """
    if channel_dir is None:
        channel_dir = os.environ.get("SM_CHANNEL_WARM_START", f"/opt/ml/input/data/{WARM_START_CHANNEL}")
    if not channel_dir or not os.path.isdir(channel_dir):
        return None
    files = []
    for root, dirs, names in os.walk(channel_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
    if not files:
        return None
    archives = [f for f in files if f.endswith(".tar.gz")]
    if not archives:
        return channel_dir
    named = [f for f in archives if os.path.basename(f) == "model.tar.gz"]
    candidates = named or archives
    if len(candidates) > 1:
        listed = ", ".join(os.path.relpath(f, channel_dir) for f in candidates)
        raise DataError(f"{channel_dir} holds several archives ({listed}); expected one model.tar.gz")
    target = work_dir or tempfile.mkdtemp(prefix="warm_start_")
    return extract_model(candidates[0], target)


def base_arguments(description: str) -> argparse.ArgumentParser:
    """A parser with the directories SageMaker passes through the environment; add hyperparameters to it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train-dir", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--test-dir", default=os.environ.get("SM_CHANNEL_TEST", ""))
    parser.add_argument("--checkpoint-dir", default=CHECKPOINT_DIR)
    parser.add_argument("--seed", type=int, default=7)
    return parser


def usable_checkpoint_dir(checkpoint_dir: str | None) -> str | None:
    """The checkpoint directory, or None outside SageMaker where /opt/ml is not writable."""
    if not checkpoint_dir:
        return None
    parent = os.path.dirname(checkpoint_dir.rstrip("/")) or "."
    return checkpoint_dir if os.path.isdir(checkpoint_dir) or os.access(parent, os.W_OK) else None


def checkpoint_file(checkpoint_dir: str | None, name: str) -> str | None:
    """``name`` in the usable checkpoint directory (``usable_checkpoint_dir``), or None when there is none."""
    directory = usable_checkpoint_dir(checkpoint_dir)
    return os.path.join(directory, name) if directory else None


def train_and_validation(
    train_dir: str, test_dir: str | None, columns: Sequence[str], id_column: str, fraction: float
) -> tuple:
    """(train rows, validation rows), each checked for ``columns``.

    The validation rows are the ``test`` channel's when there is one, else ``fraction`` of the
    train channel's ids (``hash_split`` by ``id_column``, so that an id stays on one side).
    """
    rows = read_rows(train_dir)
    require_columns(rows, columns, "train")
    if test_dir and os.path.isdir(test_dir):
        valid = read_rows(test_dir)
        require_columns(valid, columns, "test")
        return rows, valid
    return hash_split(rows, id_column, fraction)


def resume_progress(checkpoint_dir: str | None, config: dict, load: Callable[[str], object]) -> tuple:
    """(model, epochs done) of the checkpoint in ``checkpoint_dir`` written for ``config``, else (None, 0).

    ``load(checkpoint_dir)`` reads the model; ``progress_checkpoints`` writes it.
    """
    done = load_progress(checkpoint_dir, config)
    if not done or not checkpoint_dir:
        return None, 0
    print(f"resuming from the checkpoint after epoch {done}")
    return load(checkpoint_dir), done


def progress_checkpoints(checkpoint_dir: str | None, config: dict, every: int) -> Callable[..., None]:
    """An ``on_epoch(epochs done, model, ...)`` that saves the model and the progress every ``every`` epochs.

    The model writes itself with ``model.save(checkpoint_dir)``; ``resume_progress`` reads it back.
    """

    def save(epochs_done: int, model: object, *_: object) -> None:
        if checkpoint_dir and epochs_done % every == 0:
            model.save(checkpoint_dir)  # type: ignore[attr-defined]
            save_progress(checkpoint_dir, config, epochs_done)

    return save


def save_json(path: str, content: object) -> None:
    """Writes atomically, so that an interruption never leaves half a file."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2, sort_keys=True)
    os.replace(temporary, path)


def load_json(path: str) -> object | None:
    """The JSON in ``path``, or None when there is no such file."""
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def load_progress(checkpoint_dir: str | None, config: dict) -> int:
    """Epochs done by the checkpoint in ``checkpoint_dir`` when it was written for ``config``, else 0.

    A checkpoint of another configuration (other hyperparameters, other data shape) is not resumed.
    """
    if not checkpoint_dir:
        return 0
    state = load_json(os.path.join(checkpoint_dir, PROGRESS_FILE))
    if isinstance(state, dict) and state.get("config") == config:
        return int(state.get("epochs_done", 0))
    return 0


def save_progress(checkpoint_dir: str, config: dict, epochs_done: int) -> None:
    """Records that the checkpoint in ``checkpoint_dir`` holds ``epochs_done`` epochs of training with ``config``."""
    save_json(os.path.join(checkpoint_dir, PROGRESS_FILE), {"config": config, "epochs_done": epochs_done})


# The kit's modules an inference handler imports; GpuTrainingJob ships them beside training_io.
SERVING_SUPPORT_MODULES = ("serving_io.py", "numpy_nn.py")


def serving_code(folder: str, *model_modules: str) -> list:
    """The files an endpoint needs in ``code/``: ``folder``'s inference.py and ``model_modules``,
    and the kit's serving modules (:data:`SERVING_SUPPORT_MODULES`) from beside this module."""
    support = os.path.dirname(os.path.abspath(__file__))
    return [
        os.path.join(folder, "inference.py"),
        *(os.path.join(folder, name) for name in model_modules),
        *(os.path.join(support, name) for name in SERVING_SUPPORT_MODULES),
    ]


def write_outputs(model_dir: str, metrics: dict, serving_files: Sequence[str]) -> None:
    """Writes ``metrics.json`` and copies the serving code into ``model_dir/code``, then prints the metrics."""
    save_json(os.path.join(model_dir, "metrics.json"), metrics)
    code_dir = os.path.join(model_dir, "code")
    os.makedirs(code_dir, exist_ok=True)
    for source in serving_files:
        shutil.copyfile(source, os.path.join(code_dir, os.path.basename(source)))
    for name, value in sorted(metrics.items()):
        if isinstance(value, (int, float)):
            print(f"metric {name}={value:.6f}")  # SageMaker metric definitions can match these lines


def run(
    train: Callable[[argparse.Namespace], dict], parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> int:
    """Parses the arguments and trains; a DataError becomes exit code 1 and SageMaker's failure reason."""
    try:
        train(parser.parse_args(argv))
    except DataError as error:
        print(f"training failed: {error}", file=sys.stderr)
        if os.path.isdir(os.path.dirname(FAILURE_FILE)):
            with open(FAILURE_FILE, "w", encoding="utf-8") as handle:
                handle.write(str(error))
        return 1
    return 0
