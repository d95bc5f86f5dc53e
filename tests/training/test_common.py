import numpy as np

from service.nlp.heads import Head
from training.common import (
    balanced_weights,
    choose_threshold,
    choose_threshold_within,
    choose_uncertain,
    ece,
    false_alarms,
    fit_temperature,
)


def test_fit_temperature_recovers_overconfidence():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 2
    p = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    t = fit_temperature(true_logits * 3, y)  # a model three times too sharp
    assert 2.5 < t < 3.5


def test_ece_small_when_calibrated_large_when_not():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, size=5000)
    correct = rng.uniform(size=5000) < conf
    probs = np.stack([conf, 1 - conf], axis=1)
    y = np.where(correct, 0, 1)
    assert ece(probs, y) < 0.03
    assert ece(np.stack([np.full(5000, 0.99), np.full(5000, 0.01)], axis=1), y) > 0.15


def test_choose_uncertain_halves_the_error_when_possible():
    probs = np.array([[0.95, 0.05]] * 60 + [[0.55, 0.45]] * 40)
    y = np.array([0] * 60 + [0] * 20 + [1] * 20)  # confident ones right, unsure ones 50/50
    t = choose_uncertain(probs, y)
    assert 0.55 < t <= 0.95
    assert choose_uncertain(probs[:60], y[:60]) == 0.3  # already perfect: lowest cut


def test_threshold_and_weights():
    scores = np.array([0.1, 0.2, 0.8, 0.9])
    assert 0.2 < choose_threshold(scores, np.array([False, False, True, True])) <= 0.8
    w = balanced_weights(["a", "a", "a", "b"])
    assert np.isclose(w[:3].sum(), w[3]) and np.isclose(w.sum(), 4)


def test_threshold_within_a_false_alarm_budget_on_harmless_messages():
    scores = np.array([0.4, 0.9, 0.1, 0.2])
    positive = np.array([True, True, False, False])
    chat = np.linspace(0.0, 0.8, 1000)  # harmless messages scoring up to 0.8
    t = choose_threshold_within(scores, positive, chat, max_false_alarms=0.01)
    assert (chat >= t).mean() <= 0.01 and t <= 0.9  # the budget binds, F1 picks within it
    loose = choose_threshold_within(scores, positive, chat, max_false_alarms=1.0)
    assert loose == choose_threshold(scores, positive)  # no budget: plain F1
    assert choose_threshold_within(scores, positive, np.ones(10), 0.0) == 0.99  # none fits


def test_false_alarms_count_flags_and_alarm_intents():
    vectors = np.eye(3, dtype=np.float32)
    flag = Head("abuse", "1", ("clean", "abuse"), "x", np.array([[0, 0, 0], [-5, 5, -5]], np.float32),
                np.zeros(2, np.float32), threshold=0.5)
    assert false_alarms(flag, vectors, ["a", "b", "c"]) == {"n": 3, "flagged": 0.3333}
    intent = Head("intent", "1", ("chitchat", "abuse"), "x",
                  np.array([[5, 0, 0], [0, 5, 0.1]], np.float32), np.zeros(2, np.float32),
                  uncertain_below=0.6)
    out = false_alarms(intent, vectors, ["a", "b", "c"], alarm_labels=("abuse",))
    assert out == {"n": 3, "abuse": 0.3333}  # the third is a near tie: "uncertain"


def _lexicon_case(informative: bool):
    """Two labels whose own (out-of-fold) logits know nothing; the texts' VADER scores
    separate them when ``informative``."""
    from training.data import Example

    good = ["I love it, wonderful", "great job, thanks!", "this is awesome", "happy with it"]
    bad = ["I hate it, awful", "terrible, worst ever", "this is horrible", "so sad and angry"]
    rows = []
    for i in range(40):
        label = "positive" if i % 2 else "negative"
        if informative:
            text = (good if label == "positive" else bad)[i % 4] + f" #{i}"
        else:
            text = (good + bad)[i % 8] + f" #{i}"
        rows.append(Example(text, label, "en", "seeds-en", "train"))
    return rows, [e.label for e in rows]


def test_lexicon_layer_kept_only_when_it_helps_out_of_fold():
    from training.common import add_lexicon_layer

    head = Head("sentiment", "1", ("negative", "positive"), "x",
                np.zeros((2, 4), np.float32), np.zeros(2, np.float32))
    rows, y = _lexicon_case(informative=True)
    oof = np.zeros((len(rows), 2))
    kept = add_lexicon_layer(head, rows, y, np.ones(len(rows)), oof)
    assert kept.lexicon is not None
    probs = kept.predict_proba(np.zeros((2, 4), np.float32), ["wonderful, love it", "awful"])
    assert probs[0, 1] > 0.5 > probs[1, 1]
    rows, y = _lexicon_case(informative=False)
    assert add_lexicon_layer(head, rows, y, np.ones(len(rows)), oof).lexicon is None


def test_language_mixes_pick_each_languages_own_weight():
    from training.common import language_mixes
    from training.data import Example

    # Chinese rows: only the text layer knows the label; English rows: only the embedding.
    rows, emb, text = [], [], []
    for i in range(120):
        label = ("negative", "positive")[i % 2]
        right = 5.0 if label == "positive" else -5.0
        zh = i < 60
        rows.append(Example(f"退款{i}" if zh else f"refund {i}", label, "zh" if zh else "en",
                            "seeds-zh" if zh else "seeds-en", "train"))
        good = [-right, right]
        # the other layer is strong and wrong on half the rows: only a small weight on it works
        noise = [1.5 * v * (1 if i % 4 < 2 else -1) for v in good]
        emb.append(noise if zh else good)
        text.append(good if zh else noise)
    y = np.array([e.label for e in rows])
    mixes = language_mixes(rows, y, np.array(emb), np.array(text), ("negative", "positive"), 0.5)
    assert mixes["zh"] < 0.5 < mixes["en"]
    assert "mixed" not in mixes  # no rows in that language
    small = language_mixes(rows, y, np.array(emb), np.array(text), ("negative", "positive"),
                           0.5, min_rows=100)
    assert small == {}  # 60 rows per language are below min_rows: nothing chosen
