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
    done = client.post(f"{url}/act", data={"action": "acknowledge"})
    assert done.status_code == 200 and "Done: acknowledge" in done.text
    assert 'id="item-status">acknowledged<' in done.text
    assert seeded.queue_actions(item_id=item["id"])[0]["actor"] == "tester"  # the key's name
    again = client.post(f"{url}/act", data={"action": "acknowledge"})
    assert again.status_code == 409 and "cannot acknowledge" in again.text
    client.post(f"{url}/act", data={"action": "relabel", "field": "flags",
                                    "value": ""})
    assert 'id="current-flags">none<' in client.get(url).text
    (relabel,) = [a for a in seeded.queue_actions(item_id=item["id"]) if a["action"] == "relabel"]
    undone = client.post(f"/dashboard/acme/actions/{relabel['id']}/undo",
                         data={"item_id": item["id"]})
    assert 'id="current-flags">spam<' in undone.text and "undone by" in undone.text
    bad = client.post(f"{url}/act", data={"action": "relabel",
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


def test_sign_in_session_and_csrf(settings, pipeline, seeded, make_key):
    from fastapi.testclient import TestClient

    from service.app import create_app

    key = make_key("moderator", "acme", name="mia")
    with TestClient(create_app(settings, pipeline=pipeline)) as browser:
        first = browser.get("/dashboard/acme/queue", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/dashboard/login?next=/dashboard/acme/queue"
        bad = browser.post("/dashboard/login", data={"key": "pk_nope_nope"})
        assert bad.status_code == 401 and "not valid" in bad.text
        signed = browser.post("/dashboard/login",
                              data={"key": key, "next": "/dashboard/acme/queue"})
        assert signed.url.path == "/dashboard/acme/queue" and "mia (moderator)" in signed.text
        cookie = signed.history[0].headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        item = seeded.queue_items("acme", ["open"])[0][0]
        url = f"/dashboard/acme/queue/{item['id']}"
        page = browser.get(url).text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        forged = browser.post(f"{url}/act", data={"action": "acknowledge", "csrf": "x"})
        assert forged.status_code == 403 and "CSRF" in forged.text
        assert browser.post(f"{url}/act", data={"action": "acknowledge"}).status_code == 403
        ok = browser.post(f"{url}/act", data={"action": "acknowledge", "csrf": csrf})
        assert ok.status_code == 200 and seeded.queue_item(item["id"])["status"] == "acknowledged"
        assert seeded.queue_actions(item_id=item["id"])[-1]["actor"] == "mia"
        # the cookie reads the JSON API but never writes through it
        assert browser.get("/v1/queue", params={"community": "acme"}).status_code == 200
        assert browser.post(f"/v1/queue/{item['id']}/actions",
                            json={"action": "resolve"}).status_code == 403
        # role and community scope
        assert browser.get("/dashboard/acme/trends").status_code == 403  # operators only
        assert browser.get("/dashboard/other/queue").status_code == 404
        assert browser.get("/dashboard/login?next=https://evil.example").text.count(
            'value="/dashboard"') == 1
        browser.post("/dashboard/logout", data={"csrf": csrf})
        assert browser.get("/dashboard/acme/queue", follow_redirects=False).status_code == 303
