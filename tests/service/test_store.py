from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from service.store import MIGRATIONS, Checkpoint, MessageFilter, NewMessage, Store, StoreError


def row(i: int, community: str = "acme", **over) -> NewMessage:
    base = dict(community=community, channel="general", author_id="u1", external_id=f"m{i}",
                text=f"text {i}", ts=f"2026-11-{1 + i % 28:02d}T00:00:00.000000Z", reply_to=None,
                thread_id=None, metadata={"k": i}, lang="en", sentiment="neutral",
                sentiment_probs={"neutral": 1.0}, intent="question", intent_probs={"question": 1.0},
                flag_scores={"spam": 0.1, "abuse": 0.0}, flags=[], models={"embedder": "x"},
                embedder="x", embedding=np.full(4, i, dtype=np.float32))
    return NewMessage(**(base | over))


def test_insert_is_idempotent_and_reports_per_row(store):
    first = store.insert_messages([row(1), row(2)])
    assert [new for _, new in first] == [True, True]
    again = store.insert_messages([row(2), row(3)])
    assert again[0] == (first[1][0], False) and again[1][1] is True
    assert store.count_messages() == 3


def test_roundtrip_json_and_embeddings(store):
    store.insert_messages([row(1, flags=["spam"]), row(2, community="other")])
    (msg,), _ = store.list_messages(MessageFilter(community="acme"))
    assert msg["metadata"] == {"k": 1} and msg["flags"] == ["spam"]
    ids, vectors = store.embeddings("acme")
    assert vectors.shape == (1, 4) and vectors[0, 0] == 1.0


def test_failed_batch_writes_nothing(store):
    store.insert_messages([row(1)])
    bad = row(2, text=None)  # NOT NULL violation in the middle of a batch
    with pytest.raises(StoreError):
        store.insert_messages([row(3), bad, row(4)])
    assert store.count_messages() == 1


def test_checkpoint_commits_with_batch(store):
    state = store.start_import("f.jsonl", "abc")
    store.insert_messages([row(1), row(2)], Checkpoint(state["id"], position=7, rejected=1, known=3))
    state = store.get_import("abc")
    assert (state["position"], state["created"], state["duplicates"], state["rejected"]) == (7, 2, 3, 1)
    assert store.start_import("f.jsonl", "abc")["id"] == state["id"]


def test_concurrent_writers_from_threads(store):
    def work(offset):
        for i in range(20):
            store.insert_messages([row(offset + i), row(i)])  # row(i) collides across threads

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count_messages() == 4 * 20 + 20


def test_schema_migrates_once_and_reopens(tmp_path):
    path = tmp_path / "x.db"
    Store(path).insert_messages([row(1)])
    reopened = Store(path)
    assert reopened.count_messages() == 1
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open database"):
        Store(blocker / "sub" / "db.sqlite")
