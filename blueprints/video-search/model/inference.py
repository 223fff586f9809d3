"""Serving handler of the video search encoders (SageMaker PyTorch inference container).

train.py copies this file, ``video_search_model.py`` and ``serving_io.py`` into
``/opt/ml/model/code``. The online search service embeds the query text here and looks the
embedding up in the vector index; the batch indexing pipeline embeds catalogue videos from their
frame features with the same model.

Requests, one instance per query or video:
  - ``application/json``: ``{"instances": [{"query_text": "cat piano", "query_language": "en"},
    {"frame_features": [[...], ...]}]}`` (``query_language`` optional; ``frame_features`` a list of
    frames or its JSON text), or such a list on its own, or one instance object on its own (what
    the request path's embed stage sends);
  - ``text/csv``: one query per line, ``query_text[,query_language]``;
  - ``application/jsonlines``: one instance object per line (batch transform).
Responses, one per instance: ``{"embedding": [...], "query_token_count": n}`` for a query (the
tokens the text encoder read; the scalar the drift monitor compares with the search logs' column
of the same name), ``{"embedding": [...], "frame_count": n}`` for a video; as ``application/json``
(``{"predictions": [...]}``), ``application/jsonlines`` or ``text/csv`` (the embedding's values).
"""

from __future__ import annotations

import json

import numpy as np
import serving_io
from video_search_model import TwoTowerEncoder, parse_frames, tokenize

DECIMALS = 6


def model_fn(model_dir: str) -> TwoTowerEncoder:
    return TwoTowerEncoder.load(model_dir)


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    if serving_io.media_type(content_type) == serving_io.JSON:
        instance = _single_instance(body)
        if instance is not None:
            return [instance]
    instances = serving_io.parse_instances(body, content_type)
    if serving_io.media_type(content_type) == serving_io.CSV:
        return [{"query_text": row[0], "query_language": row[1] if len(row) > 1 else None} for row in instances]
    return instances


def _single_instance(body: object) -> dict | None:
    """A JSON object without ``instances``: the request path's embed stage sends its one instance bare."""
    text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
    try:
        payload = json.loads(text)
    except ValueError:
        return None  # parse_instances reports it
    return payload if isinstance(payload, dict) and "instances" not in payload else None


def _embedding(row: np.ndarray) -> list:
    return [round(float(v), DECIMALS) for v in row]


def predict_fn(instances: list, model: TwoTowerEncoder) -> list:
    if not instances:
        raise ValueError("no instances in the request")
    predictions = [None] * len(instances)
    queries, videos = [], []
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise ValueError(f"instance {i}: expected an object with 'query_text' or 'frame_features'")
        if instance.get("query_text") is not None:
            text = instance["query_text"]
            if not isinstance(text, str) or not tokenize(text):
                raise ValueError(f"instance {i}: query_text must be text with at least one letter or digit")
            language = instance.get("query_language")
            if language is not None and not isinstance(language, str):
                raise ValueError(f"instance {i}: query_language must be a string such as 'en'")
            queries.append((i, text, language))
        elif instance.get("frame_features") is not None:
            videos.append((i, parse_frames(instance["frame_features"], model.config["frame_width"], f"instance {i}")))
        else:
            raise ValueError(f"instance {i}: missing 'query_text' or 'frame_features'")
    if queries:
        embedded = model.embed_queries([t for _, t, _ in queries], [lang for _, _, lang in queries])
        for (i, text, _), row in zip(queries, embedded):
            predictions[i] = {"embedding": _embedding(row), "query_token_count": len(tokenize(text))}
    if videos:
        embedded = model.embed_videos(np.stack([frames.mean(axis=0) for _, frames in videos]))
        for (i, frames), row in zip(videos, embedded):
            predictions[i] = {"embedding": _embedding(row), "frame_count": int(frames.shape[0])}
    return predictions


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    kind = serving_io.media_type(accept)
    if kind == serving_io.CSV:
        return serving_io.format_predictions([p["embedding"] for p in predictions], accept)
    return serving_io.format_predictions(predictions, accept)
