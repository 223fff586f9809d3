"""The lake side of the end-to-end erasure test (local/erasure.suite.ts): one Python child with one
Spark session, driven by the jest suite over stdin/stdout, one JSON line per command and answer.

Every step runs the project's own code: the anonymization stage's script (``anonymize.py``, single
process, with the dataset's policy and ``--source-prefix``) over the raw objects in moto's S3, the
erasure workflow's SQL (its ``States.Format`` templates from the synthesized definition, evaluated by
``workflow_sql.states_format``) on Iceberg tables in Spark, and the raw eraser (``erase_raw.py``)
against moto's versioned S3. What stands in for AWS: a Hadoop Iceberg catalog for Glue + Athena, and
this file's few lines of Step Functions plumbing (the lineage results saved as Athena's CSV, the
request and config objects written where the workflow writes them).

Commands (the spec file, written by the suite with mode 600, holds the subjects' raw ids; no answer
and no message carries an id or a pseudonym, only store names and counts):

- ``log``: raw records of the lake's datasets that the serving path does not write (the batch
  sources), for both subjects, in one object per dataset (the subjects mixed, as a raw object is).
- ``train``: every raw object anonymized per window folder into the curated Iceberg tables, the
  feature groups' offline stores loaded with the records the online stores were seeded with, and the
  rows per table and subject counted as a training job would read them.
- ``erase``: the workflow's find phase (lineage SELECT, request object; skipped when the request
  object was saved before, as the second sweep finds it), then each Iceberg store's count / DELETE /
  count (the data files listed under the sweep's record, the store's name plus the sweep's suffix)
  and the raw zone's eraser, for the stores the workflow's ``Applicable`` choice erases in this sweep;
  the found count per record.
- ``jobReads`` / ``jobWrites``: an anonymization run in flight during the erasure: it copies one
  window's raw objects holding the first subject before the erasure (as its input channel does at
  its start), and anonymizes them into the curated table after the first sweep.
- ``maintain``: the table maintenance's statements (its ALTER, OPTIMIZE, VACUUM from the synthesized
  definition, run as ``athena_on_spark`` runs Athena's) on every table, as the daily run after the
  snapshot age: what removes the data files that held erased rows.
- ``verify``: rows per table and subject; every version of every raw object read; the data files
  the erasure listed (its ``"$path"`` query) still on disk, and every data file on disk read
  directly (no delete file applied) for rows of each subject.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNTIME = REPO / "constructs" / "data-lake" / "runtime"
sys.path.insert(0, str(REPO / "test" / "support" / "python"))

from athena_on_spark import run_on_spark  # noqa: E402
from spark_iceberg import iceberg_session  # noqa: E402
from workflow_sql import states_format  # noqa: E402

ERASURE_PREFIX = "_erasure/"
ERASED_FILES_PREFIX = "_erasure-files/"
OFFLINE_DATABASE = "sagemaker_featurestore"


def offline_table(group: str) -> str:
    """The offline store's Glue table, named as SageMaker names it (`<group>-<creation time>`)."""
    return f"{group}-1700000000"


class Lake:
    def __init__(self, spec: dict) -> None:
        import boto3

        self.spec = spec
        self.s3 = boto3.client("s3")
        # The lake key the eraser encrypts rewritten objects with (moto's KMS).
        self.kms_key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        self.workdir = Path(spec["workdir"])
        self.spark = iceberg_session(self.workdir / "warehouse", "erasure-e2e", master="local[1]")
        # Every table the registry names, by store name: (database, table, subject column, identifier).
        self.tables: dict[str, tuple[str, str, str, str]] = {}
        for store in spec["icebergStores"]:
            table = store.get("tableName") or offline_table(store["featureGroupName"])
            self.tables[store["name"]] = (store["databaseName"], table, store["column"], store["identifier"])
        # The data files the erasure's "$path" query listed before each DELETE, by record (store and sweep).
        self.listed_files: dict[str, set[str]] = {}
        # The raw objects an anonymization run in flight copied before the erasure.
        self.in_flight: tuple[dict, dict, str, tempfile.TemporaryDirectory] | None = None

    # -- helpers -------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    def raw_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.spec["rawBucket"], Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def quoted(self, database: str, table: str) -> str:
        return f'"{database}"."{table}"'

    def append(self, database: str, table: str, rows: list[dict]) -> None:
        """Appends rows to an Iceberg v2 table with merge-on-read deletes (as Athena creates them). The
        columns are the anonymizer's output as Spark reads JSON: the erasure reads only the subject
        column and source_object, strings in the deployed tables too."""
        self.spark.sql(f'CREATE NAMESPACE IF NOT EXISTS "{database}"')
        frame = self.spark.read.json(self.spark.sparkContext.parallelize([json.dumps(r) for r in rows]))
        name = self.quoted(database, table)
        if self.spark.catalog.tableExists(f"{database}.`{table}`"):
            frame.select(*self.spark.table(name).columns).writeTo(name).append()
        else:
            frame.writeTo(name).tableProperty("format-version", "2").tableProperty(
                "write.delete.mode", "merge-on-read"
            ).create()

    def count(self, store: str, pseudonym: str) -> int:
        database, table, column, _ = self.tables[store]
        if not self.spark.catalog.tableExists(f"{database}.`{table}`"):
            return 0
        return self.spark.table(self.quoted(database, table)).where(f"\"{column}\" = '{pseudonym}'").count()

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows of each subject per table, by the pseudonym of the table's identifier (as a training job reads them)."""
        return {
            store: {who: self.count(store, ids[identifier]) for who, ids in self.spec["pseudonyms"].items()}
            for store, (_, _, _, identifier) in self.tables.items()
        }

    # -- commands ------------------------------------------------------------------------------

    def log(self) -> dict:
        """The raw zone as deployed: the streams' objects named and compressed as the deployed delivery
        streams write them, and raw records of the batch sources (what the serving path does not log)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        delivered = defaultdict(int)
        # moto's Firehose writes each batch uncompressed and without the stream's FileExtension: the
        # object the deployed stream would have written takes its place (the key plus the extension).
        for dataset, delivery in self.spec["delivery"].items():
            prefix = next(d["prefix"] for d in self.spec["datasets"] if d["name"] == dataset)
            for key in self.raw_keys(prefix):
                if key.endswith(delivery["extension"]):
                    continue
                body = self.s3.get_object(Bucket=self.spec["rawBucket"], Key=key)["Body"].read()
                if delivery["gzip"]:
                    body = gzip.compress(body)
                self.s3.put_object(Bucket=self.spec["rawBucket"], Key=key + delivery["extension"], Body=body)
                self.delete_every_version(key)
                delivered[dataset] += 1
        written = {}
        served = set(self.spec["servedDatasets"])
        for dataset in self.spec["datasets"]:
            if dataset["name"] in served:
                continue
            lines = []
            for n, ids in enumerate(self.spec["subjects"].values()):
                for i in range(3):
                    lines.append(json.dumps(synthetic_record(dataset, ids, 10 * n + i, now)))
            key = f"{dataset['prefix']}{now:%Y/%m/%d/%H}/batch-source-0001.jsonl"
            self.s3.put_object(Bucket=self.spec["rawBucket"], Key=key, Body=("\n".join(lines) + "\n").encode())
            written[dataset["name"]] = len(lines)
        return {"written": written, "delivered": dict(delivered)}

    def delete_every_version(self, key: str) -> None:
        bucket = self.spec["rawBucket"]
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if version["Key"] == key:
                    self.s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])

    def train(self) -> dict:
        anonymized = {}
        for dataset in self.spec["datasets"]:
            store = next((s for s in self.spec["icebergStores"] if s.get("tableName") == dataset["name"]), None)
            assert store, f"no curated table registered for dataset {dataset['name']}"
            windows: dict[str, list[str]] = defaultdict(list)
            for key in self.raw_keys(dataset["prefix"]):
                windows[key.rsplit("/", 1)[0] + "/"].append(key)
            rows = 0
            for window, keys in sorted(windows.items()):
                rows += self.anonymize_window(dataset, store, window, keys)
            anonymized[dataset["name"]] = rows
        # The offline stores hold what batch ingestion wrote to the online stores: the fixture's records.
        offline = defaultdict(list)
        with open(self.spec["featureRecords"], encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    document = json.loads(line)
                    offline[document["featureGroupName"]].append({**document["record"], "is_deleted": False})
        for store in self.spec["icebergStores"]:
            if "featureGroupName" in store:
                self.append(
                    store["databaseName"], offline_table(store["featureGroupName"]), offline[store["featureGroupName"]]
                )
        return {"anonymized": anonymized, "rows": self.counts()}

    def anonymize_window(self, dataset: dict, store: dict, window: str, keys: list[str]) -> int:
        """The anonymization stage on one window: its objects copied under the input folder, as the
        processing job's input channel copies them, and the script run with the window's prefix."""
        with tempfile.TemporaryDirectory(dir=self.workdir) as scratch:
            self.copy_window(window, keys, Path(scratch, "input"))
            return self.anonymize_copy(dataset, store, window, Path(scratch))

    def copy_window(self, window: str, keys: list[str], inputs: Path) -> None:
        for key in keys:
            target = inputs / key[len(window) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.s3.download_file(self.spec["rawBucket"], key, str(target))

    def anonymize_copy(self, dataset: dict, store: dict, window: str, scratch: Path) -> int:
        """anonymize.py over the window's objects copied under ``scratch/input``; the rows appended to the table."""
        inputs, output, policy = scratch / "input", scratch / "out.jsonl", scratch / "policy.json"
        policy.write_text(json.dumps(dataset["policy"]))
        done = subprocess.run(
            [
                sys.executable,
                str(RUNTIME / "anonymize.py"),
                "--policy",
                str(policy),
                "--input",
                str(inputs),
                "--output",
                str(output),
                "--key-secret-id",
                self.spec["keySecretArn"],
                "--source-prefix",
                window,
            ],
            capture_output=True,
            text=True,
            env=self.env(),
            check=False,
        )
        assert done.returncode == 0, f"anonymize.py failed on {dataset['name']}: {done.stderr[-2000:]}"
        rows = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
        if rows:
            self.append(store["databaseName"], store["tableName"], rows)
        return len(rows)

    def job_reads(self, dataset_name: str) -> dict:
        """An anonymization run starts before the erasure: its input channel copies the first window of
        the dataset whose objects hold records of the first subject."""
        dataset = next(d for d in self.spec["datasets"] if d["name"] == dataset_name)
        store = next(s for s in self.spec["icebergStores"] if s.get("tableName") == dataset_name)
        subject = next(iter(self.spec["subjects"].values()))
        windows: dict[str, list[str]] = defaultdict(list)
        for key in self.raw_keys(dataset["prefix"]):
            windows[key.rsplit("/", 1)[0] + "/"].append(key)
        for window, keys in sorted(windows.items()):
            scratch = tempfile.TemporaryDirectory(dir=self.workdir)
            self.copy_window(window, keys, Path(scratch.name, "input"))
            held = 0
            for path in Path(scratch.name, "input").rglob("*"):
                if path.is_file():
                    body = path.read_bytes()
                    text = (gzip.decompress(body) if path.name.endswith(".gz") else body).decode("utf-8")
                    held += sum(
                        1
                        for line in text.splitlines()
                        if line.strip()
                        and any(
                            str(json.loads(line).get(field)) == str(subject[identifier])
                            for field, identifier in dataset["subjectFields"].items()
                        )
                    )
            if held:
                self.in_flight = (dataset, store, window, scratch)
                return {"objects": len(keys), "records": held}
            scratch.cleanup()
        raise AssertionError(f"no window of {dataset_name} holds a record of the first subject")

    def job_writes(self) -> dict:
        """The run in flight ends after the first sweep: its copy anonymized into the curated table.
        Answers the rows it added per store and subject."""
        assert self.in_flight is not None, "no job in flight: jobReads first"
        dataset, store, window, scratch = self.in_flight
        before = self.counts()
        rows = self.anonymize_copy(dataset, store, window, Path(scratch.name))
        scratch.cleanup()
        self.in_flight = None
        after = self.counts()
        added = {
            name: {who: after[name][who] - before[name][who] for who in after[name]}
            for name in after
            if after[name] != before[name]
        }
        return {"rows": rows, "added": added}

    def erase(
        self, targets: list[dict], request_hash: str, suffix: str = "", applicable: list[str] | None = None
    ) -> dict:
        """One sweep: ``targets`` is the plan's list (the workflow's ``$.targets``), ``applicable`` the
        stores its ``Applicable`` choice erases in this sweep (all the requested ones when not given),
        ``suffix`` the sweep's (the record of a store is its name plus the suffix)."""
        bucket = self.spec["curatedBucket"]
        statements = self.spec["statements"]

        def erased_here(target: dict) -> bool:
            return "pseudonym" in target and (applicable is None or target["name"] in applicable)

        # 1. The find phase, before any store is erased: lineage per curated table with a lineage column,
        # once per request (the second sweep finds the request object saved and goes on, as LineageFoundBefore).
        request_key = f"{ERASURE_PREFIX}{request_hash}/request.json"
        if self.s3.list_objects_v2(Bucket=bucket, Prefix=request_key, MaxKeys=1).get("KeyCount", 0) > 0:
            targets_found = []
        else:
            targets_found = targets
        lineage_saved_before = not targets_found
        lineage = []
        lineage_objects: set[str] = set()
        for n, target in enumerate(targets_found):
            if "lineageColumn" not in target or "pseudonym" not in target:
                lineage.append({})
                continue
            query = states_format(self.spec["lineageQuery"], {f"$.store.{k}": v for k, v in target.items()})
            sources = [r[0] for r in self.spark.sql(query).collect()]
            lineage_objects.update(sources)
            text = io.StringIO()
            writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
            writer.writerow([target["lineageColumn"]])
            writer.writerows([s] for s in sources)
            key = f"{ERASURE_PREFIX}{request_hash}/lineage/query-{n}.csv"
            self.s3.put_object(Bucket=bucket, Key=key, Body=text.getvalue().encode())
            lineage.append(
                {
                    "identifier": target["identifier"],
                    "pseudonym": target["pseudonym"],
                    "results": f"s3://{bucket}/{key}",
                }
            )
        if not lineage_saved_before:
            found_at = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
            request = {"foundAt": found_at, "lineage": lineage}
            self.s3.put_object(Bucket=bucket, Key=request_key, Body=json.dumps(request).encode())
        lineage_entries = sum(1 for entry in lineage if entry)

        # 2. Each Iceberg store: count, DELETE when any, count again (the workflow's order).
        found: dict[str, dict] = {}
        for target in targets:
            if target["kind"] != "icebergTable" or not erased_here(target):
                continue
            record = target["name"] + suffix
            database, table, _, _ = self.tables[target["name"]]
            values = {
                "$.table.databaseName": database,
                "$.table.tableName": table,
                "$.store.column": target["column"],
                "$.store.pseudonym": target["pseudonym"],
            }
            sql = statements[target["match"]]
            before = self.spark.sql(states_format(sql["count.$"], values)).collect()[0][0]
            if before > 0:
                # Athena's "$path" is Spark's Iceberg metadata column _file.
                files = states_format(sql["files.$"], values).replace('"$path"', "_file")
                self.listed_files[record] = {r[0] for r in self.spark.sql(files).collect()}
                # SaveFiles: the list under the request's hash and the sweep's record, for the purge.
                text = io.StringIO()
                writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
                writer.writerow(["path"])
                writer.writerows([f] for f in sorted(self.listed_files[record]))
                files_key = f"{ERASED_FILES_PREFIX}{request_hash}/{record}.csv"
                self.s3.put_object(Bucket=bucket, Key=files_key, Body=text.getvalue().encode())
                self.spark.sql(states_format(sql["delete.$"], values)).collect()
            after = self.spark.sql(states_format(sql["count.$"], values)).collect()[0][0]
            listed = len(self.listed_files.get(record, ()))
            found[record] = {"found": before, "remaining": after, "files": listed}

        # 3. The raw zone: the eraser as the workflow's daily batch starts it, the config and the batch (this
        # request alone) in the batch's folder, each request's counts under its hash in the summaries.
        raw = next((t for t in targets if t["kind"] == "rawObjects"), None)
        if raw is not None and erased_here(raw):
            folder = f"{ERASURE_PREFIX}_batches/e2e-{request_hash[:8]}/"
            base = f"s3://{bucket}/{folder}"
            self.s3.put_object(Bucket=bucket, Key=f"{folder}config.json", Body=json.dumps(raw["config"]).encode())
            batch = {
                "requests": [
                    {
                        "id": request_hash,
                        "record": raw["name"] + suffix,
                        "uri": f"s3://{bucket}/{request_key}",
                    }
                ]
            }
            self.s3.put_object(Bucket=bucket, Key=f"{folder}batch.json", Body=json.dumps(batch).encode())
            # Two instances, as the workflow runs a sized eraser: each takes its share of the candidates and
            # writes its own summary; the workflow adds them up and is verified when both are.
            hosts = 2
            summaries = f"{folder}summaries/"
            for index in range(hosts):
                done = subprocess.run(
                    [
                        sys.executable,
                        str(RUNTIME / "erase_raw.py"),
                        "--config",
                        f"{base}config.json",
                        "--raw-bucket",
                        self.spec["rawBucket"],
                        "--kms-key-id",
                        self.kms_key,
                        "--batch-uri",
                        f"{base}batch.json",
                        "--summary-dir",
                        f"s3://{bucket}/{summaries}",
                        "--key-secret-id",
                        self.spec["keySecretArn"],
                        "--workers",
                        "1",
                        "--host-index",
                        str(index),
                        "--host-count",
                        str(hosts),
                    ],
                    capture_output=True,
                    text=True,
                    env=self.env(),
                    check=False,
                )
                assert done.returncode == 0, f"erase_raw.py host {index + 1} failed: {done.stderr[-2000:]}"
            parts = [
                json.loads(self.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
                for o in self.s3.list_objects_v2(Bucket=bucket, Prefix=summaries).get("Contents", [])
            ]
            # Every host names every valid request of the batch: a request missing from one was not erased there.
            assert all(request_hash in part["requests"] for part in parts), "the request was left out of the batch"
            found[raw["name"] + suffix] = {
                "found": sum(part["requests"][request_hash] for part in parts),
                "verified": len(parts) == hosts and all(part["verified"] for part in parts),
                "objectsRewritten": sum(part.get("objectsRewritten", 0) for part in parts),
                "versionsDeleted": sum(part.get("versionsDeleted", 0) for part in parts),
                "hosts": len(parts),
            }
        return {
            "found": found,
            "lineageEntries": lineage_entries,
            "lineageObjects": sorted(lineage_objects),
            "lineageSavedBefore": lineage_saved_before,
        }

    def maintain(self) -> dict:
        """The maintenance's daily run after the snapshot age (at most 14 days) on every table."""
        started = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=15)
        tables = sorted({(database, table) for database, table, _, _ in self.tables.values()})
        for database, table in tables:
            values = {"$.location.databaseName": database, "$.location.tableName": table}
            for name in ("properties.$", "compact.$", "vacuum.$"):
                run_on_spark(self.spark, states_format(self.spec["maintenanceStatements"][name], values), started)
        return {"tables": len(tables)}

    def data_file_rows(self) -> dict[str, int]:
        """Rows of each subject in the data files on disk, read as files (a reader of the bucket, not the table)."""
        rows: dict[str, int] = defaultdict(int)
        for database, table, column, identifier in self.tables.values():
            location = (
                self.spark.sql(f"DESCRIBE TABLE EXTENDED {self.quoted(database, table)}")
                .where("col_name = 'Location'")
                .collect()[0][1]
            )
            # Position delete files (Spark names them *-deletes.parquet) hold file names and positions, not rows.
            files = [
                str(f)
                for f in Path(location.replace("file:", "")).joinpath("data").rglob("*.parquet")
                if not f.name.endswith("-deletes.parquet")
            ]
            if not files:
                continue
            frame = self.spark.read.parquet(*files)
            for who, ids in self.spec["pseudonyms"].items():
                # A substring: a pair column holds the pseudonym on either side.
                rows[who] += frame.where(f"`{column}` LIKE '%{ids[identifier]}%'").count()
        return dict(rows)

    def verify(self) -> dict:
        """Rows per table and subject; every version of every raw object, its records per subject."""
        records: dict[str, int] = defaultdict(int)
        holding: dict[str, set[str]] = defaultdict(set)
        versions = 0
        bucket = self.spec["rawBucket"]
        by_key: dict[str, int] = defaultdict(int)
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                if version["Key"].startswith(ERASURE_PREFIX):
                    continue
                versions += 1
                by_key[version["Key"]] += 1
                dataset = next(d for d in self.spec["datasets"] if version["Key"].startswith(d["prefix"]))
                body = self.s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])[
                    "Body"
                ].read()
                if version["Key"].endswith(".gz"):
                    body = gzip.decompress(body)
                for line in body.decode("utf-8").splitlines():
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    for who, ids in self.spec["subjects"].items():
                        if any(
                            str(record.get(field)) == str(ids[identifier])
                            for field, identifier in dataset["subjectFields"].items()
                        ):
                            records[who] += 1
                            holding[who].add(version["Key"])
        keys_with_several_versions = sum(1 for n in by_key.values() if n > 1)
        return {
            "rows": self.counts(),
            "rawRecords": dict(records),
            "rawVersions": versions,
            "rawKeys": len(by_key),
            "keysHolding": {who: sorted(keys) for who, keys in holding.items()},
            "keysWithSeveralVersions": keys_with_several_versions,
            "listedFiles": sum(len(files) for files in self.listed_files.values()),
            "listedFilesOnDisk": sum(
                1 for files in self.listed_files.values() for f in files if Path(f.replace("file:", "")).exists()
            ),
            "dataFileRows": self.data_file_rows(),
        }


def synthetic_record(dataset: dict, ids: dict, n: int, now: datetime.datetime) -> dict:
    """A raw record of a dataset's policy: each subject field the subject's raw id, other columns a
    plain value of their type (an address where the rule generalizes one)."""
    record: dict = {}
    for column in dataset["policy"]["columns"]:
        name, kind, rule = column["name"], column["type"], column.get("rule") or {}
        if name in dataset["subjectFields"]:
            record[name] = ids[dataset["subjectFields"][name]]
        elif rule.get("kind") == "ip-prefix":
            record[name] = f"198.51.100.{n % 250 + 1}"
        elif kind == "string":
            record[name] = f"{name}-{n}"
        elif kind == "bigint":
            record[name] = 20 + n
        elif kind == "double":
            record[name] = 0.5 + n / 100
        elif kind == "boolean":
            record[name] = n % 2 == 0
        elif kind == "timestamp":
            record[name] = (now - datetime.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind == "date":
            record[name] = now.strftime("%Y-%m-%d")
        else:
            raise ValueError(f"no synthetic value for column type {kind}")
    return record


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    lake = Lake(spec)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            if command["command"] == "log":
                answer = lake.log()
            elif command["command"] == "train":
                answer = lake.train()
            elif command["command"] == "erase":
                answer = lake.erase(
                    command["targets"], command["requestHash"], command.get("suffix", ""), command.get("applicable")
                )
            elif command["command"] == "jobReads":
                answer = lake.job_reads(command["dataset"])
            elif command["command"] == "jobWrites":
                answer = lake.job_writes()
            elif command["command"] == "maintain":
                answer = lake.maintain()
            elif command["command"] == "verify":
                answer = lake.verify()
            elif command["command"] == "stop":
                break
            else:
                answer = {"error": f"unknown command {command['command']}"}
        except Exception as e:  # the suite fails with where it happened; messages here name no value
            answer = {"error": f"{type(e).__name__}: {e}", "where": traceback.format_exc()[-3000:]}
        print(json.dumps(answer), flush=True)
    lake.spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
