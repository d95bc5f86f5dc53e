"""Priority of a queue item as a weighted sum of named factors, each explained.

Every factor is a raw measurement (hours, members, a z-score, a probability) turned into
a score in [0, 1] by a fixed, documented transform; the priority is
100 × Σ weight·score / Σ weight over all factors, so it is comparable across item kinds
and communities, and changing one weight moves items in an obvious direction.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

FACTORS = {
    "severity": "how serious the flag or intent is (abuse 1.0, spam 0.8, bug report 0.6, "
                "complaint 0.5, question 0.3)",
    "negativity": "probability of negative sentiment (topics: share of negative messages)",
    "volume": "messages in the window; log scale, 100 or more scores 1",
    "growth": "last 7 days against the topic's own weekly baseline (Poisson z; z ≥ 4 scores 1)",
    "members": "distinct members involved; log scale, 30 or more scores 1",
    "unanswered": "hours a question waits for an answer (72 h scores 1); topics: unanswered "
                  "questions (10 or more score 1)",
    "confidence": "the model's calibrated probability of the label behind the item",
}

DEFAULT_WEIGHTS = {"severity": 3.0, "negativity": 1.0, "volume": 1.5, "growth": 1.5,
                   "members": 1.0, "unanswered": 1.5, "confidence": 1.0}

FLAG_SEVERITY = {"abuse": 1.0, "spam": 0.8}
INTENT_SEVERITY = {"abuse": 1.0, "spam_ad": 0.8, "bug_report": 0.6, "complaint": 0.5,
                   "question": 0.3, "feature_request": 0.2}


@dataclass(frozen=True)
class QueueConfig:
    """Per-community queue settings (stored; defaults here)."""

    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    unanswered_after_hours: float = 24.0  # a question enters the queue after this long
    window_days: int = 30  # items come from messages of the last this many days
    recurring_min_messages: int = 5  # a topic needs this many messages in the window
    recurring_issue_share: float = 0.4  # and this share of bug reports, complaints, questions

    def to_dict(self) -> dict:
        return asdict(self)


def log_score(n: float, full: float) -> float:
    return min(1.0, math.log1p(max(n, 0.0)) / math.log1p(full))


def poisson_z(observed: float, expected: float) -> float:
    """How far ``observed`` is above a Poisson mean ``expected`` (floored at 1)."""
    expected = max(expected, 1.0)
    return (observed - expected) / math.sqrt(expected)


def transform(name: str, raw: float, kind: str = "message") -> float:
    """Raw measurement → score in [0, 1] (see FACTORS)."""
    if name == "unanswered" and kind == "recurring":
        return min(1.0, max(0.0, raw / 10.0))
    if name == "volume":
        return log_score(raw, 100)
    if name == "members":
        return log_score(raw, 30)
    if name == "growth":
        return min(1.0, max(0.0, raw / 4.0))
    if name == "unanswered":
        return min(1.0, max(0.0, raw / 72.0))
    return min(1.0, max(0.0, raw))


def prioritise(raw: dict[str, float], weights: dict[str, float],
               kind: str = "message") -> tuple[float, list[dict]]:
    """(priority 0–100, explanation): one entry per factor, largest contribution first."""
    total = sum(weights.values()) or 1.0
    explained = []
    for name in FACTORS:
        value = raw.get(name, 0.0)
        score = transform(name, value, kind)
        weight = weights.get(name, 0.0)
        explained.append({"factor": name, "raw": round(value, 4), "score": round(score, 4),
                          "weight": weight, "contribution": round(100 * weight * score / total, 2)})
    explained.sort(key=lambda f: (-f["contribution"], f["factor"]))
    return round(sum(f["contribution"] for f in explained), 2), explained
