"""Bodies per target: generic JSON, Slack and Discord incoming-webhook shapes."""

from __future__ import annotations

from service.alerts.events import Event, dashboard
from service.alerts.payloads import render

EVENT = Event("topic_spiking", "topic_spiking:7:2026-W47", "acme team",
              title="Topic emerging in acme team: battery <drain>",
              text="8 messages in the last 7 days\n> <!channel> battery dies & @everyone look",
              path=dashboard("acme team", "topics", "7"), occurred_at="2026-11-20T12:00:00.000000Z",
              data={"topic_id": 7})
LINK = "https://pulse.example.org/dashboard/acme%20team/topics/7"


def test_generic_json_carries_the_event_and_a_link():
    body = render(EVENT, "webhook", "https://pulse.example.org/", 3)
    assert body == {"event": "topic_spiking", "event_id": "topic_spiking:7:2026-W47",
                    "community": "acme team", "subscription_id": 3,
                    "occurred_at": "2026-11-20T12:00:00.000000Z", "title": EVENT.title,
                    "text": EVENT.text, "url": LINK, "data": {"topic_id": 7}}


def test_slack_payload_is_readable_linked_and_pings_nobody():
    body = render(EVENT, "slack", "https://pulse.example.org", 3)
    assert set(body) == {"text", "blocks"}
    assert body["text"] == ("Topic emerging in acme team: battery &lt;drain&gt; "
                            f"<{LINK}|Open in Community Pulse>")
    header, section, actions, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": EVENT.title}}
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "&lt;!channel&gt; battery dies &amp; @everyone" in section["text"]["text"]
    assert "<!channel>" not in str(body)
    (button,) = actions["elements"]
    assert button["type"] == "button" and button["url"] == LINK
    assert context["elements"][0]["text"].startswith("acme team · topic_spiking")


def test_discord_payload_has_content_an_embed_with_the_link_and_no_mentions():
    body = render(EVENT, "discord", "https://pulse.example.org", 3)
    assert set(body) == {"content", "embeds", "allowed_mentions"}
    assert body["content"] == f"**{EVENT.title}**\n<{LINK}>"
    (embed,) = body["embeds"]
    assert embed["title"] == EVENT.title and embed["url"] == LINK
    assert embed["description"] == EVENT.text and embed["timestamp"] == EVENT.occurred_at
    assert isinstance(embed["color"], int)
    assert body["allowed_mentions"] == {"parse": []}


def test_long_texts_are_cut_to_the_targets_limits():
    long = Event("queue_item", "queue_item:1", "acme", title="t" * 400, text="x" * 9000,
                 path="/dashboard/acme/queue/1", occurred_at="2026-11-20T12:00:00.000000Z")
    slack = render(long, "slack", "http://127.0.0.1:8000", 1)
    assert len(slack["blocks"][0]["text"]["text"]) == 150
    assert len(slack["blocks"][1]["text"]["text"]) == 3000
    discord = render(long, "discord", "http://127.0.0.1:8000", 1)
    assert len(discord["content"]) <= 2000 and len(discord["embeds"][0]["title"]) == 256
    assert len(discord["embeds"][0]["description"]) == 4096
