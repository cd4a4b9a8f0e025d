"""Check a `--self-test` report: exit 0 only when it passed every expected step.

    python packaging/check_report.py REPORT.json [--frozen]

CI runs it on the reports of the frozen executables (and, on Windows, of the installed app), so
a crash that wrote no report, a missing step or a step that failed all fail the job.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REQUIRED_STEPS = ("environment", "torchvision ops", "bundled weights", "main window",
                  "open dataset", "train one epoch", "grad-cam", "close")


def problems(report: dict, frozen: bool) -> list[str]:
    """What is wrong with `report` (empty when it passed)."""
    found = []
    steps = {step.get("name"): step for step in report.get("steps", [])}
    for name in REQUIRED_STEPS:
        step = steps.get(name)
        if step is None:
            found.append(f"step '{name}' did not run")
        elif not step.get("passed"):
            found.append(f"step '{name}' failed: {step.get('error')}")
    if report.get("passed") is not True:
        found.append("the report does not say passed")
    if frozen and report.get("frozen") is not True:
        found.append("the report was not written by a frozen build")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--frozen", action="store_true", help="require a frozen (built) app")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"FAIL: no report at {args.report} (the app crashed before writing it?)")
        return 1
    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"FAIL: unreadable report {args.report}: {exc}")
        return 1
    found = problems(report, args.frozen)
    for line in found:
        print(f"FAIL: {line}")
    if found:
        return 1
    train = next(s for s in report["steps"] if s["name"] == "train one epoch")
    print(f"ok: self-test passed in {report.get('seconds', 0):.1f} s on "
          f"{report.get('device', {}).get('selected')} (app {report.get('app_version')}, "
          f"torch {report.get('versions', {}).get('torch')}, val acc "
          f"{train['detail'].get('val_acc')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
