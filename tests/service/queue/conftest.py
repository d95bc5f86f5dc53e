from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from service.store import Store
from tests.fakes import labelled

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def make_topic(store: Store, community: str = "acme", label: str = "login crash") -> int:
    run = store.start_run(community, "2026-10-01T00:00:00.000000Z", "2026-11-21T00:00:00.000000Z", {})
    ids = store.apply_recluster(
        run, community,
        [{"id": None, "label": label, "keywords": ["login", "crash"], "representatives": [],
          "centroid": np.ones(4), "threshold": 0.5, "size": 0}],
        [], [], {}, {"n_messages": 0, "n_topics": 1, "unassigned": 0})
    return ids[0]


@pytest.fixture
def community(tmp_path) -> tuple[Store, int]:
    """A community with one abusive message, questions (answered or not) and a topic of
    bug reports that grew in the last week."""
    store = Store(tmp_path / "q.db")
    topic = make_topic(store)
    rows = [
        labelled("abuse1", "2026-11-19T09:00:00.000000Z", intent="abuse", flags=("abuse",),
                 sentiment="negative", negative=0.9, author="troll"),
        labelled("q-open", "2026-11-18T12:00:00.000000Z", intent="question", author="u2"),
        labelled("q-fresh", "2026-11-20T06:00:00.000000Z", intent="question", author="u3"),
        labelled("q-replied", "2026-11-17T12:00:00.000000Z", intent="question", author="u2"),
        labelled("answer", "2026-11-17T13:00:00.000000Z", reply_to="q-replied", author="u4"),
        labelled("q-thread", "2026-11-16T12:00:00.000000Z", intent="question", author="u1",
                 thread_id="t1"),
        labelled("self-bump", "2026-11-16T13:00:00.000000Z", author="u1", thread_id="t2"),
        labelled("in-thread", "2026-11-16T14:00:00.000000Z", author="u5", thread_id="t1"),
    ]
    rows += [labelled(f"bug{i}", f"2026-11-{14 + i % 6:02d}T10:00:00.000000Z", intent="bug_report",
                      author=f"m{i}", topic_id=topic, negative=0.6,
                      sentiment="negative" if i % 2 else "neutral") for i in range(8)]
    rows += [labelled(f"old{i}", f"2026-10-{25 + i:02d}T10:00:00.000000Z", intent="bug_report",
                      author=f"m{i}", topic_id=topic) for i in range(2)]
    store.insert_messages(rows)
    return store, topic
