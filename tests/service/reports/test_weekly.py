from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from service.reports.render import to_html, to_markdown
from service.reports.weekly import last_full_week, parse_week, weekly_report
from tests.service.test_trends import store  # noqa: F401  (fixture)


def test_week_parsing():
    assert parse_week("2026-W47") == date(2026, 11, 16)
    with pytest.raises(ValueError, match="not a week"):
        parse_week("2026-W54")
    with pytest.raises(ValueError, match="2026-W47"):
        parse_week("2026-47")
    assert last_full_week(datetime(2026, 11, 25, 9, tzinfo=UTC)) == date(2026, 11, 16)


def test_weekly_report_content(store):  # noqa: F811
    r = weekly_report(store, "acme", date(2026, 11, 16))
    assert r["week"] == "2026-W47"
    kpi = {k["key"]: k for k in r["kpis"]}
    assert kpi["messages"]["value"] == 21 and kpi["messages"]["previous"] == 1
    assert kpi["messages"]["change"] == 20
    (issue, *_) = r["recurring_issues"]
    assert issue["label"] == "billing" and issue["intents"] == {"complaint": 12}
    assert len(issue["quotes"]) == 3 and issue["quotes"][0]["text"].startswith("complaint")
    assert {t["label"] for t in r["spiking"]} == {"billing", "dark mode"}
    assert len(r["series"]) == 7


def test_renderings(store):  # noqa: F811
    r = weekly_report(store, "acme", date(2026, 11, 16))
    md = to_markdown(r)
    assert md.startswith("# Weekly report — acme, 2026-W47")
    assert "| Messages | 21 | 1 | +20 |" in md and "**billing** (spiking)" in md
    page = to_html(r)

    class Collect(HTMLParser):
        tags: list = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)

    parser = Collect()
    parser.feed(page)
    assert parser.tags.count("svg") == 3 and "blockquote" in parser.tags
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
