from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from service.nlp import custom
from service.schemas import MessageIn
from tests.fakes import HashEmbedder

WORDS = {
    "billing": ["invoice", "charged twice", "refund my payment", "credit card bill",
                "subscription fee", "receipt for payment", "billing address", "price charged",
                "payment failed", "overcharged invoice"],
    "shipping": ["parcel tracking", "courier delivery", "package not arrived", "shipping label",
                 "delivery address", "tracking number", "lost parcel", "express courier",
                 "delivery delayed", "package shipped"],
    "account": ["reset password", "login account", "two factor code", "username change",
                "delete my account", "account locked", "password email", "sign in fails",
                "verify account", "account settings"],
}


def examples(n: int = 9, labels=("billing", "shipping", "account")) -> dict[str, list[str]]:
    return {label: [f"{WORDS[label][i % 10]} question {i}" for i in range(n)] for label in labels}


def message(i: int, text: str, community: str = "acme") -> MessageIn:
    return MessageIn(community=community, channel="c", author_id="a", external_id=str(i),
                     text=text, ts=datetime(2026, 11, 1, tzinfo=UTC))


def trained_version(store, community="acme", embedder=None, data=None, by="tester"):
    embedder = embedder or HashEmbedder()
    return custom.retrain(store, embedder.embed, embedder.name, community, data or examples(),
                          by, "2026-11-25T10:00:00.000000Z")


# -- input --------------------------------------------------------------------------------
def test_clean_examples_dedupes_strips_and_sorts_labels():
    data = {"b": [f"  text {i} " for i in range(8)] + ["text 0"], "a": [f"a {i}" for i in range(8)]}
    clean = custom.clean_examples(data)
    assert list(clean) == ["a", "b"] and len(clean["b"]) == 8 and clean["b"][0] == "text 0"


@pytest.mark.parametrize("data, needle", [
    ({"a": [f"a{i}" for i in range(8)]}, "at least 2 labels"),
    ({"a": [f"a{i}" for i in range(8)], "b": [f"b{i}" for i in range(7)] + ["b0"]},
     "label 'b' has 7 distinct example(s); at least 8"),
    ({"a": [f"x{i}" for i in range(8)], "b": [f"x{i}" for i in range(3, 11)]},
     "the text 'x3' is given under both 'a' and 'b'"),
    ({"uncertain": [f"a{i}" for i in range(8)], "b": [f"b{i}" for i in range(8)]}, "reserved"),
    ({" ": [f"a{i}" for i in range(8)], "b": [f"b{i}" for i in range(8)]}, "a label is empty"),
    ({"a": [f"a{i}" for i in range(7)] + ["  "], "b": [f"b{i}" for i in range(8)]},
     "example 7: text is empty"),
    ({"a": [f"a{i}" for i in range(8)], "A ": [f"b{i}" for i in range(8)]}, "given twice"),
    ({"a": "not a list", "b": [f"b{i}" for i in range(8)]}, "give a list of texts"),
])
def test_bad_examples_say_what_is_wrong(data, needle):
    with pytest.raises(custom.ExamplesError) as err:
        custom.clean_examples(data)
    assert needle in str(err.value), str(err.value)
    assert all(p["loc"][0] == "labels" for p in err.value.problems)


def test_every_problem_is_reported_at_once():
    data = {"a": ["x"] * 3, "b": ["y"], "uncertain": ["z"]}
    with pytest.raises(custom.ExamplesError) as err:
        custom.clean_examples(data)
    assert len(err.value.problems) == 3


def test_long_texts_are_refused_with_the_limit():
    data = examples()
    data["billing"][0] = "x" * 50
    with pytest.raises(custom.ExamplesError, match="the limit is 40"):
        custom.clean_examples(data, max_chars=40)


# -- training -----------------------------------------------------------------------------
def test_train_embeds_once_and_learns_the_labels():
    embedder = HashEmbedder()
    trained = custom.train(examples(10), embedder.embed, embedder.name)
    assert embedder.calls == [30]  # every example, one call
    head = custom.CustomHead("acme", 1, trained.head)
    found = head.predict(embedder.embed(["refund my payment please", "parcel tracking broken"]))
    assert [f.label for f in found] == ["billing", "shipping"]
    m = trained.metrics
    assert m["n_examples"] == 30 and m["per_label"] == {"account": 10, "billing": 10, "shipping": 10}
    assert m["cv_folds"] == 5 and 0.5 < m["cv_accuracy"] <= 1.0
    assert set(m["cv_recall"]) == {"account", "billing", "shipping"}
    assert trained.head.temperature > 0 and 0 <= trained.head.uncertain_below < 1
    assert m["fit_seconds"] < 5


def test_two_labels_work(tmp_path):
    embedder = HashEmbedder()
    trained = custom.train(examples(8, ("billing", "shipping")), embedder.embed, embedder.name)
    probs = trained.head.predict_proba(embedder.embed(["invoice charged twice again"]))
    assert probs.shape == (1, 2) and probs[0, 0] > 0.5


@pytest.mark.parametrize("kind", ["prototype", "logistic+chars"])
def test_other_head_kinds_train_and_round_trip(kind):
    embedder = HashEmbedder()
    trained = custom.train(examples(), embedder.embed, embedder.name, kind=kind)
    row = {"community": "acme", "version": 3, "labels": list(trained.head.labels),
           "embedder": embedder.name, "config": custom.config_of(trained.head, kind),
           "weights": custom.to_blob(trained.head)}
    back = custom.from_row(row)
    texts = ["lost parcel again", "password reset mail"]
    x = embedder.embed(texts)
    assert np.allclose(back.head.predict_proba(x, texts), trained.head.predict_proba(x, texts),
                       atol=1e-3)
    assert [f.version for f in back.predict(x, texts)] == [3, 3]


def test_uncertain_below_the_threshold():
    embedder = HashEmbedder()
    trained = custom.train(examples(), embedder.embed, embedder.name)
    strict = custom.CustomHead("acme", 1, trained.head.__class__(
        **{**trained.head.__dict__, "uncertain_below": 0.999}))
    (found,) = strict.predict(embedder.embed(["something else entirely"]))
    assert found.label == "uncertain" and found.prob == max(found.probs.values())


# -- versions -----------------------------------------------------------------------------
def test_versions_increment_and_activate_rolls_back(store):
    first = trained_version(store)
    data = examples()
    data["refund"] = [f"refund request number {i}" for i in range(8)]
    second = trained_version(store, data=data)
    assert (first["version"], second["version"]) == (1, 2)
    assert [v["active"] for v in store.custom_head_versions("acme")] == [True, False]
    assert store.custom_head("acme")["labels"] == ["account", "billing", "refund", "shipping"]
    custom.activate(store, "acme", 1, "hash-64")
    assert store.custom_head("acme")["version"] == 1
    assert store.custom_head("acme", 2)["examples"]["refund"][0] == "refund request number 0"
    with pytest.raises(custom.UnknownVersion):
        custom.activate(store, "acme", 7, "hash-64")
    with pytest.raises(custom.StaleVersion):
        custom.activate(store, "acme", 2, "use-m3@0.2.1")
    assert store.custom_head_versions("other") == [] and store.custom_head("other") is None


def test_bad_examples_store_nothing(store):
    with pytest.raises(custom.ExamplesError):
        trained_version(store, data={"a": ["only one"], "b": ["two"]})
    assert store.custom_head_versions("acme") == []


def test_the_cache_follows_retrain_and_roll_back(store):
    heads = custom.CustomHeads(store, "hash-64")
    assert heads.get("acme") is None
    trained_version(store)
    assert heads.get("acme").version == 1  # no invalidate needed: the active row changed
    trained_version(store)
    cached = heads.get("acme")
    assert cached.version == 2 and heads.get("acme") is cached
    custom.activate(store, "acme", 1, "hash-64")
    assert heads.get("acme").version == 1
    assert custom.CustomHeads(store, "another-embedder").get("acme") is None


def test_describe_shows_the_version_examples_and_history(store):
    trained_version(store)
    trained_version(store, by="mia")
    found = custom.describe(store, "acme", "hash-64")
    assert found["version"] == 2 and found["active_version"] == 2 and found["usable"]
    assert found["created_by"] == "mia" and "weights" not in found
    assert [h["version"] for h in found["history"]] == [2, 1]
    assert custom.describe(store, "acme", "hash-64", version=1)["active"] is False
    assert custom.describe(store, "acme", "hash-64", version=9) is None
    text = custom.summary_text(found)
    assert "version 2, active" in text and "billing" in text and "versions: 2*" in text


# -- ingest -------------------------------------------------------------------------------
def test_ingest_stores_the_custom_intent_for_that_community_only(pipeline, store):
    trained_version(store, embedder=pipeline.classifier.embedder)
    embedder = pipeline.classifier.embedder
    embedder.calls.clear()
    results = pipeline.ingest([message(1, "I was charged twice on my invoice"),
                               message(2, "where is my parcel tracking"),
                               message(3, "invoice charged twice", community="other")])
    assert embedder.calls == [3]  # one embedding for the heads and the custom head
    rows = [store.get_message(r.id) for r in results]
    assert [r["custom_intent"] for r in rows] == ["billing", "shipping", None]
    assert rows[0]["custom_intent_version"] == 1 and 0 < rows[0]["custom_intent_prob"] <= 1
    assert rows[2]["custom_intent_prob"] is None and rows[2]["custom_intent_version"] is None


def test_classify_for_a_community_embeds_once(pipeline, store):
    trained_version(store, embedder=pipeline.classifier.embedder)
    pipeline.classifier.embedder.calls.clear()
    predictions, found = pipeline.classify_for(["refund my payment", "lost parcel"], "acme")
    assert pipeline.classifier.embedder.calls == [2]
    assert len(predictions) == 2 and [f.label for f in found] == ["billing", "shipping"]
    assert pipeline.classify_for(["hello"], "other")[1] is None


# -- files and the CLI --------------------------------------------------------------------
def test_read_examples_from_jsonl_and_csv(tmp_path):
    jsonl = tmp_path / "ex.jsonl"
    jsonl.write_text("\n".join(json.dumps({"label": lab, "text": t}, ensure_ascii=False)
                               for lab, texts in examples().items() for t in texts) + "\n\n")
    assert custom.read_examples(jsonl) == examples()
    csv = tmp_path / "ex.csv"
    csv.write_text('label,text\nbilling,"charged, twice"\nshipping,包裹没到\n', encoding="utf-8")
    assert custom.read_examples(csv) == {"billing": ["charged, twice"], "shipping": ["包裹没到"]}
    bad = tmp_path / "bad.csv"
    bad.write_text("billing,charged,twice\n")
    with pytest.raises(custom.ExamplesError, match="line 1: give two columns"):
        custom.read_examples(bad)
    with pytest.raises(custom.ExamplesError, match="use a .jsonl or .csv"):
        custom.read_examples(tmp_path / "ex.txt")


def test_cli_train_show_activate(tmp_path, monkeypatch, capsys):
    from service.cli import main
    from service.nlp import embedder as embedder_module

    monkeypatch.setenv("PULSE_DB_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setattr(embedder_module, "load_embedder", lambda *a, **k: HashEmbedder())
    path = tmp_path / "ex.csv"
    path.write_text("label,text\n" + "\n".join(f"{lab},{t}" for lab, texts in examples().items()
                                               for t in texts) + "\n")
    assert main(["intents", "train", "--community", "acme", "--file", str(path)]) == 0
    assert main(["intents", "train", "--community", "acme", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "trained version 2 for acme" in out and "versions: 2*" in out
    assert main(["intents", "activate", "--community", "acme", "--version", "1"]) == 0
    assert "version 1 is active" in capsys.readouterr().out
    assert main(["intents", "show", "--community", "acme"]) == 0
    assert "versions: 2 (" in capsys.readouterr().out
    assert main(["intents", "activate", "--community", "acme", "--version", "5"]) == 2
    assert "no custom intents version 5" in capsys.readouterr().err
    path.write_text("label,text\nbilling,one\nshipping,two\n")
    assert main(["intents", "train", "--community", "acme", "--file", str(path)]) == 2
    assert "at least 8 are needed" in capsys.readouterr().err
    assert main(["intents", "show", "--community", "nobody"]) == 2
