"""Alert subscriptions (create, list, disable, test) and the delivery log.

Admin keys only (a key scoped to communities sees only theirs). The secret is in the
answer to the creation only; urls are shown redacted (Slack and Discord webhook urls carry
their token). Disabling keeps the row and its history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from service.alerts.subscriptions import (
    DEFAULT_MIN_PRIORITY,
    DEFAULT_SENTIMENT_BELOW,
    EVENTS,
    MIN_SECRET_CHARS,
    SubscriptionError,
    public,
    subscribe,
)
from service.alerts.worker import queue_ping
from service.api.deps import Admin, SettingsDep, StoreDep, check_scope, visible_or_404
from service.api.errors import BODY_ERRORS, InputError, responses
from service.api.schemas import MAX_INT, Id
from service.store import format_ts

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

EventType = Literal["queue_item", "topic_spiking", "sentiment_drop", "weekly_report"]
Target = Literal["webhook", "slack", "discord"]
DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    community: str = Field(min_length=1, max_length=200)
    events: list[EventType] = Field(min_length=1, description="; ".join(
        f"`{k}`: {v}" for k, v in EVENTS.items()))
    target: Target = Field("webhook", description="`webhook`: generic JSON; `slack`/`discord`: "
                           "their incoming-webhook payloads.")
    url: str = Field(min_length=8, max_length=2000, description="http(s) address to POST to.")
    name: str = Field("", max_length=200, description="Your label, e.g. '#mods channel'.")
    min_priority: float | None = Field(None, ge=0, le=100, description="queue_item: alert "
                                       f"items at or above this priority (default "
                                       f"{DEFAULT_MIN_PRIORITY:g}).")
    sentiment_below: float | None = Field(None, ge=-1, le=1, description="sentiment_drop: "
                                          "alert when the 7-day index falls below this "
                                          f"(default {DEFAULT_SENTIMENT_BELOW:g}).")
    secret: str | None = Field(None, min_length=MIN_SECRET_CHARS, max_length=200,
                               description="HMAC key for X-Pulse-Signature (default: generated).")


class SubscriptionOut(BaseModel):
    id: int
    community: str
    name: str
    events: list[str]
    target: str
    url: str = Field(description="Redacted to scheme and host (the path may be a credential).")
    min_priority: float | None
    sentiment_below: float | None
    active: bool
    created_at: str
    disabled_at: str | None


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="Shown only in this answer: keep it to verify signatures.")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class AttemptOut(BaseModel):
    attempt: int | None = None
    at: str
    status_code: int | None = None
    error: str | None = None
    ms: float | None = None


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    community: str
    event: str
    event_id: str
    target: str
    status: DeliveryStatus = Field(description="`pending` (queued or waiting to retry), "
                                   "`delivered`, `failed` (gave up), `cancelled` (the "
                                   "subscription was disabled).")
    attempts: int
    status_code: int | None = Field(description="Of the last attempt.")
    error: str | None = Field(description="Of the last attempt.")
    next_attempt_at: str | None
    created_at: str
    delivered_at: str | None
    updated_at: str
    log: list[AttemptOut] = Field(description="The attempts (the last 20).")
    payload: dict = Field(description="The body sent (the same on every attempt).")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_before: int | None = Field(description="Pass as `before` for the next page.")


@router.post("/subscriptions", response_model=SubscriptionCreated, status_code=201,
             responses=BODY_ERRORS)
def create_subscription(body: SubscriptionIn, store: StoreDep, request: Request,
                        principal: Admin):
    """Subscribe a target to a community's events. The answer holds the secret: it is not
    shown again."""
    check_scope(principal, body.community)
    try:
        sub, secret = subscribe(store, body.community, body.events, body.url, body.target,
                                body.name, body.secret, body.min_priority, body.sentiment_below)
    except SubscriptionError as exc:
        raise InputError([{"loc": ["body"], "msg": str(exc)}]) from None
    _wake(request, evaluate=True)
    return SubscriptionCreated(**public(sub), secret=secret)


@router.get("/subscriptions", response_model=SubscriptionList)
def list_subscriptions(store: StoreDep, principal: Admin, community: str | None = None,
                       include_inactive: bool = False):
    if community is not None:
        check_scope(principal, community)
    rows = store.subscriptions(community, active_only=not include_inactive)
    return SubscriptionList(items=[SubscriptionOut(**public(s)) for s in rows
                                   if principal.sees(s["community"])])


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut,
            responses=responses(404))
def get_subscription(subscription_id: Id, store: StoreDep, principal: Admin):
    return SubscriptionOut(**public(_found(store, subscription_id, principal)))


@router.delete("/subscriptions/{subscription_id}", response_model=SubscriptionOut,
               responses=responses(404))
def disable_subscription(subscription_id: Id, store: StoreDep, principal: Admin):
    """Disable: the subscription gets nothing more and its pending deliveries are
    cancelled. Nothing is deleted; disabling twice changes nothing."""
    _found(store, subscription_id, principal)
    sub = store.disable_subscription(subscription_id, format_ts(datetime.now(UTC)))
    return SubscriptionOut(**public(sub))


@router.post("/subscriptions/{subscription_id}/test", response_model=DeliveryOut,
             status_code=202, responses=responses(404, 409))
def test_subscription(subscription_id: Id, store: StoreDep, settings: SettingsDep,
                      request: Request, principal: Admin):
    """Queue a test alert to the subscription's target; follow it in the delivery log."""
    sub = _found(store, subscription_id, principal)
    if not sub["active"]:
        raise HTTPException(409, f"subscription {subscription_id} is disabled")
    queued = DeliveryOut(**store.delivery(queue_ping(store, sub, settings.public_url)))
    _wake(request)  # after reading the row: the answer is the queued state, not a race
    return queued


@router.get("/deliveries", response_model=DeliveryPage)
def list_deliveries(store: StoreDep, community: str, principal: Admin,
                    status: DeliveryStatus | None = None,
                    subscription_id: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
                    event: str | None = None,
                    before: Annotated[int | None, Query(ge=1, le=MAX_INT, description="Deliveries with a "
                                                        "smaller id (paging).")] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50):
    """The delivery log of a community, newest first: attempts, last status code and
    error, when the next attempt is due, when it was delivered."""
    check_scope(principal, community)
    rows = store.deliveries(community, status, subscription_id, event, before, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(items=[DeliveryOut(**r) for r in rows],
                        next_before=rows[-1]["id"] if more else None)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut, responses=responses(404))
def get_delivery(delivery_id: Id, store: StoreDep, principal: Admin):
    return DeliveryOut(**visible_or_404(principal, store.delivery(delivery_id),
                                        f"delivery with id {delivery_id}"))


def _found(store, subscription_id: int, principal) -> dict:
    return visible_or_404(principal, store.subscription(subscription_id),
                          f"subscription with id {subscription_id}")


def _wake(request: Request, evaluate: bool = False) -> None:
    worker = getattr(request.app.state, "alerts", None)
    if worker is not None:
        worker.wake(evaluate=evaluate)
