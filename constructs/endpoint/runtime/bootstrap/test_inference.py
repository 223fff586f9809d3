"""Tests for the bootstrap model's inference functions, on requests the tests make."""

from __future__ import annotations

import json
from pathlib import Path

import inference  # the bootstrap folder is on pytest's pythonpath (pyproject.toml)
import pytest


def serve(model_dir: Path, body, content_type, accept):
    """What the container does per request: model_fn once, then input_fn -> predict_fn -> output_fn."""
    model = inference.model_fn(str(model_dir))
    return inference.output_fn(inference.predict_fn(inference.input_fn(body, content_type), model), accept)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    (tmp_path / "bootstrap.json").write_text(json.dumps({"score": 0.02}), encoding="utf-8")
    return tmp_path


class TestModelFn:
    def test_reads_the_prior(self, model_dir: Path) -> None:
        assert inference.model_fn(str(model_dir)) == {"score": 0.02}

    def test_defaults_to_one_half_without_the_file(self, tmp_path: Path) -> None:
        assert inference.model_fn(str(tmp_path)) == {"score": 0.5}

    def test_defaults_to_one_half_without_a_score(self, tmp_path: Path) -> None:
        (tmp_path / "bootstrap.json").write_text("{}", encoding="utf-8")
        assert inference.model_fn(str(tmp_path)) == {"score": 0.5}

    def test_accepts_an_integer_prior(self, tmp_path: Path) -> None:
        (tmp_path / "bootstrap.json").write_text('{"score": 3}', encoding="utf-8")
        assert inference.model_fn(str(tmp_path)) == {"score": 3.0}

    @pytest.mark.parametrize("score", ['"high"', "true", "null", "NaN", "Infinity", "[0.5]"])
    def test_refuses_a_score_that_is_not_a_finite_number(self, tmp_path: Path, score: str) -> None:
        (tmp_path / "bootstrap.json").write_text('{"score": ' + score + "}", encoding="utf-8")
        with pytest.raises(ValueError, match="score must be a finite number"):
            inference.model_fn(str(tmp_path))


class TestInputFn:
    @pytest.mark.parametrize(
        ("body", "content_type", "rows"),
        [
            ("1,2,3\n4,5,6\n", "text/csv", 2),
            (b"1,2,3\n4,5,6", "text/csv", 2),
            ("1,2,3\r\n\r\n4,5,6\r\n", "text/csv; charset=utf-8", 2),
            ('a,"b,c",d\n', "text/csv", 1),
            ("[1, 2, 3]", "application/json", 1),
            ("[[1, 2], [3, 4], [5, 6]]", "application/json", 3),
            ('[{"x": 1}, {"x": 2}]', "application/json", 2),
            ('{"x": 1, "y": "a"}', "application/json", 1),
            ('{"instances": [[1], [2], [3], [4]]}', "application/json", 4),
            ('{"inputs": [{"x": 1}, {"x": 2}]}', "Application/JSON", 2),
            (b'{"features": [[1, 2]]}', "application/json", 1),
            ('{"x": 1}\n{"x": 2}\n\n{"x": 3}\n', "application/jsonlines", 3),
        ],
    )
    def test_one_row_per_record(self, body, content_type: str, rows: int) -> None:
        assert len(inference.input_fn(body, content_type)) == rows

    def test_csv_keeps_the_cells(self) -> None:
        assert inference.input_fn("1,2\n", "text/csv") == [["1", "2"]]

    @pytest.mark.parametrize("content_type", ["application/x-npy", "image/png", "", None])
    def test_refuses_other_content_types(self, content_type) -> None:
        with pytest.raises(inference.UnsupportedContentTypeError, match="is not supported; supported: text/csv"):
            inference.input_fn("1,2", content_type)

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [("", "text/csv"), ("\n \n", "text/csv"), ("", "application/json"), ("[]", "application/json")],
    )
    def test_refuses_a_request_without_rows(self, body: str, content_type: str) -> None:
        with pytest.raises(ValueError, match="no rows"):
            inference.input_fn(body, content_type)

    def test_refuses_malformed_json(self) -> None:
        with pytest.raises(ValueError):
            inference.input_fn("{not json", "application/json")


class TestPredictFn:
    def test_the_prior_for_every_row(self) -> None:
        assert inference.predict_fn([["a"], ["b"], ["c"]], {"score": 0.02}) == [0.02, 0.02, 0.02]


class TestOutputFn:
    @pytest.mark.parametrize(
        ("accept", "body", "content_type"),
        [
            ("application/json", "[0.5, 0.5]", "application/json"),
            (None, "[0.5, 0.5]", "application/json"),
            ("*/*", "[0.5, 0.5]", "application/json"),
            ("text/csv", "0.5\n0.5\n", "text/csv"),
            ("text/csv; charset=utf-8", "0.5\n0.5\n", "text/csv"),
            ("image/png, text/csv;q=0.9, application/json", "0.5\n0.5\n", "text/csv"),
            ("application/jsonlines", "0.5\n0.5\n", "application/jsonlines"),
        ],
    )
    def test_serializes_as_the_container_defaults_do(self, accept, body: str, content_type: str) -> None:
        assert inference.output_fn([0.5, 0.5], accept) == (body, content_type)

    def test_refuses_an_accept_it_cannot_produce(self) -> None:
        with pytest.raises(inference.UnsupportedContentTypeError, match="accept 'image/png'"):
            inference.output_fn([0.5], "image/png")


class TestServing:
    def test_csv_in_csv_out(self, model_dir: Path) -> None:
        assert serve(model_dir, "1,2\n3,4\n5,6\n", "text/csv", "text/csv") == ("0.02\n0.02\n0.02\n", "text/csv")

    def test_json_in_json_out(self, tmp_path: Path) -> None:
        request = '{"instances": [{"user": "u1"}, {"user": "u2"}]}'
        body, content_type = serve(tmp_path, request, "application/json", "application/json")
        assert (json.loads(body), content_type) == ([0.5, 0.5], "application/json")
