"""Named dependencies: what a route needs, taken from the app's state (loaded once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.auth.keys import Principal
from service.pipeline import Pipeline
from service.settings import Settings
from service.store import Store


def get_pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


def get_store(request: Request) -> Store:
    return request.app.state.pipeline.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def allow(*roles: str):
    """A dependency that lets in admin and the given roles (403 for the others)."""

    def check(request: Request) -> Principal:
        principal = getattr(request.state, "principal", None)
        if principal is None:  # the auth middleware runs first; this is a second lock
            raise HTTPException(401, "a valid API key is required")
        if principal.role != "admin" and principal.role not in roles:
            allowed = " or ".join((*roles, "admin"))
            raise HTTPException(403, f"a {principal.role} key may not do this (needs {allowed})")
        return principal

    check.roles = (*roles, "admin")
    return check


AnyRole = Annotated[Principal, Depends(allow("bot", "ingest", "moderator", "operator"))]
Ingester = Annotated[Principal, Depends(allow("ingest"))]
Reader = Annotated[Principal, Depends(allow("moderator", "operator"))]
Moderator = Annotated[Principal, Depends(allow("moderator"))]
Operator = Annotated[Principal, Depends(allow("operator"))]
Admin = Annotated[Principal, Depends(allow())]


def check_scope(principal: Principal, community: str, loc: list | None = None) -> None:
    """403 when the key is not for this community (the same answer whether or not the
    community exists, so nothing leaks)."""
    if not principal.sees(community):
        raise HTTPException(403, f"this key is not for community {community!r}")


def visible_or_404(principal: Principal, row: dict | None, what: str):
    """An object of another community is answered exactly like a missing one."""
    if row is None or not principal.sees(row["community"]):
        raise HTTPException(404, f"no {what}")
    return row
