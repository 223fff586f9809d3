"""serving_io: request parsing and response formatting."""

from __future__ import annotations

import json

import pytest
import serving_io as s


def test_json_instances_wrapped_or_bare():
    assert s.parse_instances(b'{"instances": [{"a": 1}]}', "application/json") == [{"a": 1}]
    assert s.parse_instances("[[1, 2]]", "application/json; charset=utf-8") == [[1, 2]]
    assert s.parse_instances("[3]", None) == [3]


def test_json_lines_one_instance_per_line():
    assert s.parse_instances(b'{"a": 1}\n\n[2, 3]\n', "application/jsonlines") == [{"a": 1}, [2, 3]]
    with pytest.raises(ValueError, match="request line 2 is not JSON"):
        s.parse_instances('{"a": 1}\n{oops\n', "application/jsonlines")
    body, content_type = s.format_predictions([{"score": 0.5}, 1], "application/jsonlines")
    assert (body, content_type) == ('{"score": 0.5}\n1\n', "application/jsonlines")


def test_csv_rows():
    assert s.parse_instances("1,2\n\n3,4\n", "text/csv") == [["1", "2"], ["3", "4"]]


def test_bad_requests_say_what_is_expected():
    with pytest.raises(ValueError, match="not JSON"):
        s.parse_instances("{", "application/json")
    with pytest.raises(ValueError, match='expected {"instances"'):
        s.parse_instances('{"rows": []}', "application/json")
    with pytest.raises(ValueError, match="unsupported content type 'image/png'"):
        s.parse_instances(b"", "image/png")
    with pytest.raises(ValueError, match="instance 2: missing 'user_id'"):
        s.field({}, "user_id", 2)
    with pytest.raises(ValueError, match="instance 0: expected a JSON object"):
        s.field([1], "user_id", 0)


def test_responses():
    body, content_type = s.format_predictions([0.5, [1, 2]], "application/json")
    assert content_type == "application/json" and json.loads(body) == {"predictions": [0.5, [1, 2]]}
    assert s.format_predictions([0.5, [1, 2]], "text/csv") == ("0.5\n1,2\n", "text/csv")
    with pytest.raises(ValueError, match="unsupported accept type"):
        s.format_predictions([], "text/html")
