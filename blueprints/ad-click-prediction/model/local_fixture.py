"""What the local run of the ad click prediction blueprint serves (``npm run serve:local -- ad-click-prediction``).

``build(workdir, key)`` trains the reference click model (the DCN) on the synthetic impression log
the model's tests make (``test_ad_click_prediction_model.synthetic_log()``: clicks depend mostly on
a user segment × ad category cross, then on the advertiser, the ad's CTR, the user's activity and
the hour), continues it on the next hour's log as the hourly continual learning does, and writes
into ``workdir`` what the local servers are loaded with, and ``fixture.json``, the manifest the
local run reads (paths relative to ``workdir``):

- ``endpoints``: ``adctr-ranking`` with its two production variants, as deployed for the A/B
  test: ``champion`` (the first model) and ``challenger`` (the continued one, the newest version);
  each a model folder and the serving code ``train.py`` wrote into it (``code/inference.py``);
- ``featureRecords``: JSON Lines for the Feature Store stand-in, keyed as the request path reads
  them: ``adctr-user-engagement`` (``user_id`` = the user's pseudonym, ``user_segment``,
  ``user_clicks_7d``, ``user_impressions_7d``, ``user_clicks_1h``) for users ``u1`` … ``u200``,
  and ``adctr-ad-stats`` (``ad_id`` = the ad id the ad server sends, ``advertiser_id``,
  ``campaign_id``, ``ad_category`` = the category the log shows the ad in most, ``ad_ctr_7d`` = the
  mean of the log's values, ``advertiser_ctr_30d``) for every ad of the log;
- ``sampleRequest``: the sample user ``u1`` (in the segment with the clearest favourite category)
  and two ads of each category, all of distinct advertisers of middling quality, at 20h;
- ``facts``: the sample user's segment, the log's click rate per category in that segment, its
  favourite category, and the sample ads' categories, for the integration tests.

Pseudonyms are the data lake's (``anonymize.pseudonym``: lowercase hex HMAC-SHA256 under ``key``),
the same the serving handler computes from the raw ``user_id`` of a request.

Usage: ``LOCAL_PSEUDONYMIZATION_KEY=... python local_fixture.py --workdir DIR`` prints the manifest.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "..", "lib", "python"))  # local_fixture_support, which adds the rest

import local_fixture_support as support  # noqa: E402 - after the path set-up above
from local_fixture_support import pseudonym  # noqa: E402

ENDPOINT = "adctr-ranking"
USERS = 200
SAMPLE_USER = "u1"
SAMPLE_HOUR = 20
ADS_PER_CATEGORY = 2


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _train(tests, workdir: str, name: str, rows: list, extra: list) -> tuple:
    channel = tests.write_channel(os.path.join(workdir, f"train-{name}"), rows)
    model_dir = os.path.join(workdir, name)
    args = ["--train-dir", channel, "--model-dir", model_dir, "--checkpoint-dir", "", *extra]
    return model_dir, support.run_training(tests.train.training_io.run, tests.train.train, tests.train.parser(), args,
                                           model_dir, name)


def _click_rates(rows: list) -> dict:
    """The log's click rate per (segment, category): the planted cross, as the data shows it."""
    shown, clicked = Counter(), Counter()
    for row in rows:
        cell = (row["user_segment"], row["ad_category"])
        shown[cell] += 1
        clicked[cell] += row["clicked"]
    return {cell: clicked[cell] / shown[cell] for cell in shown}


def _ad_stats(rows: list) -> dict:
    """Per ad: advertiser, campaign, the category it is shown in most, its mean 7-day CTR, the advertiser's CTR."""
    by_ad = defaultdict(list)
    for row in rows:
        by_ad[row["ad_id"]].append(row)
    stats = {}
    for ad, shown in sorted(by_ad.items()):
        first = shown[0]
        stats[ad] = {
            "advertiser_id": first["advertiser_id"], "campaign_id": first["campaign_id"],
            "ad_category": Counter(r["ad_category"] for r in shown).most_common(1)[0][0],
            "ad_ctr_7d": round(statistics.fmean(r["ad_ctr_7d"] for r in shown), 5),
            "advertiser_ctr_30d": first["advertiser_ctr_30d"],
        }
    return stats


def build(workdir: str, key: str) -> dict:
    """Trains the champion and the challenger, writes the local run's data into ``workdir``, returns the manifest."""
    tests = support.prepare_build(workdir, key, HERE, "test_ad_click_prediction_model.py")
    rows = tests.synthetic_log()
    champion_dir, metrics = _train(tests, workdir, "champion", rows, list(tests.SMALL))
    # The challenger: the champion continued on the next hour's impressions (the hourly warm start).
    next_hour = tests.synthetic_log(seed=9, rows=10000, start=datetime.datetime(2024, 5, 2))
    continued = ["--warm-start-dir", champion_dir, "--epochs", "1", "--batch-size", "128", "--l2", "0.001",
                 "--window-days", "1"]
    challenger_dir, challenger_metrics = _train(tests, workdir, "challenger", next_hour, continued)

    # The segment whose favourite category stands out most, for the sample user.
    rates = _click_rates(rows)
    def margin(segment: str) -> float:
        ordered = sorted((rates[(segment, c)] for c in tests.CATEGORIES), reverse=True)
        return ordered[0] - ordered[1]
    segment = max(tests.SEGMENTS, key=margin)
    segment_rates = {category: round(rates[(segment, category)], 4) for category in tests.CATEGORIES}
    favourite = max(segment_rates, key=segment_rates.get)

    # Online features, event times now so that the groups' TTLs keep them.
    now = _iso(datetime.datetime.now(datetime.timezone.utc))
    ads = _ad_stats(rows)
    records = [{"featureGroupName": "adctr-ad-stats", "record": {"ad_id": ad, "updated_at": now, **fields}}
               for ad, fields in ads.items()]
    for i in range(1, USERS + 1):
        user = f"u{i}"
        # u1 is the sample user; the others cycle through the segments, with typical activity.
        user_segment = segment if user == SAMPLE_USER else tests.SEGMENTS[i % len(tests.SEGMENTS)]
        clicks = 2 + i % 3
        records.append({"featureGroupName": "adctr-user-engagement", "record": {
            "user_id": pseudonym(key, user), "event_time": now, "user_segment": user_segment,
            "user_clicks_7d": clicks, "user_impressions_7d": 20 * clicks + 80, "user_clicks_1h": 0}})
    support.write_jsonl(os.path.join(workdir, "features.jsonl"), records)

    # The sample's candidates: per category, the ads of the advertisers closest to the median
    # advertiser CTR (one ad per advertiser, as the re-rank keeps): the category decides.
    median = statistics.median(fields["advertiser_ctr_30d"] for fields in ads.values())
    used, candidates = set(), []
    for category in tests.CATEGORIES:
        chosen = 0
        for ad, fields in sorted(ads.items(), key=lambda item: (abs(item[1]["advertiser_ctr_30d"] - median), item[0])):
            if chosen == ADS_PER_CATEGORY:
                break
            if fields["ad_category"] == category and fields["advertiser_id"] not in used:
                used.add(fields["advertiser_id"])
                candidates.append(ad)
                chosen += 1

    manifest = {
        "blueprint": "ad-click-prediction",
        "endpoints": {ENDPOINT: {**support.model_entry(workdir, champion_dir),
                                 "variants": {"challenger": support.model_entry(workdir, challenger_dir)}}},
        "featureRecords": "features.jsonl",
        "indexes": {},
        "sampleRequest": {"user_id": SAMPLE_USER, "ad_ids": candidates, "hour_of_day": SAMPLE_HOUR},
        "sampleFeedback": {"user_id": SAMPLE_USER, "request_id": "<requestId of a /serve answer>",
                           "item_id": "<an ad id it served>", "outcome": "clicked", "value": True},
        "facts": {
            "sampleUser": {"id": SAMPLE_USER, "segment": segment, "favouriteCategory": favourite,
                           "clickRateByCategory": segment_rates},
            "categoryOf": {ad: ads[ad]["ad_category"] for ad in candidates},
            "advertiserOf": {ad: ads[ad]["advertiser_id"] for ad in candidates},
            "users": USERS,
            "challengerMetrics": challenger_metrics,
        },
        "metrics": metrics,
    }
    return support.write_manifest(workdir, manifest)


if __name__ == "__main__":
    sys.exit(support.fixture_main(build, __doc__))
