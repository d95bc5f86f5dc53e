from service.queue.priority import DEFAULT_WEIGHTS, FACTORS, poisson_z, prioritise, transform


def test_priority_is_the_weighted_mean_of_scores_and_explains_each_factor():
    priority, factors = prioritise({"severity": 1.0, "confidence": 0.5}, DEFAULT_WEIGHTS)
    total = sum(DEFAULT_WEIGHTS.values())
    assert priority == round(100 * (3.0 * 1.0 + 1.0 * 0.5) / total, 2)
    assert [f["factor"] for f in factors][:2] == ["severity", "confidence"]
    assert {f["factor"] for f in factors} == set(FACTORS)
    assert sum(f["contribution"] for f in factors) == priority


def test_weights_move_items_in_the_obvious_direction():
    abusive = {"severity": 1.0, "confidence": 0.9}
    waiting = {"severity": 0.3, "unanswered": 72, "confidence": 0.9}
    base = DEFAULT_WEIGHTS
    assert prioritise(abusive, base)[0] > prioritise(waiting, base)[0]
    patient_mods = base | {"severity": 0.5, "unanswered": 6.0}
    assert prioritise(abusive, patient_mods)[0] < prioritise(waiting, patient_mods)[0]


def test_transforms_are_bounded_and_monotone():
    for name in FACTORS:
        values = [transform(name, raw) for raw in (-5, 0, 0.5, 3, 30, 1e6)]
        assert all(0.0 <= v <= 1.0 for v in values)
        assert values == sorted(values)
    assert transform("unanswered", 36) == 0.5
    assert transform("unanswered", 5, kind="recurring") == 0.5


def test_poisson_z():
    assert poisson_z(4, 4) == 0
    assert poisson_z(12, 4) == 4
    assert poisson_z(3, 0) == 2  # expected floored at 1
