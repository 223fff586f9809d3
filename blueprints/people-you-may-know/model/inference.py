"""Serving handler of People You May Know (the nightly batch transform, or any SageMaker container).

Requests, per instance:
- ``{"user_id": "<pseudonym>"[, "k": n]}``: the user's top-k suggestions among friends of friends;
  ``user_ref`` is accepted for ``user_id`` (the batch export's column: BatchTransform carries the
  cache key past the model, so the dataset holds the id a second time for the model to read);
- ``{"user_id": ..., "candidate_id": ...}``: the probability that the two become friends.
Content types: ``application/jsonlines`` (one instance per line, what the batch transform sends),
``application/json`` (``{"instances": [...]}`` or a list), ``text/csv`` (``user_id[,candidate_id]``).
Responses: ``{"suggestions": [{"user_id", "score"}, ...]}`` or ``{"score": p}`` per instance, as
JSON Lines (one line each, so that the batch transform joins it with its key), JSON
(``{"predictions": [...]}``) or CSV (suggested ids and scores alternating, or the score). A user
the graph does not know (new, no friends yet) gets no suggestions: cold start is left to onboarding.
"""

from __future__ import annotations

import json
import os

import numpy as np
import people_you_may_know_model as pymk
import serving_io

MAX_K = 100


def model_fn(model_dir: str) -> dict:
    saved = np.load(os.path.join(model_dir, "model.npz"))
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    graph = pymk.Graph.__new__(pymk.Graph)
    graph.nodes = [str(n) for n in saved["nodes"]]
    graph.index = {n: i for i, n in enumerate(graph.nodes)}
    graph.indptr, graph.dst, graph.times = saved["indptr"], saved["dst"], saved["times"]
    graph.src = np.repeat(np.arange(len(graph.nodes)), np.diff(graph.indptr))
    graph.degree = np.diff(graph.indptr).astype(float)
    params = {k[len("param_") :]: saved[k] for k in saved.files if k.startswith("param_")}
    return {"graph": graph, "embeddings": saved["embeddings"], "params": params, "config": config}


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    return serving_io.parse_instances(body, content_type)


def _request(instance: object, index: int) -> tuple:
    if isinstance(instance, list):  # CSV row
        if len(instance) not in (1, 2) or not instance[0]:
            raise ValueError(
                f"instance {index}: expected user_id[,candidate_id], but {len(instance)} values were provided"
            )
        return str(instance[0]), (str(instance[1]) if len(instance) == 2 else None), None
    if isinstance(instance, dict) and "user_id" not in instance and "user_ref" in instance:
        instance = {**instance, "user_id": instance["user_ref"]}
    user = str(serving_io.field(instance, "user_id", index))
    k = instance.get("k")
    if k is not None and not (isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= MAX_K):
        raise ValueError(f"instance {index}: k must be a whole number from 1 to {MAX_K}, but {k!r} was provided")
    candidate = instance.get("candidate_id")
    return user, (str(candidate) if candidate is not None else None), k


def predict_fn(instances: list, model: dict) -> list:
    graph, z, params, config = model["graph"], model["embeddings"], model["params"], model["config"]
    predictions = []
    for index, instance in enumerate(instances):
        user, candidate, k = _request(instance, index)
        u = graph.index.get(user)
        if candidate is not None:
            v = graph.index.get(candidate)
            if u is None or v is None:
                predictions.append({"score": None})
                continue
            mutual = np.log1p(graph.discounted_mutual(u, v, config["now"], config["tau_days"]))
            logit = pymk.pair_logits(params, z, np.array([[u, v]]), np.array([mutual]))
            predictions.append({"score": round(float(pymk.sigmoid(logit)[0]), 6)})
            continue
        found = (
            []
            if u is None
            else pymk.suggest(
                graph, z, params, u, k or config["top_k"], config["max_candidates"], config["now"], config["tau_days"]
            )
        )
        predictions.append({"suggestions": [{"user_id": graph.nodes[c], "score": round(s, 6)} for c, s in found]})
    return predictions


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    kind = serving_io.media_type(accept)
    if kind == serving_io.CSV:
        rows = [
            [p["score"]] if "score" in p else [v for s in p["suggestions"] for v in (s["user_id"], s["score"])]
            for p in predictions
        ]
        return serving_io.format_predictions(rows, accept)
    return serving_io.format_predictions(predictions, accept)
