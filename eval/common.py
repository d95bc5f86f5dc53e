"""Report writing shared by every eval program."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def describe(m: dict) -> str:
    return f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['when']}"


def write_report(name: str, data: dict, markdown: str) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    path = REPORTS / f"{name}.md"
    path.write_text(markdown)
    return path


def table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
