"""The store's SQL for custom intent heads: one row per version, one version active.

A mixin of ``Store``. Every retrain inserts a new version (numbered per community) and
makes it the active one in the same transaction; older versions stay, with the examples
they learned from, so a roll-back is one UPDATE and any version can be retrained or
inspected. A partial unique index keeps at most one version active per community.
"""

from __future__ import annotations

import json

_VERSION_COLUMNS = ("id, community, version, kind, labels, embedder, config, metrics,"
                    " created_at, created_by, active")


def _version(row, names: list[str]) -> dict:
    out = dict(zip(names, row, strict=True))
    for key in ("labels", "config", "metrics", "examples"):
        if key in out:
            out[key] = json.loads(out[key])
    out["active"] = bool(out["active"])
    return out


class CustomSQL:
    def add_custom_head(self, *, community: str, kind: str, labels: list[str], embedder: str,
                        config: dict, weights: bytes, examples: dict, metrics: dict,
                        created_by: str, now: str) -> dict:
        """Store a new version and make it the active one; returns it (without arrays)."""
        with self._write_lock, self._transaction() as conn:
            version = conn.execute("SELECT coalesce(max(version), 0) + 1 FROM custom_heads"
                                   " WHERE community = ?", (community,)).fetchone()[0]
            conn.execute("UPDATE custom_heads SET active = 0 WHERE community = ? AND active = 1",
                         (community,))
            conn.execute(
                "INSERT INTO custom_heads (community, version, kind, labels, embedder, config,"
                " weights, examples, metrics, created_at, created_by, active)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (community, version, kind, _dump(labels), embedder, _dump(config), weights,
                 _dump(examples), _dump(metrics), now, created_by))
        return self.custom_head_versions(community, version=version)[0]

    def active_custom_head_id(self, community: str) -> int | None:
        """The row id of the active version (changes on every retrain and roll-back)."""
        row = self._db().execute("SELECT id FROM custom_heads WHERE community = ? AND active = 1",
                                 (community,)).fetchone()
        return row[0] if row else None

    def custom_head(self, community: str, version: int | None = None) -> dict | None:
        """One version with its arrays and examples (the active one by default)."""
        names = [c.strip() for c in _VERSION_COLUMNS.split(",")] + ["weights", "examples"]
        where = "version = ?" if version is not None else "active = 1"
        row = self._db().execute(
            f"SELECT {', '.join(names)} FROM custom_heads WHERE community = ? AND {where}",
            (community, *([version] if version is not None else []))).fetchone()
        return _version(row, names) if row else None

    def custom_head_versions(self, community: str, version: int | None = None) -> list[dict]:
        """Every version of a community, newest first (no arrays, no examples)."""
        names = [c.strip() for c in _VERSION_COLUMNS.split(",")]
        sql = f"SELECT {_VERSION_COLUMNS} FROM custom_heads WHERE community = ?"
        params: list = [community]
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        rows = self._db().execute(sql + " ORDER BY version DESC", params).fetchall()
        return [_version(r, names) for r in rows]

    def activate_custom_head(self, community: str, version: int) -> bool:
        """Make ``version`` the active one; False when the community has no such version."""
        with self._write_lock, self._transaction() as conn:
            found = conn.execute("SELECT 1 FROM custom_heads WHERE community = ? AND version = ?",
                                 (community, version)).fetchone()
            if found is None:
                return False
            conn.execute("UPDATE custom_heads SET active = 0 WHERE community = ? AND active = 1",
                         (community,))
            conn.execute("UPDATE custom_heads SET active = 1 WHERE community = ? AND version = ?",
                         (community, version))
        return True


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
