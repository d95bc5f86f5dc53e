"""The store's SQL for per-community PII redaction settings (a mixin of ``Store``).

The setting lives in ``community_settings.redaction``: a JSON list of kinds, NULL = off.
A community that has only a redaction setting gets a row whose ``queue`` is JSON null,
which the queue reads as "no queue settings" (its defaults).
"""

from __future__ import annotations

import json


class RedactionSQL:
    def redaction_kinds(self, community: str) -> list[str] | None:
        row = self._db().execute(
            "SELECT redaction FROM community_settings WHERE community = ?", [community]
        ).fetchone()
        return json.loads(row[0]) if row and row[0] is not None else None

    def set_redaction_kinds(self, community: str, kinds: list[str] | None, now: str) -> None:
        value = json.dumps(kinds) if kinds else None
        with self._write_lock, self._transaction() as conn:
            conn.execute(
                "INSERT INTO community_settings (community, queue, redaction, updated_at)"
                " VALUES (?, 'null', ?, ?) ON CONFLICT (community) DO UPDATE SET"
                " redaction = excluded.redaction, updated_at = excluded.updated_at",
                (community, value, now))
