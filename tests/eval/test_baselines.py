"""The label rules of the baselines and the report's coverage curve, on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest

from eval import baselines
from eval.common import coverage_curve
from eval.heads import confusion_md, curve_md, system_scores


@pytest.mark.parametrize("compound, label", [(0.05, "positive"), (0.049, "neutral"), (0.0, "neutral"),
                                             (-0.049, "neutral"), (-0.05, "negative"), (-0.9, "negative")])
def test_vader_band_is_the_documented_one(compound, label):
    assert baselines.vader_label(compound) == label


def test_vader_polarity_is_the_sign_and_zero_is_a_miss():
    assert [baselines.vader_polarity(c) for c in (0.3, -0.01, 0.0)] == ["positive", "negative", "neutral"]


def test_band_label_around_a_centre():
    assert [baselines.band_label(p, 0.5, 0.1) for p in (0.95, 0.55, 0.45, 0.39, 0.5)] == [
        "positive", "neutral", "neutral", "negative", "neutral"]
    assert baselines.band_label(0.5, 0.5, 0.0) == "positive"  # no band: ties go positive


def test_choose_band_finds_the_band_that_separates_neutral():
    scores = [0.9, 0.8, 0.55, 0.45, 0.52, 0.1, 0.2]
    y = ["positive", "positive", "neutral", "neutral", "neutral", "negative", "negative"]
    band = baselines.choose_band(scores, y, centre=0.5, bands=(0.0, 0.1, 0.4))
    assert band == 0.1


def test_mlp_probs_matches_a_hand_computed_forward_pass():
    head = {"type": "mlp", "T": 2.0, "layers": [
        {"W": [[1.0, 0.0], [0.0, -1.0]], "b": [0.0, 0.0]},   # ReLU kills the negative unit
        {"W": [[-1.0, 0.0], [0.0, 0.0], [1.0, 1.0]], "b": [0.0, 0.0, 0.0]}]}
    x = np.array([[2.0, 3.0]])  # hidden: relu([2, -3]) = [2, 0]; logits [-2, 0, 2] / 2
    expected = np.exp([-1.0, 0.0, 1.0]) / np.exp([-1.0, 0.0, 1.0]).sum()
    np.testing.assert_allclose(baselines.mlp_probs(x, head)[0], expected)
    logistic = {"type": "logistic", "coef": [[1, 0], [0, 0], [0, 1]], "intercept": [0, 0, 0]}
    assert baselines.mlp_probs(np.array([[0.0, 5.0]]), logistic).argmax() == 2


def test_polarity_from_probs_ignores_neutral_mass():
    probs = np.array([[0.2, 0.7, 0.1], [0.1, 0.5, 0.4]])
    assert baselines.polarity_from_probs(probs) == ["negative", "positive"]


def test_coverage_curve_counts_answered_and_their_accuracy():
    top = np.array([0.3, 0.6, 0.7, 0.9])
    correct = np.array([False, False, True, True])
    curve = coverage_curve(top, correct, thresholds=(0.0, 0.5, 0.95), stored=0.65)
    assert curve["thresholds"] == [0.0, 0.5, 0.65, 0.95]
    assert curve["coverage"] == [1.0, 0.75, 0.5, 0.0]
    assert curve["accuracy"] == [0.5, round(2 / 3, 4), 1.0, None]
    assert "**0.65** (stored)" in curve_md({"set": curve})


def test_system_scores_use_polarity_only_on_binary_sets():
    y = ["negative", "positive"]
    got = system_scores(y, ["neutral", "positive"], ["negative", "positive"])
    assert (got["task"], got["accuracy"]) == ("polarity", 1.0)
    got = system_scores(y + ["neutral"], ["neutral", "positive", "neutral"], ["negative"] * 3)
    assert (got["task"], got["accuracy"]) == ("3-class", round(2 / 3, 4))


def test_confusion_md_shows_counts_recall_and_precision():
    m = {"confusion": {"labels": ["a", "b"], "matrix": [[3, 1], [0, 0]]},
         "per_class": {"a": {"precision": 1.0, "recall": 0.75}, "b": {"precision": 0.0, "recall": 0.0}}}
    md = confusion_md("set", m)
    assert "| **a** | 3 | 1 | 0.750 |" in md
    assert "**b**" not in md  # no true examples: no row
    assert "| precision | 1.000 | 0.000 |  |" in md
