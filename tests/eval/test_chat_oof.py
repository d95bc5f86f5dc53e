from eval.chat_oof import report_md


def test_report_names_every_language_and_the_interval():
    gap = {"diff": 0.036, "low": 0.012, "high": 0.061}
    chat = {lang: {"n": 10, "mix": 0.3,
                   "macro_f1": {"head (stored mix)": 0.8, "embedding layer": 0.7,
                                "character layer": 0.75, "TF-IDF baseline": 0.76},
                   "head_minus_tfidf": gap} for lang in ("zh", "en", "mixed")}
    md = report_md({"machine": {"cpu": "x", "cores": 2, "python": "3", "when": "now"},
                    "stored": {"version": "5", "C": 2.0, "char_C": 32.0}, "chat": chat})
    for lang in ("zh", "en", "mixed"):
        row = f"| seeds-{lang} | 10 | 0.300 | 0.800 | 0.700 | 0.750 | 0.760 |"
        assert row + " +0.036 [+0.012, +0.061] |" in md
    assert "character layer C=32.0" in md
