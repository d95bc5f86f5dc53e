from datetime import UTC, datetime, timedelta

from service.store import format_ts
from tests.fakes import labelled


def seed(store):
    now = datetime.now(UTC)
    store.insert_messages([labelled(f"m{i}", format_ts(now - timedelta(days=i, hours=1)),
                                    author=f"u{i % 4}", sentiment="positive" if i % 3 else
                                    "negative") for i in range(20)])


def test_trends_default_period_and_buckets(client, store):
    seed(store)
    t = client.get("/v1/trends", params={"community": "acme"}).json()
    assert t["totals"]["messages"] == 20 and len(t["series"]) in (28, 29)
    weekly = client.get("/v1/trends", params={"community": "acme", "bucket": "week"}).json()
    assert sum(r["messages"] for r in weekly["series"]) == 20


def test_trends_bad_periods_are_422(client):
    r = client.get("/v1/trends", params={"community": "acme", "since": "2026-11-20",
                                         "until": "2026-11-01"})
    assert r.status_code == 422 and "since must be before until" in r.text
    r = client.get("/v1/trends", params={"community": "acme", "since": "2020-01-01",
                                         "until": "2026-01-01"})
    assert r.status_code == 422 and "at most 366 days" in r.text
    assert client.get("/v1/trends", params={"community": "acme", "bucket": "hour"}
                      ).status_code == 422
    assert client.get("/v1/trends").status_code == 422


def test_weekly_report_in_three_formats(client, store):
    seed(store)
    week = (datetime.now(UTC) - timedelta(days=7)).isocalendar()
    name = f"{week[0]}-W{week[1]:02d}"
    data = client.get("/v1/reports/weekly", params={"community": "acme", "week": name}).json()
    assert data["week"] == name and data["kpis"][0]["value"] == 7
    md = client.get("/v1/reports/weekly", params={"community": "acme", "week": name,
                                                  "format": "md"})
    assert md.headers["content-type"].startswith("text/markdown") and f"{name}" in md.text
    page = client.get("/v1/reports/weekly", params={"community": "acme", "format": "html"})
    assert page.headers["content-type"].startswith("text/html") and "<svg" in page.text
    bad = client.get("/v1/reports/weekly", params={"community": "acme", "week": "2026-W60"})
    assert bad.status_code == 422 and "not a week of 2026" in bad.text
    assert client.get("/v1/reports/weekly", params={"community": "acme", "week": "last"}
                      ).status_code == 422
