"""Operators' views: trends over a period and the weekly report (JSON, Markdown, HTML)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse

from service.api.deps import Operator, StoreDep, check_scope
from service.api.errors import InputError
from service.reports.render import to_html, to_markdown
from service.reports.weekly import parse_week, weekly_report
from service.trends import trends

router = APIRouter(prefix="/v1", tags=["trends"])

MAX_DAYS = 366


@router.get("/trends")
def get_trends(store: StoreDep, community: str, principal: Operator, channel: str | None = None,
               since: Annotated[datetime | None, Query(description="Default: 28 days before "
                                                       "`until`.")] = None,
               until: Annotated[datetime | None, Query(description="Default: now.")] = None,
               bucket: Literal["day", "week"] = "day",
               top: Annotated[int, Query(ge=1, le=100)] = 10) -> dict:
    """Volume, members, sentiment index, intent mix, question response per day or week;
    top topics with week-over-week change; spiking/emerging and turned-negative topics
    (the rules are in the answer)."""
    check_scope(principal, community)
    until = _utc(until) or datetime.now(UTC)
    since = _utc(since) or until - timedelta(days=28)
    if since >= until:
        raise InputError([{"loc": ["query", "since"], "msg": "since must be before until"}])
    if until - since > timedelta(days=MAX_DAYS):
        raise InputError([{"loc": ["query", "since"],
                           "msg": f"a period of at most {MAX_DAYS} days"}])
    return trends(store, community, since, until, channel, bucket, top)


@router.get("/reports/weekly", response_model=None)
def get_weekly_report(store: StoreDep, community: str, principal: Operator,
                      week: Annotated[str | None, Query(
                          description="ISO week like 2026-W47 (default: the last full week)",
                          pattern=r"^\d{4}-W\d{2}$")] = None,
                      format: Literal["json", "md", "html"] = "json"):
    """The weekly report of a community for any week."""
    check_scope(principal, community)
    try:
        start = parse_week(week) if week else None
    except ValueError as exc:
        raise InputError([{"loc": ["query", "week"], "msg": str(exc)}]) from None
    report = weekly_report(store, community, start)
    if format == "md":
        return PlainTextResponse(to_markdown(report), media_type="text/markdown; charset=utf-8")
    if format == "html":
        return HTMLResponse(to_html(report))
    return report


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
