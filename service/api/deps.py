"""Named dependencies: what a route needs, taken from the app's state (loaded once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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
