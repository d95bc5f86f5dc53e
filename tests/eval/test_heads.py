import numpy as np

from eval.heads import gap_cell, primary_predictions

LABELS = ("negative", "neutral", "positive")
PROBS = np.array([[0.2, 0.5, 0.3], [0.45, 0.5, 0.05], [0.1, 0.1, 0.8]])


def test_primary_predictions_follow_the_set():
    assert primary_predictions(PROBS, LABELS, ["neutral", "negative", "positive"], None, 0.0) \
        == ("macro_f1", ["neutral", "neutral", "positive"])
    # a binary polarity set: forced choice between the polar classes
    assert primary_predictions(PROBS, LABELS, ["positive", "negative", "positive"], None, 0.0) \
        == ("accuracy", ["positive", "negative", "positive"])
    flag = np.array([[0.7, 0.3], [0.2, 0.8]])
    assert primary_predictions(flag, ("ham", "spam"), ["ham", "spam"], "spam", 0.25) \
        == ("flag_f1", ["spam", "spam"])


def test_gap_cell_says_better_or_worse_only_outside_zero():
    assert gap_cell({"diff": 0.01, "low": -0.004, "high": 0.027}) == "+0.010 [-0.004, +0.027]"
    assert gap_cell({"diff": 0.05, "low": 0.02, "high": 0.08}).endswith(" better")
    assert gap_cell({"diff": -0.05, "low": -0.08, "high": -0.02}).endswith(" worse")
