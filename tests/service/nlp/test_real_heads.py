"""The shipped heads on the default embedder: real predictions on unseen chat messages."""

import pytest

from service.models_setup import load_classifier
from service.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(Settings())


def test_versions_name_the_embedder_and_heads(classifier):
    v = classifier.versions
    assert v["embedder"].startswith("use-m3@")
    assert set(v) == {"embedder", "sentiment", "intent", "abuse", "spam"}


@pytest.mark.parametrize("text,intent", [
    ("Since the latest update the app closes itself whenever I open my profile page", "bug_report"),
    ("更新之后一打开个人主页就闪退，安卓14", "bug_report"),
    ("could you guys add an option to export my notes as PDF?", "feature_request"),
    ("希望可以增加批量导出功能", "feature_request"),
    ("where can I find the invoice for last month?", "question"),
    ("请问上个月的发票在哪里下载？", "question"),
    ("you are a brainless idiot, nobody here wants you", "abuse"),
    ("你这种废物赶紧滚出这个群", "abuse"),
])
def test_intent_on_unseen_messages(classifier, text, intent):
    (p,) = classifier.classify([text])
    assert p.intent == intent, p.intent_probs


def test_flags_and_sentiment(classifier):
    preds = classifier.classify([
        "you are a brainless idiot, nobody here wants you",
        "URGENT! You have won a $1000 gift card, claim now at http://prize.example.com",
        "兼职日结300，加微信 abc123 了解详情，名额有限",
        "Thanks so much, the fix works perfectly now!",
        "谢谢大佬，问题解决了，太感谢了",
        "What time does the meetup start tomorrow?",
    ])
    assert "abuse" in preds[0].flags and "spam" not in preds[0].flags
    assert "spam" in preds[1].flags and "spam" in preds[2].flags
    assert [p.sentiment for p in preds[3:]] == ["positive", "positive", "neutral"]
    assert not preds[3].flags and not preds[5].flags


def test_loading_leaves_nothing_to_load_on_the_first_request(classifier):
    import sys

    from service.nlp.charngrams import _hasher
    from service.nlp.lexicon import _analyzer

    # the text layer's hasher and its imports are ready before any request arrives
    assert "sklearn.feature_extraction.text" in sys.modules and _hasher.cache_info().currsize == 1
    # ... and so is the sentiment head's lexicon (VADER reads its lexicon file once)
    assert classifier.heads["sentiment"].lexicon is not None
    assert _analyzer.cache_info().currsize == 1
