"""POST /v1/classify: stateless, for bots. Nothing is stored."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.api.deps import AnyRole, PipelineDep, SettingsDep
from service.api.errors import InputError, check_limits
from service.api.limits import gated
from service.api.schemas import ClassifyRequest, ClassifyResponse, ClassifyResult, Flag, Label
from service.schemas import check_text

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post("/classify", response_model=ClassifyResponse,
             dependencies=[Depends(gated("classify"))])
def classify(payload: ClassifyRequest, pipeline: PipelineDep, settings: SettingsDep,
             principal: AnyRole):
    """Sentiment, intent, moderation flags and language of one text or a batch."""
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
    results = [
        ClassifyResult(
            lang=p.lang,
            sentiment=Label(label=p.sentiment, probs=p.sentiment_probs),
            intent=Label(label=p.intent, probs=p.intent_probs),
            flags={name: Flag(score=score, flagged=name in p.flags,
                              threshold=heads[name].threshold)
                   for name, score in p.flag_scores.items()},
        )
        for p in pipeline.classify(clean)
    ]
    return ClassifyResponse(results=results, models=pipeline.classifier.versions)
