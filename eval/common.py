"""Report writing, and the model-selection helpers the eval programs share."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

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


COVERAGE_THRESHOLDS = (0.0, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def coverage_curve(top, correct, thresholds=COVERAGE_THRESHOLDS, stored: float | None = None) -> dict:
    """Share answered (top probability >= t, the service's "uncertain" rule) and the
    accuracy on those, per threshold: what a stricter or looser cut would buy. The stored
    threshold is added to the grid so the report can mark where the service stands."""
    import numpy as np

    top, correct = np.asarray(top, dtype=float), np.asarray(correct, dtype=bool)
    grid = {round(float(t), 4) for t in thresholds}
    grid = sorted(grid | ({round(stored, 4)} if stored is not None else set()))
    coverage, accuracy = [], []
    for t in grid:
        kept = top >= t
        coverage.append(round(float(kept.mean()), 4) if len(top) else 0.0)
        accuracy.append(round(float(correct[kept].mean()), 4) if kept.any() else None)
    return {"thresholds": grid, "coverage": coverage, "accuracy": accuracy, "stored": stored}


def best_logreg(xtr, ytr, xva, score, cs, labels=None, **params) -> tuple[float, np.ndarray, float]:
    """Logistic regression fitted at each C of ``cs``: (best ``score(decision scores)``,
    those scores, its C). Scores are the binary decision function or, given ``labels``,
    one column per label in that order."""
    from sklearn.linear_model import LogisticRegression

    from training.common import SEED

    best = None
    for c in cs:
        model = LogisticRegression(C=c, max_iter=3000, random_state=SEED, **params).fit(xtr, ytr)
        s = model.decision_function(xva)
        if labels is not None:
            s = s[:, [list(model.classes_).index(lab) for lab in labels]]
        value = score(s)
        if best is None or value > best[0]:
            best = (value, s, c)
    return best


def blend(a: np.ndarray, b: np.ndarray, share: float) -> np.ndarray:
    """Score-level average of two models, each scaled to unit spread; ``share`` of ``a``."""
    return share * a / a.std() + (1 - share) * b / b.std()
