"""Dashboard pages: queue (filter, sort, act, explanation), topics, trends, weekly report.

Plain HTML forms post to these routes, which call the same functions as the JSON API and
redirect back (POST → 303 → GET), so a page reload never repeats an action. The actor
name is kept in a cookie until sign-in with API keys exists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from service.api.deps import PipelineDep, StoreDep
from service.queue import actions
from service.queue.priority import FACTORS
from service.queue.refresh import refresh
from service.reports.charts import column_chart, line_chart
from service.reports.render import report_body
from service.reports.weekly import parse_week, weekly_report
from service.sql.queue import Conflict
from service.store import MessageFilter, format_ts
from service.topics.views import reference_day, topic_view
from service.trends import trends

router = APIRouter(prefix="/dashboard", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"
STATUSES = ("open", "acknowledged", "resolved", "dismissed")
KINDS = ("flagged", "recurring", "unanswered")
SORTS = ("priority", "newest", "oldest")


def _page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    context |= {"actor": request.cookies.get("pulse_actor", ""),
                "flash": request.query_params.get("done"),
                "error": context.get("error")}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def home(request: Request, store: StoreDep):
    communities = store.communities()
    if len(communities) == 1:
        return RedirectResponse(f"/dashboard/{communities[0]}/queue", status_code=303)
    return _page(request, "home.html", communities=communities)


@router.get("/{community}/queue", response_class=HTMLResponse)
def queue_page(request: Request, community: str, store: StoreDep, status: str = "active",
               kind: str = "", assignee: str = "", sort: str = "priority", page: int = 1):
    counts = refresh(store, community, datetime.now(UTC))
    statuses = ["open", "acknowledged"] if status == "active" else (
        [status] if status in STATUSES else list(STATUSES))
    size, page = 50, max(page, 1)
    sort = sort if sort in SORTS else "priority"
    items, total = store.queue_items(community, statuses, kind if kind in KINDS else None,
                                     assignee or None, limit=size, offset=(page - 1) * size,
                                     order=sort)
    filters = {"status": status, "kind": kind, "assignee": assignee, "sort": sort}
    return _page(request, "queue.html", community=community, items=items, total=total,
                 refreshed=counts, filters=filters, statuses=STATUSES, kinds=KINDS,
                 page=page, pages=max(1, -(-total // size)), factor_help=FACTORS,
                 query=lambda **over: urlencode(filters | over))


@router.get("/{community}/queue/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, community: str, item_id: int, pipeline: PipelineDep,
              error: str | None = None, status_code: int = 200):
    store = pipeline.store
    item = store.queue_item(item_id)
    if item is None or item["community"] != community:
        raise HTTPException(404, f"no queue item {item_id} in {community}")
    context = {"community": community, "item": item, "factor_help": FACTORS,
               "history": store.queue_actions(item_id=item_id), "error": error,
               "labels": actions.Labels.of(pipeline.classifier),
               "member_actions": actions.MEMBER_ACTIONS}
    if item["kind"] == "recurring":
        topic = store.topic(item["ref_id"])
        context["topic"] = topic and topic_view(store, topic, reference_day(store, community))
    else:
        message = store.get_message(item["ref_id"])
        context["message"] = message
        context["current"] = actions.effective_labels(message,
                                                      store.message_feedback(message["id"]))
    return _page(request, "item.html", status_code=status_code, **context)


@router.post("/{community}/queue/{item_id}/act")
def act(request: Request, community: str, item_id: int, pipeline: PipelineDep,
        actor: str = Form(""), action: str = Form(...), assignee: str = Form(""),
        note: str = Form(""), member_action: str = Form(""), field: str = Form(""),
        value: str = Form("")):
    actor = actor.strip()
    if not actor:
        return item_page(request, community, item_id, pipeline, status_code=422,
                         error="Enter your name (who acts) before acting.")
    label = [v for v in value.split(",") if v] if field == "flags" else (value or None)
    try:
        actions.act(pipeline.store, item_id, actor, action, _now(), assignee=assignee or None,
                    note=note or None, member_action=member_action or None,
                    field=field or None, value=label,
                    labels=actions.Labels.of(pipeline.classifier))
    except actions.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (actions.ActionRefused, Conflict) as exc:
        return item_page(request, community, item_id, pipeline, error=str(exc), status_code=409)
    except ValueError as exc:
        return item_page(request, community, item_id, pipeline, error=str(exc), status_code=422)
    return _back(f"/dashboard/{community}/queue/{item_id}", action, actor)


@router.post("/{community}/actions/{action_id}/undo")
def undo(request: Request, community: str, action_id: int, pipeline: PipelineDep,
         actor: str = Form(""), item_id: int = Form(...)):
    actor = actor.strip()
    if not actor:
        return item_page(request, community, item_id, pipeline, status_code=422,
                         error="Enter your name (who acts) before undoing.")
    try:
        actions.undo(pipeline.store, action_id, actor, _now())
    except actions.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except actions.ActionRefused as exc:
        return item_page(request, community, item_id, pipeline, error=str(exc), status_code=409)
    return _back(f"/dashboard/{community}/queue/{item_id}", "undo", actor)


@router.get("/{community}/topics", response_class=HTMLResponse)
def topics_page(request: Request, community: str, store: StoreDep):
    today = reference_day(store, community)
    topics = [topic_view(store, row, today) for row in store.topics(community)]
    return _page(request, "topics.html", community=community, topics=topics)


@router.get("/{community}/topics/{topic_id}", response_class=HTMLResponse)
def topic_page(request: Request, community: str, topic_id: int, store: StoreDep):
    row = store.topic(topic_id)
    if row is None or row["community"] != community:
        raise HTTPException(404, f"no topic {topic_id} in {community}")
    view = topic_view(store, row, reference_day(store, community), detail=True)
    chart = column_chart(sorted(view["per_day"].items()), "Messages per day")
    recent, _ = store.list_messages(MessageFilter(community=community, topic_id=topic_id), 10)
    return _page(request, "topic.html", community=community, topic=view, chart=chart,
                 recent=recent)


@router.get("/{community}/trends", response_class=HTMLResponse)
def trends_page(request: Request, community: str, store: StoreDep, days: int = 28,
                channel: str = "", bucket: str = "day"):
    days = min(max(days, 7), 366)
    until = datetime.now(UTC)
    t = trends(store, community, until - timedelta(days=days), until, channel or None,
               "week" if bucket == "week" else "day")
    charts = [column_chart([(r["start"], r["messages"]) for r in t["series"]], "Messages"),
              line_chart([(r["start"], r["sentiment_index"]) for r in t["series"]],
                         "Sentiment index (positive − negative share)"),
              column_chart([(r["start"], r["active_members"]) for r in t["series"]],
                           "Active members", color="#5aa36b")]
    return _page(request, "trends.html", community=community, t=t, charts=charts, days=days,
                 channel=channel, channels=store.channels(community), bucket=bucket)


@router.get("/{community}/report", response_class=HTMLResponse)
def report_page(request: Request, community: str, store: StoreDep, week: str = ""):
    error = None
    try:
        monday = parse_week(week) if week else None
    except ValueError as exc:
        monday, error = None, str(exc)
    report = weekly_report(store, community, monday)
    return _page(request, "report.html", status_code=422 if error else 200, error=error,
                 community=community, report=report, body=report_body(report))


def _now() -> str:
    return format_ts(datetime.now(UTC))


def _back(url: str, action: str, actor: str) -> RedirectResponse:
    response = RedirectResponse(f"{url}?{urlencode({'done': action})}", status_code=303)
    response.set_cookie("pulse_actor", actor, max_age=30 * 86400, samesite="strict",
                        httponly=True)
    return response
