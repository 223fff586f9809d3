"""What the Python tests of a workflow's SQL need from the synthesized state machine: a child
process that synthesizes it (started first, so that it overlaps Spark's start) and an evaluator of
the `States.Format` calls the statements are written in."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

from spark_iceberg import REPO

# A JSONPath argument, or a quoted literal, of a States.Format call.
ARGUMENT = r"\$[.\w\[\]]+|'(?:[^'\\]|\\.)*'"


def states_format(expression: str, values: dict[str, object]) -> str:
    """Evaluates `States.Format('<template>', <arg>, ...)` as Step Functions does: the template's
    escapes (\\' \\{ \\} \\\\) unescaped, each `{}` filled with the next argument: a JSONPath's value
    from `values`, or a quoted literal."""
    match = re.fullmatch(r"States\.Format\('((?:[^'\\]|\\.)*)'((?:, (?:" + ARGUMENT + r"))*)\)", expression)
    assert match, f"not a States.Format call: {expression}"
    template = match.group(1)
    args = list(re.findall(ARGUMENT, match.group(2)))
    unescape = lambda text: re.sub(r"\\(.)", r"\1", text)  # noqa: E731
    out, next_arg = [], iter(args)
    for part in re.split(r"(\\.|\{\})", template):
        if part == "{}":
            arg = next(next_arg)
            out.append(unescape(arg[1:-1]) if arg.startswith("'") else str(values[arg]))
        elif part.startswith("\\") and len(part) == 2:
            out.append(part[1])
        else:
            out.append(part)
    assert next(next_arg, None) is None, "more arguments than slots"
    return "".join(out)


def synthesis_child(script: str) -> Iterator[subprocess.Popen]:
    """Runs a TypeScript snippet (which prints the workflow's statements) in the repository, for a
    pytest fixture to yield; the child is killed if the tests end before it does."""
    child = subprocess.Popen(
        ["npx", "ts-node", "--transpile-only", "-e", script],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CDK_VALIDATION": "false"},
    )
    yield child
    if child.poll() is None:
        child.kill()
        child.communicate()
