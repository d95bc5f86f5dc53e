"""API keys: created and revoked from the CLI, stored as SHA-256 hashes.

A key reads ``pk_<prefix>_<secret>``: the prefix finds the row, the whole key is compared
by hash in constant time. Keys carry 256 random bits, so a fast hash is enough (there is
nothing to brute-force); sessions of the dashboard are random ids stored the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.store import Store, format_ts

ROLES = {
    "bot": "classify only",
    "ingest": "post messages and imports (and classify)",
    "moderator": "read messages and topics, read and act on the queue of its communities",
    "operator": "read messages, topics, trends, reports and metrics of its communities",
    "admin": "everything: settings, reclusters, alerts, imports, all of the above",
}
ALL = "*"
SESSION_HOURS = 12


class AuthError(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    """The caller: a key's id, name (recorded as the actor of actions), role and scope."""

    key_id: int
    name: str
    role: str
    communities: tuple[str, ...]

    def sees(self, community: str) -> bool:
        return ALL in self.communities or community in self.communities

    @property
    def scoped(self) -> tuple[str, ...] | None:
        """The communities this key is limited to, or None for all."""
        return None if ALL in self.communities else self.communities


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(store: Store, name: str, role: str, communities: list[str]) -> tuple[str, dict]:
    """Returns (the key, shown once; its stored row)."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 100:
        raise AuthError("a key needs a name of 1–100 characters (it is recorded on actions)")
    communities = sorted({c.strip() for c in communities if c.strip()})
    if not communities:
        raise AuthError("give the communities the key may see, or '*' for all")
    prefix = secrets.token_hex(4)
    key = f"pk_{prefix}_{secrets.token_urlsafe(32)}"
    key_id = store.add_key(name, prefix, _hash(key), role, communities, _now())
    return key, store.key_by_id(key_id)


def authenticate(store: Store, key: str) -> Principal | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "pk":
        return None
    row = store.key_by_prefix(parts[1])
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["key_hash"], _hash(key)):
        return None
    return _principal(row)


def start_session(store: Store, key: str) -> tuple[str, str, Principal] | None:
    """Sign in to the dashboard: (session id for the cookie, CSRF token, principal)."""
    principal = authenticate(store, key)
    if principal is None:
        return None
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    store.add_session(_hash(session_id), principal.key_id, csrf, format_ts(now),
                      format_ts(now + timedelta(hours=SESSION_HOURS)))
    return session_id, csrf, principal


def session_principal(store: Store, session_id: str) -> tuple[Principal, str] | None:
    """(principal, CSRF token) of a live session whose key is still valid."""
    found = store.session(_hash(session_id), _now())
    if found is None:
        return None
    row = store.key_by_id(found["key_id"])
    if row is None or row["revoked_at"] is not None:
        return None
    return _principal(row), found["csrf"]


def end_session(store: Store, session_id: str) -> None:
    store.end_session(_hash(session_id))


def _principal(row: dict) -> Principal:
    return Principal(row["id"], row["name"], row["role"], tuple(row["communities"]))


def _now() -> str:
    return format_ts(datetime.now(UTC))


def ensure_admin_key(store: Store, key_file) -> dict:
    """On a fresh database, create the first admin key and write it to ``key_file`` (0600).

    Once any admin key exists nothing is created; the file is the operator's to keep or
    delete (revoking the key with `pulse keys revoke` is what disables it).
    """
    from pathlib import Path

    if any(k["role"] == "admin" for k in store.keys()):
        return {"created": False, "key_file": str(key_file) if Path(key_file).exists() else None}
    key, row = create_key(store, "admin", "admin", [ALL])
    path = Path(key_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(key + "\n")
    return {"created": True, "key_id": row["id"], "key_file": str(path)}
