"""checkov over every synthesized template: fails on any failed check, and on any skip without a reason.

Usage: .venv-checkov/bin/python scripts/checkov_templates.py <cdk.out> [--summary <file.json>]

A check is skipped in the resource's metadata (`Metadata.checkov.skip: [{id, comment}]`, written by
skipCheckov in lib/compliance/checkov.ts); a skip counts as explained when its comment is at least
MIN_REASON_LENGTH characters, the floor skipCheckov enforces. The templates are scanned by one
checkov process per core, each over its share. --summary writes the counts, and one result per
template (a template passes when it has no failed check and no unexplained skip), for the closing
`tests: N passed, M failed` line of scripts/test-all.sh.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

# lib/compliance/acknowledge.ts MIN_REASON_LENGTH: the shortest reason a reviewer can be expected to accept.
MIN_REASON_LENGTH = 40
CHECKOV = os.path.join(os.path.dirname(sys.executable), "checkov")


def scan(templates: list[str]) -> list[dict]:
    """checkov's JSON reports over some templates (one per framework; here CloudFormation only)."""
    # --skip-download: no Prisma Cloud platform calls (guidelines, id mappings); the checks are bundled.
    # Relative names, run from the templates' folder: checkov 3.3.30's CKV_AWS_45 (secrets in a function's
    # environment) scans the file path it attaches to each parsed mapping, and a path with a random
    # temporary folder (mktemp) reads as a secret, failing functions at random.
    folder = os.path.dirname(templates[0])
    command = [CHECKOV, "--framework", "cloudformation", "--output", "json", "--compact", "--skip-download",
               "--file", *[os.path.basename(t) for t in templates]]
    run = subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder)
    # checkov exits 1 when a check failed; anything else but 0 is checkov itself failing.
    if run.returncode not in (0, 1):
        sys.exit(f"checkov failed (exit {run.returncode}):\n{run.stderr}")
    report = json.loads(run.stdout)
    return report if isinstance(report, list) else [report]


def reason_of(skipped: dict) -> str:
    """A skip's comment; checkov fills in "No comment provided" for a skip without one, which is too short to pass."""
    return (skipped.get("check_result", {}).get("suppress_comment") or "").strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the cdk.out directory synth wrote")
    parser.add_argument("--summary", help="where to write the counts as JSON")
    args = parser.parse_args()

    templates = sorted(glob.glob(os.path.join(args.out, "*.template.json")))
    if not templates:
        sys.exit(f"no *.template.json under {args.out}")
    workers = min(os.cpu_count() or 1, len(templates))
    shares = [templates[w::workers] for w in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reports = [r for share in pool.map(scan, shares) for r in share]

    passed, failed, skipped = [], [], []
    for report in reports:
        results = report.get("results", {})
        passed += results.get("passed_checks", [])
        failed += results.get("failed_checks", [])
        skipped += results.get("skipped_checks", [])
    explained, unexplained = [], []
    for check in skipped:
        (explained if len(reason_of(check)) >= MIN_REASON_LENGTH else unexplained).append(check)

    def where(check: dict) -> str:
        return f"{os.path.basename(check['file_path'])} {check['resource']}"

    for check in failed:
        print(f"FAILED  {check['check_id']} {where(check)}: {check['check_name']}")
    for check in unexplained:
        print(f"SKIPPED WITHOUT A REASON  {check['check_id']} {where(check)}: "
              f"'{reason_of(check)}' (at least {MIN_REASON_LENGTH} characters)")

    bad_files = {os.path.basename(c["file_path"]) for c in failed + unexplained}
    per_check: dict[str, int] = {}
    for check in explained:
        per_check[check["check_id"]] = per_check.get(check["check_id"], 0) + 1
    version = reports[0].get("summary", {}).get("checkov_version", "?")
    print(f"checkov {version}: {len(passed)} passed, {len(failed)} failed, "
          f"{len(explained)} skipped with a reason in the resource's metadata "
          f"({', '.join(f'{k} {v}' for k, v in sorted(per_check.items())) or 'none'}), "
          f"{len(unexplained)} skipped without one, over {len(templates)} template(s)")
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump({
                "checks": {
                    "passed": len(passed),
                    "failed": len(failed),
                    "skipped": len(explained),
                    "unexplained": len(unexplained),
                },
                "templates": {"passed": len(templates) - len(bad_files), "failed": len(bad_files)},
            }, f)
    return 1 if failed or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
