"""Serving handler of the video recommendation model (both stages in one artifact).

The same model.tar.gz serves the two endpoints of the blueprint; an instance's fields say which
stage it asks for:

- candidate generation (the user tower, ``vrec-user-tower``): ``{"user_age": 34, "device_type":
  "mobile", "history": ["v1", "v7"]}`` → ``{"embedding": [...]}``, the query vector of the
  inner-product ANN search over the video embeddings in the vector index;
- ranking (``vrec-ranking``): the same user fields plus a candidate's ``video_id``,
  ``video_length_s`` and ``video_language`` → ``{"video_id": "v9", "score": 0.71}``, the watch
  probability. One request carries every candidate of one user, one instance each.

- indexing (the video tower, the daily indexing batch transform over the catalogue):
  ``{"video_id": "v9", "video_length_s": 240, "video_language": "en"}`` without user fields →
  ``{"video_id": "v9", "embedding": [...]}``, the vector the index stores for that video.

``history`` is the user's recently watched video ids (from the feature store), most recent last,
as a list or as the feature store's ``|``-separated string; unknown ids are ignored.
CSV rows: ``user_age,device_type,history`` (ids separated by ``|``) for
embeddings, followed by ``video_id,video_length_s,video_language`` for ranking. Responses:
``{"predictions": [...]}`` or CSV (the score, or the embedding's values, per line).
"""

from __future__ import annotations

import math

import serving_io
from video_recommendation_model import TwoStageModel

USER_FIELDS = ("user_age", "device_type", "history")
CANDIDATE_FIELDS = ("video_id", "video_length_s", "video_language")


def model_fn(model_dir: str) -> TwoStageModel:
    return TwoStageModel.load(model_dir)


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    instances = serving_io.parse_instances(body, content_type)
    if not instances:
        raise ValueError("no instances in the request")
    if serving_io.media_type(content_type) == serving_io.CSV:
        return [_from_csv(row, index) for index, row in enumerate(instances)]
    return instances


def _from_csv(row: list, index: int) -> dict:
    names = USER_FIELDS if len(row) == len(USER_FIELDS) else USER_FIELDS + CANDIDATE_FIELDS
    if len(row) != len(names):
        raise ValueError(f"row {index}: expected {len(USER_FIELDS)} values ({','.join(USER_FIELDS)}) or "
                         f"{len(USER_FIELDS) + len(CANDIDATE_FIELDS)} (followed by {','.join(CANDIDATE_FIELDS)}), "
                         f"but got {len(row)}")
    instance = dict(zip(names, row))
    instance["history"] = [v for v in str(instance["history"]).split("|") if v]
    return instance


def _number(instance: object, name: str, index: int) -> float:
    value = serving_io.field(instance, name, index)
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"instance {index}: {name!r} must be a number, but {value!r} was provided") from None
    if not math.isfinite(result):
        raise ValueError(f"instance {index}: {name!r} must be finite, but {value!r} was provided")
    return result


def _user(instance: object, index: int) -> tuple:
    age = _number(instance, "user_age", index)
    device = serving_io.field(instance, "device_type", index)
    history = instance.get("history", []) if isinstance(instance, dict) else None
    if history is None:
        history = []
    if isinstance(history, str):
        # As the feature store holds it (and the request path sends it): ids separated by |.
        history = [v for v in history.split("|") if v]
    if not isinstance(history, list):
        raise ValueError(f"instance {index}: 'history' must be a list of video ids")
    return history, age, device


def predict_fn(instances: list, model: TwoStageModel) -> list:
    candidates = [i for i, x in enumerate(instances) if isinstance(x, dict) and "video_id" in x]
    videos_only = [i for i in candidates if "user_age" not in instances[i]]
    ranking = [i for i in candidates if i not in set(videos_only)]
    embedding = [i for i in range(len(instances)) if i not in set(candidates)]
    results: list = [None] * len(instances)
    if videos_only:
        ids = [str(serving_io.field(instances[i], "video_id", i)) for i in videos_only]
        vectors = model.embed_videos(ids, [_number(instances[i], "video_length_s", i) for i in videos_only],
                                     [serving_io.field(instances[i], "video_language", i) for i in videos_only])
        for i, video, vector in zip(videos_only, ids, vectors):
            results[i] = {"video_id": video, "embedding": [round(float(x), 6) for x in vector]}
    if embedding:
        users = [_user(instances[i], i) for i in embedding]
        vectors = model.embed_users(*zip(*users))
        for i, vector in zip(embedding, vectors):
            results[i] = {"embedding": [round(float(x), 6) for x in vector]}
    if ranking:
        users = [_user(instances[i], i) for i in ranking]
        videos = [str(serving_io.field(instances[i], "video_id", i)) for i in ranking]
        lengths = [_number(instances[i], "video_length_s", i) for i in ranking]
        languages = [serving_io.field(instances[i], "video_language", i) for i in ranking]
        histories, ages, devices = zip(*users)
        scores = model.score(histories, ages, devices, videos, lengths, languages)
        for i, video, score in zip(ranking, videos, scores):
            results[i] = {"video_id": video, "score": round(float(score), 6)}
    return results


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    if serving_io.media_type(accept) == serving_io.CSV:
        return serving_io.format_predictions(
            [p["score"] if "score" in p else p["embedding"] for p in predictions], accept)
    return serving_io.format_predictions(predictions, accept)
