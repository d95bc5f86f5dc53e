"""Custom intents: a community's own intent labels, trained from a few examples each.

PUT trains a new version (seconds) and makes it active; GET shows the active version, its
examples and metrics, and the history; activate rolls back (or forward) to any version.
Admin and operator keys may change them; moderators may read them. The training itself
is ``service/nlp/custom.py``; versions are stored by ``service/sql/custom.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import Operator, PipelineDep, Reader, SettingsDep, check_scope
from service.api.errors import BODY_ERRORS, InputError, responses
from service.api.schemas import MAX_INT
from service.nlp import custom
from service.store import utc_now

router = APIRouter(prefix="/v1/communities", tags=["custom intents"])


class IntentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: dict[str, list[str]] = Field(
        description=f"Label -> example messages: at least {custom.MIN_LABELS} labels, "
        f"{custom.MIN_EXAMPLES} distinct examples each (at most {custom.MAX_LABELS} labels and "
        f"{custom.MAX_EXAMPLES} examples in all). A text may stand under one label only.",
        examples=[{"billing": ["I was charged twice this month", "发票怎么开？", "..."],
                   "shipping": ["where is my parcel", "快递三天了还没到", "..."]}])


class ActivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=MAX_INT, description="The version to make active.")


class VersionOut(BaseModel):
    version: int
    active: bool
    labels: list[str]
    kind: str
    n_examples: int | None
    cv_accuracy: float | None
    cv_macro_f1: float | None
    created_at: str
    created_by: str
    usable: bool = Field(description="False when trained for another embedder than the "
                         "service's (retrain from its examples).")


class IntentsOut(BaseModel):
    community: str
    version: int = Field(description="The version shown (the active one unless ?version=).")
    active_version: int | None
    kind: str
    labels: list[str]
    embedder: str
    usable: bool
    config: dict = Field(description="temperature, uncertain_below (the cut under which the "
                         'answer is "uncertain"), mix.')
    metrics: dict = Field(description="Cross-validated on the examples (k-fold): cv_accuracy, "
                          "cv_macro_f1, cv_recall per label, confused pairs, weak_labels "
                          "(recall < 0.5: add examples), cv_coverage; n_examples, seconds.")
    examples: dict[str, list[str]]
    created_at: str
    created_by: str
    active: bool
    history: list[VersionOut] = Field(description="Every version, newest first.")


@router.put("/{community}/intents", response_model=IntentsOut, responses=BODY_ERRORS)
def train_intents(community: str, body: IntentsIn, pipeline: PipelineDep,
                  settings: SettingsDep, principal: Operator):
    """Train the community's custom intent head from the examples; the new version becomes
    active at once (ingest and classify use it from their next request). 422 lists every
    problem with the examples; nothing is stored then."""
    check_scope(principal, community)
    name = pipeline.classifier.embedder.name
    try:
        custom.retrain(pipeline.store, pipeline.embed, name, community, body.labels,
                       principal.name, utc_now(), max_chars=settings.max_text_chars)
    except custom.ExamplesError as exc:
        raise InputError([{"loc": ["body", *p["loc"]], "msg": p["msg"]}
                          for p in exc.problems]) from None
    pipeline.custom.invalidate(community)
    return IntentsOut(**custom.describe(pipeline.store, community, name))


@router.get("/{community}/intents", response_model=IntentsOut, responses=responses(404))
def show_intents(community: str, pipeline: PipelineDep, principal: Reader,
                 version: Annotated[int | None, Query(ge=1, le=MAX_INT, description="Another version "
                                                      "than the active one.")] = None):
    """The active version (or ``version``): labels, examples, metrics; and the history."""
    check_scope(principal, community)
    found = custom.describe(pipeline.store, community, pipeline.classifier.embedder.name,
                            version)
    if found is None:
        what = f"version {version}" if version else "custom intents"
        raise HTTPException(404, f"community {community!r} has no {what}")
    return IntentsOut(**found)


@router.post("/{community}/intents/activate", response_model=IntentsOut,
             responses=BODY_ERRORS | responses(404, 409))
def activate_intents(community: str, body: ActivateIn, pipeline: PipelineDep,
                     principal: Operator):
    """Make another version the active one (roll back); 404 for a version that does not
    exist, 409 for one trained for another embedder."""
    check_scope(principal, community)
    name = pipeline.classifier.embedder.name
    try:
        custom.activate(pipeline.store, community, body.version, name)
    except custom.VersionError as exc:
        raise HTTPException(404 if isinstance(exc, custom.UnknownVersion) else 409,
                            str(exc)) from None
    pipeline.custom.invalidate(community)
    return IntentsOut(**custom.describe(pipeline.store, community, name))
