"""What the blueprints' local fixtures (``blueprints/<id>/model/local_fixture.py``) share.

A local fixture trains its blueprint's reference model on the synthetic data of the model's tests
and writes what the local run's servers are loaded with, and ``fixture.json``, the manifest
``local/run.ts`` reads. The local run starts it as ``python local_fixture.py --workdir DIR`` with
the run's pseudonymization key in ``LOCAL_PSEUDONYMIZATION_KEY``; it prints one JSON line,
``{"fixture": <path of fixture.json>, "metrics": <the model's metrics>}``.

Each fixture keeps its data, model and manifest; this module holds the mechanics around them:

- ``fixture_main``: the command line above, around the fixture's ``build(workdir, key)``;
- ``prepare_build``: a build's first steps (the key checked, the work folder made, the model's
  tests module loaded: its synthetic data and hyperparameters are what the fixture trains with);
- ``run_training``: a training script's entry point, its stdout kept off the fixture's (training
  prints its metrics), and the ``metrics.json`` it wrote;
- ``batch_answers``: the served ``inference.py``'s answers to rows sent as a batch transform
  sends them (JSON Lines in, JSON Lines out);
- ``model_entry``, ``write_jsonl``, ``write_manifest``: the manifest's pieces and files.

Importing it puts the folders the fixtures import from on ``sys.path``: ``test/support/python``
(``load_script``) and ``constructs/data-lake/runtime`` (``pseudonym``, the data lake's), and
re-exports both, so that a fixture only has to find this folder. Local runs and tests only: no job
ships it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from types import ModuleType
from typing import Callable, Iterable, Sequence

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
for _folder in (("test", "support", "python"), ("constructs", "data-lake", "runtime")):
    if os.path.join(REPO, *_folder) not in sys.path:
        sys.path.append(os.path.join(REPO, *_folder))

from anonymize import pseudonym  # noqa: E402 - after the path set-up above
from blueprint_scripts import load_script  # noqa: E402

__all__ = [
    "KEY_ENV",
    "MANIFEST",
    "batch_answers",
    "fixture_main",
    "load_script",
    "model_entry",
    "prepare_build",
    "pseudonym",
    "run_training",
    "write_jsonl",
    "write_manifest",
]

KEY_ENV = "LOCAL_PSEUDONYMIZATION_KEY"
MANIFEST = "fixture.json"
JSON_LINES = "application/jsonlines"


def prepare_build(workdir: str, key: str, folder: str, tests_file: str) -> ModuleType:
    """A build's first steps: the key checked, ``workdir`` made; returns the model's tests module.

    ``folder/tests_file`` is the model's test module, whose synthetic data and hyperparameters the
    fixture trains with (loaded by ``load_script``, as the tests load the model's scripts).
    """
    if not key:
        raise ValueError("the pseudonymization key must not be empty")
    tests = load_script(folder, tests_file)
    os.makedirs(workdir, exist_ok=True)
    return tests


def write_jsonl(path: str, rows: Iterable[dict]) -> None:
    """Writes ``rows`` to ``path`` as JSON Lines."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)


def write_manifest(workdir: str, manifest: dict) -> dict:
    """Writes ``manifest`` to ``workdir``'s ``fixture.json`` (what the local run reads) and returns it."""
    with open(os.path.join(workdir, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
    return manifest


def model_entry(workdir: str, model_dir: str) -> dict:
    """A manifest's model: its folder and the serving code training wrote into it, relative to ``workdir``."""
    return {"codeDir": os.path.relpath(os.path.join(model_dir, "code"), workdir),
            "modelDir": os.path.relpath(model_dir, workdir)}


def run_training(
    run: Callable[..., int],
    train: Callable,
    parser: argparse.ArgumentParser,
    args: Sequence[str],
    model_dir: str,
    name: str | None = None,
) -> dict:
    """Trains through a training script's ``run(train, parser, args)``; returns the ``metrics.json`` it wrote.

    The training's stdout (its metric lines) is dropped: the fixture's stdout is its summary. A
    failed training (its own message on stderr) raises, naming ``name`` when given.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        code = run(train, parser, list(args))
    if code != 0:
        raise RuntimeError(f"training {f'the {name} ' if name else ''}failed (exit {code}); see stderr")
    with open(os.path.join(model_dir, "metrics.json"), encoding="utf-8") as handle:
        return json.load(handle)


def batch_answers(inference: object, model: object, rows: Iterable[dict]) -> list:
    """The served ``inference.py``'s answers to ``rows``, sent as a batch transform sends them (JSON Lines)."""
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    body, _ = inference.output_fn(inference.predict_fn(inference.input_fn(lines, JSON_LINES), model), JSON_LINES)
    return [json.loads(line) for line in body.splitlines()]


def fixture_main(build: Callable[[str, str], dict], doc: str, argv: Sequence[str] | None = None) -> int:
    """``python local_fixture.py --workdir DIR``: ``build(DIR, key)``, the key from ``LOCAL_PSEUDONYMIZATION_KEY``.

    ``doc`` is the fixture's docstring (its first line describes the command). Prints
    ``{"fixture": <path of fixture.json>, "metrics": <the manifest's metrics>}`` as one line.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    key = os.environ.get(KEY_ENV, "")
    if not key:
        parser.error(f"set {KEY_ENV} to the local run's pseudonymization key")
    manifest = build(args.workdir, key)
    summary = {"fixture": os.path.join(args.workdir, MANIFEST), "metrics": manifest["metrics"]}
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0
