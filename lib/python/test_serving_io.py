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


def test_feature_values_name_the_record_and_feature():
    assert s.feature_number("2.5", "record 0, x") == 2.5
    assert s.feature_vector("[1, 2]", "v") == [1.0, 2.0]
    assert s.feature_vector("1, 2,3", "v") == [1.0, 2.0, 3.0]
    assert s.feature_vector((4, 5), "v") == [4.0, 5.0]
    for value, message in ((None, "missing or not a number"), ("high", "'high' is not a number"), ("nan", "finite")):
        with pytest.raises(s.FeatureError, match=f"record 3, x: .*{message}"):
            s.feature_number(value, "record 3, x")
    for value, message in (("[1, oops]", "not a list"), ([], "non-empty"), ([1, "inf"], "finite"), ("a,b", "not a")):
        with pytest.raises(s.FeatureError, match=message):
            s.feature_vector(value, "v")
    assert issubclass(s.FeatureError, ValueError)  # handlers answer it as a bad request


def test_feature_rows_concatenate_in_either_order_and_check_lengths():
    records = [{"a": 1, "b": "2", "v": [3, 4]}, {"a": 5, "b": 6, "v": "[7, 8]"}]
    rows, dims = s.feature_rows(records, ["a", "b"], ["v"])
    assert rows == [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]] and dims == {"v": 2}
    rows, _ = s.feature_rows(records, ["a", "b"], ["v"], vectors_first=True)
    assert rows[0] == [3.0, 4.0, 1.0, 2.0]
    with pytest.raises(s.FeatureError, match="record 0, v: expected 3 values, got 2"):
        s.feature_rows(records, ["a"], ["v"], {"v": 3})
    with pytest.raises(s.FeatureError, match="record 1: missing 'v'"):
        s.feature_rows([records[0], {"a": 1, "b": 2}], ["a"], ["v"])
    with pytest.raises(s.FeatureError, match="record 0: expected an object"):
        s.feature_rows([[1, 2]], ["a"], [])
    # The feature parsed first fails first: the vectors when they come first.
    with pytest.raises(s.FeatureError, match="missing 'v'"):
        s.feature_rows([{}], ["a"], ["v"], vectors_first=True)
    with pytest.raises(s.FeatureError, match="record 0, a: missing"):
        s.feature_rows([{}], ["a"], ["v"])


def test_record_from_values_inverts_a_csv_row():
    dims = {"v": 2}
    assert s.record_from_values(["1", "2", "3"], ["a"], ["v"], dims, 0) == {"a": "1", "v": ["2", "3"]}
    first = s.record_from_values(["1", "2", "3"], ["a"], ["v"], dims, 0, vectors_first=True)
    assert first == {"v": ["1", "2"], "a": "3"}
    with pytest.raises(ValueError, match=r"instance 4: expected 3 values \(scalar features, then vector"):
        s.record_from_values(["1"], ["a"], ["v"], dims, 4)


def test_feature_records_map_csv_rows_and_keep_objects():
    dims = {"v": 2}
    instances = [["1", "2", "3"], {"a": 4, "v": [5, 6]}]
    assert s.feature_records(instances, ["a"], ["v"], dims) == [{"a": "1", "v": ["2", "3"]}, {"a": 4, "v": [5, 6]}]
    assert s.feature_records([["1", "2", "3"]], ["a"], ["v"], dims, vectors_first=True) == [{"v": ["1", "2"], "a": "3"}]
    with pytest.raises(ValueError, match="no instances in the request"):
        s.feature_records([], ["a"], ["v"], dims)
    with pytest.raises(ValueError, match="instance 0: expected 3 values"):
        s.feature_records([["1"]], ["a"], ["v"], dims)
