"""What the local run of the visual search blueprint serves (``npm run serve:local -- visual-search``).

``build(workdir, key)`` trains the reference image encoder on the synthetic catalogue the model's
tests make (``test_visual_search_model.synthetic()``: each image is a content latent seen through
a fixed mixing, under a large per-photo brightness/colour shift per block of 4 components; the
clicks are new photos of catalogue images), with the tests' hyperparameters, then writes into
``workdir`` what the local servers are loaded with, and ``fixture.json``, the manifest the local
run reads (paths relative to ``workdir``):

- ``endpoints``: ``vis-query-embedding``, the model folder and the serving code ``train.py`` wrote
  into it (``code/inference.py``);
- ``indexes.images``: the k-NN stand-in's documents, as the indexing pipeline loads them (one per
  image: ``image_id``, ``owner_id``, ``near_duplicate_group``, ``is_private`` and the served
  model's ``embedding`` of the image, computed with the served ``inference.py`` from JSON Lines as
  the batch transform sends them). Besides the tests' catalogue, the index holds planted
  near-duplicates: re-uploads of a few catalogue photos (a new colour cast and noise, what the
  encoder learnt to ignore) that share the original's ``near_duplicate_group``. Some images are
  private: one of the two re-uploads of the sample's photo, the sample's nearest image of another
  group, and a tenth of the other groups' images;
- ``sampleRequest``: a click's query photo (a new photo of catalogue image ``facts.sample.image``)
  that the trained encoder finds first and the raw descriptors do not, with a user id;
- ``facts``: per image its group and visibility, and the sample's image and group, for the tests.

Nothing here is personal: the user id is pseudonymized by the serving handler (log, feedback) and
the owners are made-up pseudonyms; ``key`` is accepted for the local run's contract and not used.

Usage: ``LOCAL_PSEUDONYMIZATION_KEY=... python local_fixture.py --workdir DIR`` prints the manifest.
"""

from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "..", "lib", "python"))  # local_fixture_support, which adds the rest

import local_fixture_support as support  # noqa: E402 - after the path set-up above
from local_fixture_support import load_script  # noqa: E402

ENDPOINT = "vis-query-embedding"
INDEX = "images"
# The model tests' data and hyperparameters (60 epochs, the parser's defaults): seconds on two cores.
TRAINING_ARGS = ("--epochs", "60")
SEED = 5
NEAR_DUPLICATE_GROUPS = 12  # catalogue photos re-uploaded, the sample's among them
COPIES = 2  # re-uploads per such photo
PRIVATE_SHARE = 0.1
# A re-upload: another colour cast per block of 4 components, and noise (the augmentations' kind).
COPY_SHIFT, COPY_NOISE = 0.3, 0.05


def _embed(inference: object, model: object, rows: list, columns: list) -> np.ndarray:
    """The served model's embeddings of ``rows``, sent as the indexing batch transform sends them."""
    answers = support.batch_answers(inference, model, [{c: row[c] for c in columns} for row in rows])
    return np.array([answer["embedding"] for answer in answers], dtype=np.float64)


def _raw(rows: list, columns: list) -> np.ndarray:
    x = np.array([[row[c] for c in columns] for row in rows], dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def build(workdir: str, key: str) -> dict:
    """Trains the encoder, writes the local run's data into ``workdir`` and returns the manifest."""
    tests = support.prepare_build(workdir, key, HERE, "test_visual_search_model.py")
    columns = tests.COLUMNS
    catalogue, clicks = tests.synthetic()
    model_dir = os.path.join(workdir, "model")
    args = ["--train-dir", tests.write_channel(os.path.join(workdir, "train"), catalogue),
            "--test-dir", tests.write_channel(os.path.join(workdir, "test"), clicks, gzipped=False),
            "--model-dir", model_dir, "--checkpoint-dir", "", *TRAINING_ARGS]
    metrics = support.run_training(tests.train.job.run, tests.train.train, tests.train.parser(), args, model_dir)
    code_dir = os.path.join(model_dir, "code")
    inference = load_script(code_dir, "inference.py")
    model = inference.model_fn(model_dir)

    # The sample: the first click whose photo the trained encoder matches to the clicked image
    # first, among the catalogue, while the raw descriptors do not (the order is the model's).
    ids = [row["image_id"] for row in catalogue]
    learned = _embed(inference, model, clicks, columns) @ _embed(inference, model, catalogue, columns).T
    raw = _raw(clicks, columns) @ _raw(catalogue, columns).T
    matched = (
        i
        for i, click in enumerate(clicks)
        if ids[int(np.argmax(learned[i]))] == click["clicked_image_id"] != ids[int(np.argmax(raw[i]))]
    )
    sample = next(matched, None)
    if sample is None:
        raise RuntimeError(f"no click that the trained encoder matches first and the raw descriptors do not: {metrics}")
    sample_image = clicks[sample]["clicked_image_id"]
    sample_group = f"group-{ids.index(sample_image):04d}"

    # The index: the catalogue, one group per photo, plus re-uploads of a few photos in their group.
    rng = np.random.default_rng(SEED)
    images = [dict(row) for row in catalogue]
    groups = {image: f"group-{n:04d}" for n, image in enumerate(ids)}
    others = [image for image in ids if image != sample_image]
    originals = [sample_image, *rng.choice(others, NEAR_DUPLICATE_GROUPS - 1, replace=False).tolist()]
    by_id = {row["image_id"]: row for row in catalogue}
    copies_of = {}
    for original in originals:
        x = np.array([by_id[original][c] for c in columns])
        copies_of[original] = []
        for n in range(COPIES):
            copy = x + np.repeat(rng.normal(0, COPY_SHIFT, len(columns) // 4), 4) + rng.normal(0, COPY_NOISE, x.shape)
            image = f"{original}-copy-{n + 1}"
            images.append({"image_id": image, **dict(zip(columns, map(float, copy)))})
            groups[image] = groups[original]
            copies_of[original].append(image)
    embeddings = _embed(inference, model, images, columns)

    # Private: a re-upload of the sample's photo, the sample's nearest image of another group, a share of the rest.
    query = _embed(inference, model, [clicks[sample]], columns)[0]
    nearest = [images[i]["image_id"] for i in np.argsort(-(embeddings @ query))]
    nearest_other = next(image for image in nearest if groups[image] != sample_group)
    private = {copies_of[sample_image][0], nearest_other}
    # The sample's other re-upload stays public: its group then has two public images to collapse.
    rest = [image for image in groups if image not in private and groups[image] != sample_group]
    private.update(rng.choice(rest, int(PRIVATE_SHARE * len(rest)), replace=False).tolist())

    documents, facts = [], {}
    for n, (row, embedding) in enumerate(zip(images, embeddings)):
        image = row["image_id"]
        documents.append({"image_id": image, "owner_id": f"owner-{n % 97:02d}", "near_duplicate_group": groups[image],
                          "is_private": image in private, "embedding": [float(v) for v in embedding]})
        facts[image] = {"group": groups[image], "private": image in private}
    support.write_jsonl(os.path.join(workdir, "images.jsonl"), documents)

    manifest = {
        "blueprint": "visual-search",
        "endpoints": {ENDPOINT: support.model_entry(workdir, model_dir)},
        "indexes": {INDEX: {"documents": "images.jsonl", "idField": "image_id", "vectorField": "embedding",
                            "spaceType": "innerproduct", "dimension": len(documents[0]["embedding"])}},
        "sampleRequest": {"user_id": "user-local-1", **{c: clicks[sample][c] for c in columns}},
        "sampleFeedback": {"user_id": "user-local-1", "request_id": "<requestId of a /serve answer>",
                           "item_id": "<an image it served>", "outcome": "click", "value": True},
        "facts": {
            "images": facts,
            "sample": {"image": sample_image, "group": sample_group, "copies": copies_of[sample_image],
                       "rawNearest": ids[int(np.argmax(raw[sample]))]},
            "nearDuplicateGroups": len(originals),
        },
        "metrics": metrics,
    }
    return support.write_manifest(workdir, manifest)


if __name__ == "__main__":
    sys.exit(support.fixture_main(build, __doc__))
