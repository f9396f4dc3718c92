"""The type-checking gate CI runs (``python .ci/mypy_gate.py``).

- Strict (``mypy --strict``) on the modules whose types others build on: the comparison format,
  the registries, results, pairs, objectives and extras, and the contracts: the model base and
  card, the rule protocol and layer needs, the trainer and its callbacks, the analysis protocol.
  Any error fails.
- The rest of the package at mypy's defaults, against ``.ci/mypy_baseline.json`` (errors per
  file when the gate was set up): a file with more errors than its baseline, or a new file with
  any, fails; a file with fewer is reported, so the baseline can be lowered. It only shrinks.

``--update`` rewrites the baseline from the current counts (only ever to lower it by hand review).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".ci" / "mypy_baseline.json"
STRICT = [
    "neurosim/config",
    "neurosim/registry.py",
    "neurosim/results",
    "neurosim/pairs.py",
    "neurosim/objectives.py",
    "neurosim/extras.py",
    # The contracts of issue #22: models, rules and the layers they need, training and its
    # observers, the analysis protocol.
    "neurosim/models/base.py",
    "neurosim/models/card.py",
    "neurosim/rules/base.py",
    "neurosim/rules/layers.py",
    "neurosim/training",
    "neurosim/analysis/study.py",
]
COMMON = ["--ignore-missing-imports", "--no-error-summary", "--hide-error-context"]


def mypy(*arguments: str) -> list[str]:
    """The error lines of one mypy run (``path:line: error: ...``)."""
    command = [sys.executable, "-m", "mypy", *COMMON, *arguments]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True).stdout
    return [line for line in output.splitlines() if ": error:" in line]


def main(update: bool) -> int:
    strict = mypy("--strict", "--follow-imports=silent", *STRICT)
    package = mypy("neurosim")
    counts = Counter(line.split(":", 1)[0] for line in package)
    if update:
        BASELINE.write_text(json.dumps(dict(sorted(counts.items())), indent=1) + "\n")
        print(f"baseline: {sum(counts.values())} errors in {len(counts)} files")
        return 0
    baseline = json.loads(BASELINE.read_text())
    worse = {path: (n, baseline.get(path, 0)) for path, n in counts.items() if n > baseline.get(path, 0)}
    better = {path: (counts.get(path, 0), n) for path, n in baseline.items() if counts.get(path, 0) < n}
    for line in strict:
        print(f"strict: {line}")
    for path, (now, allowed) in sorted(worse.items()):
        print(f"{path}: {now} mypy errors, baseline {allowed}")
        for line in package:
            if line.startswith(f"{path}:"):
                print(f"  {line}")
    for path, (now, allowed) in sorted(better.items()):
        print(f"{path}: {now} mypy errors, below its baseline {allowed}: lower .ci/mypy_baseline.json")
    total, allowed_total = sum(counts.values()), sum(baseline.values())
    print(f"mypy: strict modules {len(strict)} errors; package {total} errors (baseline {allowed_total})")
    return 1 if strict or worse else 0


if __name__ == "__main__":
    sys.exit(main("--update" in sys.argv[1:]))
