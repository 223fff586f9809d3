#!/usr/bin/env bash
# What the local run (npm run serve:local, npm run bench:serving, local/*.test.ts) and the tests
# need, installed only when missing: redis-server (Debian's package; Valkey speaks the same
# protocol), the project's .venv (pinned Python tools, moto server and pyspark among them), built as
# scripts/test-all.sh builds it, .venv-checkov (the template scanner), and the Iceberg runtime jar
# for Spark. Idempotent and quiet when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup-local: installing redis-server (apt-get)" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup-local: redis-server is missing and this user cannot install packages; install it with: apt-get install -y redis-server" >&2
      exit 1
    fi
  fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  # Debian's package starts a system service; the local run starts its own server on a free port.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    $sudo systemctl stop redis-server >/dev/null 2>&1 || true
  fi
fi

# The .venv, as scripts/test-all.sh builds it (same stamp: neither rebuilds what the other built).
stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup-local: installing the Python tools into .venv (requirements-dev.txt)" >&2
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$wanted" > "$stamp"
fi

# checkov in a venv of its own (its pins conflict with .venv's), stamped like .venv.
checkov_stamp=.venv-checkov/.requirements.sha256
checkov_wanted=$(sha256sum requirements-checkov.txt | cut -d' ' -f1)
if [ ! -x .venv-checkov/bin/checkov ] || [ "$(cat "$checkov_stamp" 2>/dev/null)" != "$checkov_wanted" ]; then
  echo "setup-local: installing checkov into .venv-checkov (requirements-checkov.txt)" >&2
  python3 -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
  echo "$checkov_wanted" > "$checkov_stamp"
fi

# The Iceberg runtime for Spark, for the erasure SQL test (constructs/data-lake/erasure/test_erasure_sql.py):
# a pinned jar from Maven Central, checked against its SHA-256, kept under .cache/ (git-ignored).
iceberg_version=1.10.1
iceberg_jar=.cache/jars/iceberg-spark-runtime-3.5_2.12-${iceberg_version}.jar
iceberg_sha256=39ea09e6c03550a300b9d9ab498949836d2d434e441da4c12a943a086e396940
if [ ! -f "$iceberg_jar" ]; then
  echo "setup-local: downloading the Iceberg runtime for Spark ${iceberg_version} (Maven Central)" >&2
  mkdir -p "$(dirname "$iceberg_jar")"
  curl -fsSL --retry 3 -o "$iceberg_jar.part" \
    "https://repo1.maven.org/maven2/org/apache/iceberg/iceberg-spark-runtime-3.5_2.12/${iceberg_version}/iceberg-spark-runtime-3.5_2.12-${iceberg_version}.jar"
  if [ "$(sha256sum "$iceberg_jar.part" | cut -d' ' -f1)" != "$iceberg_sha256" ]; then
    rm -f "$iceberg_jar.part"
    echo "setup-local: the Iceberg runtime jar does not match its pinned SHA-256" >&2
    exit 1
  fi
  mv "$iceberg_jar.part" "$iceberg_jar"
fi
if ! command -v java >/dev/null 2>&1; then
  # Only the Python tests need it; the local run does not.
  echo "setup-local: warning: Spark (the erasure SQL test) needs a Java 17 runtime on PATH: apt-get install -y openjdk-17-jre-headless" >&2
fi

if [ ! -d node_modules ]; then
  echo "setup-local: installing Node dependencies (npm install from package-lock.json)" >&2
  npm install --no-audit --no-fund >/dev/null
fi
