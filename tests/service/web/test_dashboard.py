"""The dashboard's pages and forms through the app (the browser suite drives a real one)."""

from datetime import UTC, datetime, timedelta

import pytest

from service.store import format_ts
from tests.fakes import labelled
from tests.service.queue.conftest import make_topic


@pytest.fixture
def seeded(store):
    now = datetime.now(UTC)
    topic = make_topic(store, label="payment failures")
    store.insert_messages(
        [labelled("spam1", format_ts(now - timedelta(hours=3)), intent="spam_ad", flags=("spam",),
                  text="WIN a FREE phone <script>alert(1)</script>", author="bot"),
         labelled("q1", format_ts(now - timedelta(hours=30)), intent="question", author="u2")]
        + [labelled(f"b{i}", format_ts(now - timedelta(days=i % 6, hours=2)), intent="bug_report",
                    author=f"m{i}", topic_id=topic, text=f"payment failed again {i}",
                    sentiment="negative") for i in range(8)])
    return store


def test_root_leads_to_the_queue_of_the_only_community(client, seeded):
    page = client.get("/")
    assert page.status_code == 200 and page.url.path == "/dashboard/acme/queue"
    assert "<h1>Queue <small>3 items</small></h1>" in page.text
    # text is escaped, never executed
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text


def test_queue_filters_and_sorts(client, seeded):
    flagged = client.get("/dashboard/acme/queue", params={"kind": "flagged"}).text
    assert flagged.count('<tr data-item=') == 1
    newest = client.get("/dashboard/acme/queue", params={"sort": "newest"}).text
    ids = [int(x.split('"')[0]) for x in newest.split('<tr data-item="')[1:]]
    assert ids == sorted(ids, reverse=True)
    assert client.get("/dashboard/acme/queue", params={"status": "resolved"}).text.count(
        "<tr data-item=") == 0


def test_triage_through_forms_with_explanation_and_undo(client, seeded):
    client.get("/dashboard/acme/queue")  # builds the queue
    item = seeded.queue_items("acme", ["open"], kind="flagged")[0][0]
    url = f"/dashboard/acme/queue/{item['id']}"
    page = client.get(url).text
    assert "Why this priority" in page and "severity" in page and "Agree with flag" in page
    nameless = client.post(f"{url}/act", data={"action": "acknowledge"})
    assert nameless.status_code == 422 and "Enter your name" in nameless.text
    done = client.post(f"{url}/act", data={"actor": "ann", "action": "acknowledge"})
    assert done.status_code == 200 and "Done: acknowledge" in done.text
    assert 'id="item-status">acknowledged<' in done.text
    assert client.cookies.get("pulse_actor") == "ann"
    again = client.post(f"{url}/act", data={"actor": "ann", "action": "acknowledge"})
    assert again.status_code == 409 and "cannot acknowledge" in again.text
    client.post(f"{url}/act", data={"actor": "ann", "action": "relabel", "field": "flags",
                                    "value": ""})
    assert 'id="current-flags">none<' in client.get(url).text
    (relabel,) = [a for a in seeded.queue_actions(item_id=item["id"]) if a["action"] == "relabel"]
    undone = client.post(f"/dashboard/acme/actions/{relabel['id']}/undo",
                         data={"actor": "bob", "item_id": item["id"]})
    assert 'id="current-flags">spam<' in undone.text and "undone by" in undone.text
    bad = client.post(f"{url}/act", data={"actor": "ann", "action": "relabel",
                                          "field": "intent", "value": "nonsense"})
    assert bad.status_code == 422 and "intent must be one of" in bad.text


def test_topics_trends_and_report_pages(client, seeded):
    topics = client.get("/dashboard/acme/topics").text
    assert "payment failures" in topics
    topic_id = seeded.topics("acme")[0]["id"]
    detail = client.get(f"/dashboard/acme/topics/{topic_id}").text
    assert "<svg" in detail and "payment failed again" in detail
    trends = client.get("/dashboard/acme/trends", params={"days": 14}).text
    assert trends.count("<svg") == 3 and "active members" in trends
    report = client.get("/dashboard/acme/report").text
    assert "Weekly report — acme" in report and "format=md" in report
    bad = client.get("/dashboard/acme/report", params={"week": "2026-W99"})
    assert bad.status_code == 422 and "not a week" in bad.text
    assert client.get("/dashboard/acme/topics/9999").status_code == 404
    assert client.get("/dashboard/acme/queue/9999").status_code == 404
    assert client.get("/static/dashboard.js").status_code == 200
