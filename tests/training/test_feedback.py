from service.queue import actions
from tests.fakes import labelled
from training.data import normalise
from training.feedback import SOURCE, examples

LABELS = actions.Labels(sentiment=("negative", "neutral", "positive"),
                        intent=("question", "bug_report", "abuse", "chitchat"))
T = "2026-11-20T12:00:00.000000Z"


def test_active_relabels_become_train_examples_and_held_out_texts_stay_out(store, tmp_path):
    store.insert_messages([
        labelled("m1", T, text="dent your car", intent="abuse", flags=("abuse",)),
        labelled("m2", T, text="you are all idiots", intent="chitchat"),
        labelled("m3", T, text="a held-out test sentence", intent="abuse", flags=("abuse",)),
        labelled("m4", T, text="undone relabel", intent="abuse", community="beta")])
    ids = store.known_ids("acme", ["m1", "m2", "m3"]) | store.known_ids("beta", ["m4"])
    actions.relabel(store, ids["m1"], "ann", "flags", [], T, LABELS)
    actions.relabel(store, ids["m1"], "ann", "intent", "question", T, LABELS)
    actions.relabel(store, ids["m1"], "bob", "intent", "chitchat", T, LABELS)  # latest wins
    actions.relabel(store, ids["m2"], "ann", "flags", ["abuse"], T, LABELS)
    actions.relabel(store, ids["m3"], "ann", "flags", [], T, LABELS)
    undone = actions.relabel(store, ids["m4"], "ann", "intent", "question", T, LABELS)
    actions.undo(store, undone["id"], "ann", T)
    held_out = {normalise("a held-out test sentence")}
    abuse, counts = examples(tmp_path / "pulse.db", "abuse", held_out)
    assert sorted((e.text, e.label) for e in abuse) == [("dent your car", "clean"),
                                                         ("you are all idiots", "abuse")]
    assert counts == {"relabels": 3, "used": 2, "excluded_held_out": 1, "unknown_label": 0}
    assert {e.split for e in abuse} == {"train"} and {e.source for e in abuse} == {SOURCE}
    intent, _ = examples(tmp_path / "pulse.db", "intent", held_out)
    assert [(e.text, e.label) for e in intent] == [("dent your car", "chitchat")]
    spam, _ = examples(tmp_path / "pulse.db", "spam", held_out)
    assert {e.label for e in spam} == {"clean"}
    none, counts = examples(tmp_path / "pulse.db", "sentiment", held_out)
    assert none == [] and counts["relabels"] == 0
    _, counts = examples(tmp_path / "pulse.db", "intent", held_out, labels=("question",))
    assert counts["unknown_label"] == 1  # a label the head does not have is not used


def test_train_and_write_folds_feedback_only_when_asked(store, tmp_path, monkeypatch):
    from training.common import with_feedback
    from training.data import Example

    store.insert_messages([labelled("m1", T, text="dent your car", flags=("abuse",))])
    actions.relabel(store, store.known_ids("acme", ["m1"])["m1"], "ann", "flags", [], T, LABELS)
    train = [Example("x", "clean", "en", "seeds", "train")]
    monkeypatch.delenv("PULSE_FEEDBACK_DB", raising=False)
    assert with_feedback("abuse", train, {}, ("clean", "abuse")) == (train, None)
    monkeypatch.setenv("PULSE_FEEDBACK_DB", str(tmp_path / "pulse.db"))
    more, counts = with_feedback("abuse", train, {"t": [Example("other", "clean", "en", "s",
                                                                 "test")]}, ("clean", "abuse"))
    assert [e.text for e in more] == ["x", "dent your car"] and counts["used"] == 1
