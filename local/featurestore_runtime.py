"""Local stand-in for SageMaker Feature Store's runtime API (the online store), in memory.

moto server has no Feature Store runtime, so a laptop run of a blueprint points the Node.js SDK
here (``AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME=http://127.0.0.1:PORT``) for the serving
function's BatchGetRecord, the streaming ingestion's PutRecord and erasure's DeleteRecord.

Wire protocol (botocore's sagemaker-featurestore-runtime 2020-07-01 model, rest-json):
  - PutRecord      ``PUT /FeatureGroup/{FeatureGroupName}``, body ``{Record, TargetStores?, TtlDuration?}``,
                   200 with an empty body.
  - GetRecord      ``GET /FeatureGroup/{FeatureGroupName}?RecordIdentifierValueAsString=..&FeatureName=..``
                   (FeatureName repeated), ``{Record, ExpiresAt?}``; ``{}`` when there is no record.
  - BatchGetRecord ``POST /BatchGetRecord``, body ``{Identifiers: [{FeatureGroupName,
                   RecordIdentifiersValueAsString, FeatureNames?}], ExpirationTimeResponse?}``, answer
                   ``{Records, Errors, UnprocessedIdentifiers}``.
  - DeleteRecord   ``DELETE /FeatureGroup/{FeatureGroupName}?RecordIdentifierValueAsString=..&EventTime=..
                   &DeletionMode=..&TargetStores=..``, 200 with an empty body.
  - Errors: ``x-amzn-ErrorType`` header, JSON body ``{__type, Message}``.

Semantics, from the API reference (the model's documentation) unless marked as a guess:
  - A put is written to the online store when its EventTime is later than or equal to the stored
    record's (the reference says "greater"; UpdateRecord's says "equal to or newer" applies, which
    this follows), else it is historic and goes to the offline store only, which is not modelled.
    A put replaces the whole record: records hold exactly the features that were put.
  - GetRecord of a missing, soft-deleted or expired record is an empty result. BatchGetRecord
    leaves such identifiers out of ``Records`` (neither Errors nor UnprocessedIdentifiers, which are
    for failures and throttling; the serving stage reads the answer that way too).
  - DeleteRecord: SoftDelete (default) nulls the features and keeps the identifier, HardDelete
    removes the record. The EventTime must be later than the record's: otherwise a HardDelete is a
    400 ValidationError and a SoftDelete leaves the record as it is. Deleting a missing record
    succeeds (guess).
  - An unknown feature group: GetRecord answers ``ResourceNotFound`` (404), the error its model
    lists; PutRecord and DeleteRecord list no such error and AWS answers them with a
    ``ValidationError`` "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name
    ..." (reported in aws/sagemaker-python-sdk#2606). BatchGetRecord reports the group's
    identifiers in ``Errors`` with ErrorCode ``ResourceNotFound`` (guess).
  - A feature name the group does not define is a ValidationError in every operation.
  - Limits the model states and botocore does not check (it checks minimums only): 100 entries in
    ``Identifiers``, 100 identifiers per entry, 358,400 characters per value, names' patterns.
  - TTL: ``ExpiresAt = EventTime + TtlDuration`` (the put's, else the group's); expired records
    are gone. ExpiresAt is answered as ISO-8601 UTC with milliseconds (format: guess).

Usage:
  python local/featurestore_runtime.py --config groups.json [--seed records.jsonl] --port 0
prints ``{"port": N}`` on stdout once seeded and listening; SIGTERM stops it.

Configuration::

    {"featureGroups": [{"name": "user-features", "recordIdentifier": "user_id", "eventTime": "event_time",
                        "features": ["user_id", "event_time", {"name": "clicks_7d", "type": "Integral"}],
                        "ttl": {"Unit": "Days", "Value": 7}}]}

``features`` may also map names to types (``{"user_id": "String", ...}``). A typed feature's values
are checked as Feature Store checks them (Integral: a 64-bit integer, Fractional: a number; an
event time: ISO-8601 with Z or an offset if String, epoch seconds if Fractional); untyped
features take any string, and an untyped event time either form.

Seed lines: ``{"featureGroupName": "user-features", "record": {"user_id": "u1", "event_time": "...",
"tags": ["a", "b"]}}`` (lists become ValueAsStringList), put in file order through PutRecord's checks.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Mapping, Sequence
from urllib.parse import parse_qs

import stand_in_http
from stand_in_http import ServiceError, StandInHandler, StandInServer, constraint_error, validation_error

NAME_PATTERN = re.compile(r"[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}")  # FeatureName (and group names)
GROUP_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:feature-group/(.+)")
GROUP_NAME_OR_ARN_MAX = 150
VALUE_MAX = 358400  # ValueAsString max length, and ValueAsStringList max items
IDENTIFIERS_MAX = 100  # BatchGetRecordIdentifiers max
RECORD_IDENTIFIERS_MAX = 100  # RecordIdentifiers max, per entry
TARGET_STORES = ("OnlineStore", "OfflineStore")
DELETION_MODES = ("SoftDelete", "HardDelete")
EXPIRATION_RESPONSES = ("Enabled", "Disabled")
TTL_UNITS = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}
FEATURE_TYPES = ("String", "Integral", "Fractional")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Feature Store's event time formats for String features: yyyy-MM-dd'T'HH:mm:ss[.SSS] with Z or an offset.
ISO_EVENT_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
INTEGRAL = re.compile(r"[+-]?[0-9]+")

FeatureValue = Dict[str, Any]  # the wire shape: {FeatureName, ValueAsString | ValueAsStringList}


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """The configuration or a seed line is malformed; the message says where."""


@dataclass(frozen=True)
class FeatureGroupConfig:
    name: str
    record_identifier: str
    event_time: str
    features: tuple[str, ...]
    types: Mapping[str, str | None]  # None: untyped
    ttl_seconds: float | None = None


def _ttl_seconds(ttl: object, where: str) -> float:
    if not isinstance(ttl, Mapping) or ttl.get("Unit") not in TTL_UNITS:
        raise ValueError(f"{where}: expected {{Unit: {' | '.join(TTL_UNITS)}, Value: integer >= 1}}")
    value = ttl.get("Value")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: Value must be an integer >= 1, but {value!r} was found")
    return float(value * TTL_UNITS[ttl["Unit"]])


def parse_group(document: Mapping[str, Any]) -> FeatureGroupConfig:
    name = document.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"feature group name {name!r}: 1-64 letters, digits, - or _")
    raw = document.get("features")
    pairs: list[tuple[str, str | None]] = []
    if isinstance(raw, Mapping):
        pairs = [(str(k), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        for item in raw:
            pairs.append((item, None) if isinstance(item, str) else (item.get("name"), item.get("type")))
    if not pairs:
        raise ConfigError(f"feature group {name}: features must list the group's features")
    types: dict[str, str | None] = {}
    for feature, kind in pairs:
        if not isinstance(feature, str) or not NAME_PATTERN.fullmatch(feature):
            raise ConfigError(f"feature group {name}: feature name {feature!r}: 1-64 letters, digits, - or _")
        if feature in types:
            raise ConfigError(f"feature group {name}: feature {feature!r} is declared twice")
        if kind is not None and kind not in FEATURE_TYPES:
            raise ConfigError(f"feature group {name}: feature {feature!r}: type must be one of {FEATURE_TYPES}")
        types[feature] = kind
    record_identifier, event_time = document.get("recordIdentifier"), document.get("eventTime")
    if record_identifier not in types:
        raise ConfigError(f"feature group {name}: recordIdentifier {record_identifier!r} is not one of its features")
    if event_time not in types or types[event_time] == "Integral":
        raise ConfigError(f"feature group {name}: eventTime {event_time!r} must be a String or Fractional feature")
    ttl = document.get("ttl")
    try:
        ttl_seconds = None if ttl is None else _ttl_seconds(ttl, f"feature group {name}: ttl")
    except ValueError as error:
        raise ConfigError(str(error)) from error
    return FeatureGroupConfig(name, record_identifier, event_time, tuple(types), types, ttl_seconds)


def parse_config(document: Mapping[str, Any]) -> tuple[FeatureGroupConfig, ...]:
    groups = document.get("featureGroups") if isinstance(document, Mapping) else None
    if not isinstance(groups, list) or not groups:
        raise ConfigError("featureGroups must list at least one feature group")
    parsed = tuple(parse_group(g if isinstance(g, Mapping) else {}) for g in groups)
    names = [g.name for g in parsed]
    if len(set(names)) != len(names):
        raise ConfigError("feature group names must be unique")
    return parsed


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def parse_event_time(text: str, kind: str | None) -> float:
    """Epoch seconds of an event time; a ValidationError when it is neither form the type allows."""
    if kind != "String":
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds):
            return seconds
    match = ISO_EVENT_TIME.fullmatch(text) if kind != "Fractional" else None
    if match:
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        try:
            moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
        except ValueError:
            pass  # e.g. February 30th
        else:
            offset = 0
            if match.group(8):
                offset = (int(match.group(9)) * 60 + int(match.group(10))) * 60 * (1 if match.group(8) == "+" else -1)
            return moment.timestamp() + (float(match.group(7)) if match.group(7) else 0.0) - offset
    expected = {
        "String": "an ISO-8601 time such as 2024-01-31T12:00:00Z",
        "Fractional": "seconds since the epoch",
    }.get(kind or "", "an ISO-8601 time such as 2024-01-31T12:00:00Z or seconds since the epoch")
    raise validation_error(f"EventTime {text!r} is not {expected}")


def _iso(seconds: float) -> str:
    whole = math.floor(seconds)
    millis = int(round((seconds - whole) * 1000))
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def _check_typed(value: str, kind: str | None, feature: str) -> None:
    if kind == "Integral":
        if not INTEGRAL.fullmatch(value) or not INT64_MIN <= int(value) <= INT64_MAX:
            raise validation_error(f"The value of feature {feature} is not an Integral (64-bit integer) value")
    elif kind == "Fractional":
        try:
            float(value)
        except ValueError:
            raise validation_error(f"The value of feature {feature} is not a Fractional value") from None


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


@dataclass
class StoredRecord:
    values: dict[str, FeatureValue]  # in the order they were put
    event_time: float
    expires_at: float | None = None
    deleted: bool = False  # soft-deleted: features nulled, identifier kept


class FeatureStore:
    """The online store of every configured group, behind one lock (requests are short).

    ``clock`` (epoch seconds) decides TTL expiry; tests pass their own.
    """

    def __init__(self, groups: Sequence[FeatureGroupConfig], clock: Callable[[], float] = time.time) -> None:
        self.groups = tuple(groups)
        self.clock = clock
        self._by_name = {g.name: g for g in self.groups}
        self._records: dict[str, dict[str, StoredRecord]] = {g.name: {} for g in self.groups}
        self._lock = threading.Lock()

    # -- lookups -------------------------------------------------------------------------------

    def group(self, name_or_arn: str, missing: str) -> FeatureGroupConfig:
        """The group; ``missing`` is the error an unknown group gets in the calling operation."""
        if not 1 <= len(name_or_arn) <= GROUP_NAME_OR_ARN_MAX:
            raise constraint_error(name_or_arn, "featureGroupName", "Member must have length between 1 and 150")
        arn = GROUP_ARN.fullmatch(name_or_arn)
        name = arn.group(1) if arn else name_or_arn
        if not NAME_PATTERN.fullmatch(name):
            raise constraint_error(
                name_or_arn, "featureGroupName", "Member must satisfy regular expression pattern: " + GROUP_ARN.pattern
            )
        group = self._by_name.get(name)
        if group is None:
            message = f"Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name {name}"
            if missing == "ResourceNotFound":
                raise ServiceError("ResourceNotFound", 404, message)
            raise validation_error(message)
        return group

    @staticmethod
    def _check_feature_names(group: FeatureGroupConfig, names: Iterable[str]) -> None:
        for name in names:
            if name not in group.types:
                raise validation_error(f"The feature name {name} is not defined in feature group {group.name}")

    def _live(self, group: FeatureGroupConfig, identifier: str, now: float) -> StoredRecord | None:
        """The stored record, None when missing or expired (expired ones are dropped: TTL hard-deletes)."""
        record = self._records[group.name].get(identifier)
        if record is not None and record.expires_at is not None and record.expires_at <= now:
            del self._records[group.name][identifier]
            return None
        return record

    def _answer(self, record: StoredRecord, names: Sequence[str] | None) -> list[FeatureValue]:
        wanted = set(names) if names else None
        return [dict(v) for n, v in record.values.items() if wanted is None or n in wanted]

    # -- operations ----------------------------------------------------------------------------

    def put_record(
        self,
        group_name: str,
        record: object,
        target_stores: Sequence[str] | None = None,
        ttl: Mapping[str, Any] | None = None,
    ) -> None:
        group = self.group(group_name, missing="ValidationError")
        if not isinstance(record, list) or not record:
            raise constraint_error(record, "record", "Member must have length greater than or equal to 1")
        values: dict[str, FeatureValue] = {}
        for item in record:
            name = item.get("FeatureName") if isinstance(item, Mapping) else None
            if not isinstance(name, str):
                raise validation_error("Every FeatureValue needs a FeatureName")
            self._check_feature_names(group, [name])
            if name in values:
                raise validation_error(f"The feature {name} appears more than once in the record")
            values[name] = self._feature_value(group, name, item)
        for required in (group.record_identifier, group.event_time):
            if required not in values or "ValueAsString" not in values[required]:
                raise validation_error(f"The record has no ValueAsString for feature {required}, which is required")
        event_time = parse_event_time(values[group.event_time]["ValueAsString"], group.types[group.event_time])
        stores = self._target_stores(target_stores)
        try:
            ttl_seconds = _ttl_seconds(ttl, "TtlDuration") if ttl is not None else group.ttl_seconds
        except ValueError as error:
            raise validation_error(str(error)) from error
        if "OnlineStore" not in stores:
            return
        identifier = values[group.record_identifier]["ValueAsString"]
        with self._lock:
            existing = self._live(group, identifier, self.clock())
            if existing is not None and event_time < existing.event_time:
                return  # a historic record: offline store only
            expires = event_time + ttl_seconds if ttl_seconds is not None else None
            self._records[group.name][identifier] = StoredRecord(values, event_time, expires)

    @staticmethod
    def _feature_value(group: FeatureGroupConfig, name: str, item: Mapping[str, Any]) -> FeatureValue:
        has_scalar, has_list = "ValueAsString" in item, "ValueAsStringList" in item
        if has_scalar == has_list:
            raise validation_error(f"Feature {name} must have exactly one of ValueAsString and ValueAsStringList")
        kind = group.types[name]
        if has_scalar:
            value = item["ValueAsString"]
            if not isinstance(value, str) or len(value) > VALUE_MAX:
                raise constraint_error(
                    "<value>",
                    f"record.{name}.valueAsString",
                    f"Member must be a string of at most {VALUE_MAX} characters",
                )
            _check_typed(value, kind, name)
            return {"FeatureName": name, "ValueAsString": value}
        values = item["ValueAsStringList"]
        if not isinstance(values, list) or len(values) > VALUE_MAX or not all(isinstance(v, str) for v in values):
            raise constraint_error(
                "<values>", f"record.{name}.valueAsStringList", f"Member must be a list of at most {VALUE_MAX} strings"
            )
        if name in (group.record_identifier, group.event_time):
            raise validation_error(f"Feature {name} must be a single value (ValueAsString)")
        for value in values:
            _check_typed(value, kind, name)
        return {"FeatureName": name, "ValueAsStringList": list(values)}

    @staticmethod
    def _target_stores(stores: Sequence[str] | None) -> tuple[str, ...]:
        if stores is None:
            return TARGET_STORES
        if not 1 <= len(stores) <= 2 or any(s not in TARGET_STORES for s in stores):
            raise constraint_error(
                list(stores),
                "targetStores",
                "Member must have length between 1 and 2, each satisfying enum value set: [OnlineStore, OfflineStore]",
            )
        return tuple(stores)

    @staticmethod
    def _expiration(value: str | None) -> bool:
        if value is not None and value not in EXPIRATION_RESPONSES:
            raise constraint_error(
                value, "expirationTimeResponse", "Member must satisfy enum value set: [Enabled, Disabled]"
            )
        return value == "Enabled"

    def get_record(
        self,
        group_name: str,
        identifier: str,
        feature_names: Sequence[str] | None = None,
        expiration: str | None = None,
    ) -> dict[str, Any]:
        group = self.group(group_name, missing="ResourceNotFound")
        self._check_feature_names(group, feature_names or [])
        with_expiry = self._expiration(expiration)
        with self._lock:
            record = self._live(group, identifier, self.clock())
            if record is None or record.deleted:
                return {}
            answer: dict[str, Any] = {"Record": self._answer(record, feature_names)}
            if with_expiry and record.expires_at is not None:
                answer["ExpiresAt"] = _iso(record.expires_at)
            return answer

    def batch_get_record(self, identifiers: object, expiration: str | None = None) -> dict[str, Any]:
        if not isinstance(identifiers, list) or not 1 <= len(identifiers) <= IDENTIFIERS_MAX:
            count = len(identifiers) if isinstance(identifiers, list) else identifiers
            raise constraint_error(count, "identifiers", f"Member must have length between 1 and {IDENTIFIERS_MAX}")
        with_expiry = self._expiration(expiration)
        resolved: list[tuple[FeatureGroupConfig | None, Mapping[str, Any], Sequence[str]]] = []
        for index, entry in enumerate(identifiers):
            where = f"identifiers.{index + 1}"
            if not isinstance(entry, Mapping) or not isinstance(entry.get("FeatureGroupName"), str):
                raise validation_error(f"{where}: FeatureGroupName is required")
            ids = entry.get("RecordIdentifiersValueAsString")
            if not isinstance(ids, list) or not 1 <= len(ids) <= RECORD_IDENTIFIERS_MAX:
                count = len(ids) if isinstance(ids, list) else ids
                raise constraint_error(
                    count,
                    f"{where}.recordIdentifiersValueAsString",
                    f"Member must have length between 1 and {RECORD_IDENTIFIERS_MAX}",
                )
            names = entry.get("FeatureNames")
            if names is not None and (not isinstance(names, list) or not names):
                raise constraint_error(
                    names, f"{where}.featureNames", "Member must have length greater than or equal to 1"
                )
            try:
                group: FeatureGroupConfig | None = self.group(entry["FeatureGroupName"], missing="ResourceNotFound")
            except ServiceError as error:
                if error.code != "ResourceNotFound":
                    raise
                group = None
            if group is not None:
                self._check_feature_names(group, names or [])
            resolved.append((group, entry, ids))
        records, errors = [], []
        with self._lock:
            now = self.clock()
            for group, entry, ids in resolved:
                for identifier in ids:
                    if group is None:
                        errors.append(
                            {
                                "FeatureGroupName": entry["FeatureGroupName"],
                                "RecordIdentifierValueAsString": identifier,
                                "ErrorCode": "ResourceNotFound",
                                "ErrorMessage": f"Amazon SageMaker can't find a FeatureGroup with name "
                                f"{entry['FeatureGroupName']}",
                            }
                        )
                        continue
                    record = self._live(group, identifier, now)
                    if record is None or record.deleted:
                        continue
                    detail: dict[str, Any] = {
                        "FeatureGroupName": entry["FeatureGroupName"],
                        "RecordIdentifierValueAsString": identifier,
                        "Record": self._answer(record, entry.get("FeatureNames")),
                    }
                    if with_expiry and record.expires_at is not None:
                        detail["ExpiresAt"] = _iso(record.expires_at)
                    records.append(detail)
        return {"Records": records, "Errors": errors, "UnprocessedIdentifiers": []}

    def delete_record(
        self,
        group_name: str,
        identifier: str,
        event_time: str,
        target_stores: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> None:
        group = self.group(group_name, missing="ValidationError")
        mode = mode or "SoftDelete"
        if mode not in DELETION_MODES:
            raise constraint_error(mode, "deletionMode", "Member must satisfy enum value set: [SoftDelete, HardDelete]")
        stores = self._target_stores(target_stores)
        deleted_at = parse_event_time(event_time, group.types[group.event_time])
        if "OnlineStore" not in stores:
            return
        with self._lock:
            record = self._live(group, identifier, self.clock())
            if record is None:
                return
            if deleted_at <= record.event_time:
                if mode == "HardDelete":
                    raise validation_error(
                        f"EventTime {event_time} must be later than the EventTime of the record in the online store"
                    )
                return  # SoftDelete: the existing record stays
            if mode == "HardDelete":
                del self._records[group.name][identifier]
            else:
                self._records[group.name][identifier] = StoredRecord({}, deleted_at, record.expires_at, deleted=True)

    def seed(self, lines: Iterable[str], source: str = "seed") -> int:
        """Puts the records of JSON lines ``{"featureGroupName", "record": {feature: value}}``; the count put."""
        count = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
                group, values = document["featureGroupName"], document["record"]
                record = []
                for name, value in values.items():
                    if isinstance(value, list):
                        record.append({"FeatureName": name, "ValueAsStringList": [str(v) for v in value]})
                    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
                        record.append({"FeatureName": name, "ValueAsString": str(value)})
                    else:
                        raise ValueError(f"feature {name}: expected a string, a number or a list")
                self.put_record(group, record)
            except ServiceError as error:
                raise ConfigError(f"{source} line {number}: {error.message}") from error
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise ConfigError(
                    f"{source} line {number}: expected {{featureGroupName, record: {{...}}}}: {error}"
                ) from error
            count += 1
        return count


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------


def _json_body(body: bytes) -> Mapping[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError as error:
        raise ServiceError("SerializationException", 400, f"the request body is not JSON: {error}") from error
    if not isinstance(document, Mapping):
        raise ServiceError("SerializationException", 400, "the request body must be a JSON object")
    return document


def _one(query: Mapping[str, list[str]], name: str, required: bool = True) -> str | None:
    values = query.get(name)
    if not values:
        if required:
            raise validation_error(f"{name} is required")
        return None
    return values[-1]


class FeatureStoreHandler(StandInHandler):
    server: FeatureStoreServer

    def route(self, method: str, segments: tuple[str, ...], query: str, body: bytes) -> None:
        store = self.server.store
        params = parse_qs(query, keep_blank_values=True)
        if len(segments) == 2 and segments[0] == "FeatureGroup":
            group = segments[1]
            if method == "PUT":
                document = _json_body(body)
                store.put_record(
                    group, document.get("Record"), document.get("TargetStores"), document.get("TtlDuration")
                )
                self.send_bytes(200, b"", None)
                return
            if method == "GET":
                answer = store.get_record(
                    group,
                    _one(params, "RecordIdentifierValueAsString") or "",
                    params.get("FeatureName"),
                    _one(params, "ExpirationTimeResponse", False),
                )
                self.send_json(200, answer)
                return
            if method == "DELETE":
                store.delete_record(
                    group,
                    _one(params, "RecordIdentifierValueAsString") or "",
                    _one(params, "EventTime") or "",
                    params.get("TargetStores"),
                    _one(params, "DeletionMode", False),
                )
                self.send_bytes(200, b"", None)
                return
        if method == "POST" and segments == ("BatchGetRecord",):
            document = _json_body(body)
            self.send_json(
                200, store.batch_get_record(document.get("Identifiers"), document.get("ExpirationTimeResponse"))
            )
            return
        super().route(method, segments, query, body)


class FeatureStoreServer(StandInServer):
    def __init__(self, store: FeatureStore, host: str = "127.0.0.1", port: int = 0, quiet: bool = False) -> None:
        self.store = store
        super().__init__((host, port), FeatureStoreHandler, quiet)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--config", required=True, help="JSON file: {featureGroups: [...]}")
    parser.add_argument("--seed", action="append", default=[], help="JSON Lines of records to put first (repeatable)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    args = parser.parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as f:
            store = FeatureStore(parse_config(json.load(f)))
        for path in args.seed:
            with open(path, encoding="utf-8") as f:
                store.seed(f, path)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    server = FeatureStoreServer(store, args.host, args.port, args.quiet)
    return stand_in_http.run_until_signalled(server)


if __name__ == "__main__":
    sys.exit(main())
