#!/usr/bin/env bash
# What the local run (npm run serve:local, npm run bench:serving, local/*.test.ts) needs, installed
# only when missing: redis-server (Debian's package; Valkey speaks the same protocol) and the
# project's .venv (pinned Python tools, moto server among them), built as scripts/test-all.sh builds
# it. Idempotent and quiet when everything is present.
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

if [ ! -d node_modules ]; then
  echo "setup-local: installing Node dependencies (npm install from package-lock.json)" >&2
  npm install --no-audit --no-fund >/dev/null
fi
