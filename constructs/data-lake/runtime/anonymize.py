"""Anonymization stage of the data lake: applies a dataset's column policy to raw records.

SageMaker runs this script as a Processing job in the scikit-learn processing container
(Python 3.8+, standard library and boto3 only). It reads raw records (JSON Lines or CSV, plain or
gzip), checks every field against the dataset's column policy, drops, pseudonymizes or generalizes
each column as the policy says, and writes one JSON Lines file. The job role is the only principal
allowed to read raw personal data, so nothing raw may leave it: any doubt is an error.

Usage::

    python anonymize.py --policy policy.json --input /opt/ml/processing/input \\
        --output /opt/ml/processing/output/user_events.jsonl --key-secret-id <secret id or ARN> \\
        [--source-prefix user_events/2026/12/07/01/]

The secret id may also come from the environment variable ``ANONYMIZATION_KEY_SECRET_ID``.
Exit codes: 0 success, 1 anonymization error (invalid policy, unclassified field, bad value,
unreadable input, key problem), 2 usage error. A one-line summary goes to stdout, errors to
stderr. Neither ever contains a record value: messages name the dataset, file, row and column.

POLICY
======

A JSON object that the data-lake construct generates at synth time::

    {
      "dataset": "user_events",
      "format": "jsonl",
      "columns": [
        {"name": "email",   "type": "string", "classification": "direct-identifier", "action": "drop"},
        {"name": "user_id", "type": "string", "classification": "direct-identifier", "action": "pseudonymize"},
        {"name": "age",     "type": "bigint", "classification": "quasi-identifier",  "action": "generalize",
         "rule": {"kind": "bucket", "width": 10}},
        {"name": "ip",      "type": "string", "classification": "quasi-identifier",  "action": "generalize",
         "rule": {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48}},
        {"name": "event",   "type": "string", "classification": "non-personal",      "action": "keep"}
      ]
    }

Top level (exactly these keys):

``dataset``  1-128 characters ``[A-Za-z0-9_.-]``, starting with a letter or digit. Named in every
             error message, and the output file name when ``--output`` is a directory.
``format``   ``"jsonl"`` or ``"csv"``: the format of the input files.
``columns``  non-empty array of column objects; names are unique. Output columns keep this order.

Column (exactly these keys; ``rule`` present if and only if ``action`` is ``generalize``):

``name``            non-empty string: the field name in the input (JSON key or CSV header).
``type``            ``string`` | ``bigint`` | ``double`` | ``boolean`` | ``timestamp`` | ``date``.
``classification``  ``direct-identifier`` | ``quasi-identifier`` | ``special-category`` | ``non-personal``.
``action``          ``drop`` | ``pseudonymize`` | ``generalize`` | ``keep``.
``rule``            object with ``kind`` and that kind's parameters (no other keys).

Allowed actions per classification:

- ``direct-identifier``: ``drop`` or ``pseudonymize`` only.
- ``quasi-identifier``, ``special-category``: any action.
- ``non-personal``: ``keep`` or ``drop`` only.

Generalization rules (``kind``; parameters; column types the rule applies to; output):

``bucket``              ``width``: positive finite number; type ``bigint`` (width must be a whole
                        number) or ``double``. Output: the value floored to a multiple of width,
                        ``floor(v / width) * width`` (so -3 with width 10 gives -10). bigint stays
                        an integer; for double the arithmetic is decimal, on the shortest repr of
                        the value (0.7 with width 0.1 gives 0.7, not 0.6000000000000001).
``round``               ``decimals``: integer >= 0; type ``double``. Output: Python's
                        ``round(v, decimals)`` (half-even on the exact binary value), a double.
``truncate-timestamp``  ``unit``: ``hour`` | ``day`` | ``month`` | ``year``; type ``timestamp`` or
                        ``date``. Input: ISO-8601
                        ``YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|+HH:MM|+HHMM|+HH]`` (no zone means
                        UTC), or epoch seconds (a number, or a string that is only a number).
                        Output for a timestamp column: ``'YYYY-MM-DD HH:MM:SS'`` in UTC truncated to
                        the unit (Athena's timestamp literal), e.g. ``2024-03-01T01:30:00+02:00``
                        by day gives ``'2024-02-29 00:00:00'``. For a date column: ``'YYYY-MM-DD'``
                        (Athena's date literal) truncated to the unit, ``hour`` acting as ``day``.
``prefix``              ``length``: integer >= 1; type ``string``. Output: the first ``length``
                        characters (Unicode code points); shorter values are kept whole.
``ip-prefix``           ``ipv4Bits``: integer 0..32 and ``ipv6Bits``: integer 0..128 (both
                        required); type ``string``. Output: the network address of the value with
                        that prefix length, e.g. ``192.168.17.42`` with 24 gives ``192.168.17.0``,
                        ``2001:db8:abcd:12::1`` with 48 gives ``2001:db8:abcd::``. A value that is
                        not an IPv4/IPv6 address is an error.

Output types: ``pseudonymize`` gives a string (64 lowercase hex characters) whatever the column
type; ``truncate-timestamp`` gives a timestamp (or date) literal string; the other rules and
``keep`` give the column's type (string, integer, number, boolean; ``timestamp`` and ``date``
values are passed through as read).

Any other key, value or combination makes the policy invalid; the error names the dataset and the
column and is raised before any row is read.

RECORDS
=======

Input is a file or a directory, read recursively in sorted path order; in a directory, names
starting with ``.`` or ``_`` (e.g. ``_SUCCESS``) are skipped and any other file must match the
format: ``.jsonl``/``.json`` (one JSON object per line, blank lines ignored) or ``.csv`` (RFC 4180,
header row first), each optionally ``.gz``. No input file at all is an error.

Values are first converted to the column's type:

- CSV: an empty field is null. Otherwise: ``string``, ``timestamp``, ``date`` as is; ``bigint`` an
  integer (``42``; ``42.0`` is accepted, ``42.5`` is not); ``double`` a finite decimal number;
  ``boolean`` ``true``/``false``/``1``/``0`` (any case).
- JSON: ``null`` and missing keys are null. ``string``: a string, or a number/boolean turned into its
  canonical string (below); ``bigint``: an integer, an integral number or an integer string;
  ``double``: a number or a numeric string; ``boolean``: ``true``/``false``, ``0``/``1`` or a boolean
  string as for CSV; ``timestamp``: a string or a number; ``date``: a string. An empty string is null
  for every type but ``string``. Objects and arrays are never accepted (they could hide fields
  nobody classified), nor NaN or Infinity.

A value that cannot be converted, or that its rule cannot apply to, is an error naming the column,
the file and the row (the 1-based record number within the file; the CSV header is not a row).

Every input field must be a policy column: a field the policy does not list is an error naming the
dataset and the field(s) (CSV: checked on the header, JSONL: on every record). Policy columns absent
from the input are null. Nulls stay null (they are never pseudonymized). Output records hold the
non-dropped policy columns in policy order, then ``source_object`` (lineage: the key of the raw
object the record came from, ``--source-prefix`` followed by the file's path under the input, so
that an erasure finds the raw objects that hold a subject by querying the curated table instead of
scanning the raw zone), one JSON object per line (UTF-8, not ASCII-escaped),
written to a temporary file next to the output and renamed into place only once every row
succeeded, so a failed run leaves no output.

PSEUDONYMS
==========

``pseudonym = hex(HMAC-SHA256(key = UTF-8(secret key string), message = UTF-8(canonical string)))``,
lowercase hex, 64 characters. The canonical string of a value (after the type conversion above):

- string: the string itself, unchanged (no trimming, no case folding, no Unicode normalization);
- boolean: ``true`` or ``false``;
- integer: its decimal digits, with ``-`` if negative (no ``+``, no leading zeros);
- integral float (``42.0``, ``-0.0``, ``1e21``): the decimal digits of the exact integer it equals,
  as for an integer, so ``42``, ``42.0`` and ``"42"`` all give the same pseudonym (``-0.0`` -> ``0``,
  ``1e21`` -> ``1000000000000000000000``);
- any other finite float: ECMAScript ``Number.prototype.toString``, i.e. the shortest decimal that
  round-trips, in JavaScript's layout (``0.1``, ``-2.5``, ``0.000001``, ``1e-7``, ``1.5e-7``);
- NaN/Infinity: an error.

In TypeScript: ``Number.isInteger(v) ? BigInt(v).toString() : String(v)`` for numbers (and a
lossless JSON parser for integers beyond 2**53). ``pseudonym_vectors.json`` holds test vectors.

The key is the SecretString of a Secrets Manager secret: if it parses as a JSON object, the key is
its ``"key"`` member (a string); otherwise the whole SecretString, verbatim. An empty key is an error.
"""

from __future__ import annotations

import argparse
import csv
import functools
import gzip
import hmac
import ipaddress
import json
import math
import os
import re
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterator

KEY_SECRET_ENV = "ANONYMIZATION_KEY_SECRET_ID"


def key_secret_id(given: str | None, program: str) -> str | None:
    """The key's secret id, from --key-secret-id or KEY_SECRET_ENV; None (after the usage error on
    stderr, for exit code 2) when neither gives one. Shared by every script that reads the key."""
    secret_id = given or os.environ.get(KEY_SECRET_ENV)
    if not secret_id:
        print(f"{program}: error: pass --key-secret-id or set {KEY_SECRET_ENV}", file=sys.stderr)
        return None
    return secret_id
# Lineage: every output record names the raw object it came from (the construct's LINEAGE_COLUMN).
LINEAGE_COLUMN = "source_object"

TYPES = ("string", "bigint", "double", "boolean", "timestamp", "date")
CLASSIFICATIONS = ("direct-identifier", "quasi-identifier", "special-category", "non-personal")
ACTIONS = ("drop", "pseudonymize", "generalize", "keep")
ALLOWED_ACTIONS = {
    "direct-identifier": ("drop", "pseudonymize"),
    "quasi-identifier": ACTIONS,
    "special-category": ACTIONS,
    "non-personal": ("keep", "drop"),
}
FORMATS = ("jsonl", "csv")
# Rule kind -> (its parameters, the column types it applies to).
RULES = {
    "bucket": (("width",), ("bigint", "double")),
    "round": (("decimals",), ("double",)),
    "truncate-timestamp": (("unit",), ("timestamp", "date")),
    "prefix": (("length",), ("string",)),
    "ip-prefix": (("ipv4Bits", "ipv6Bits"), ("string",)),
}
TIMESTAMP_UNITS = ("hour", "day", "month", "year")
EXTENSIONS = {"jsonl": (".jsonl", ".json"), "csv": (".csv",)}

_POLICY_KEYS = ("dataset", "format", "columns")
_COLUMN_KEYS = ("name", "type", "classification", "action", "rule")
_DATASET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)
_INT_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?",
    re.ASCII,
)
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
_EPOCH = datetime(1970, 1, 1)  # naive datetimes in this module are UTC
_DAY = timedelta(days=1)
_INF = float("inf")
_NO_UTF8 = "contains a lone UTF-16 surrogate (a \\ud800-\\udfff escape), which has no UTF-8 encoding"
_IPV4_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_RE = re.compile(r"\.".join([_IPV4_OCTET] * 4), re.ASCII)


# --------------------------------------------------------------------------------------------
# Errors


class AnonymizationError(Exception):
    """Anything that stops the anonymization; the message never contains a record value."""


class PolicyError(AnonymizationError):
    """The policy is invalid."""


class UnclassifiedColumnError(AnonymizationError):
    """An input field is not in the policy."""

    def __init__(self, dataset: str, columns: list[str], where: str) -> None:
        self.dataset = dataset
        self.columns = columns
        names = ", ".join(repr(c) for c in columns)
        super().__init__(
            f"dataset '{dataset}': input field(s) {names} not in the policy ({where}); "
            "classify them in the policy: an unclassified field must never reach the output"
        )


class InvalidValueError(AnonymizationError):
    """A value cannot be converted to its column's type, or its rule cannot apply to it."""

    def __init__(self, dataset: str, column: str, file: Path, row: int, problem: str) -> None:
        self.dataset = dataset
        self.column = column
        self.file = file
        self.row = row
        super().__init__(f"dataset '{dataset}': column '{column}', row {row} of {file}: {problem}")


class InputFormatError(AnonymizationError):
    """An input file is missing, unsupported or malformed."""


class OutputError(AnonymizationError):
    """The output cannot be written."""


class KeyConfigurationError(AnonymizationError):
    """The pseudonymization key cannot be loaded."""


class _ValueProblemError(ValueError):
    """Raised by converters and rules; the row loop adds column and row. Never holds the value."""


# --------------------------------------------------------------------------------------------
# Policy


@dataclass(frozen=True)
class Rule:
    kind: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    classification: str
    action: str
    rule: Rule | None = None


@dataclass(frozen=True)
class Policy:
    dataset: str
    format: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns)

    def with_action(self, action: str) -> list[str]:
        return [c.name for c in self.columns if c.action == action]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _rule_problems(rule: Any, column_type: str) -> list[str]:
    if not isinstance(rule, dict):
        return ["rule must be an object"]
    kind = rule.get("kind")
    if kind not in RULES:
        return [f"rule kind {kind!r} is unknown (allowed: {', '.join(RULES)})"]
    params, types = RULES[kind]
    problems = []
    unknown = sorted(set(rule) - set(params) - {"kind"})
    if unknown:
        problems.append(f"rule '{kind}' has unknown key(s) {', '.join(unknown)} (allowed: {', '.join(params)})")
    if column_type not in types:
        problems.append(f"rule '{kind}' applies to type(s) {', '.join(types)}, not '{column_type}'")
    if kind == "bucket":
        width = rule.get("width")
        if not _is_number(width) or width <= 0:
            problems.append("rule 'bucket' needs 'width', a positive number")
        elif column_type == "bigint" and not float(width).is_integer():
            problems.append("rule 'bucket' on a bigint column needs a whole-number 'width'")
    elif kind == "round":
        decimals = rule.get("decimals")
        if not _is_int(decimals) or decimals < 0:
            problems.append("rule 'round' needs 'decimals', an integer >= 0")
    elif kind == "truncate-timestamp":
        if rule.get("unit") not in TIMESTAMP_UNITS:
            problems.append(f"rule 'truncate-timestamp' needs 'unit', one of {', '.join(TIMESTAMP_UNITS)}")
    elif kind == "prefix":
        length = rule.get("length")
        if not _is_int(length) or length < 1:
            problems.append("rule 'prefix' needs 'length', an integer >= 1")
    elif kind == "ip-prefix":
        for param, top in (("ipv4Bits", 32), ("ipv6Bits", 128)):
            bits = rule.get(param)
            if not _is_int(bits) or not 0 <= bits <= top:
                problems.append(f"rule 'ip-prefix' needs '{param}', an integer from 0 to {top}")
    return problems


def _column_problems(raw: dict[str, Any]) -> list[str]:
    problems = []
    unknown = sorted(set(raw) - set(_COLUMN_KEYS))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(_COLUMN_KEYS)})")
    column_type = raw.get("type")
    if column_type not in TYPES:
        problems.append(f"type {column_type!r} is unknown (allowed: {', '.join(TYPES)})")
    classification = raw.get("classification")
    if classification not in CLASSIFICATIONS:
        problems.append(f"classification {classification!r} is unknown (allowed: {', '.join(CLASSIFICATIONS)})")
    action = raw.get("action")
    if action not in ACTIONS:
        problems.append(f"action {action!r} is unknown (allowed: {', '.join(ACTIONS)})")
    elif classification in ALLOWED_ACTIONS and action not in ALLOWED_ACTIONS[classification]:
        allowed = " or ".join(ALLOWED_ACTIONS[classification])
        problems.append(f"action '{action}' is not allowed for a {classification} column (allowed: {allowed})")
    if action == "generalize":
        if "rule" not in raw:
            problems.append("action 'generalize' needs a rule")
        elif column_type in TYPES:
            problems.extend(_rule_problems(raw["rule"], column_type))
    elif "rule" in raw:
        problems.append("a rule is only allowed with action 'generalize'")
    return problems


def parse_policy(document: Any) -> Policy:
    """Validates a policy document (already parsed from JSON); raises PolicyError listing every problem."""
    if not isinstance(document, dict):
        raise PolicyError("policy must be a JSON object")
    dataset = document.get("dataset")
    if not isinstance(dataset, str) or not _DATASET_RE.fullmatch(dataset):
        raise PolicyError(
            f"policy 'dataset' must be 1-128 characters [A-Za-z0-9_.-] starting with a letter or digit, "
            f"but {dataset!r} was provided"
        )
    problems = []
    unknown = sorted(set(document) - set(_POLICY_KEYS))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(_POLICY_KEYS)})")
    fmt = document.get("format")
    if fmt not in FORMATS:
        problems.append(f"format {fmt!r} is unknown (allowed: {', '.join(FORMATS)})")
    raw_columns = document.get("columns")
    columns: list[Column] = []
    if not isinstance(raw_columns, list) or not raw_columns:
        problems.append("columns must be a non-empty array")
        raw_columns = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_columns):
        if not isinstance(raw, dict):
            problems.append(f"columns[{index}] must be an object")
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"columns[{index}]: name must be a non-empty string")
            continue
        if name in seen:
            problems.append(f"column '{name}': listed more than once")
            continue
        seen.add(name)
        if name == LINEAGE_COLUMN:
            problems.append(
                f"column '{name}': the name is reserved for the lineage column the stage adds to every record "
                "(the raw object it came from); rename the input field"
            )
            continue
        column_problems = _column_problems(raw)
        problems.extend(f"column '{name}': {p}" for p in column_problems)
        if not column_problems:
            rule = raw.get("rule")
            columns.append(
                Column(
                    name=name,
                    type=raw["type"],
                    classification=raw["classification"],
                    action=raw["action"],
                    rule=Rule(rule["kind"], {k: v for k, v in rule.items() if k != "kind"}) if rule else None,
                )
            )
    if problems:
        raise PolicyError(f"invalid policy for dataset '{dataset}': " + "; ".join(problems))
    return Policy(dataset=dataset, format=fmt, columns=tuple(columns))


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Reads and validates the policy file."""
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except OSError as e:
        raise PolicyError(f"cannot read policy {path}: {e.strerror}") from None
    except ValueError as e:
        raise PolicyError(f"policy {path} is not valid JSON: {e}") from None
    return parse_policy(document)


# --------------------------------------------------------------------------------------------
# Pseudonyms


def ecmascript_number_string(x: float) -> str:
    """The string JavaScript's ``String(x)`` gives for a finite float (shortest round-trip digits)."""
    if x == 0:
        return "0"
    if x < 0:
        return "-" + ecmascript_number_string(-x)
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    n = len(whole) + (int(exponent) if exponent else 0)  # the decimal point sits after n digits
    significant = digits.lstrip("0")
    n -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(e)}"


def canonical_string(value: Any) -> str:
    """The string a value is pseudonymized as (see PSEUDONYMS in the module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__str__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _ValueProblemError("NaN and Infinity cannot be pseudonymized")
        if value.is_integer():
            return int.__str__(int(value))
        return ecmascript_number_string(value)
    raise _ValueProblemError(f"cannot pseudonymize {_kind(value)}")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a JSON escape such as \ud800 decodes to a lone surrogate
        raise _ValueProblemError(f"the value {_NO_UTF8}") from None


def _key_bytes(key: str | bytes) -> bytes:
    try:
        key_bytes = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    except UnicodeEncodeError:
        raise KeyConfigurationError(f"the pseudonymization key {_NO_UTF8}") from None
    if not key_bytes:
        raise KeyConfigurationError("the pseudonymization key is empty")
    return key_bytes


def pseudonym(key: str | bytes, value: Any) -> str:
    """Lowercase hex HMAC-SHA256 of the value's canonical string under the key."""
    return hmac.digest(_key_bytes(key), _utf8(canonical_string(value)), "sha256").hex()


def load_key_from_secret(secret_id: str, client: Any = None) -> str:
    """Reads the pseudonymization key from a Secrets Manager secret (plain string or JSON {"key": ...})."""
    if client is None:
        import boto3

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        client = boto3.client("secretsmanager", region_name=region)
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except Exception as e:  # botocore ClientError / BotoCoreError; their messages hold no secret
        raise KeyConfigurationError(f"cannot read key secret {secret_id}: {type(e).__name__}: {e}") from None
    secret = response.get("SecretString")
    if not isinstance(secret, str):
        raise KeyConfigurationError(f"key secret {secret_id} has no SecretString (binary secrets are not supported)")
    key = secret
    try:
        document = json.loads(secret)
    except ValueError:
        document = None
    if isinstance(document, dict):
        key = document.get("key")
        if not isinstance(key, str):
            raise KeyConfigurationError(f"key secret {secret_id} is a JSON object without a string member 'key'")
    if not key:
        raise KeyConfigurationError(f"key secret {secret_id} holds an empty key")
    return key


# --------------------------------------------------------------------------------------------
# Type conversion


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _to_string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return canonical_string(value)
    raise _ValueProblemError(f"expected a string, got {_kind(value)}")


def _to_bigint(value: Any) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise _ValueProblemError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _ValueProblemError("expected an integer, got a number that is not whole")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _INT_RE.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than Python converts
                raise _ValueProblemError("integer too long") from None
        if _NUMBER_RE.fullmatch(text):
            try:
                number = Decimal(text)
                if number == number.to_integral_value():
                    return int(number)
            except (InvalidOperation, ValueError, OverflowError):
                pass
            raise _ValueProblemError("expected an integer, got a number that is not whole")
        raise _ValueProblemError("expected an integer, got a string that is not a number")
    raise _ValueProblemError(f"expected an integer, got {_kind(value)}")


def _to_double(value: Any) -> Any:
    if type(value) is float and -_INF < value < _INF:
        return value
    if isinstance(value, bool):
        raise _ValueProblemError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise _ValueProblemError("number out of range for a double") from None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _NUMBER_RE.fullmatch(text):
            raise _ValueProblemError("expected a number, got a string that is not a number")
        number = float(text)
    else:
        raise _ValueProblemError(f"expected a number, got {_kind(value)}")
    if not math.isfinite(number):
        raise _ValueProblemError("number out of range for a double")
    return number


def _to_boolean(value: Any) -> Any:
    if type(value) is bool:
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _BOOLEANS:
            return _BOOLEANS[text]
        raise _ValueProblemError("expected a boolean (true/false/1/0), got a string that is not one")
    raise _ValueProblemError(f"expected a boolean, got {_kind(value)}")


def _to_timestamp(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.strip() else None
    if _is_number(value):
        return value
    raise _ValueProblemError(f"expected a timestamp (string or epoch seconds), got {_kind(value)}")


def _to_date(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.strip() else None
    raise _ValueProblemError(f"expected a date string, got {_kind(value)}")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "bigint": _to_bigint,
    "double": _to_double,
    "boolean": _to_boolean,
    "timestamp": _to_timestamp,
    "date": _to_date,
}


# --------------------------------------------------------------------------------------------
# Generalization rules


def _timestamp_from_parts(
    year: str,
    month: str,
    day: str,
    hour: str | None,
    minute: str | None,
    second: str | None,
    sign: str | None,
    offset_hours: str | None,
    offset_minutes: str | None,
) -> datetime:
    try:
        parsed = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        if sign:
            offset = timedelta(hours=int(offset_hours or 0), minutes=int(offset_minutes or 0))
            if offset >= _DAY:
                raise ValueError("offset out of range")
            parsed = parsed - offset if sign == "+" else parsed + offset
        return parsed
    except (ValueError, OverflowError):
        raise _ValueProblemError("not a valid date, time or zone offset") from None


def parse_timestamp(value: Any) -> datetime:
    """An ISO-8601 string (no zone = UTC) or epoch seconds, as a naive datetime in UTC (whole seconds)."""
    if isinstance(value, str):
        text = value.strip()
        match = _TIMESTAMP_RE.fullmatch(text)
        if match:
            year, month, day, hour, minute, second, _fraction, _zulu, sign, off_h, off_m = match.groups()
            return _timestamp_from_parts(year, month, day, hour, minute, second, sign, off_h, off_m)
        if not _NUMBER_RE.fullmatch(text):
            raise _ValueProblemError("not an ISO-8601 timestamp or epoch seconds")
        value = float(text) if any(c in text for c in ".eE") else int(text)
    if not _is_number(value):
        raise _ValueProblemError(f"expected a timestamp, got {_kind(value)}")
    try:
        return _EPOCH + timedelta(seconds=math.floor(value))
    except (OverflowError, ValueError):
        raise _ValueProblemError("epoch seconds out of range (milliseconds?)") from None


def _truncate_timestamp(unit: str, column_type: str = "timestamp") -> Callable[[Any], str]:
    def truncate(t: datetime) -> str:
        if column_type == "date":
            if unit in ("hour", "day"):
                return f"{t.year:04d}-{t.month:02d}-{t.day:02d}"
            return f"{t.year:04d}-{t.month:02d}-01" if unit == "month" else f"{t.year:04d}-01-01"
        if unit == "hour":
            return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:00:00"
        if unit == "day":
            return f"{t.year:04d}-{t.month:02d}-{t.day:02d} 00:00:00"
        if unit == "month":
            return f"{t.year:04d}-{t.month:02d}-01 00:00:00"
        return f"{t.year:04d}-01-01 00:00:00"

    # Seconds and fractions never change the result (zone offsets are whole minutes), nor do minutes
    # unless the offset has some: results are cached on the parts that matter, once those are valid.
    @functools.lru_cache(maxsize=1 << 16)
    def from_parts(*parts: str | None) -> str:
        year, month, day, hour, minute, sign, off_h, off_m = parts
        return truncate(_timestamp_from_parts(year, month, day, hour, minute, None, sign, off_h, off_m))

    match_iso = _TIMESTAMP_RE.fullmatch

    def apply(value: Any) -> str:
        if type(value) is str:
            match = match_iso(value)
            if match:
                year, month, day, hour, minute, second, _fraction, _zulu, sign, off_h, off_m = match.groups()
                if (minute is None or minute < "60") and (second is None or second < "60"):
                    minute = minute if off_m and off_m != "00" else None
                    return from_parts(year, month, day, hour, minute, sign, off_h, off_m)
                raise _ValueProblemError("not a valid date, time or zone offset")
        return truncate(parse_timestamp(value))

    return apply


def _bucket(width: float, column_type: str) -> Callable[[Any], Any]:
    if column_type == "bigint":
        step = int(width)
        return lambda value: value // step * step
    step_decimal = Decimal(repr(float(width)))
    context = Context(prec=60)

    def apply(value: float) -> float:
        quotient = context.divide(Decimal(repr(value)), step_decimal)
        return float(context.multiply(quotient.to_integral_value(rounding=ROUND_FLOOR, context=context), step_decimal))

    return apply


def _round(decimals: int) -> Callable[[Any], Any]:
    return lambda value: round(value, decimals)


def _prefix(length: int) -> Callable[[Any], Any]:
    return lambda value: value[:length]


def _ip_prefix(ipv4_bits: int, ipv6_bits: int) -> Callable[[Any], Any]:
    mask4 = (0xFFFFFFFF << (32 - ipv4_bits)) & 0xFFFFFFFF
    mask6 = ((1 << 128) - 1) << (128 - ipv6_bits) & ((1 << 128) - 1)
    ipv4 = _IPV4_RE.fullmatch

    def apply(value: str) -> str:
        match = ipv4(value)
        if match:  # fast path for the common dotted quad; same result as ipaddress
            a, b, c, d = match.groups()
            n = (int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)) & mask4
            return f"{n >> 24}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            raise _ValueProblemError("not an IPv4 or IPv6 address") from None
        if address.version == 4:
            return str(ipaddress.IPv4Address(int(address) & mask4))
        return str(ipaddress.IPv6Address(int(address) & mask6))

    return apply


def _rule_function(column: Column) -> Callable[[Any], Any]:
    assert column.rule is not None
    kind, params = column.rule.kind, column.rule.params
    if kind == "bucket":
        return _bucket(params["width"], column.type)
    if kind == "round":
        return _round(params["decimals"])
    if kind == "truncate-timestamp":
        return _truncate_timestamp(params["unit"], column.type)
    if kind == "prefix":
        return _prefix(params["length"])
    return _ip_prefix(params["ipv4Bits"], params["ipv6Bits"])


def column_transform(column: Column, key: bytes) -> Callable[[Any], Any]:
    """Converts a non-null value to the column's type, then applies the column's action."""
    convert = _CONVERTERS[column.type]
    if column.action == "keep":
        return convert
    digest = hmac.digest
    if column.action == "pseudonymize":

        def action(value: Any) -> Any:
            return digest(key, _utf8(canonical_string(value)), "sha256").hex()

    elif column.action == "generalize":
        action = _rule_function(column)
    else:
        raise ValueError(f"column '{column.name}' is dropped and has no transform")

    def transform(value: Any) -> Any:
        converted = convert(value)
        return None if converted is None else action(converted)

    # Values already of the column's Python type need no conversion: skip a call on the common path.
    if column.type == "string":
        if column.action == "pseudonymize":

            def pseudonymize_string(value: Any) -> Any:
                if type(value) is str:
                    try:
                        return digest(key, value.encode("utf-8"), "sha256").hex()
                    except UnicodeEncodeError:
                        raise _ValueProblemError(f"the value {_NO_UTF8}") from None
                return transform(value)

            return pseudonymize_string

        def string_fast_path(value: Any) -> Any:
            return action(value) if type(value) is str else transform(value)

        return string_fast_path
    if column.type == "bigint":

        def bigint_fast_path(value: Any) -> Any:
            return action(value) if type(value) is int else transform(value)

        return bigint_fast_path
    if column.type == "double":

        def double_fast_path(value: Any) -> Any:
            return action(value) if type(value) is float and -_INF < value < _INF else transform(value)

        return double_fast_path
    return transform


# --------------------------------------------------------------------------------------------
# Input and output


def _has_extension(path: Path, fmt: str) -> bool:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(EXTENSIONS[fmt])


def input_file_wanted(relative: str, fmt: str) -> bool:
    """Whether a file at `relative` (a POSIX path under the input root) is input, as `input_files` decides:
    False when a part of it starts with `.` or `_`; raises when it is input of the wrong format."""
    parts = [p for p in relative.split("/") if p]
    if not parts or any(p.startswith((".", "_")) for p in parts):
        return False
    if not _has_extension(Path(parts[-1]), fmt):
        allowed = ", ".join(f"{e}[.gz]" for e in EXTENSIONS[fmt])
        raise InputFormatError(f"input file {relative} is not a {fmt} file ({allowed})")
    return True


def input_files(input_path: str | os.PathLike[str], fmt: str) -> list[Path]:
    """The files to read, sorted; raises if there are none or one has the wrong extension."""
    root = Path(input_path)
    allowed = ", ".join(f"{e}[.gz]" for e in EXTENSIONS[fmt])
    if root.is_file():
        if not _has_extension(root, fmt):
            raise InputFormatError(f"input {root} is not a {fmt} file ({allowed})")
        return [root]
    if not root.is_dir():
        raise InputFormatError(f"input {root} does not exist")
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith((".", "_")))
        for name in sorted(names):
            if name.startswith((".", "_")):
                continue
            path = Path(directory) / name
            if not _has_extension(path, fmt):
                raise InputFormatError(f"input file {path} is not a {fmt} file ({allowed})")
            files.append(path)
    if not files:
        raise InputFormatError(f"input {root} holds no {fmt} file ({allowed})")
    return files


def _open_text(path: Path) -> Any:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass
class Summary:
    dataset: str
    output: Path
    files: int
    rows_in: int
    rows_out: int
    dropped: list[str]
    pseudonymized: list[str]
    generalized: list[str]
    kept: list[str]
    seconds: float

    def line(self) -> str:
        def group(label: str, names: list[str]) -> str:
            return f"{label}={len(names)}" + (f" ({', '.join(names)})" if names else "")

        columns = ", ".join(
            group(label, names)
            for label, names in (
                ("dropped", self.dropped),
                ("pseudonymized", self.pseudonymized),
                ("generalized", self.generalized),
                ("kept", self.kept),
            )
        )
        return (
            f"anonymize: dataset={self.dataset} files={self.files} rows_in={self.rows_in} rows_out={self.rows_out} "
            f"columns: {columns}; output={self.output} in {self.seconds:.2f}s"
        )


class Anonymizer:
    """A policy and key made into per-column transforms, applied file by file (the Spark job uses it too)."""

    def __init__(self, policy: Policy, key: str | bytes) -> None:
        key = _key_bytes(key)
        self.policy = policy
        self.known = policy.names
        self.plan = [(c.name, column_transform(c, key)) for c in policy.columns if c.action != "drop"]

    def _jsonl_rows(self, path: Path, shown: Any, source: str | None) -> Iterator[dict[str, Any]]:
        dataset, known, plan = self.policy.dataset, self.known, self.plan
        row = 0
        with _open_text(path) as f:
            for line_number, line in enumerate(f, 1):
                if not line or line.isspace():
                    continue
                row += 1
                try:
                    record = _DECODER.decode(line)
                except ValueError as e:
                    problem = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else str(e)
                    raise InputFormatError(
                        f"dataset '{dataset}': row {row} (line {line_number}) of {shown} is not valid JSON: {problem}"
                    ) from None
                if type(record) is not dict:
                    raise InputFormatError(
                        f"dataset '{dataset}': row {row} (line {line_number}) of {shown} is not a JSON object"
                    )
                if not known.issuperset(record):
                    unknown = sorted(set(record) - known)
                    raise UnclassifiedColumnError(dataset, unknown, f"row {row} of {shown}")
                out = {}
                name = ""
                try:
                    for name, transform in plan:
                        value = record.get(name)
                        out[name] = None if value is None else transform(value)
                except _ValueProblemError as e:
                    raise InvalidValueError(dataset, name, shown, row, str(e)) from None
                if source is not None:
                    out[LINEAGE_COLUMN] = source
                yield out

    def _csv_rows(self, path: Path, shown: Any, source: str | None) -> Iterator[dict[str, Any]]:
        dataset, known = self.policy.dataset, self.known
        with _open_text(path) as f:
            reader = csv.reader(f)
            try:
                header = next(reader, None)
                if header is None:
                    return
                duplicates = sorted({h for h in header if header.count(h) > 1})
                if duplicates:
                    raise InputFormatError(
                        f"dataset '{dataset}': header of {shown} repeats column(s) {', '.join(map(repr, duplicates))}"
                    )
                unknown = [h for h in header if h not in known]
                if unknown:
                    raise UnclassifiedColumnError(dataset, unknown, f"header of {shown}")
                index = {h: i for i, h in enumerate(header)}
                plan = [(name, index.get(name), transform) for name, transform in self.plan]
                width = len(header)
                row = 0
                for fields in reader:
                    if not fields:
                        continue  # blank line
                    row += 1
                    if len(fields) != width:
                        raise InputFormatError(
                            f"dataset '{dataset}': row {row} of {shown} has {len(fields)} fields, the header {width}"
                        )
                    out = {}
                    name = ""
                    try:
                        for name, i, transform in plan:
                            value = None if i is None else fields[i]
                            out[name] = None if not value else transform(value)
                    except _ValueProblemError as e:
                        raise InvalidValueError(dataset, name, shown, row, str(e)) from None
                    if source is not None:
                        out[LINEAGE_COLUMN] = source
                    yield out
            except csv.Error as e:
                raise InputFormatError(f"dataset '{dataset}': {shown} is not valid CSV: {e}") from None

    def rows(self, path: Path, shown: Any = None, source: str | None = None) -> Iterator[dict[str, Any]]:
        """The anonymized records of one input file; errors name it as `shown` (default: its path).
        With `source` (the raw object's key), each record ends with it as LINEAGE_COLUMN."""
        shown = path if shown is None else shown
        try:
            if self.policy.format == "csv":
                yield from self._csv_rows(path, shown, source)
            else:
                yield from self._jsonl_rows(path, shown, source)
        except UnicodeDecodeError:
            raise InputFormatError(f"dataset '{self.policy.dataset}': {shown} is not valid UTF-8") from None
        except (OSError, EOFError, zlib.error) as e:
            raise InputFormatError(f"dataset '{self.policy.dataset}': cannot read {shown}: {e}") from None


def _output_file(output: str | os.PathLike[str], dataset: str) -> Path:
    path = Path(output)
    if path.is_dir():
        path = path / f"{dataset}.jsonl"
    return path


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.relative_to(directory)
        return True
    except ValueError:
        return False


def anonymize(
    policy: Policy,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    key: str | bytes,
    source_prefix: str = "",
) -> Summary:
    """Anonymizes every input file into one JSON Lines file; all-or-nothing. Each record names its file
    as `source_prefix` + the file's POSIX path under the input (the raw object's key when the input
    is a copy of the raw prefix `source_prefix`)."""
    started = time.monotonic()
    key_bytes = _key_bytes(key)
    anonymizer = Anonymizer(policy, key_bytes)
    files = input_files(input_path, policy.format)
    output = _output_file(output_path, policy.dataset)
    source = Path(input_path)
    if _inside(output.resolve(), source.resolve()):
        raise InputFormatError(f"output {output} must not be inside the input {input_path}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".partial")
    except OSError as e:
        raise OutputError(f"dataset '{policy.dataset}': cannot write {output}: {e.strerror or e}") from None
    rows = 0
    try:
        encode = _ENCODER.encode
        with open(descriptor, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
            write = out.write
            for path in files:
                relative = path.name if path == source else path.relative_to(source).as_posix()
                for row, record in enumerate(anonymizer.rows(path, source=source_prefix + relative), 1):
                    try:
                        write(encode(record) + "\n")
                    except UnicodeEncodeError:
                        raise InputFormatError(
                            f"dataset '{policy.dataset}': a value in row {row} of {path} {_NO_UTF8}"
                        ) from None
                    rows += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, output)
    except BaseException as e:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(e, OSError):  # reading errors were already turned into InputFormatError
            raise OutputError(f"dataset '{policy.dataset}': cannot write {output}: {e.strerror or e}") from None
        raise
    return Summary(
        dataset=policy.dataset,
        output=output,
        files=len(files),
        rows_in=rows,
        rows_out=rows,
        dropped=policy.with_action("drop"),
        pseudonymized=policy.with_action("pseudonymize"),
        generalized=policy.with_action("generalize"),
        kept=policy.with_action("keep"),
        seconds=time.monotonic() - started,
    )


# --------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="anonymize.py", description="Apply a dataset's column policy to raw records (see the module docstring)."
    )
    parser.add_argument("--policy", required=True, help="policy JSON file")
    parser.add_argument("--input", required=True, help="input file or directory")
    parser.add_argument("--output", required=True, help="output JSON Lines file (or a directory: <dataset>.jsonl)")
    parser.add_argument(
        "--key-secret-id", default=None, help=f"Secrets Manager secret holding the key (default: ${KEY_SECRET_ENV})"
    )
    parser.add_argument(
        "--source-prefix",
        default="",
        help=f"raw key prefix the input was copied from; {LINEAGE_COLUMN} is it + each file's path under the input",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    secret_id = key_secret_id(args.key_secret_id, "anonymize")
    if secret_id is None:
        return 2
    try:
        policy = load_policy(args.policy)
        key = load_key_from_secret(secret_id)
        summary = anonymize(policy, args.input, args.output, key, args.source_prefix)
    except AnonymizationError as e:
        print(f"anonymize: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: report where, but not the message, which may quote a record value
        frames = "".join(traceback.format_tb(e.__traceback__))
        print(f"anonymize: internal error {type(e).__name__} (message withheld)\n{frames}", file=sys.stderr)
        return 1
    print(summary.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
