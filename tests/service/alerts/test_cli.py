"""`pulse alerts`: add, list, disable, run once, deliveries — against a real receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.alerts.deliver import verify
from service.cli import main
from service.store import Store, format_ts
from tests.fakes import labelled


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_DB_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("PULSE_PUBLIC_URL", "https://pulse.example.org")
    return tmp_path


def test_add_run_list_and_disable(env, capsys, receiver):
    last_week = datetime.now(UTC) - timedelta(days=7)
    monday = last_week - timedelta(days=last_week.weekday())
    Store(env / "cli.db").insert_messages(
        [labelled(f"w{i}", format_ts(monday.replace(hour=9 + i))) for i in range(4)])
    assert main(["alerts", "add", "--community", "acme", "--event", "weekly_report",
                 "--url", receiver.url, "--name", "ops"]) == 0
    out = capsys.readouterr()
    secret = out.out.strip()
    assert secret.startswith("whsec_") and "shown once" in out.err
    assert main(["alerts", "list"]) == 0
    listed = capsys.readouterr().out
    assert "#1 acme weekly_report → webhook http://127.0.0.1:" in listed and secret not in listed
    assert "token-part" not in listed  # the url is redacted
    assert main(["alerts", "run"]) == 0
    assert capsys.readouterr().out.strip() == "queued 1, delivered 1"
    (got,) = receiver.wait_for(1)
    assert verify(secret, got.body, got.headers["x-pulse-timestamp"], got.headers["x-pulse-signature"])
    assert got.json()["url"].startswith("https://pulse.example.org/dashboard/acme/report?week=")
    assert main(["alerts", "run", "--community", "acme"]) == 0
    assert capsys.readouterr().out.strip() == "queued 0"
    assert main(["alerts", "deliveries", "--community", "acme"]) == 0
    assert "delivered after 1 attempt(s)" in capsys.readouterr().out
    assert main(["alerts", "disable", "1"]) == 0
    assert main(["alerts", "list"]) == 0 and capsys.readouterr().out == "disabled subscription #1\n"
    assert main(["alerts", "list", "--all"]) == 0 and "[disabled" in capsys.readouterr().out


def test_errors_are_clean(env, capsys):
    assert main(["alerts", "disable", "7"]) == 2
    assert "no subscription #7" in capsys.readouterr().err
    assert main(["alerts", "add", "--community", "acme", "--event", "queue_item",
                 "--url", "ftp://x"]) == 2
    assert "http:// or https://" in capsys.readouterr().err
