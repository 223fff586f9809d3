#!/usr/bin/env bash
# Every check the project has, in the order a failure is cheapest to find.
# On a fresh clone it installs what it needs: node_modules (npm ci), .venv (pinned Python tools) and
# .venv-checkov (the template scanner).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's wall time, printed at the end (docs/benchmarks.md quotes them).
phases=()
phase_started=$SECONDS
phase_name=""
step() {
  if [ -n "$phase_name" ]; then phases+=("$phase_name $((SECONDS - phase_started)) s"); fi
  phase_name="$1"
  phase_started=$SECONDS
  printf '\n==> %s\n' "$*"
}

# `npm install`, not `npm ci`: the registry this project is built against serves only the Linux
# builds of some optional platform packages (unrs-resolver's bindings, pulled in by jest), so the
# lock cannot list the others and npm 11's `npm ci` rejects it as out of sync. With a lock present,
# `npm install` installs exactly the locked versions and leaves the lock unchanged.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "Installing Node dependencies (npm install from package-lock.json)"
  npm install --no-audit --no-fund
fi

# Servers the tests start on loopback (redis-server from Debian, moto server from .venv) and the
# pinned Python tools: installed only when missing.
step "Test servers and Python tools (scripts/setup-local.sh)"
bash scripts/setup-local.sh

# Incremental: a warm run checks only what changed since the last (.cache/ is git-ignored).
mkdir -p .cache
step "Type-check (tsc)"
npx tsc --noEmit --incremental --tsBuildInfoFile .cache/tsc.tsbuildinfo

step "Lint (eslint)"
npx eslint --max-warnings 0 --cache --cache-location .cache/eslint .

reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

step "Unit, compliance and synth tests (jest)"
npx jest --ci --json --outputFile="$reports/jest.json"

step "Python tools (.venv)"
stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$wanted" > "$stamp"
fi
echo "cfn-lint $(.venv/bin/cfn-lint --version | awk '{print $2}'), $(.venv/bin/ruff --version), $(.venv/bin/pytest --version)"

step "Lint Python (ruff)"
.venv/bin/ruff check .

step "Python tests (pytest)"
set +e
.venv/bin/python -m pytest -n auto --dist loadfile --junitxml="$reports/pytest.xml"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest: no Python tests collected yet (the first Python scripts arrive with the data-side constructs)"
elif [ "$rc" -ne 0 ]; then
  exit "$rc"
fi

step "Synthesize every stack and lint the templates (cdk synth + cfn-lint)"
out="$reports/cdk.out"
npx cdk synth --quiet --output "$out"
regions=$(npx ts-node --transpile-only -e "console.log(require('./lib/compliance/regions').EU_EEA_REGIONS.join(' '))")
# cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational. One process per
# core, each over its share of the templates; their masks are OR-ed.
templates=("$out"/*.template.json)
workers=$(nproc)
pids=()
for ((w = 0; w < workers; w++)); do
  share=()
  for ((i = w; i < ${#templates[@]}; i += workers)); do share+=("${templates[i]}"); done
  [ ${#share[@]} -eq 0 ] && continue
  # shellcheck disable=SC2086
  .venv/bin/cfn-lint --regions $regions -- "${share[@]}" &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do
  set +e
  wait "$pid"
  code=$?
  set -e
  if [ "$code" -eq 1 ] || [ "$code" -gt 15 ]; then rc=$((rc | 2)); else rc=$((rc | code)); fi
done
if [ $((rc & 2)) -ne 0 ]; then
  echo "cfn-lint found errors (exit $rc)"
  exit 1
fi
echo "cfn-lint: 0 errors over $(ls "$out"/*.template.json | wc -l) template(s) in regions: $regions (exit $rc)"

# An independent scanner over the same templates: every failed check is fixed, or skipped in the
# resource's metadata with a reason (skipCheckov in lib/compliance/checkov.ts).
step "Scan the templates (checkov, .venv-checkov)"
.venv-checkov/bin/python scripts/checkov_templates.py "$out" --summary "$reports/checkov.json"

step "All checks passed"
phases+=("total $SECONDS s")
summary="$(IFS=,; echo "${phases[*]}" | sed 's/,/, /g')"
printf 'phases: %s\n' "$summary"
mkdir -p .cache && echo "$(date -u +%Y-%m-%d) $(nproc) cores: $summary" > .cache/test-phases.txt
# One closing line over the test runners and the template scan, in the plain form any CI reader understands.
python3 - "$reports" <<'PY'
import json, os, sys, xml.etree.ElementTree as ET
reports = sys.argv[1]
jest = json.load(open(os.path.join(reports, "jest.json")))
passed, failed = jest["numPassedTests"], jest["numFailedTests"]
junit = os.path.join(reports, "pytest.xml")
if os.path.exists(junit):
    for suite in ET.parse(junit).getroot().iter("testsuite"):
        total, bad = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        passed, failed = passed + total - bad - skipped, failed + bad
# checkov counts one result per template: it passes with no failed check and no skip without a reason.
checkov = os.path.join(reports, "checkov.json")
if os.path.exists(checkov):
    templates = json.load(open(checkov))["templates"]
    passed, failed = passed + templates["passed"], failed + templates["failed"]
print(f"tests: {passed} passed, {failed} failed")
PY
