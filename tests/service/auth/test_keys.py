import sqlite3

import pytest

from service.auth.keys import (
    AuthError,
    authenticate,
    create_key,
    ensure_admin_key,
    session_principal,
    start_session,
)


def test_keys_are_stored_hashed_and_checked_in_full(store, tmp_path):
    key, row = create_key(store, "ann", "moderator", ["acme", "beta"])
    assert key.startswith(f"pk_{row['prefix']}_") and len(key) > 40
    raw = sqlite3.connect(tmp_path / "pulse.db").execute("SELECT * FROM api_keys").fetchall()
    assert key not in repr(raw) and key.split("_", 2)[2] not in repr(raw)
    p = authenticate(store, key)
    assert (p.name, p.role, p.communities) == ("ann", "moderator", ("acme", "beta"))
    assert p.sees("acme") and not p.sees("gamma") and p.scoped == ("acme", "beta")
    assert authenticate(store, key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    assert authenticate(store, "pk_" + row["prefix"]) is None
    assert authenticate(store, "nonsense") is None


def test_revoking_ends_the_key_and_its_sessions(store):
    key, row = create_key(store, "bob", "admin", ["*"])
    session_id, csrf, _ = start_session(store, key)
    assert session_principal(store, session_id)[1] == csrf
    assert store.revoke_key(row["id"], "2026-11-25T00:00:00Z")
    assert authenticate(store, key) is None and session_principal(store, session_id) is None
    assert not store.revoke_key(row["id"], "2026-11-25T00:00:00Z")


def test_bad_key_requests_are_refused(store):
    with pytest.raises(AuthError, match="role must be one of"):
        create_key(store, "x", "root", ["*"])
    with pytest.raises(AuthError, match="name"):
        create_key(store, " ", "bot", ["*"])
    with pytest.raises(AuthError, match="communities"):
        create_key(store, "x", "bot", [" "])


def test_first_admin_key_is_written_once_with_private_permissions(store, tmp_path):
    path = tmp_path / "data" / "admin.key"
    made = ensure_admin_key(store, path)
    assert made["created"] and oct(path.stat().st_mode & 0o777) == "0o600"
    assert authenticate(store, path.read_text().strip()).role == "admin"
    assert not ensure_admin_key(store, path)["created"]
