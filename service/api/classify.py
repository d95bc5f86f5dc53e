"""POST /v1/classify: stateless, for bots. Nothing is stored."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.api.deps import AnyRole, PipelineDep, SettingsDep, check_scope
from service.api.errors import BODY_ERRORS, InputError, check_limits
from service.api.limits import gated
from service.api.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ClassifyResult,
    CustomLabel,
    Flag,
    Label,
)
from service.schemas import check_text

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post("/classify", response_model=ClassifyResponse, responses=BODY_ERRORS,
             dependencies=[Depends(gated("classify"))])
def classify(payload: ClassifyRequest, pipeline: PipelineDep, settings: SettingsDep,
             principal: AnyRole):
    """Sentiment, intent, moderation flags and language of one text or a batch; with
    ``community``, also that community's custom intent (from the same embedding)."""
    if payload.community is not None:
        check_scope(principal, payload.community)
    texts = payload.items()
    locs = ([["body", "text"]] if payload.text is not None
            else [["body", "texts", i] for i in range(len(texts))])
    check_limits(texts, locs, ["body", "texts"], settings)
    errors, clean = [], []
    for text, loc in zip(texts, locs, strict=True):
        try:
            clean.append(check_text(text, None))
        except ValueError as exc:
            errors.append({"loc": loc, "msg": str(exc)})
    if errors:
        raise InputError(errors)
    heads = pipeline.classifier.heads
    predictions, custom = (pipeline.classify_for(clean, payload.community)
                           if payload.community is not None else (pipeline.classify(clean), None))
    results = [
        ClassifyResult(
            lang=p.lang,
            sentiment=Label(label=p.sentiment, probs=p.sentiment_probs),
            intent=Label(label=p.intent, probs=p.intent_probs),
            flags={name: Flag(score=score, flagged=name in p.flags,
                              threshold=heads[name].threshold)
                   for name, score in p.flag_scores.items()},
            custom_intent=(CustomLabel(label=custom[i].label, probs=custom[i].probs,
                                       version=custom[i].version) if custom else None),
        )
        for i, p in enumerate(predictions)
    ]
    return ClassifyResponse(results=results, models=pipeline.classifier.versions)
