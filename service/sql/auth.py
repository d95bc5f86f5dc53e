"""The store's SQL for API keys and dashboard sessions (a mixin of ``Store``).

Only hashes of keys and session ids are stored; the secrets exist on the client alone.
"""

from __future__ import annotations

import json

_KEY_COLUMNS = "id, name, prefix, key_hash, role, communities, created_at, revoked_at"


def _key(row) -> dict:
    out = dict(zip([c.strip() for c in _KEY_COLUMNS.split(",")], row, strict=True))
    out["communities"] = json.loads(out["communities"])
    return out


class AuthSQL:
    def add_key(self, name: str, prefix: str, key_hash: str, role: str,
                communities: list[str], now: str) -> int:
        with self._write_lock, self._transaction() as conn:
            return conn.execute(
                "INSERT INTO api_keys (name, prefix, key_hash, role, communities, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, prefix, key_hash, role, json.dumps(communities), now)).lastrowid

    def key_by_prefix(self, prefix: str) -> dict | None:
        row = self._db().execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE prefix = ?",
                                 [prefix]).fetchone()
        return _key(row) if row else None

    def key_by_id(self, key_id: int) -> dict | None:
        row = self._db().execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?",
                                 [key_id]).fetchone()
        return _key(row) if row else None

    def keys(self, include_revoked: bool = False) -> list[dict]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        return [_key(r) for r in self._db().execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys{where} ORDER BY id").fetchall()]

    def revoke_key(self, key_id: int, now: str) -> bool:
        """Revoke a key and end its sessions; False if unknown or already revoked."""
        with self._write_lock, self._transaction() as conn:
            done = conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?"
                                " AND revoked_at IS NULL", (now, key_id)).rowcount
            conn.execute("DELETE FROM sessions WHERE key_id = ?", (key_id,))
        return bool(done)

    def add_session(self, id_hash: str, key_id: int, csrf: str, now: str,
                    expires: str) -> None:
        with self._write_lock, self._transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            conn.execute("INSERT INTO sessions (id_hash, key_id, csrf, created_at, expires_at)"
                         " VALUES (?, ?, ?, ?, ?)", (id_hash, key_id, csrf, now, expires))

    def session(self, id_hash: str, now: str) -> dict | None:
        row = self._db().execute(
            "SELECT key_id, csrf FROM sessions WHERE id_hash = ? AND expires_at > ?",
            [id_hash, now]).fetchone()
        return {"key_id": row[0], "csrf": row[1]} if row else None

    def end_session(self, id_hash: str) -> None:
        with self._write_lock, self._transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))
