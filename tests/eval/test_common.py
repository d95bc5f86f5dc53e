import numpy as np
import pytest
from sklearn.metrics import f1_score

from eval.common import class_f1s, paired_bootstrap


def test_class_f1s_match_sklearn():
    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    ours = class_f1s(y, pred, [0, 1, 2])[0]
    assert ours == pytest.approx(f1_score(y, pred, labels=[0, 1, 2], average=None))


def test_paired_bootstrap_point_estimate_and_interval():
    y = ["a", "b", "c"] * 100
    perfect = list(y)
    noisy = ["a" if i % 5 == 0 else lab for i, lab in enumerate(y)]  # 1 in 5 said "a"
    gap = paired_bootstrap(y, perfect, noisy, "macro_f1")
    expected = 1.0 - f1_score(y, noisy, average="macro")
    assert gap["diff"] == pytest.approx(expected, abs=1e-4)
    assert 0 < gap["low"] <= gap["diff"] <= gap["high"]
    assert gap["share_ours_better"] == 1.0
    same = paired_bootstrap(y, noisy, noisy, "accuracy")
    assert same["diff"] == same["low"] == same["high"] == 0.0


def test_paired_bootstrap_interval_spans_zero_when_systems_differ_by_chance():
    rng = np.random.default_rng(3)
    y = list(rng.choice(["neg", "pos"], 300))
    a = [lab if rng.random() < 0.8 else "neg" for lab in y]
    b = [lab if rng.random() < 0.8 else "neg" for lab in y]
    gap = paired_bootstrap(y, a, b, "accuracy")
    assert gap["low"] < 0 < gap["high"]


def test_paired_bootstrap_flag_f1_scores_only_the_flag_and_rejects_unknown_metrics():
    y = ["spam", "ham", "ham", "spam"] * 25
    ours = ["spam", "ham", "ham", "ham"] * 25  # recall 0.5, precision 1
    gap = paired_bootstrap(y, ours, y, "flag_f1", flag="spam")
    assert gap["diff"] == pytest.approx(2 / 3 - 1.0, abs=1e-4)
    with pytest.raises(ValueError, match="unknown metric"):
        paired_bootstrap(y, ours, y, "auc")
    with pytest.raises(ValueError, match="one entry per message"):
        paired_bootstrap(y, ours[:-1], y, "accuracy")
