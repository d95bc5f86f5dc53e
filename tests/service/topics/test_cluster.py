import numpy as np

from service.topics.cluster import ClusterParams, assign, cluster, fold_noise


def blobs(n_per=60, k=4, dim=32, noise=0.15, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    x = np.concatenate([c + noise * rng.normal(size=(n_per, dim)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.repeat(np.arange(k), n_per)


def test_finds_the_blobs_and_is_deterministic():
    from sklearn.metrics import adjusted_rand_score

    x, truth = blobs()
    first, second = cluster(x), cluster(x)
    assert np.array_equal(first.labels, second.labels)
    assert adjusted_rand_score(truth, first.labels) > 0.9
    assert (first.labels < 0).mean() < 0.1
    np.testing.assert_allclose(np.linalg.norm(first.centroids, axis=1), 1.0, rtol=1e-5)


def test_too_few_messages_gives_no_topics():
    x, _ = blobs(n_per=3, k=2)
    result = cluster(x, ClusterParams())
    assert len(result.centroids) == 0 and (result.labels == -1).all()


def test_fold_noise_needs_agreeing_neighbours():
    x = np.eye(4, dtype=np.float32)[[0, 0, 0, 1, 1, 1, 0, 2]]
    core = np.array([0, 0, 0, 1, 1, 1, -1, -1])
    folded = fold_noise(x, core, k=3, share=0.6, min_sim=0.5)
    assert folded[6] == 0 and folded[7] == -1  # a lone direction stays unassigned


def test_assign_uses_thresholds():
    centroids = np.eye(3, dtype=np.float32)
    x = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1]], dtype=np.float32)
    labels = assign(x, centroids, np.array([0.9, 0.9, 0.5], np.float32))
    assert labels.tolist() == [0, -1, 2]


def test_small_groups_left_unassigned_become_topics():
    from service.topics.cluster import small_topics

    x, truth = blobs(n_per=8, k=2, noise=0.05)
    rng = np.random.default_rng(1)
    scatter = rng.normal(size=(30, x.shape[1])).astype(np.float32)
    scatter /= np.linalg.norm(scatter, axis=1, keepdims=True)
    data = np.concatenate([x, scatter])
    labels = np.concatenate([np.full(16, -1), np.full(30, -1)])
    labels[:1] = 0  # one existing topic, so new ones are numbered after it
    out = small_topics(data, labels, min_size=5)
    assert out[0] == 0
    assert len(set(out[1:8])) == 1 and out[1] >= 1  # the first small group (minus the seed)
    assert len(set(out[8:16])) == 1 and out[8] not in (out[1], -1)
    assert (out[16:] == -1).mean() > 0.8  # scattered messages stay unassigned


def test_large_windows_fit_a_sample_and_vote_the_rest():
    from sklearn.metrics import adjusted_rand_score

    x, truth = blobs(n_per=150, k=4)
    result = cluster(x, ClusterParams(max_fit=200, max_ref=100))
    assert result.core.sum() <= 200  # only the sample went through HDBSCAN
    assert adjusted_rand_score(truth, result.labels) > 0.9
