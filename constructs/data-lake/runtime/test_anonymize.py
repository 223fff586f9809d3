"""Tests for anonymize.py, on data the tests make themselves."""

from __future__ import annotations

import copy
import csv
import gzip
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import anonymize as anon  # the runtime folder is on pytest's pythonpath (pyproject.toml)
import pytest

HERE = Path(__file__).resolve().parent


KEY = "unit-test-key-please-rotate"
OTHER_KEY = "another-unit-test-key"
HEX64 = re.compile(r"[0-9a-f]{64}")

COLUMNS: list[dict[str, Any]] = [
    {"name": "email", "type": "string", "classification": "direct-identifier", "action": "drop"},
    {"name": "full_name", "type": "string", "classification": "direct-identifier", "action": "drop"},
    {"name": "user_id", "type": "string", "classification": "direct-identifier", "action": "pseudonymize"},
    {"name": "phone", "type": "string", "classification": "direct-identifier", "action": "pseudonymize"},
    {
        "name": "age",
        "type": "bigint",
        "classification": "quasi-identifier",
        "action": "generalize",
        "rule": {"kind": "bucket", "width": 10},
    },
    {
        "name": "ip",
        "type": "string",
        "classification": "quasi-identifier",
        "action": "generalize",
        "rule": {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48},
    },
    {
        "name": "event_time",
        "type": "timestamp",
        "classification": "quasi-identifier",
        "action": "generalize",
        "rule": {"kind": "truncate-timestamp", "unit": "hour"},
    },
    {
        "name": "zip",
        "type": "string",
        "classification": "quasi-identifier",
        "action": "generalize",
        "rule": {"kind": "prefix", "length": 3},
    },
    {"name": "amount", "type": "double", "classification": "non-personal", "action": "keep"},
    {"name": "opted_in", "type": "boolean", "classification": "non-personal", "action": "keep"},
    {"name": "event", "type": "string", "classification": "non-personal", "action": "keep"},
]
# The curated columns in policy order, then the lineage column every record ends with.
OUTPUT_COLUMNS = [c["name"] for c in COLUMNS if c["action"] != "drop"] + ["source_object"]
DIRECT = ("email", "full_name", "user_id", "phone")


def policy_doc(fmt: str = "jsonl", columns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"dataset": "user_events", "format": fmt, "columns": copy.deepcopy(COLUMNS if columns is None else columns)}


def policy(fmt: str = "jsonl", columns: list[dict[str, Any]] | None = None) -> Any:
    return anon.parse_policy(policy_doc(fmt, columns))


def make_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, start + count):
        rows.append(
            {
                "email": f"person{i}.secret@example.org",
                "full_name": f"Given{i} Family{i}",
                "user_id": f"user-{i:06d}-raw",
                "phone": f"+33 6 {i:08d}",
                "age": 18 + i % 70,
                "ip": f"10.{i % 256}.{(i // 256) % 256}.{i % 251}" if i % 5 else f"2001:db8:{i % 65536:x}:1::{i % 9}",
                "event_time": f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07+01:00",
                "zip": f"{75000 + i % 20}",
                "amount": round(i * 1.25, 2),
                "opted_in": i % 2 == 0,
                "event": ("click", "view", "buy")[i % 3],
            }
        )
    return rows


def _open_for_write(path: Path) -> Any:
    if path.name.endswith(".gz"):
        return gzip.open(path, "wt", encoding="utf-8", newline="")
    return open(path, "w", encoding="utf-8", newline="")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_for_write(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = header or list(rows[0])
    with _open_for_write(path) as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_csv_text(row.get(h)) for h in header])
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def expected_pseudonym(key: str, canonical: str) -> str:
    return hmac.new(key.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------------------------
# Direct identifiers, pseudonyms


def test_direct_identifiers_never_reach_the_output(tmp_path: Path) -> None:
    rows = make_rows(2000)
    source = write_jsonl(tmp_path / "in" / "events.jsonl", rows)
    output = tmp_path / "out" / "user_events.jsonl"

    summary = anon.anonymize(policy(), source, output, KEY)

    text = output.read_text(encoding="utf-8")
    # Every raw direct identifier carries one of these fragments: none may appear anywhere in the text.
    for fragment in ("@example.org", "secret", "Given", "Family", "user-", "-raw", "+33"):
        assert fragment not in text
    for row in rows[:100]:
        for column in DIRECT:
            assert row[column] not in text, f"raw {column} of a row reached the output"
    records = read_output(output)
    output_strings = {v for r in records for v in r.values() if isinstance(v, str)}
    assert output_strings.isdisjoint(row[column] for row in rows for column in DIRECT)
    assert len(records) == 2000
    assert all(list(r) == OUTPUT_COLUMNS for r in records)
    assert (summary.rows_in, summary.rows_out) == (2000, 2000)
    assert summary.dropped == ["email", "full_name"]
    assert summary.pseudonymized == ["user_id", "phone"]
    assert summary.generalized == ["age", "ip", "event_time", "zip"]


def test_pseudonyms_are_hmac_sha256_of_the_value(tmp_path: Path) -> None:
    rows = make_rows(50)
    output = tmp_path / "out.jsonl"
    anon.anonymize(policy(), write_jsonl(tmp_path / "in.jsonl", rows), output, KEY)

    for row, record in zip(rows, read_output(output)):
        assert HEX64.fullmatch(record["user_id"])
        assert record["user_id"] == expected_pseudonym(KEY, row["user_id"])
        assert record["phone"] == expected_pseudonym(KEY, row["phone"])


def test_same_key_gives_same_pseudonyms_another_key_different_ones(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in" / "e.jsonl", make_rows(200))
    first, second, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    anon.anonymize(policy(), source, first, KEY)
    anon.anonymize(policy(), source, second, KEY)
    anon.anonymize(policy(), source, other, OTHER_KEY)

    assert first.read_bytes() == second.read_bytes()
    for a, c in zip(read_output(first), read_output(other)):
        assert a["user_id"] != c["user_id"]
        assert a["phone"] != c["phone"]
        assert a["age"] == c["age"]  # only pseudonyms depend on the key


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("42", "42"),
        (42, "42"),
        (42.0, "42"),
        (-0.0, "0"),
        (-17, "-17"),
        (1e21, "1000000000000000000000"),
        (2**63 - 1, "9223372036854775807"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e-7, "1e-7"),
        (True, "true"),
        (False, "false"),
        ("", ""),
        ("Zoë 🙂", "Zoë 🙂"),
    ],
)
def test_canonical_string(value: Any, canonical: str) -> None:
    assert anon.canonical_string(value) == canonical
    assert anon.pseudonym(KEY, value) == expected_pseudonym(KEY, canonical)


@pytest.mark.parametrize(
    ("value", "javascript"),
    [  # String(x) in Node.js
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (-2.5, "-2.5"),
        (5e-324, "5e-324"),
        (123.456, "123.456"),
        (1e21, "1e+21"),
        (1e16, "10000000000000000"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-0.0001234, "-0.0001234"),
        (0.3 + 0.6, "0.8999999999999999"),
    ],
)
def test_ecmascript_number_string_matches_javascript(value: float, javascript: str) -> None:
    assert anon.ecmascript_number_string(value) == javascript


def test_42_as_string_int_and_float_share_a_pseudonym_in_jsonl_and_csv(tmp_path: Path) -> None:
    columns = [{"name": "ref", "type": "string", "classification": "direct-identifier", "action": "pseudonymize"}]
    out_json = tmp_path / "j.jsonl"
    anon.anonymize(
        policy("jsonl", columns),
        write_jsonl(tmp_path / "in.jsonl", [{"ref": "42"}, {"ref": 42}, {"ref": 42.0}]),
        out_json,
        KEY,
    )
    bigint = [{"name": "ref", "type": "bigint", "classification": "direct-identifier", "action": "pseudonymize"}]
    out_csv = tmp_path / "c.jsonl"
    anon.anonymize(policy("csv", bigint), write_csv(tmp_path / "in.csv", [{"ref": "42"}]), out_csv, KEY)

    values = {r["ref"] for r in read_output(out_json) + read_output(out_csv)}
    assert values == {expected_pseudonym(KEY, "42")}


def test_pseudonym_vectors_file_recomputes() -> None:
    vectors = json.loads((HERE / "pseudonym_vectors.json").read_text(encoding="utf-8"))
    assert len(vectors) >= 12
    values = [v["value"] for v in vectors]
    assert "" in values
    assert any(isinstance(v, str) and any(ord(c) > 0xFFFF for c in v) for v in values)  # non-BMP unicode
    assert any(isinstance(v, float) and v.is_integer() for v in values)
    assert any(isinstance(v, int) and not isinstance(v, bool) and v > 2**53 for v in values)
    assert any(isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0 for v in values)
    for vector in vectors:
        assert anon.canonical_string(vector["value"]) == vector["canonical"]
        assert anon.pseudonym(vector["key"], vector["value"]) == vector["pseudonym"]
        assert expected_pseudonym(vector["key"], vector["canonical"]) == vector["pseudonym"]


# --------------------------------------------------------------------------------------------
# Generalization rules


def _transform(column_type: str, rule: dict[str, Any]) -> Any:
    column = anon.Column("c", column_type, "quasi-identifier", "generalize", anon.Rule(rule["kind"], rule))
    return anon.column_transform(column, b"k")


BUCKET10 = {"kind": "bucket", "width": 10}
HOUR = {"kind": "truncate-timestamp", "unit": "hour"}
DAY = {"kind": "truncate-timestamp", "unit": "day"}
MONTH = {"kind": "truncate-timestamp", "unit": "month"}
YEAR = {"kind": "truncate-timestamp", "unit": "year"}
IP_24_48 = {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48}


@pytest.mark.parametrize(
    ("column_type", "rule", "value", "expected"),
    [
        ("bigint", BUCKET10, 37, 30),
        ("bigint", BUCKET10, 30, 30),
        ("bigint", BUCKET10, 0, 0),
        ("bigint", BUCKET10, -3, -10),
        ("bigint", BUCKET10, -10, -10),
        ("bigint", BUCKET10, -11, -20),
        ("bigint", BUCKET10, "37", 30),
        ("bigint", BUCKET10, 37.0, 30),
        ("bigint", BUCKET10, 2**63 - 1, 9223372036854775800),
        ("double", {"kind": "bucket", "width": 0.1}, 0.75, 0.7),
        ("double", {"kind": "bucket", "width": 0.1}, 0.7, 0.7),
        ("double", {"kind": "bucket", "width": 0.1}, -0.05, -0.1),
        ("double", {"kind": "bucket", "width": 2.5}, 7.4, 5.0),
        ("double", {"kind": "bucket", "width": 2.5}, -0.1, -2.5),
        ("double", BUCKET10, 99.99, 90.0),
        ("double", {"kind": "round", "decimals": 2}, 3.14159, 3.14),
        ("double", {"kind": "round", "decimals": 2}, -2.71828, -2.72),
        ("double", {"kind": "round", "decimals": 0}, 1234.5678, 1235.0),
        ("double", {"kind": "round", "decimals": 3}, 7, 7.0),
        ("timestamp", HOUR, "2024-03-10T14:35:12Z", "2024-03-10 14:00:00"),
        ("timestamp", HOUR, "2024-03-10 14:35:12", "2024-03-10 14:00:00"),
        ("timestamp", HOUR, "2024-03-10t14:35z", "2024-03-10 14:00:00"),
        (
            "timestamp",
            {"kind": "truncate-timestamp", "unit": "hour"},
            "2024-03-10T14:35:12.123456789+05:30",
            "2024-03-10 09:00:00",
        ),
        ("timestamp", HOUR, "2024-03-10T14:35:12+0530", "2024-03-10 09:00:00"),
        ("timestamp", DAY, "2024-03-01T01:30:00+02:00", "2024-02-29 00:00:00"),
        ("timestamp", DAY, "2023-12-31T22:30:00-05:00", "2024-01-01 00:00:00"),
        ("timestamp", DAY, "2024-03-10", "2024-03-10 00:00:00"),
        ("timestamp", MONTH, "2024-03-31T23:59:59-01:00", "2024-04-01 00:00:00"),
        ("timestamp", YEAR, "2024-01-01T00:30:00+01:00", "2023-01-01 00:00:00"),
        ("timestamp", HOUR, 1700000000, "2023-11-14 22:00:00"),
        ("timestamp", DAY, 1700000000.9, "2023-11-14 00:00:00"),
        ("timestamp", HOUR, "1700000000", "2023-11-14 22:00:00"),
        ("timestamp", HOUR, -1, "1969-12-31 23:00:00"),
        ("date", HOUR, "2024-03-10", "2024-03-10"),
        ("date", MONTH, "2024-03-10", "2024-03-01"),
        ("date", YEAR, "2024-03-10", "2024-01-01"),
        ("date", DAY, "2024-03-01T01:30:00+02:00", "2024-02-29"),
        ("string", {"kind": "prefix", "length": 3}, "75011", "750"),
        ("string", {"kind": "prefix", "length": 3}, "ab", "ab"),
        ("string", {"kind": "prefix", "length": 3}, "東京都港区", "東京都"),
        ("string", {"kind": "prefix", "length": 3}, "", ""),
        ("string", {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48}, "192.168.17.42", "192.168.17.0"),
        ("string", {"kind": "ip-prefix", "ipv4Bits": 16, "ipv6Bits": 48}, "192.168.17.42", "192.168.0.0"),
        ("string", {"kind": "ip-prefix", "ipv4Bits": 0, "ipv6Bits": 48}, "192.168.17.42", "0.0.0.0"),
        ("string", {"kind": "ip-prefix", "ipv4Bits": 32, "ipv6Bits": 48}, "192.168.17.42", "192.168.17.42"),
        ("string", IP_24_48, "2001:db8:abcd:12:ffff::1", "2001:db8:abcd::"),
        (
            "string",
            {"kind": "ip-prefix", "ipv4Bits": 0, "ipv6Bits": 56},
            "2001:DB8:ABCD:12ff::1",
            "2001:db8:abcd:1200::",
        ),
        ("string", {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 128}, "2001:db8::1", "2001:db8::1"),
        ("string", {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 0}, "2001:db8::1", "::"),
    ],
)
def test_generalization_rules(column_type: str, rule: dict[str, Any], value: Any, expected: Any) -> None:
    result = _transform(column_type, rule)(value)
    assert result == expected
    assert type(result) is type(expected)


def test_bucket_keeps_integers_for_bigint_in_csv(tmp_path: Path) -> None:
    columns = [
        {
            "name": "age",
            "type": "bigint",
            "classification": "quasi-identifier",
            "action": "generalize",
            "rule": BUCKET10,
        }
    ]
    output = tmp_path / "o.jsonl"
    anon.anonymize(policy("csv", columns), write_csv(tmp_path / "i.csv", [{"age": "37"}, {"age": "-3"}]), output, KEY)
    assert (
        output.read_text(encoding="utf-8")
        == '{"age":30,"source_object":"i.csv"}\n{"age":-10,"source_object":"i.csv"}\n'
    )


# --------------------------------------------------------------------------------------------
# Nulls


def test_nulls_and_missing_values_stay_null(tmp_path: Path) -> None:
    rows = [{name: None for name in (c["name"] for c in COLUMNS)}, {"event": "click"}]
    output = tmp_path / "o.jsonl"
    anon.anonymize(policy(), write_jsonl(tmp_path / "i.jsonl", rows), output, KEY)
    for record in read_output(output):
        assert list(record) == OUTPUT_COLUMNS
        assert all(record[name] is None for name in OUTPUT_COLUMNS if name not in ("event", "source_object"))


def test_empty_csv_fields_are_null_and_values_are_typed(tmp_path: Path) -> None:
    rows = make_rows(3)
    rows[1] = {name: None for name in rows[1]}
    output = tmp_path / "o.jsonl"
    anon.anonymize(policy("csv"), write_csv(tmp_path / "i.csv", rows), output, KEY)

    first, empty, third = read_output(output)
    assert all(v is None for k, v in empty.items() if k != "source_object") and empty["source_object"] == "i.csv"
    assert first["age"] == 10 and first["amount"] == 0.0 and first["opted_in"] is True
    assert third["age"] == 20 and third["amount"] == 2.5 and third["opted_in"] is True
    assert first["event_time"] == "2024-02-29 23:00:00"


def test_csv_and_jsonl_inputs_give_the_same_output(tmp_path: Path) -> None:
    rows = make_rows(300)
    out_json, out_csv = tmp_path / "j.jsonl", tmp_path / "c.jsonl"
    anon.anonymize(policy("jsonl"), write_jsonl(tmp_path / "in.jsonl", rows), out_json, KEY)
    anon.anonymize(policy("csv"), write_csv(tmp_path / "in.csv", rows), out_csv, KEY)
    # The same records, each naming its own file.
    assert [{**r, "source_object": "in"} for r in read_output(out_json)] == [
        {**r, "source_object": "in"} for r in read_output(out_csv)
    ]
    assert {r["source_object"] for r in read_output(out_csv)} == {"in.csv"}


# --------------------------------------------------------------------------------------------
# Fail loudly


def test_an_unclassified_field_fails_naming_it_and_leaves_no_output(tmp_path: Path) -> None:
    rows = make_rows(1000)
    rows[700]["ssn"] = "123-45-6789"
    source = write_jsonl(tmp_path / "in" / "e.jsonl", rows)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    with pytest.raises(anon.UnclassifiedColumnError) as caught:
        anon.anonymize(policy(), source, out_dir / "user_events.jsonl", KEY)

    assert "user_events" in str(caught.value)
    assert "'ssn'" in str(caught.value)
    assert "123-45-6789" not in str(caught.value)
    assert caught.value.columns == ["ssn"]
    assert leftovers(out_dir) == []


def test_an_unclassified_csv_header_fails_naming_every_unknown_column(tmp_path: Path) -> None:
    rows = make_rows(5)
    for row in rows:
        row.update(ssn="1", notes="x")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(anon.UnclassifiedColumnError, match=r"user_events.*'ssn', 'notes'"):
        anon.anonymize(policy("csv"), write_csv(tmp_path / "i.csv", rows), out_dir / "o.jsonl", KEY)
    assert leftovers(out_dir) == []


def _column(name: str, **changes: Any) -> list[dict[str, Any]]:
    columns = copy.deepcopy(COLUMNS)
    for column in columns:
        if column["name"] == name:
            column.update(changes)
            for key in [k for k, v in changes.items() if v is None]:
                del column[key]
    return columns


@pytest.mark.parametrize(
    ("columns", "column", "fragment"),
    [
        (_column("event", action="hash"), "event", "action 'hash' is unknown"),
        (_column("event", classification="secret"), "event", "classification 'secret' is unknown"),
        (_column("event", type="varchar"), "event", "type 'varchar' is unknown"),
        (_column("zip", rule={"kind": "blur"}), "zip", "rule kind 'blur' is unknown"),
        (_column("zip", rule=None), "zip", "needs a rule"),
        (_column("email", action="keep"), "email", "not allowed for a direct-identifier"),
        (_column("email", action="generalize", rule={"kind": "prefix", "length": 2}), "email", "direct-identifier"),
        (_column("event", action="pseudonymize"), "event", "not allowed for a non-personal"),
        (_column("amount", action="generalize", rule=BUCKET10), "amount", "not allowed for a non-personal"),
        (_column("user_id", rule={"kind": "prefix", "length": 2}), "user_id", "only allowed with action 'generalize'"),
        (_column("age", rule={"kind": "bucket", "width": 0}), "age", "positive number"),
        (_column("age", rule={"kind": "bucket", "width": 2.5}), "age", "whole-number"),
        (_column("age", rule={"kind": "bucket", "widht": 10}), "age", "unknown key(s) widht"),
        (_column("age", rule={"kind": "prefix", "length": 2}), "age", "applies to type(s) string"),
        (_column("zip", rule={"kind": "prefix", "length": 0}), "zip", "integer >= 1"),
        (_column("ip", rule={"kind": "ip-prefix", "ipv4Bits": 33, "ipv6Bits": 48}), "ip", "'ipv4Bits'"),
        (_column("ip", rule={"kind": "ip-prefix", "ipv4Bits": 24}), "ip", "'ipv6Bits'"),
        (_column("event_time", rule={"kind": "truncate-timestamp", "unit": "week"}), "event_time", "'unit'"),
        (
            _column("amount", action="generalize", classification="quasi-identifier", rule={"kind": "round"}),
            "amount",
            "'decimals'",
        ),
        (_column("event", comment="x"), "event", "unknown key(s) comment"),
        ([*COLUMNS, COLUMNS[0]], "email", "more than once"),
    ],
)
def test_invalid_policies_fail_naming_dataset_and_column(
    columns: list[dict[str, Any]], column: str, fragment: str
) -> None:
    with pytest.raises(anon.PolicyError) as caught:
        anon.parse_policy(policy_doc("jsonl", columns))
    message = str(caught.value)
    assert "user_events" in message
    assert f"column '{column}'" in message
    assert fragment in message


@pytest.mark.parametrize(
    "document",
    [
        {"dataset": "", "format": "jsonl", "columns": COLUMNS},
        {"dataset": "user_events", "format": "parquet", "columns": COLUMNS},
        {"dataset": "user_events", "format": "jsonl", "columns": []},
        {"dataset": "../etc", "format": "jsonl", "columns": COLUMNS},
    ],
)
def test_invalid_policy_top_level(document: dict[str, Any]) -> None:
    with pytest.raises(anon.PolicyError):
        anon.parse_policy(document)


def test_an_invalid_policy_fails_before_any_row_or_key_is_read(tmp_path: Path, capsys: Any) -> None:
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps(policy_doc("jsonl", _column("email", action="keep"))), encoding="utf-8")
    source = write_jsonl(tmp_path / "in.jsonl", [{"not_in_policy": 1}])
    code = anon.main(
        ["--policy", str(policy_path), "--input", str(source), "--output", str(tmp_path / "o.jsonl")]
        + ["--key-secret-id", "never-read"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "invalid policy for dataset 'user_events'" in err and "column 'email'" in err
    assert not (tmp_path / "o.jsonl").exists()


def _single(column_type: str, action: str, rule: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    column: dict[str, Any] = {"name": "c", "type": column_type, "classification": "quasi-identifier", "action": action}
    if rule:
        column["rule"] = rule
    return [column]


@pytest.mark.parametrize(
    ("columns", "value"),
    [
        (_single("bigint", "generalize", BUCKET10), "abc"),
        (_single("bigint", "generalize", BUCKET10), 37.5),
        (_single("double", "generalize", BUCKET10), "12abc"),
        (_single("string", "generalize", {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48}), "not-an-ip"),
        (_single("string", "generalize", {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48}), "999.10.10.10"),
        (_single("timestamp", "generalize", {"kind": "truncate-timestamp", "unit": "day"}), "2024-02-30T10:00:00Z"),
        (_single("timestamp", "generalize", {"kind": "truncate-timestamp", "unit": "day"}), "yesterday at noon"),
        (_single("timestamp", "generalize", {"kind": "truncate-timestamp", "unit": "day"}), 1.7e15),
        (_single("bigint", "keep"), "forty-two"),
        (_single("boolean", "keep"), "maybe"),
        (_single("double", "keep"), "NaN"),
        (_single("string", "keep"), {"email": "nested@example.org"}),
        (_single("string", "pseudonymize"), ["nested@example.org"]),
    ],
)
def test_a_bad_value_fails_naming_column_and_row(tmp_path: Path, columns: list[dict[str, Any]], value: Any) -> None:
    rows = [{"c": None}, {"c": None}, {"c": value}, {"c": None}]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(anon.InvalidValueError) as caught:
        anon.anonymize(policy("jsonl", columns), write_jsonl(tmp_path / "in.jsonl", rows), out_dir / "o.jsonl", KEY)
    message = str(caught.value)
    assert "column 'c'" in message and "row 3 " in message and "user_events" in message
    assert (caught.value.column, caught.value.row) == ("c", 3)
    assert json.dumps(value) not in message and str(value) not in message  # values are never logged
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert leftovers(out_dir) == []


def test_a_lone_surrogate_fails_instead_of_colliding(tmp_path: Path) -> None:
    # JSON can escape a lone UTF-16 surrogate, which has no UTF-8 encoding: refuse it loudly.
    source = tmp_path / "i.jsonl"
    source.write_text('{"user_id": "ok"}\n{"user_id": "a\\ud800b"}\n', encoding="utf-8")
    with pytest.raises(anon.InvalidValueError, match=r"column 'user_id', row 2 of .*surrogate"):
        anon.anonymize(policy(), source, tmp_path / "o.jsonl", KEY)
    source.write_text('{"event": "ok"}\n{"event": "a\\udfffb"}\n', encoding="utf-8")
    with pytest.raises(anon.InputFormatError, match=r"row 2 of .*surrogate"):
        anon.anonymize(policy(), source, tmp_path / "o.jsonl", KEY)
    assert leftovers(tmp_path) == ["i.jsonl"]


def test_a_bad_csv_value_names_the_data_row(tmp_path: Path) -> None:
    rows = make_rows(5)
    rows[3]["age"] = "n/a"
    with pytest.raises(anon.InvalidValueError, match=r"column 'age', row 4 of"):
        anon.anonymize(policy("csv"), write_csv(tmp_path / "i.csv", rows), tmp_path / "o.jsonl", KEY)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"event": "click"}\n[1, 2]\n', "row 2 (line 2)"),
        ('{"event": "click"}\n\n{"event": \n', "row 2 (line 3)"),
        ('{"event": NaN}\n', "NaN is not allowed"),
    ],
)
def test_malformed_jsonl_fails(tmp_path: Path, content: str, fragment: str) -> None:
    source = tmp_path / "i.jsonl"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(anon.InputFormatError, match=re.escape(fragment)):
        anon.anonymize(policy(), source, tmp_path / "o.jsonl", KEY)


def test_a_ragged_csv_row_fails(tmp_path: Path) -> None:
    source = tmp_path / "i.csv"
    source.write_text("event,zip\nclick,75011\nview,75012,extra\n", encoding="utf-8")
    with pytest.raises(anon.InputFormatError, match="row 2 of .* has 3 fields, the header 2"):
        anon.anonymize(policy("csv"), source, tmp_path / "o.jsonl", KEY)


# --------------------------------------------------------------------------------------------
# Inputs


@pytest.mark.parametrize(("fmt", "name"), [("jsonl", "e.jsonl.gz"), ("jsonl", "e.json.gz"), ("csv", "e.csv.gz")])
def test_gzip_inputs(tmp_path: Path, fmt: str, name: str) -> None:
    rows = make_rows(100)
    writer = write_jsonl if fmt == "jsonl" else write_csv
    plain, zipped = tmp_path / "plain.jsonl", tmp_path / "zipped.jsonl"
    anon.anonymize(policy(fmt), writer(tmp_path / name.replace(".gz", ""), rows), plain, KEY)
    anon.anonymize(policy(fmt), writer(tmp_path / "gz" / name, rows), zipped, KEY)
    # The same records but for the lineage, which names each file as it is.
    assert [r["user_id"] for r in read_output(plain)] == [r["user_id"] for r in read_output(zipped)]
    assert plain.read_text(encoding="utf-8").replace(f'"{name[:-3]}"', f'"{name}"') == zipped.read_text(
        encoding="utf-8"
    )
    assert len(read_output(zipped)) == 100


def test_directory_input_is_read_recursively_in_sorted_order(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_jsonl(source / "day=2" / "part-0.jsonl.gz", make_rows(30, start=60))
    write_jsonl(source / "day=1" / "part-1.json", make_rows(30, start=30))
    write_jsonl(source / "day=1" / "part-0.jsonl", make_rows(30, start=0))
    (source / "_SUCCESS").write_text("", encoding="utf-8")
    (source / ".hidden.tmp").write_text("ignored", encoding="utf-8")
    output = tmp_path / "out.jsonl"

    summary = anon.anonymize(policy(), source, output, KEY)

    assert summary.files == 3 and summary.rows_out == 90
    expected = [expected_pseudonym(KEY, row["user_id"]) for row in make_rows(90)]
    assert [r["user_id"] for r in read_output(output)] == expected
    # Lineage: each record names its file by its path under the input, after the source prefix.
    assert [r["source_object"] for r in read_output(output)] == (
        ["day=1/part-0.jsonl"] * 30 + ["day=1/part-1.json"] * 30 + ["day=2/part-0.jsonl.gz"] * 30
    )
    anon.anonymize(policy(), source, output, KEY, source_prefix="user_events/2026/12/07/01/")
    assert read_output(output)[0]["source_object"] == "user_events/2026/12/07/01/day=1/part-0.jsonl"


def test_the_lineage_column_is_reserved_in_the_policy() -> None:
    columns = [
        *COLUMNS,
        {"name": "source_object", "type": "string", "classification": "non-personal", "action": "keep"},
    ]
    with pytest.raises(
        anon.PolicyError,
        match=r"dataset 'user_events'.*column 'source_object': the name is reserved for the lineage column",
    ):
        anon.parse_policy(policy_doc(columns=columns))


def test_a_raw_field_named_like_the_lineage_column_is_unclassified(tmp_path: Path) -> None:
    # A producer cannot forge a row's lineage: the field is not in any policy, so the file fails.
    rows = [{**make_rows(1)[0], "source_object": "other/object.jsonl"}]
    with pytest.raises(anon.UnclassifiedColumnError, match="'source_object'"):
        anon.anonymize(policy(), write_jsonl(tmp_path / "in" / "a.jsonl", rows), tmp_path / "o.jsonl", KEY)


def test_directory_with_a_foreign_file_fails(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", make_rows(3))
    (tmp_path / "in" / "b.parquet").write_bytes(b"PAR1")
    with pytest.raises(anon.InputFormatError, match="b.parquet"):
        anon.anonymize(policy(), tmp_path / "in", tmp_path / "o.jsonl", KEY)


def test_an_empty_input_directory_fails(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    with pytest.raises(anon.InputFormatError, match="holds no jsonl file"):
        anon.anonymize(policy(), tmp_path / "in", tmp_path / "o.jsonl", KEY)


def test_output_directory_gets_dataset_file_and_output_inside_input_fails(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in" / "e.jsonl", make_rows(3))
    (tmp_path / "out").mkdir()
    summary = anon.anonymize(policy(), source.parent, tmp_path / "out", KEY)
    assert summary.output == tmp_path / "out" / "user_events.jsonl"
    assert len(read_output(summary.output)) == 3
    with pytest.raises(anon.InputFormatError, match="inside the input"):
        anon.anonymize(policy(), source.parent, source.parent / "o.jsonl", KEY)


def test_an_unwritable_output_fails_cleanly(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in" / "e.jsonl", make_rows(3))
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(anon.OutputError, match="cannot write"):
        anon.anonymize(policy(), source, tmp_path / "file" / "o.jsonl", KEY)


def test_an_empty_key_is_refused(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "e.jsonl", make_rows(1))
    with pytest.raises(anon.KeyConfigurationError):
        anon.anonymize(policy(), source, tmp_path / "o.jsonl", "")


# --------------------------------------------------------------------------------------------
# Key and CLI


class FakeSecrets:
    def __init__(self, secret: Any) -> None:
        self.secret = secret

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:  # noqa: N803 (boto3's parameter name)
        return {} if self.secret is None else {"SecretString": self.secret}


@pytest.mark.parametrize(
    ("secret", "key"),
    [("plain-key", "plain-key"), ('{"key": "json-key", "rotated": "2024"}', "json-key"), ("12345", "12345")],
)
def test_load_key_from_secret(secret: str, key: str) -> None:
    assert anon.load_key_from_secret("s", client=FakeSecrets(secret)) == key


@pytest.mark.parametrize("secret", ["", '{"key": ""}', '{"other": "x"}', None])
def test_load_key_from_secret_refuses_empty_or_missing_keys(secret: Any) -> None:
    with pytest.raises(anon.KeyConfigurationError):
        anon.load_key_from_secret("s", client=FakeSecrets(secret))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv(anon.KEY_SECRET_ENV, raising=False)
    with mock_aws():
        import boto3

        yield boto3.client("secretsmanager", region_name="eu-west-1")


@pytest.mark.parametrize("json_secret", [False, True])
def test_cli_end_to_end_with_a_secrets_manager_key(
    tmp_path: Path, aws: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, json_secret: bool
) -> None:
    secret = json.dumps({"key": KEY}) if json_secret else KEY
    arn = aws.create_secret(Name="mlsd/anonymization-key", SecretString=secret)["ARN"]
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps(policy_doc("csv")), encoding="utf-8")
    rows = make_rows(500)
    source = write_csv(tmp_path / "in" / "events.csv.gz", rows)
    output = tmp_path / "out" / "user_events.jsonl"
    args = ["--policy", str(policy_path), "--input", str(source.parent), "--output", str(output)]
    if json_secret:
        monkeypatch.setenv(anon.KEY_SECRET_ENV, arn)
    else:
        args += ["--key-secret-id", "mlsd/anonymization-key"]

    assert anon.main(args) == 0

    stdout = capsys.readouterr().out
    assert stdout.count("\n") == 1
    assert "dataset=user_events" in stdout and "rows_in=500 rows_out=500" in stdout
    assert "dropped=2 (email, full_name)" in stdout and "pseudonymized=2" in stdout and "generalized=4" in stdout
    text = output.read_text(encoding="utf-8")
    for row in rows[:50]:
        assert row["email"] not in stdout and row["user_id"] not in stdout
        assert row["email"] not in text and row["phone"] not in text
    records = read_output(output)
    assert [r["user_id"] for r in records] == [expected_pseudonym(KEY, r["user_id"]) for r in rows]


def test_cli_fails_non_zero_on_an_unclassified_field(tmp_path: Path, aws: Any, capsys: Any) -> None:
    aws.create_secret(Name="k", SecretString=KEY)
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps(policy_doc()), encoding="utf-8")
    rows = make_rows(20)
    rows[10]["date_of_birth"] = "1990-01-01"
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    output = tmp_path / "out" / "o.jsonl"

    code = anon.main(
        ["--policy", str(policy_path), "--input", str(source), "--output", str(output)] + ["--key-secret-id", "k"]
    )

    assert code == 1
    captured = capsys.readouterr()
    assert "'date_of_birth'" in captured.err and "user_events" in captured.err
    assert "1990-01-01" not in captured.err and captured.out == ""
    assert not output.exists() and leftovers(output.parent) == []


def test_cli_reports_an_unreadable_secret_and_a_missing_secret_id(tmp_path: Path, aws: Any, capsys: Any) -> None:
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps(policy_doc()), encoding="utf-8")
    source = write_jsonl(tmp_path / "in.jsonl", make_rows(2))
    args = ["--policy", str(policy_path), "--input", str(source), "--output", str(tmp_path / "o.jsonl")]
    assert anon.main([*args, "--key-secret-id", "does-not-exist"]) == 1
    assert "cannot read key secret does-not-exist" in capsys.readouterr().err
    assert anon.main(args) == 2
    assert anon.KEY_SECRET_ENV in capsys.readouterr().err
    assert anon.main(["--policy", str(policy_path)]) == 2
    assert not (tmp_path / "o.jsonl").exists()


def test_cli_withholds_the_message_of_an_unexpected_error(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise TypeError("raw value " + "@".join(("alice", "example.org")))  # the traceback shows this line

    monkeypatch.setattr(anon, "load_key_from_secret", lambda secret_id: KEY)
    monkeypatch.setattr(anon, "anonymize", broken)
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps(policy_doc()), encoding="utf-8")
    args = ["--policy", str(policy_path), "--input", str(tmp_path), "--output", str(tmp_path / "o.jsonl")]
    assert anon.main([*args, "--key-secret-id", "k"]) == 1
    err = capsys.readouterr().err
    assert "TypeError" in err and "alice@example.org" not in err


def test_summary_line_is_one_line_without_values() -> None:
    summary = anon.Summary("user_events", Path("o.jsonl"), 1, 2, 2, ["a"], ["b"], [], ["c"], 0.5)
    line = summary.line()
    assert "\n" not in line
    assert "dropped=1 (a), pseudonymized=1 (b), generalized=0, kept=1 (c)" in line
