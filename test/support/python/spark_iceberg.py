"""A local Spark session with an Iceberg catalog, for the tests that run the lake's SQL on a real
Iceberg engine: erasure (constructs/data-lake/erasure), table maintenance (constructs/data-lake/
maintenance) and the anonymization stage's commit (constructs/data-lake/runtime).

Athena (engine 3, on Trino) quotes identifiers with double quotes, which Spark reads in ANSI mode,
and its session time zone is UTC. The Iceberg runtime jar is pinned and downloaded by
scripts/setup-local.sh (npm test runs it first).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ICEBERG_JAR = REPO / ".cache" / "jars" / "iceberg-spark-runtime-3.5_2.12-1.10.1.jar"


def iceberg_session(warehouse: Path, app_name: str, master: str = "local[1]", extra: dict[str, str] | None = None):
    """A SparkSession whose default catalog `lake` is an Iceberg hadoop catalog in `warehouse`."""
    if not ICEBERG_JAR.exists():
        raise FileNotFoundError(f"{ICEBERG_JAR} is missing: run scripts/setup-local.sh (npm test runs it first)")
    from pyspark.sql import SparkSession

    partitions = master.removeprefix("local[").removesuffix("]") if master.startswith("local[") else "1"
    settings = {
        "spark.jars": str(ICEBERG_JAR),
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.catalog.lake": "org.apache.iceberg.spark.SparkCatalog",
        "spark.sql.catalog.lake.type": "hadoop",
        "spark.sql.catalog.lake.warehouse": str(warehouse),
        "spark.sql.defaultCatalog": "lake",
        "spark.sql.ansi.enabled": "true",
        "spark.sql.ansi.doubleQuotedIdentifiers": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": partitions,
        "spark.sql.adaptive.enabled": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "1g",
        **(extra or {}),
    }
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
