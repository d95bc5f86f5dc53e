"""Operators' views: trends over a period and the weekly report (JSON, Markdown, HTML)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from service.api.deps import Operator, StoreDep, check_scope
from service.api.errors import InputError
from service.reports.render import to_html, to_markdown
from service.reports.weekly import parse_week, weekly_report
from service.trends import trends

router = APIRouter(prefix="/v1", tags=["trends"])

MAX_DAYS = 366

Number = int | float  # counts stay integers in the JSON, rates and indexes are floats


class ResponseStats(BaseModel):
    questions: int
    answered: int
    response_rate: float | None = Field(description="answered / questions; null without questions.")
    median_response_minutes: float | None


class Bucket(ResponseStats):
    start: str = Field(description="First day of the day or week (ISO date, UTC).")
    messages: int
    active_members: int
    new_members: int = Field(description="Members whose first message falls in the bucket.")
    sentiment: dict[str, int] = Field(description="Messages per sentiment label.")
    sentiment_index: float | None = Field(description="From -1 to 1; null without messages.")


class Totals(ResponseStats):
    messages: int
    active_members: int
    new_members: int
    sentiment: dict[str, int]
    sentiment_index: float | None
    intent_mix: dict[str, int]


class TopTopic(BaseModel):
    id: int
    label: str
    messages: int = Field(description="In the last 7 days of the period.")
    previous_week: int
    change: int
    change_pct: float | None = Field(description="null when the previous week had none.")


class SpikingTopic(BaseModel):
    id: int
    label: str
    kind: Literal["spiking", "emerging"]
    observed: int
    expected: float = Field(description="The topic's weekly mean over the 4 weeks before.")
    p_value: float
    spiking: bool
    emerging: bool


class NegativeTopic(BaseModel):
    id: int
    label: str
    messages: int
    negative_share: float
    negative_share_before: float
    z: float


class TopicChanges(BaseModel):
    top_topics: list[TopTopic]
    spiking: list[SpikingTopic]
    turned_negative: list[NegativeTopic]
    rules: dict[str, str] = Field(description="How spiking, turned negative, the sentiment "
                                  "index and answered are decided.")


class TrendsOut(TopicChanges):
    community: str
    channel: str | None
    since: str
    until: str
    bucket: Literal["day", "week"]
    series: list[Bucket] = Field(description="Every bucket of the period, quiet ones as zeros.")
    totals: Totals


class Kpi(BaseModel):
    key: str
    name: str
    value: Number | None
    previous: Number | None = Field(description="The week before.")
    change: Number | None


class Day(BaseModel):
    day: str
    messages: int
    active_members: int
    sentiment_index: float | None


class IssueQuote(BaseModel):
    id: int
    text: str = Field(description="In its original language.")
    lang: str
    intent: str
    sentiment: str


class RecurringIssue(BaseModel):
    id: int = Field(description="Topic id.")
    label: str
    keywords: list[str]
    issue_messages: int = Field(description="Bug reports, complaints and questions.")
    messages: int
    issue_share: float
    intents: dict[str, int]
    quotes: list[IssueQuote]


class WeeklyReport(TopicChanges):
    community: str
    week: str = Field(description="ISO week, e.g. 2026-W47.")
    since: str
    until: str
    generated_at: str
    kpis: list[Kpi]
    intent_mix: dict[str, int]
    series: list[Day]
    recurring_issues: list[RecurringIssue]


# The report is also served as Markdown and HTML (?format=md|html).
REPORT_FORMATS = {200: {"content": {"text/markdown": {"schema": {"type": "string"}},
                                    "text/html": {"schema": {"type": "string"}}}}}


@router.get("/trends", response_model=TrendsOut)
def get_trends(store: StoreDep, community: str, principal: Operator, channel: str | None = None,
               since: Annotated[datetime | None, Query(description="Default: 28 days before "
                                                       "`until`.")] = None,
               until: Annotated[datetime | None, Query(description="Default: now.")] = None,
               bucket: Literal["day", "week"] = "day",
               top: Annotated[int, Query(ge=1, le=100)] = 10):
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


@router.get("/reports/weekly", response_model=WeeklyReport, responses=REPORT_FORMATS)
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
