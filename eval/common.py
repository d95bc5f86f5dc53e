"""Report writing, and the model-selection helpers the eval programs share."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
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


def class_f1s(y: np.ndarray, pred: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Per-class F1 (0 where a class is never predicted nor true), rows = resamples.

    ``y`` and ``pred`` are integer labels, shape (draws, n) or (n,)."""
    y, pred = np.atleast_2d(y), np.atleast_2d(pred)
    out = []
    for c in classes:
        tp = ((y == c) & (pred == c)).sum(axis=1)
        wrong = ((y == c) != (pred == c)).sum(axis=1)  # false positives + false negatives
        denom = 2 * tp + wrong
        out.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    return np.stack(out, axis=1)


def paired_bootstrap(y: Sequence[str], ours: Sequence[str], theirs: Sequence[str], metric: str,
                     flag: str | None = None, draws: int = 2000, seed: int = 0) -> dict:
    """The difference ours - theirs in ``metric`` on one test set, with a 95 % interval from
    resampling the messages (both systems scored on the same resample each time).

    ``metric``: "accuracy", "macro_f1" (over the classes present in ``y``, as in
    training.common.metrics) or "flag_f1" (F1 of ``flag``)."""
    names = sorted(set(y) | set(ours) | set(theirs))
    index = {name: i for i, name in enumerate(names)}
    yi, ai, bi = (np.array([index[v] for v in seq]) for seq in (y, ours, theirs))
    if not len(yi) == len(ai) == len(bi):
        raise ValueError("y, ours and theirs must have one entry per message")
    if metric == "accuracy":
        def score(t, p):
            return (t == p).mean(axis=-1)
    elif metric in ("macro_f1", "flag_f1"):
        classes = [index[flag]] if metric == "flag_f1" else sorted({index[v] for v in y})

        def score(t, p):
            return class_f1s(t, p, classes).mean(axis=1)
    else:
        raise ValueError(f"unknown metric {metric!r}")
    diff = float(np.squeeze(score(yi, ai) - score(yi, bi)))
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, draws, 250):
        rows = rng.integers(0, len(yi), size=(min(250, draws - start), len(yi)))
        diffs.append(score(yi[rows], ai[rows]) - score(yi[rows], bi[rows]))
    diffs = np.concatenate(diffs)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"metric": metric, "diff": round(diff, 4), "low": round(float(low), 4),
            "high": round(float(high), 4), "draws": draws,
            "share_ours_better": round(float((diffs > 0).mean()), 4)}
