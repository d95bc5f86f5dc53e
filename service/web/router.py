"""Dashboard pages: queue (filter, sort, act, explanation), topics, trends, weekly report.

Plain HTML forms post to these routes, which call the same functions as the JSON API and
redirect back (POST → 303 → GET), so a page reload never repeats an action. People sign
in with their API key: a session cookie (HttpOnly, SameSite=Strict) and a CSRF token in
every form; the key's name is recorded as the actor, its role and communities apply.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from service.api.deps import PipelineDep, StoreDep, allow
from service.auth.keys import Principal, end_session, start_session
from service.auth.middleware import SESSION_COOKIE
from service.queue import actions
from service.queue.priority import FACTORS
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


Moderator = Annotated[Principal, Depends(allow("moderator"))]
Operator = Annotated[Principal, Depends(allow("operator"))]
Reader = Annotated[Principal, Depends(allow("moderator", "operator"))]


def _page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    context |= {"user": principal, "csrf": getattr(request.state, "csrf", None) or "",
                "flash": request.query_params.get("done"), "error": context.get("error"),
                "can": (lambda *roles: principal is not None
                        and (principal.role == "admin" or principal.role in roles))}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _scope(principal: Principal, community: str) -> None:
    if not principal.sees(community):
        raise HTTPException(404, f"no community {community!r} for this key")


def _check_csrf(request: Request, token: str) -> None:
    """Forms posted with the session cookie must carry the session's token."""
    expected = getattr(request.state, "csrf", None)
    if expected is not None and not secrets.compare_digest(token, expected):
        raise HTTPException(403, "the form's CSRF token does not match this session; reload "
                            "the page and try again")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/dashboard"):
    return _page(request, "login.html", next=_safe_next(next))


@router.post("/login")
def login(request: Request, store: StoreDep, key: str = Form(""), next: str = Form("/dashboard")):
    started = start_session(store, key.strip())
    if started is None:
        return _page(request, "login.html", status_code=401, next=_safe_next(next),
                     error="That key is not valid (or was revoked).")
    session_id, _, _ = started
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=12 * 3600, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, store: StoreDep, principal: Annotated[Principal, Depends(
        allow("bot", "ingest", "moderator", "operator"))], csrf: str = Form("")):
    _check_csrf(request, csrf)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        end_session(store, session_id)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("", response_class=HTMLResponse)
def home(request: Request, store: StoreDep, principal: Reader):
    communities = [c for c in store.communities() if principal.sees(c)]
    if len(communities) == 1:
        return RedirectResponse(f"/dashboard/{communities[0]}/queue", status_code=303)
    return _page(request, "home.html", communities=communities)


@router.get("/{community}/queue", response_class=HTMLResponse)
def queue_page(request: Request, community: str, store: StoreDep, principal: Moderator,
               status: str = "active", kind: str = "", assignee: str = "",
               sort: str = "priority", page: int = 1, refresh: str = ""):
    _scope(principal, community)
    counts = request.app.state.refresher(store, community, datetime.now(UTC),
                                         force=refresh == "1")
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
              principal: Moderator, error: str | None = None, status_code: int = 200):
    _scope(principal, community)
    store = pipeline.store
    item = _item(store, community, item_id)
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
        principal: Moderator, action: str = Form(...), assignee: str = Form(""),
        note: str = Form(""), member_action: str = Form(""), field: str = Form(""),
        value: str = Form(""), csrf: str = Form("")):
    _check_csrf(request, csrf)
    _scope(principal, community)
    _item(pipeline.store, community, item_id)
    label = [v for v in value.split(",") if v] if field == "flags" else (value or None)
    try:
        actions.act(pipeline.store, item_id, principal.name, action, _now(),
                    assignee=assignee or None,
                    note=note or None, member_action=member_action or None,
                    field=field or None, value=label,
                    labels=actions.Labels.of(pipeline.classifier))
    except actions.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (actions.ActionRefused, Conflict) as exc:
        return item_page(request, community, item_id, pipeline, principal, error=str(exc),
                         status_code=409)
    except ValueError as exc:
        return item_page(request, community, item_id, pipeline, principal, error=str(exc),
                         status_code=422)
    return _back(f"/dashboard/{community}/queue/{item_id}", action)


@router.post("/{community}/actions/{action_id}/undo")
def undo(request: Request, community: str, action_id: int, pipeline: PipelineDep,
         principal: Moderator, item_id: int = Form(...), csrf: str = Form("")):
    _check_csrf(request, csrf)
    target = pipeline.store.queue_action(action_id)
    if target is None or target["community"] != community or target["item_id"] != item_id:
        raise HTTPException(404, f"no action {action_id} on item {item_id}")
    _scope(principal, community)
    try:
        actions.undo(pipeline.store, action_id, principal.name, _now())
    except actions.ActionRefused as exc:
        return item_page(request, community, item_id, pipeline, principal, error=str(exc),
                         status_code=409)
    return _back(f"/dashboard/{community}/queue/{item_id}", "undo")


@router.get("/{community}/topics", response_class=HTMLResponse)
def topics_page(request: Request, community: str, store: StoreDep, principal: Reader):
    _scope(principal, community)
    today = reference_day(store, community)
    topics = [topic_view(store, row, today) for row in store.topics(community)]
    return _page(request, "topics.html", community=community, topics=topics)


@router.get("/{community}/topics/{topic_id}", response_class=HTMLResponse)
def topic_page(request: Request, community: str, topic_id: int, store: StoreDep,
               principal: Reader):
    _scope(principal, community)
    row = store.topic(topic_id)
    if row is None or row["community"] != community:
        raise HTTPException(404, f"no topic {topic_id} in {community}")
    view = topic_view(store, row, reference_day(store, community), detail=True)
    chart = column_chart(sorted(view["per_day"].items()), "Messages per day")
    recent, _ = store.list_messages(MessageFilter(community=community, topic_id=topic_id), 10)
    return _page(request, "topic.html", community=community, topic=view, chart=chart,
                 recent=recent)


@router.get("/{community}/trends", response_class=HTMLResponse)
def trends_page(request: Request, community: str, store: StoreDep, principal: Operator,
                days: int = 28, channel: str = "", bucket: str = "day"):
    _scope(principal, community)
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
def report_page(request: Request, community: str, store: StoreDep, principal: Operator,
                week: str = ""):
    _scope(principal, community)
    error = None
    try:
        monday = parse_week(week) if week else None
    except ValueError as exc:
        monday, error = None, str(exc)
    report = weekly_report(store, community, monday)
    return _page(request, "report.html", status_code=422 if error else 200, error=error,
                 community=community, report=report, body=report_body(report))


def _item(store, community: str, item_id: int) -> dict:
    item = store.queue_item(item_id)
    if item is None or item["community"] != community:
        raise HTTPException(404, f"no queue item {item_id} in {community}")
    return item


def _now() -> str:
    return format_ts(datetime.now(UTC))


def _back(url: str, action: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?{urlencode({'done': action})}", status_code=303)


def _safe_next(target: str) -> str:
    """Only paths of this dashboard (no open redirect to another site)."""
    return target if target.startswith("/dashboard") and "//" not in target else "/dashboard"
