"""kit.embed.world: the statistics that say how an embedded world looks to an SAE."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.embed.world import label_variance_share, mean_cosine, spread, variance_share, world_stats
from kit.errors import DataError


def test_spread_is_the_rms_distance_to_the_mean():
    assert spread(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(1.0)
    # four corners of a square of side 2: each lies sqrt(2) from the centre
    assert spread(np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])) == pytest.approx(np.sqrt(2))
    # rows at distances 1 and 3 from their mean (0): sqrt((1 + 9) / 2)
    assert spread(np.array([[1.0], [-3.0], [3.0], [-1.0]])) == pytest.approx(np.sqrt(5))


def test_edit_to_spread_literally():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # spread 1
    X_orig = np.zeros((3, 2))
    X_edit = np.array([[0.5, 0.0], [0.0, 0.5], [0.3, 0.4]])  # every edit moves 0.5
    Y = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=bool)
    s = world_stats(X, X_orig + 5, X_edit + 5, Y, split=np.array(["train", "train", "test", "test"]))
    assert s["spread"] == pytest.approx(1.0)
    assert s["edit_distance"] == pytest.approx(0.5)
    assert s["edit_to_spread"] == pytest.approx(0.5)
    assert s["top10_variance_share"] == pytest.approx(1.0)  # d = 2 ≤ 10
    assert s["n_images"] == 4 and s["n_pairs"] == 3 and s["dim"] == 2
    assert world_stats(X, X_orig, X_orig, Y)["edit_to_spread"] == 0.0


def test_mean_cosine_literally():
    same = np.array([[1.0, 2.0], [2.0, 4.0], [0.5, 1.0]])
    assert mean_cosine(same, 500, seed=0) == pytest.approx(1.0)
    opposite = np.array([[1.0, 0.0], [-3.0, 0.0]])
    assert mean_cosine(opposite, 500, seed=0) == pytest.approx(-1.0)
    orth = np.eye(5)
    assert mean_cosine(orth, 500, seed=0) == pytest.approx(0.0)  # distinct rows only: never a row with itself
    X = np.random.default_rng(0).normal(size=(50, 8))
    assert mean_cosine(X, 300, seed=1) == mean_cosine(X, 300, seed=1)
    assert mean_cosine(X, 300, seed=1) != mean_cosine(X, 300, seed=2)
    with pytest.raises(DataError, match="2 rows"):
        mean_cosine(X[:1])


def test_variance_share_literally():
    # variances 16, 4, 1 along three uncorrelated axes, exactly: every sign pattern of (±4, ±2, ±1) once
    signs = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], dtype=float)
    X = signs * np.array([4.0, 2.0, 1.0])
    X = np.hstack([X, np.zeros((len(X), 20))])
    assert variance_share(X, k=1) == pytest.approx(16 / 21)
    assert variance_share(X, k=2) == pytest.approx(20 / 21)
    assert variance_share(np.ones((5, 3)), k=1) == 1.0  # no variance at all


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.1, 20.0), st.floats(-50.0, 50.0))
def test_the_statistics_ignore_units_and_rotations(seed, scale, shift):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 12)) * rng.uniform(0.2, 3.0, size=12)
    X_orig = rng.normal(size=(15, 12))
    X_edit = X_orig + rng.normal(scale=0.3, size=(15, 12))
    Q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    ratio = spread(X)
    a = np.linalg.norm(X_edit - X_orig, axis=1).mean() / ratio
    # scale and shift (edit_to_spread), rotation (edit_to_spread, variance share, cosines)
    b = np.linalg.norm(scale * (X_edit - X_orig), axis=1).mean() / spread(scale * X + shift)
    assert b == pytest.approx(a, rel=1e-9)
    assert variance_share(X @ Q, 3) == pytest.approx(variance_share(X, 3), rel=1e-9)
    assert variance_share(scale * X + shift, 3) == pytest.approx(variance_share(X, 3), rel=1e-9)
    assert mean_cosine(X @ Q, 200, seed) == pytest.approx(mean_cosine(X, 200, seed), abs=1e-9)
    assert mean_cosine(scale * X, 200, seed) == pytest.approx(mean_cosine(X, 200, seed), abs=1e-9)
    assert 0 < variance_share(X, 3) <= 1 and -1 <= mean_cosine(X, 200, seed) <= 1


def test_label_variance_share():
    rng = np.random.default_rng(0)
    Y = rng.random((400, 6)) < 0.4
    W = rng.normal(size=(6, 10))
    X = Y @ W + 3.0
    assert label_variance_share(X[:300], Y[:300], X[300:], Y[300:], ridge=0.0) == pytest.approx(1.0)
    noise = rng.normal(size=(400, 10))
    assert label_variance_share(noise[:300], Y[:300], noise[300:], Y[300:]) < 0.05
    half = X + rng.normal(size=X.shape) * np.sqrt((Y @ W).var(0))  # as much noise as signal, per dimension
    assert label_variance_share(half[:300], Y[:300], half[300:], Y[300:]) == pytest.approx(0.5, abs=0.1)


def test_probes_read_separable_concepts_and_skip_one_sided_ones():
    rng = np.random.default_rng(1)
    Y = np.zeros((200, 3), dtype=bool)
    Y[:, 0] = rng.random(200) < 0.5
    Y[:, 1] = ~Y[:, 0]
    X = rng.normal(size=(200, 4))
    X[:, 0] += 6 * Y[:, 0]
    split = np.where(np.arange(200) < 150, "train", "test")
    s = world_stats(X, X[:5], X[5:10], Y, split=split)
    assert s["n_probes"] == 2  # concept 2 never occurs
    assert s["probe_auroc_mean"] == pytest.approx(1.0) and s["probe_auroc_min"] == pytest.approx(1.0)
    # without a split, a seeded fifth of the rows is held out
    assert world_stats(X, X[:5], X[5:10], Y, seed=3) == world_stats(X, X[:5], X[5:10], Y, seed=3)


def test_bad_shapes_are_named():
    X, Y = np.zeros((10, 4)), np.zeros((10, 2), dtype=bool)
    with pytest.raises(DataError, match="Y has 9 rows"):
        world_stats(X, X[:2], X[:2], Y[:9])
    with pytest.raises(DataError, match="X_orig"):
        world_stats(X, X[:2], X[:3], Y)
    with pytest.raises(DataError, match="split"):
        world_stats(X, X[:2], X[:2], Y, split=np.array(["train"] * 3))
