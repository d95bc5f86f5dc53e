"""One event as the body a target expects: generic JSON, Slack or Discord incoming webhook.

Every body carries a readable message and a link into the dashboard. Member text can
appear in alerts (a queue item's title, a topic's quotes), so nothing in it may ping
anyone: Slack's control characters are escaped and Discord mentions are switched off.
"""

from __future__ import annotations

from service.alerts.events import Event

SLACK_HEADER_CHARS = 150
SLACK_TEXT_CHARS = 3000
DISCORD_CONTENT_CHARS = 2000
DISCORD_TITLE_CHARS = 256
DISCORD_DESCRIPTION_CHARS = 4096
COLOURS = {"queue_item": 0xE67E22, "topic_spiking": 0x3498DB, "sentiment_drop": 0xE74C3C,
           "weekly_report": 0x2ECC71, "test": 0x95A5A6}


def link(public_url: str, path: str) -> str:
    return public_url.rstrip("/") + path


def render(event: Event, target: str, public_url: str, subscription_id: int) -> dict:
    url = link(public_url, event.path)
    return {"webhook": generic, "slack": slack, "discord": discord}[target](
        event, url, subscription_id)


def generic(event: Event, url: str, subscription_id: int) -> dict:
    return {"event": event.type, "event_id": event.id, "community": event.community,
            "subscription_id": subscription_id, "occurred_at": event.occurred_at,
            "title": event.title, "text": event.text, "url": url, "data": event.data}


def slack(event: Event, url: str, subscription_id: int) -> dict:
    title = _cut(event.title, SLACK_HEADER_CHARS)
    return {
        "text": f"{_cut(_slack_escape(event.title), 500)} <{url}|Open in Community Pulse>",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": _cut(_slack_escape(event.text), SLACK_TEXT_CHARS)}},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open in dashboard"},
                 "url": url}]},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": _slack_escape(
                    f"{event.community} · {event.type} · {event.occurred_at}")}]},
        ],
    }


def discord(event: Event, url: str, subscription_id: int) -> dict:
    return {
        "content": _cut(f"**{event.title}**\n<{url}>", DISCORD_CONTENT_CHARS),
        "embeds": [{
            "title": _cut(event.title, DISCORD_TITLE_CHARS),
            "description": _cut(event.text, DISCORD_DESCRIPTION_CHARS),
            "url": url,
            "color": COLOURS.get(event.type, 0x95A5A6),
            "timestamp": event.occurred_at,
            "footer": {"text": f"Community Pulse · {event.community} · {event.type}"},
        }],
        "allowed_mentions": {"parse": []},
    }


def _slack_escape(text: str) -> str:
    """Slack's three control characters; also defuses <!channel> and <@user> in member text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
