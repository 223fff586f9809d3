"""What the local run of the event recommendation blueprint serves (``npm run serve:local -- event-recommendation``).

``build(workdir, key)`` trains the reference ranker (the GBDT) on the synthetic ranking log the
model's tests make (``test_event_recommendation_model.synthetic_log()``: registrations depend on
distance, friends registered, category affinity, an event soon, host popularity and price), with
the tests' small hyperparameters, fine-tunes it on a newer log as the hourly job does, and writes
into ``workdir`` what the local servers are loaded with, and ``fixture.json``, the manifest the
local run reads (paths relative to ``workdir``):

- ``endpoints``: ``evrec-ranking`` with its two production variants, as deployed for the A/B test:
  ``champion`` (the daily model) and ``challenger`` (the champion boosted further on the newest
  hours, the hourly fine-tune); each a model folder and the serving code ``train.py`` wrote into
  it (``code/inference.py``);
- ``featureRecords``: JSON Lines for the Feature Store stand-in, keyed as the request path reads
  them: ``evrec-user-activity`` (``user_id`` = the user's pseudonym, ``home_geohash``,
  ``user_registrations_30d``, ``events_viewed_1h``, ``registrations_by_category``) for users
  ``u1`` … ``u20``, and ``evrec-event-features`` (``event_id`` = the id the events service sends:
  events are public, not pseudonymized; category, venue, ``starts_at``, price, host popularity)
  for a small Berlin catalogue;
- ``sampleRequest``: the sample user ``u1`` (home in central Berlin, most registrations music), the
  events service's nearby events (five near music events, one far one, and near events of three
  other categories) and a friend registered for one of the music events;
- ``facts``: the events' categories and distances from the user's home, the user's favourite
  category, which events match it and are near, for the integration tests.

Times: ``starts_at`` is set from now, so that ``inference.py`` derives the intended hours to the
event; each is moved to the middle of the trained trees' interval of ``hours_to_event`` around the
intended value, so that the scores stay the same for a while after the fixture is built (tests
compare served scores with the endpoint's, invoked a little later).

Pseudonyms are the data lake's (``anonymize.pseudonym``: lowercase hex HMAC-SHA256 under ``key``),
the same the serving handler computes from the raw ``user_id`` of a request.

Usage: ``LOCAL_PSEUDONYMIZATION_KEY=... python local_fixture.py --workdir DIR`` prints the manifest.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "..", "lib", "python"))  # local_fixture_support, which adds the rest

import local_fixture_support as support  # noqa: E402 - after the path set-up above
from local_fixture_support import load_script, pseudonym  # noqa: E402

ENDPOINT = "evrec-ranking"
# The model tests' hyperparameters (seconds on two cores), and their warm start for the challenger.
CHAMPION_ARGS = ("--trees", "60", "--max-depth", "3")
CHALLENGER_ARGS = ("--trees", "10", "--window-days", "1")
USERS = 20
SAMPLE_USER = "u1"
HOME = "u33db"  # a 5-character geohash (~5 km) in central Berlin, as the app sends it
FAVOURITE = "music"
SAMPLE_REGISTRATIONS = {"music": 6, "art": 1, "sport": 1}
CATEGORIES = ("music", "art", "sport", "food", "tech")
# The catalogue: (event id, category, venue latitude, longitude, hours to the event, price, host popularity).
# Near: within ~5 km of the home cell's centre (52.5366 N, 13.3813 E); Potsdam is ~27 km away.
EVENTS = (
    ("ev-101", "music", 52.5200, 13.4050, 30, 10.0, 0.5),
    ("ev-102", "music", 52.5300, 13.3900, 48, 25.0, 0.45),
    ("ev-103", "music", 52.5450, 13.3600, 54, 10.0, 0.4),
    ("ev-104", "music", 52.5150, 13.3700, 72, 0.0, 0.4),
    ("ev-105", "music", 52.5400, 13.4100, 40, 25.0, 0.35),
    ("ev-106", "music", 52.3906, 13.0645, 50, 25.0, 0.4),  # Potsdam: far
    ("ev-201", "art", 52.5210, 13.3980, 36, 10.0, 0.3),
    ("ev-202", "art", 52.5330, 13.4120, 60, 0.0, 0.3),
    ("ev-203", "art", 52.5480, 13.3900, 200, 25.0, 0.25),
    ("ev-301", "sport", 52.5150, 13.3900, 30, 10.0, 0.3),
    ("ev-302", "sport", 52.5500, 13.3700, 250, 60.0, 0.2),
    ("ev-401", "food", 52.5250, 13.3950, 45, 25.0, 0.3),
    ("ev-402", "food", 52.5300, 13.3600, 300, 60.0, 0.2),
    # In the catalogue, not in the sample request: for trying other requests.
    ("ev-107", "music", 52.3906, 13.0645, 20, 60.0, 0.2),
    ("ev-501", "tech", 52.5120, 13.3900, 40, 0.0, 0.4),
    ("ev-502", "tech", 52.4000, 13.1000, 120, 120.0, 0.3),
)
SAMPLE_EVENTS = [event[0] for event in EVENTS[:13]]
FRIENDS = {"ev-103": 2}


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _train(tests, workdir: str, name: str, rows: list, extra: list) -> tuple:
    channel = tests.write_channel(os.path.join(workdir, f"train-{name}"), rows)
    model_dir = os.path.join(workdir, name)
    args = ["--train-dir", channel, "--model-dir", model_dir, "--checkpoint-dir", "", *extra]
    return model_dir, support.run_training(tests.train.training_io.run, tests.train.train, tests.train.parser(), args,
                                           model_dir, name)


def _steady_hours(model_dirs: list, wanted: float, tests) -> float:
    """The middle of the interval between the models' ``hours_to_event`` thresholds that holds ``wanted``."""
    column = list(tests.FEATURES).index("hours_to_event")
    cuts = set()
    for model_dir in model_dirs:
        model = tests.model_module.GradientBoostedTrees.load(model_dir)
        for tree in model.trees:
            cuts.update(float(t) for f, t in zip(tree.feature, tree.threshold) if f == column)
    below = max((c for c in cuts if c < wanted), default=0.0)
    above = min((c for c in cuts if c >= wanted), default=wanted + 24.0)
    return round((below + above) / 2, 2)


def build(workdir: str, key: str) -> dict:
    """Trains the champion and the challenger, writes the local run's data into ``workdir``, returns the manifest."""
    tests = support.prepare_build(workdir, key, HERE, "test_event_recommendation_model.py")
    champion_dir, metrics = _train(tests, workdir, "champion", tests.synthetic_log(), list(CHAMPION_ARGS))
    newest = tests.synthetic_log(seed=11, users=60, hours=3)
    challenger_dir, challenger_metrics = _train(
        tests, workdir, "challenger", newest, ["--warm-start-dir", champion_dir, *CHALLENGER_ARGS])

    inference = load_script(os.path.join(champion_dir, "code"), "inference.py")
    home = inference.geohash_centre(HOME)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    updated = _iso(now)
    records, distance, category_of = [], {}, {}
    for event, category, lat, lon, hours, price, popularity in EVENTS:
        starts = now + datetime.timedelta(hours=_steady_hours([champion_dir, challenger_dir], hours, tests))
        records.append({"featureGroupName": "evrec-event-features", "record": {
            "event_id": event, "updated_at": updated, "event_category": category, "venue_latitude": lat,
            "venue_longitude": lon, "starts_at": _iso(starts), "price": price, "host_popularity": popularity,
            "registrations_total": int(100 * popularity)}})
        distance[event] = round(inference.distance_km(home, (lat, lon)), 2)
        category_of[event] = category
    for i in range(1, USERS + 1):
        user = f"u{i}"
        # u1 is the sample user; the others favour each category in turn, a little less clearly.
        counts = SAMPLE_REGISTRATIONS if user == SAMPLE_USER else {CATEGORIES[i % len(CATEGORIES)]: 3, "music": 1}
        records.append({"featureGroupName": "evrec-user-activity", "record": {
            "user_id": pseudonym(key, user), "event_time": updated, "home_geohash": HOME,
            "user_registrations_30d": sum(counts.values()), "events_viewed_1h": i % 4,
            "registrations_by_category": json.dumps(counts, sort_keys=True)}})
    support.write_jsonl(os.path.join(workdir, "features.jsonl"), records)

    near = sorted(e for e in SAMPLE_EVENTS if distance[e] <= 5)
    manifest = {
        "blueprint": "event-recommendation",
        "endpoints": {ENDPOINT: {**support.model_entry(workdir, champion_dir),
                                 "variants": {"challenger": support.model_entry(workdir, challenger_dir)}}},
        "featureRecords": "features.jsonl",
        "indexes": {},
        "sampleRequest": {"user_id": SAMPLE_USER, "event_ids": SAMPLE_EVENTS,
                          "friends_registered_by_event": "|".join(f"{e}:{n}" for e, n in FRIENDS.items())},
        "sampleFeedback": {"user_id": SAMPLE_USER, "request_id": "<requestId of a /serve answer>",
                           "item_id": "<an event id it served>", "outcome": "registered", "value": True},
        "facts": {
            "sampleUser": {"id": SAMPLE_USER, "homeGeohash": HOME, "favouriteCategory": FAVOURITE,
                           "registrationsByCategory": SAMPLE_REGISTRATIONS},
            "categoryOf": category_of,
            "distanceKm": distance,
            "near": near,
            "tasteAndNear": [e for e in near if category_of[e] == FAVOURITE],
            "friendsRegistered": FRIENDS,
            "users": USERS,
            "challengerMetrics": challenger_metrics,
        },
        "metrics": metrics,
    }
    return support.write_manifest(workdir, manifest)


if __name__ == "__main__":
    sys.exit(support.fixture_main(build, __doc__))
