"""Moderators' relabels as training examples for the heads.

    pulse retrain                                   # the service's database, then every head
    PULSE_FEEDBACK_DB=data/pulse.db python -m training.train_all

Each relabel (``/v1/queue/{id}/actions`` relabel or confirm_flag, ``/v1/messages/{id}/
relabel``) that is still active becomes one training example of the head it is about:
sentiment and intent labels directly, flags as ``abuse``/``clean`` and ``spam``/``clean``.
The latest active relabel of a message and field wins. They join the *train* split only,
weighed like the seed messages (chat written by members, labelled by people); a relabelled
text that is also in a head's held-out test sets is left out and counted, so feedback never
changes what the heads are measured on.
"""

from __future__ import annotations

from pathlib import Path

from training.data import Example, normalise

HEAD_FIELDS = {"sentiment": "sentiment", "intent": "intent", "abuse": "flags", "spam": "flags"}
SOURCE = "seeds-feedback"  # grouped with the seeds by every head's weighting


def label_for(head: str, value) -> str | None:
    if HEAD_FIELDS.get(head) == "flags":
        return head if isinstance(value, list) and head in value else "clean"
    return value if isinstance(value, str) else None


def examples(db_path: Path | str, head: str, held_out: set[str],
             labels: tuple[str, ...] | None = None) -> tuple[list[Example], dict]:
    """(train examples, counts) from the database's active relabels for ``head``."""
    from service.store import Store

    store = Store(db_path)
    field = HEAD_FIELDS[head]
    latest: dict[int, dict] = {}
    for community in store.communities():
        for row in store.feedback(community, limit=10**9):
            if row["field"] == field:
                latest[row["message_id"]] = row  # ordered by id: the last one wins
    out, excluded, unknown = [], 0, 0
    for row in latest.values():
        label = label_for(head, row["value"])
        if label is None or (labels is not None and label not in labels):
            unknown += 1
            continue
        if normalise(row["text"]) in held_out:
            excluded += 1
            continue
        lang = row["lang"] if row["lang"] in ("zh", "en", "mixed") else "en"
        out.append(Example(row["text"], label, lang, SOURCE, "train"))
    return out, {"relabels": len(latest), "used": len(out), "excluded_held_out": excluded,
                 "unknown_label": unknown}
