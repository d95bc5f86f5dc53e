import numpy as np

from training.common import balanced_weights, choose_threshold, choose_uncertain, ece, fit_temperature


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
