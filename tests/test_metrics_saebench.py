"""The metrics labelled "as in SAEBench" against slow literal versions of SAEBench's definitions.

Each literal follows SAEBench's code path in plain Python (loops, scalars, ``sorted``): TPP's and SCR's latent
effects and ``select_top_n_features``; sparse probing's balanced probe sets, mean-difference ranking (and
sae-probes' normalised one) and sklearn fit; absorption's k-sparse split rule, L1 probe and absorption
calculator. Where SAEBench leaves an order unspecified (``torch.topk`` ties), the kit's rule is the lowest index.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kit.metrics as M
from kit.errors import ConfigError
from kit.metrics._common import balanced_accuracy, balanced_sets, balanced_weights, split_indices, top_effects
from kit.metrics.absorption import AbsorptionConfig, n_main, sample_absorption
from kit.metrics.erasure import ablation_order, attribution
from kit.metrics.probes import fit_l1_probes, fit_probes
from kit.metrics.sparse_probing import rank_latents

# ---------------------------------------------------------------- literal SAEBench


def literal_effects(Z, y, w, W_dec, clamp: bool, absolute: bool) -> list[float]:
    """SAEBench's ``get_effects_per_class_precomputed_acts``: (mean on positives − mean on negatives), clamped at
    0 for TPP, × (probe weight · decoder atom); absolute for SCR."""
    n, D = Z.shape
    pos = [r for r in range(n) if y[r]]
    neg = [r for r in range(n) if not y[r]]
    out = []
    for j in range(D):
        diff = sum(float(Z[r, j]) for r in pos) / len(pos) - sum(float(Z[r, j]) for r in neg) / len(neg)
        if clamp:
            diff = max(diff, 0.0)
        e = diff * sum(float(w[t]) * float(W_dec[j, t]) for t in range(len(w)))
        out.append(abs(e) if absolute else e)
    return out


def literal_select(effects: list[float], n: int) -> list[int]:
    """SAEBench's ``select_top_n_features``: the top min(n, #non-zero) effects (ties: lowest index)."""
    k = min(n, sum(1 for e in effects if e != 0))
    return sorted(range(len(effects)), key=lambda j: (-effects[j], j))[:k]


@st.composite
def exact_effect_problem(draw):
    """Eight samples, four of each class, small integers: every mean and product is exact, so ties are real."""
    D = draw(st.integers(1, 9))
    d = draw(st.integers(1, 3))
    Z = draw(arrays(np.float32, (8, D), elements=st.integers(0, 3).map(float)))
    perm = draw(st.permutations(range(8)))
    y = np.zeros(8, dtype=bool)
    y[list(perm[:4])] = True
    w = draw(arrays(np.float32, (d,), elements=st.integers(-2, 2).map(float)))
    W_dec = draw(arrays(np.float32, (D, d), elements=st.integers(-2, 2).map(float)))
    return Z, y, w, W_dec, draw(st.integers(1, 12))


@settings(max_examples=200, deadline=None)
@given(exact_effect_problem())
def test_tpp_and_scr_choose_the_latents_saebench_chooses(problem):
    Z, y, w, W_dec, n = problem
    tpp_eff = attribution(Z, y[:, None], w[None], W_dec, positive_only=True)
    assert ablation_order(tpp_eff, n)[0].tolist() == literal_select(literal_effects(Z, y, w, W_dec, True, False), n)
    scr_eff = np.abs(attribution(Z, y[:, None], w[None], W_dec))[0]
    assert top_effects(scr_eff, n).tolist() == literal_select(literal_effects(Z, y, w, W_dec, False, True), n)


def test_tpp_keeps_only_latents_more_active_on_the_positive_class():
    Z = np.array([[1, 0, 3], [1, 0, 3], [0, 2, 0], [0, 2, 0]], dtype=np.float32)  # latent 1 fires on negatives
    y = np.array([True, True, False, False])
    W_dec = np.array([[1.0], [-1.0], [0.0]], dtype=np.float32)  # latent 2 does not touch the probe
    w = np.array([1.0], dtype=np.float32)
    signed = attribution(Z, y[:, None], w[None], W_dec)[0]
    assert signed[1] > 0  # (−2) × (−1): the signed ranking would ablate it
    assert ablation_order(attribution(Z, y[:, None], w[None], W_dec, positive_only=True), 5)[0].tolist() == [0]


def literal_tpp(X, Y, W_dec, Z, groups, cfg):
    """TPP with SAEBench's selection and the ablation written out: x' = x − Σ_{l∈L} z_l W_dec[l]."""
    train, test = split_indices(X.shape[0], cfg.test_fraction, cfg.seed)
    probes = fit_probes(X[train], Y[train], balanced_weights(Y[train]), cfg.inverse_reg, device="cpu")
    C = Y.shape[1]
    out = np.full((len(cfg.n_values), C), np.nan)
    base = balanced_accuracy(probes.logits(X[test]) > 0, Y[test])
    for g in groups:
        for i in g:
            eff = literal_effects(Z[train], Y[train, i], probes.coef[i], W_dec, True, False)
            for v, nv in enumerate(cfg.n_values):
                L = literal_select(eff, nv)
                Xa = X[test].astype(np.float64) - Z[test][:, L].astype(np.float64) @ W_dec[L].astype(np.float64)
                acc = balanced_accuracy(Xa @ probes.coef.T.astype(np.float64) + probes.intercept > 0, Y[test])
                drop = base - acc
                out[v, i] = drop[i] - np.mean([drop[j] for j in g if j != i])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tpp_equals_the_literal_ablation(seed):
    rng = np.random.default_rng(seed)
    n, d, D = 160, 5, 12
    X = rng.standard_normal((n, d)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0.2, X[:, 1] + 0.3 * X[:, 2] > 0, X[:, 3] < 0.4], axis=1)
    W_dec = rng.standard_normal((D, d)).astype(np.float32)
    Z = np.maximum(X @ W_dec.T + 0.3 * rng.standard_normal((n, D)), 0).astype(np.float32)

    class Dec:  # the metric needs only W_dec when the codes are given
        pass

    sae = Dec()
    import torch

    sae.W_dec = torch.from_numpy(W_dec)
    cfg = M.ErasureConfig(n_values=(1, 2, 5, 20), headline_n=2, device="cpu")
    groups = [[0, 1, 2]]
    got = M.tpp(X, Y, sae, groups, Z=Z, config=cfg).tpp
    np.testing.assert_allclose(got, literal_tpp(X, Y, W_dec, Z, groups, cfg), atol=1e-9)


# ---------------------------------------------------------------- sparse probing


def literal_balanced(y, seed) -> list[int]:
    """SAEBench's ``prepare_probe_data`` on one concept: all positives, as many random negatives (the kit's
    draw: positives drawn down when negatives are fewer)."""
    pos = [r for r in range(len(y)) if y[r]]
    neg = [r for r in range(len(y)) if not y[r]]
    m = min(len(pos), len(neg))
    if m == 0:
        return []
    rng = np.random.default_rng(seed)
    chosen_pos = pos if len(pos) == m else list(rng.choice(pos, m, replace=False))
    return sorted(int(r) for r in chosen_pos + list(rng.choice(neg, m, replace=False)))


def literal_scores(Z, y, rows, normalized: bool) -> list[float]:
    """SAEBench's |mean(pos) − mean(neg)| over the set; sae-probes' ``get_sorted_indices_new`` divides each
    latent by its mean over the set's samples where it fires (+1e-6) first."""
    out = []
    for j in range(Z.shape[1]):
        col = [float(Z[r, j]) for r in rows]
        scale = 1.0
        if normalized:
            fires = sum(1 for v in col if v != 0)
            scale = sum(col) / (fires + 1e-6) + 1e-6
        p = [float(Z[r, j]) / scale for r in rows if y[r]]
        q = [float(Z[r, j]) / scale for r in rows if not y[r]]
        out.append(abs(sum(p) / len(p) - sum(q) / len(q)))
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(8, 60), st.integers(1, 4), st.integers(2, 9), st.integers(0, 10**6), st.booleans())
def test_balanced_sets_and_ranking_follow_saebench(n, C, D, seed, normalized):
    rng = np.random.default_rng(seed)
    Y = rng.random((n, C)) < rng.uniform(0.05, 0.95, C)
    Z = np.where(rng.random((n, D)) < 0.5, rng.integers(1, 5, (n, D)) * rng.uniform(0.5, 3, D), 0).astype(np.float32)
    W = balanced_sets(Y, [7, 0])
    for c in range(C):
        rows = literal_balanced(Y[:, c], [7, 0, c])
        assert np.flatnonzero(W[:, c]).tolist() == rows
    score = rank_latents(Z, Y, W, "normalized" if normalized else "mean_difference")
    for c in range(C):
        rows = literal_balanced(Y[:, c], [7, 0, c])
        if not rows:
            assert np.isnan(score[c]).all()
            continue
        np.testing.assert_allclose(score[c], literal_scores(Z, Y[:, c], rows, normalized), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("ranking", ["mean_difference", "normalized"])
def test_sparse_probing_equals_saebench_with_sklearn(ranking):
    """The whole procedure, literally: balanced sets, top-k by the ranking, sklearn's LogisticRegression(C=1)
    on the raw latents, plain accuracy on the balanced test set."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    n, D, C = 500, 30, 4
    Y = rng.random((n, C)) < [0.1, 0.3, 0.5, 0.7]
    scale = rng.uniform(0.2, 5, D)
    Z = (np.maximum(rng.standard_normal((n, D)) + 1.5 * (Y @ rng.standard_normal((C, D))), 0) * scale).astype(np.float32)
    cfg = M.SparseProbingConfig(ks=(1, 2, 5), ranking=ranking, device="cpu")
    got = M.sparse_probing(Z, Y, cfg)
    train, test = split_indices(n, cfg.test_fraction, cfg.seed)
    for c in range(C):
        rows = [train[r] for r in literal_balanced(Y[train, c], [cfg.seed, 0, c])]
        held = [test[r] for r in literal_balanced(Y[test, c], [cfg.seed, 1, c])]
        s = literal_scores(Z[train], Y[train, c], [r for r in range(len(train)) if train[r] in set(rows)],
                           ranking == "normalized")
        order = sorted(range(D), key=lambda j: (-s[j], j))
        for i, k in enumerate(cfg.ks):
            assert sorted(s[j] for j in got.latents[c, :k]) == pytest.approx(sorted(s[j] for j in order[:k]))
            sk = LogisticRegression(C=1.0, max_iter=1000).fit(Z[rows][:, got.latents[c, :k]], Y[rows, c])
            acc = np.mean(sk.predict(Z[held][:, got.latents[c, :k]]) == Y[held, c])
            assert got.accuracy[c, i] == pytest.approx(acc, abs=0.011), (c, k)


def test_sparse_probing_options_and_former_variant():
    rng = np.random.default_rng(0)
    Z = np.maximum(rng.standard_normal((300, 20)), 0).astype(np.float32)
    Y = np.stack([Z[:, 0] > 0.5, Z[:, 1] + Z[:, 2] > 1], axis=1)
    former = M.sparse_probing(Z, Y, M.SparseProbingConfig(negatives="weighted", standardize=True, device="cpu"))
    assert np.isfinite(former.accuracy).all()
    with pytest.raises(ConfigError, match="negatives"):
        M.SparseProbingConfig(negatives="all")
    with pytest.raises(ConfigError, match="ranking"):
        M.SparseProbingConfig(ranking="l1")


def test_normalized_ranking_does_not_favour_large_scale():
    """Two latents carry the concept equally; one is 100× larger. The raw difference ranks the large one first
    whatever its quality; the normalised ranking prefers the cleaner small one."""
    rng = np.random.default_rng(1)
    n = 400
    y = rng.random(n) < 0.5
    clean = np.where(y, 1.0, 0.0) * rng.uniform(0.9, 1.1, n)
    noisy = np.where(y ^ (rng.random(n) < 0.2), 100.0, 0.0) * rng.uniform(0.9, 1.1, n)
    Z = np.stack([noisy, clean], axis=1).astype(np.float32)
    W = balanced_sets(y[:, None], [0])
    assert np.argmax(rank_latents(Z, y[:, None], W)[0]) == 0
    assert np.argmax(rank_latents(Z, y[:, None], W, "normalized")[0]) == 1


# ---------------------------------------------------------------- probes


def test_raw_probes_match_sklearn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = (rng.standard_normal((300, 4)) * [1, 3, 0.3, 8]).astype(np.float32)
    Y = np.stack([X[:, 0] + rng.standard_normal(300) > 0.3, X[:, 3] / 8 - X[:, 2] > 0], axis=1)
    ours = fit_probes(X, Y, np.ones(Y.shape, np.float32), inverse_reg=1.0, max_iter=1000, device="cpu",
                      standardize=False)
    for c in range(2):
        sk = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8).fit(X, Y[:, c])
        np.testing.assert_allclose(ours.coef[c], sk.coef_[0], rtol=2e-3, atol=2e-3)
        assert ours.intercept[c] == pytest.approx(sk.intercept_[0], abs=2e-3)


def test_l1_probe_matches_sklearn_saga():
    """SAEBench's L1 probe objective, (1/N) Σ pos-weighted log-loss + l1·‖w‖₁, is sklearn's L1 logistic
    regression with C = 1/(N·l1) and sample weights negatives/positives on the positives."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n, d = 300, 12
    F = np.maximum(rng.standard_normal((n, d)), 0).astype(np.float32)
    Y = np.stack([F[:, 0] + 0.5 * F[:, 3] + 0.3 * rng.standard_normal(n) > 0.8, F[:, 5] > 0.5], axis=1)
    ours = fit_l1_probes(F, Y, 0.01, max_iter=20000, tolerance=1e-8, device="cpu")
    for c in range(2):
        y = Y[:, c]
        pw = (n - y.sum()) / y.sum()
        sk = LogisticRegression(l1_ratio=1.0, solver="saga", C=1 / (n * 0.01), tol=1e-10, max_iter=100000)
        sk.fit(F, y, sample_weight=np.where(y, pw, 1.0))
        np.testing.assert_allclose(ours.coef[c], sk.coef_[0], atol=5e-3)
        assert (ours.coef[c] == 0).sum() >= 3  # the L1 penalty zeroes latents


# ---------------------------------------------------------------- absorption


def literal_n_main(f1s: list[float], threshold: float) -> int:
    """SAEBench's ``add_feature_splits_to_metrics_df``."""
    prev, split = -100.0, 0
    for k, f in enumerate(f1s, start=1):
        if f > prev + threshold:
            prev, split = f, k
        else:
            break
    return split


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 10)),
              elements=st.sampled_from([0.0, 0.25, 0.5, 0.52, 0.53, 0.56, 0.6, 0.9, 1.0])))
def test_main_latent_count_follows_saebench(f1k):
    assert n_main(f1k, 0.03).tolist() == [literal_n_main(list(row), 0.03) for row in f1k]


def literal_sample(z, x_proj, cos, main, cfg):
    """SAEBench's ``FeatureAbsorptionCalculator.calculate_absorption`` for one sample (scalars)."""
    D = len(z)
    proj = [float(z[j]) * float(cos[j]) for j in range(D)]
    main = [int(j) for j in main]
    main_proj = sum(proj[j] for j in main)
    cands = sorted((proj[j] for j in range(D) if j not in main and cos[j] >= cfg.fraction_cos_threshold
                    and proj[j] > 0), reverse=True)
    total = sum(cands[:cfg.max_absorbing_latents])
    if x_proj <= 0:  # SAEBench divides by x·u: negative gives 0 below, zero is the kit's 0
        frac = 0.0
    elif main_proj >= x_proj or total / x_proj < cfg.projection_threshold:
        frac = 0.0
    elif main_proj <= 0:
        frac = 1.0
    else:
        a = min(total, x_proj - main_proj)
        frac = min(max(a / (a + main_proj), 0.0), 1.0)
    top = max(range(D), key=lambda j: (proj[j], -j))  # topk's first; ties: the lowest index
    full = (all(float(z[j]) < 1e-8 for j in main) and cos[top] >= cfg.probe_cos_threshold and x_proj > 0
            and proj[top] / x_proj >= cfg.projection_threshold)
    return full, frac


dyadic = st.integers(-8, 8).map(lambda v: v / 8)


@st.composite
def absorption_sample(draw):
    D = draw(st.integers(2, 8))
    S = draw(st.integers(1, 5))
    z = draw(arrays(np.float64, (S, D), elements=st.integers(0, 8).map(lambda v: v / 4)))
    cos = draw(arrays(np.float64, (D,), elements=st.sampled_from([-0.5, 0.0, 0.025, 0.0625, 0.1, 0.125, 0.5, 1.0])))
    x_proj = draw(arrays(np.float64, (S,), elements=dyadic))
    main = np.array(draw(st.lists(st.integers(0, D - 1), min_size=1, max_size=3, unique=True)))
    return z, x_proj, cos, main, draw(st.integers(1, 4))


@settings(max_examples=300, deadline=None)
@given(absorption_sample())
def test_absorption_per_sample_follows_saebench(sample):
    z, x_proj, cos, main, cap = sample
    cfg = AbsorptionConfig(max_absorbing_latents=cap)
    full, frac = sample_absorption(z, x_proj, cos, main, cfg)
    for s in range(z.shape[0]):
        f, a = literal_sample(z[s], x_proj[s], cos, main, cfg)
        assert bool(full[s]) == f
        assert frac[s] == pytest.approx(a, abs=1e-12)


def test_absorption_gate_cap_and_thresholds():
    """x·u = 1; main latent 0 projects 0.2; latents 1–4 (cosines 0.5) project 0.3, 0.2, 0.1, 0.05: the three
    largest absorb 0.6 ≥ 0.4 (the gate), capped at the unaccounted 0.8 → 0.6 / 0.8; a fourth is not counted;
    a latent with cosine 0.05 (under the fraction threshold 0.1) never absorbs."""
    cfg = AbsorptionConfig()
    cos = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.05])
    z = np.array([[0.4, 0.6, 0.4, 0.2, 0.1, 20.0]])
    full, frac = sample_absorption(z, np.array([1.0]), cos, np.array([0]), cfg)
    assert frac[0] == pytest.approx(0.6 / 0.8)
    assert not full[0]  # the main latent fires
    z_off = z.copy()
    z_off[0, 0] = 0.0
    full, frac = sample_absorption(z_off, np.array([1.0]), cos, np.array([0]), cfg)
    assert frac[0] == 1.0  # M ≤ 0 and the gate passes
    assert full[0]  # top projection: latent 5 (20 × 0.05 = 1 ≥ 0.4), cosine 0.05 ≥ 0.025
    weak = sample_absorption(z_off * [1, 0.5, 0.5, 0.5, 0.5, 0], np.array([1.0]), cos, np.array([0]), cfg)[1]
    assert weak[0] == 0.0  # absorbers 0.3 < 0.4: the gate


def test_absorption_options():
    with pytest.raises(ConfigError, match="main_latents"):
        AbsorptionConfig(main_latents="probe")
    with pytest.raises(ConfigError, match="max_absorbing_latents"):
        AbsorptionConfig(max_absorbing_latents=0)
    assert math.isclose(AbsorptionConfig().fraction_cos_threshold, 0.1)
