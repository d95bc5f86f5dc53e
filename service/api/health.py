"""GET /healthz: the service is up, its models are loaded and its database answers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.api.deps import Operator, PipelineDep
from service.api.errors import responses
from service.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, principal: Operator):
    """Prometheus text format."""
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


@router.get("/healthz", response_model=Health, responses=responses(503))
def healthz(pipeline: PipelineDep):
    return Health(status="ok", models=pipeline.classifier.versions,
                  messages=pipeline.store.count_messages())
