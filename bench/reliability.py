"""Reliability: the fault-injection suite and the hostile-input corpus, counted.

Runs the tests CI runs (`tests/reliability/`,
`tests/models/serving/test_publish_fault_injection.py`, `tests/pipeline/test_hostile_inputs.py`)
with their output shown, and collects what each fault-injection test prints: cases tried, kill
points (SIGKILL of a real process at moments chosen from its own progress) and invariant
violations. Writes `bench/results/reliability.json`
and `bench/sections/reliability.md`.

Usage: `.venv/bin/python bench/reliability.py`
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAULT_TESTS = ("tests/reliability", "tests/models/serving/test_publish_fault_injection.py")
HOSTILE_TESTS = ("tests/pipeline/test_hostile_inputs.py",)
COUNTS = re.compile(
    r"^\.*(?P<part>[a-z ]+): cases tried (?P<cases>\d+); kill points (?P<kills>\d+); "
    r"invariant violations (?P<violations>\d+)",
    re.MULTILINE,
)
PUBLISH_COUNTS = re.compile(
    r"kill points tried: (?P<kills>\d+); committed before the kill: (?P<committed>\d+); "
    r"invariant violations: (?P<violations>\d+)"
)
SUMMARY = re.compile(
    r"(?P<passed>\d+) passed(?:, (?P<skipped>\d+) skipped)?.* in (?P<seconds>[\d.]+)s"
)


def run_pytest(paths: tuple[str, ...]) -> tuple[str, dict]:
    """Run pytest on `paths` with output shown; return the output and its summary counts."""
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *paths]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"pytest failed ({result.returncode}):\n{output[-4000:]}")
    summary = SUMMARY.search(output)
    return output, {
        "passed": int(summary["passed"]),
        "seconds": float(summary["seconds"]),
    }


def main() -> dict:
    load_before = os.getloadavg()
    fault_output, fault_summary = run_pytest(FAULT_TESTS)
    hostile_output, hostile_summary = run_pytest(HOSTILE_TESTS)
    parts = {
        match["part"]: {
            "cases": int(match["cases"]),
            "kill_points": int(match["kills"]),
            "invariant_violations": int(match["violations"]),
        }
        for match in COUNTS.finditer(fault_output)
    }
    publish = PUBLISH_COUNTS.search(fault_output)
    parts["publish"] = {
        "cases": int(publish["kills"]),
        "kill_points": int(publish["kills"]),
        "committed_before_the_kill": int(publish["committed"]),
        "invariant_violations": int(publish["violations"]),
    }
    results = {
        "command": ".venv/bin/python bench/reliability.py",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "note": "2-core CPU, 24 GiB",
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        },
        "fault_injection": parts,
        "totals": {
            "kill_points": sum(part["kill_points"] for part in parts.values()),
            "invariant_violations": sum(part["invariant_violations"] for part in parts.values()),
        },
        "fault_injection_tests": fault_summary,
        "hostile_input_tests": hostile_summary,
    }
    (ROOT / "bench/results/reliability.json").write_text(json.dumps(results, indent=2) + "\n")
    write_section(results, ROOT / "bench/sections/reliability.md")
    print(json.dumps(results, indent=2))
    return results


def write_section(results: dict, path: Path) -> None:
    machine = results["machine"]
    lines = [
        "## Reliability: processes killed mid-run, hostile inputs",
        "",
        f"Command: `{results['command']}`  ",
        f"Machine: {machine['note']} (load average before / after: "
        f"{machine['load_average_before']} / {machine['load_average_after']}).  ",
        f"Date: {results['date']}.",
        "",
        "Each kill is a SIGKILL of a real process (forked from a server that imported its "
        "libraries once) at a moment chosen from the run's own progress reports, never a clock; "
        "after each, the invariants are checked and the next run must succeed. Invariants: "
        "**publish**: every version folder TF Serving can see is complete, the previous version "
        "still served or the new one complete and logged, `models.config` parses; **training**: "
        "`--resume` ends with exactly the weights of an uninterrupted run; **events pipeline**: "
        "the previous output untouched or the new one complete (`rows_in == rows_out + "
        "rows_dead`), never half-written; **alert delivery**: every alert reaches the receiver "
        "at least once, and once per receiver that honours its `Idempotency-Key`.",
        "",
        "| part | cases tried | kill points | invariant violations |",
        "|---|---:|---:|---:|",
    ]
    for name, part in results["fault_injection"].items():
        lines.append(
            f"| {name} | {part['cases']} | {part['kill_points']} | {part['invariant_violations']} |"
        )
    totals = results["totals"]
    lines += [
        f"| **total** | | **{totals['kill_points']}** | **{totals['invariant_violations']}** |",
        "",
        f"Fault-injection tests: {results['fault_injection_tests']['passed']} passed in "
        f"{results['fault_injection_tests']['seconds']:.0f} s. Hostile-input corpus "
        "(`tests/pipeline/test_hostile_inputs.py`: duplicate columns, truncated / corrupt / "
        "mislabelled gzip, fields over the CSV limit, reserved and NUL-bearing ids, JSON ids "
        "that are objects, lists or booleans, CLI errors as one line with exit code 2): "
        f"{results['hostile_input_tests']['passed']} cases passed.",
    ]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
