"""kit.matching: fast methods against slow literal implementations of the paper's definitions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
import scipy.sparse as sp
from scipy.optimize import nnls

import kit.matching as km
from kit.errors import ConfigError, DataError
from kit.planted import make_world
from kit.types import Matching

# ---------------------------------------------------------------- slow literal implementations


def slow_f1(y, pred):
    den = int(y.sum()) + int(pred.sum())
    return Fraction(0) if den == 0 else Fraction(2 * int((y & pred).sum()), den)


def slow_fbeta(t, b, beta2):
    den = beta2 * int(t.sum()) + int(b.sum())
    return Fraction(0) if den == 0 else (1 + beta2) * int((t & b).sum()) / den


def slow_fbmp(Y, B, beta, max_size):
    beta2 = Fraction(beta) ** 2
    coalitions, curves = [], []
    for c in range(Y.shape[1]):
        y = Y[:, c]
        r, R, prev, chosen, curve = y.copy(), np.zeros_like(y), Fraction(0), [], []
        for _ in range(max_size):
            scores = [slow_fbeta(r, B[:, j], beta2) for j in range(B.shape[1])]
            j = scores.index(max(scores))  # first maximum = lowest index
            f = slow_f1(y, R | B[:, j])
            if f <= prev:
                break
            chosen.append(j)
            curve.append(float(f))
            r, R, prev = r & ~B[:, j], R | B[:, j], f
        curve += [curve[-1] if curve else 0.0] * (max_size - len(curve))
        coalitions.append(chosen)
        curves.append(curve)
    return coalitions, np.array(curves)


def slow_nnomp(Y, Z, max_size, tol=1e-10, tie_tol=1e-9):
    Z = Z.astype(np.float64)
    norms = np.linalg.norm(Z, axis=0)
    norms[norms == 0] = 1
    Zn = Z / norms
    coalitions, curves = [], []
    for c in range(Y.shape[1]):
        y = Y[:, c].astype(np.float64)
        res, chosen, curve = y.copy(), [], []
        for _ in range(max_size):
            corr = res @ Zn
            top = corr.max()
            j = int(np.flatnonzero(corr >= top - tie_tol * abs(top))[0])
            if top <= tol or j in chosen:
                break
            chosen.append(j)
            coef, _ = nnls(Z[:, chosen] / norms[chosen], y)
            fit = (Z[:, chosen] / norms[chosen]) @ coef
            res = y - fit
            curve.append(float(slow_f1(Y[:, c], fit > 0.5)))
        curve += [curve[-1] if curve else 0.0] * (max_size - len(curve))
        coalitions.append(chosen)
        curves.append(curve)
    return coalitions, np.array(curves)


@st.composite
def binary_problem(draw, max_n=24, max_c=4, max_d=7):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(1, max_c))
    d = draw(st.integers(1, max_d))
    Y = draw(arrays(bool, (n, c)))
    B = draw(arrays(bool, (n, d)))
    return Y, B


# ---------------------------------------------------------------- FBMP and one-to-one


@settings(max_examples=150, deadline=None)
@given(binary_problem(), st.sampled_from([1.0, 0.5, 0.25]), st.integers(1, 5))
def test_fbmp_equals_literal_definition(problem, beta, max_size):
    Y, B = problem
    coal, rec = slow_fbmp(Y, B, beta, max_size)
    for backend in ("sparse", "dense"):
        m = km.fbmp(Y, B, beta=beta, max_size=max_size, device="cpu", backend=backend)
        assert m.coalitions == coal
        np.testing.assert_array_equal(m.rec_f1, rec)


@settings(max_examples=60, deadline=None)
@given(binary_problem())
def test_one_to_one_is_best_single_latent(problem):
    Y, B = problem
    m = km.one_to_one(Y, B, device="cpu")
    assert m.rec_f1.shape == (Y.shape[1], 1)
    for c in range(Y.shape[1]):
        f1s = [slow_f1(Y[:, c], B[:, j]) for j in range(B.shape[1])]
        best = max(f1s)
        assert m.coalitions[c] == ([f1s.index(best)] if best > 0 else [])
        assert m.rec_f1[c, 0] == float(best)


def test_fbmp_chunked_dense_equals_sparse_and_torch_input():
    rng = np.random.default_rng(0)
    Y = rng.random((300, 12)) < 0.15
    B = rng.random((300, 50)) < 0.1
    ref = km.fbmp(Y, B, backend="sparse", device="cpu")
    for backend, chunk in (("dense", 4 * 300 * 7), ("sparse", 12 * 12 * 7)):  # blocks of 7 latents
        tiny = km.fbmp(torch.from_numpy(Y), torch.from_numpy(B), backend=backend, device="cpu", chunk_bytes=chunk)
        assert tiny.coalitions == ref.coalitions
        np.testing.assert_array_equal(tiny.rec_f1, ref.rec_f1)
    assert sum(map(len, ref.coalitions)) > 12  # the pursuit went beyond one step
    if torch.cuda.is_available():
        gpu = km.fbmp(Y, torch.from_numpy(B).cuda(), device="cuda")
        assert gpu.coalitions == ref.coalitions
        np.testing.assert_array_equal(gpu.rec_f1, ref.rec_f1)


def test_ties_pick_lowest_latent_across_blocks():
    Y = np.array([[1], [1], [0], [0]], dtype=bool)
    B = np.zeros((4, 9), dtype=bool)
    B[:2, 5] = B[:2, 2] = B[:2, 8] = True  # three identical perfect latents
    for backend, chunk in (("dense", 4 * 4 * 1), ("dense", 4 * 4 * 4), ("sparse", 12), ("sparse", 12 * 4),
                           ("dense", 2**20)):
        m = km.fbmp(Y, B, backend=backend, device="cpu", chunk_bytes=chunk)
        assert m.coalitions == [[2]]
        assert m.rec_f1[0, 0] == 1.0


@st.composite
def tied_problem(draw):
    """Random problems full of ties: latents repeated (identical patterns at several indices, so equal scores),
    latents that never fire, concepts repeated; few or many concepts (the sparse backend scores ≥ 64 rows
    per step with column maxima, fewer with reduceat)."""
    n = draw(st.integers(1, 30))
    base = draw(arrays(bool, (n, draw(st.integers(1, 5)))))
    cols = draw(st.lists(st.integers(-1, base.shape[1] - 1), min_size=1, max_size=14))
    B = np.stack([base[:, j] if j >= 0 else np.zeros(n, dtype=bool) for j in cols], axis=1)
    labels = draw(arrays(bool, (n, draw(st.integers(1, 4)))))
    C = draw(st.sampled_from([1, 3, 70]))
    Y = labels[:, draw(st.lists(st.integers(0, labels.shape[1] - 1), min_size=C, max_size=C))]
    return Y, B


@settings(max_examples=80, deadline=None)
@given(tied_problem(), st.sampled_from([1.0, 0.5, 0.25]), st.integers(1, 4), st.sampled_from([4, 300, 2**26]))
def test_fbmp_sparse_scoring_equals_literal_with_ties(problem, beta, max_size, chunk):
    """The sparse backend scores one maximum per firing count (keys that carry the lowest index); with blocks
    of one to all latents it gives the literal definition's coalitions, curves and tie order."""
    Y, B = problem
    coal, rec = slow_fbmp(Y, B, beta, max_size)
    m = km.fbmp(Y, B, beta=beta, max_size=max_size, device="cpu", backend="sparse", chunk_bytes=chunk)
    assert m.coalitions == coal
    np.testing.assert_array_equal(m.rec_f1, rec)


@settings(max_examples=60, deadline=None)
@given(tied_problem(), st.sampled_from(["sparse", "dense"]), st.sampled_from([4, 300, 2**26]),
       st.permutations([1.0, 0.5, 0.25, "one_to_one"]), st.integers(1, 4))
def test_prepared_counts_shared_by_matchings_equal_fresh_ones(problem, backend, chunk, order, max_size):
    """One LatentCounts serves several matchings in any order (its block layouts cached from the earlier ones):
    each equals the matching of B alone."""
    Y, B = problem
    counts = km.LatentCounts(B, device="cpu", backend=backend, chunk_bytes=chunk)
    for beta in order:
        options = dict(device="cpu", backend=backend, chunk_bytes=chunk)
        if beta == "one_to_one":
            shared, fresh = km.one_to_one(Y, counts, device="cpu"), km.one_to_one(Y, B, **options)
        else:
            shared = km.fbmp(Y, counts, beta=beta, max_size=max_size)
            fresh = km.fbmp(Y, B, beta=beta, max_size=max_size, **options)
        assert shared.coalitions == fresh.coalitions and shared.params == fresh.params
        np.testing.assert_array_equal(shared.rec_f1, fresh.rec_f1)


def test_prepared_counts_refuse_other_settings():
    rng = np.random.default_rng(3)
    Y, B = rng.random((40, 3)) < 0.3, rng.random((40, 9)) < 0.2
    counts = km.LatentCounts(torch.from_numpy(B), device="cpu", backend="sparse", chunk_bytes=2**12)
    assert km.fbmp(Y, counts, device="cpu", backend="sparse", chunk_bytes=2**12).coalitions == km.fbmp(Y, B).coalitions
    for option, match in ((dict(backend="dense"), "backend"), (dict(chunk_bytes=2**26), "chunk_bytes")):
        with pytest.raises(ConfigError, match=match):
            km.fbmp(Y, counts, **option)
    with pytest.raises(DataError, match="rows"):
        km.one_to_one(Y[:39], counts)
    with pytest.raises(DataError, match="binarize"):
        km.LatentCounts(np.full((4, 3), 0.5))


def test_fbmp_sparse_equals_dense_on_larger_problems():
    rng = np.random.default_rng(11)
    for n, c, d in ((400, 90, 300), (1500, 12, 2000)):
        Y = rng.random((n, c)) < rng.uniform(0.02, 0.3, c)
        B = rng.random((n, d)) < rng.uniform(0.001, 0.05, d)
        B[:, d // 2:] = B[:, : d - d // 2]  # every pattern twice: ties everywhere
        dense = km.fbmp(Y, B, device="cpu", backend="dense")
        for chunk in (2**10, 2**26):
            sparse = km.fbmp(Y, B, device="cpu", backend="sparse", chunk_bytes=chunk)
            assert sparse.coalitions == dense.coalitions
            np.testing.assert_array_equal(sparse.rec_f1, dense.rec_f1)
        assert max(map(len, dense.coalitions)) > 1


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30_000), st.floats(1e-5, 1.0), st.sampled_from([0, 1, 64, 4096]), st.integers(0, 2**32 - 1),
       st.sampled_from([1003, 2**12, 2**22]))
def test_nonzero_positions_equal_numpy(size, density, run, seed, block):
    """B's nonzeros located word by word (recursively while words that hold a True are rare), in blocks of any
    length: numpy's flatnonzero at every density, with Trues scattered or in runs; ``None`` past the limit."""
    from kit.matching import _binary

    rng = np.random.default_rng(seed)
    flat = rng.random(size) < density
    if run:  # long stretches of zeros and of ones
        flat = np.repeat(flat[: -(-size // run)], run)[:size]
    B = flat.reshape(1, -1) if size % 7 else flat.reshape(-1, 7)
    ref = np.flatnonzero(B)
    np.testing.assert_array_equal(_binary.nonzero_positions(B, block=block), ref)
    assert _binary.nonzero_positions(B, limit=ref.size, block=block) is not None
    if ref.size:
        assert _binary.nonzero_positions(B, limit=ref.size - 1, block=block) is None


def test_fbmp_recovers_planted_or_concepts():
    w = make_world(n_samples=2000, n_split=3, split_parts=3, seed=1)
    B = km.binarize(w.codes)
    m = km.fbmp(w.Y, B)
    for c, atoms in enumerate(w.concept_atoms):
        assert sorted(m.coalitions[c]) == sorted(atoms)
        assert m.rec_f1[c, len(atoms) - 1] == 1.0
    assert km.match_score(m, 3) == 1.0
    # the one-to-one matching cannot cover a split concept with one latent
    o = km.one_to_one(w.Y, B)
    split = [c for c, k in enumerate(w.kinds) if k == "split"]
    assert (o.rec_f1[split, 0] < 1.0).all() and km.match_score(o, 1) < 1.0


def test_fbmp_recovers_planted_with_noise_and_distractors():
    rng = np.random.default_rng(3)
    n, d = 3000, 40
    B = rng.random((n, d)) < 0.08
    truth = [[4], [10, 31], [7, 22, 35]]
    Y = np.stack([B[:, t].any(axis=1) for t in truth], axis=1)
    Y ^= rng.random(Y.shape) < 0.01  # label noise
    m = km.fbmp(Y, B, max_size=10)
    assert [sorted(c) for c in m.coalitions] == truth
    assert km.match_score(m, 3) > 0.9


def test_match_score_agrees_with_budgeted_coalition():
    rng = np.random.default_rng(5)
    Y = rng.random((400, 20)) < 0.2
    B = rng.random((400, 60)) < 0.15
    m = km.fbmp(Y, B, max_size=6)
    for k in (1, 3, 5, 10):
        assert km.match_score(m, k) == pytest.approx(m.rec_f1[:, min(k, 6) - 1].mean(), abs=0)
        cut = m.budgeted(k)
        direct = [float(slow_f1(Y[:, c], B[:, cut[c]].any(axis=1))) for c in range(20)]
        np.testing.assert_array_equal(km.concept_scores(m, k), direct)
    # rec curves of FBMP strictly increase over the recorded latents
    for c, latents in enumerate(m.coalitions):
        assert (np.diff(m.rec_f1[c, :len(latents)]) > 0).all()
    o = km.one_to_one(Y, B)
    assert km.match_score(o, 3) == km.match_score(o, 1) == o.rec_f1[:, 0].mean()


def test_support_weighted_average():
    m = Matching(coalitions=[[0], [1]], rec_f1=np.array([[1.0], [0.0]]), method="x", params={"support": [3, 1]})
    assert km.match_score(m, 1, "support") == 0.75
    assert km.match_score(m, 1) == 0.5
    assert km.score_sweep(m, (1, 3)) == {1: 0.5, 3: 0.5}


# ---------------------------------------------------------------- nnOMP


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.integers(1, 3), st.integers(1, 6), st.integers(0, 2**31), st.integers(1, 6))
def test_nnomp_equals_literal_definition(n, c, d, seed, max_size):
    rng = np.random.default_rng(seed)
    Z = np.where(rng.random((n, d)) < 0.5, rng.random((n, d)), 0).astype(np.float32)
    Y = rng.random((n, c)) < 0.4
    coal, rec = slow_nnomp(Y, Z, max_size)
    for density in (0.0, 1.0):  # dense and sparse correlation paths
        m = km.nnomp(Y, Z, max_size, sparse_density=density)
        assert m.coalitions == coal
        np.testing.assert_array_equal(m.rec_f1, rec)


def test_nnomp_recovers_planted_single_atoms():
    w = make_world(n_samples=1500, n_split=0, n_cooccurring=0, magnitude=(1.0, 1.0), seed=2)
    m = km.nnomp(w.Y, w.codes)
    for c, atoms in enumerate(w.concept_atoms):
        assert m.coalitions[c][0] == atoms[0]
        assert m.rec_f1[c, 0] == 1.0


# ---------------------------------------------------------------- probe, held-out, bootstrap, Δ


def test_probe_upper_bound_on_planted_world():
    w = make_world(n_samples=1200, seed=4)
    tr, ev = np.arange(800), np.arange(800, 1200)
    m = km.probe_upper_bound(w.X[tr], w.Y[tr], w.X[ev], w.Y[ev])
    assert m.rec_f1.shape == (w.Y.shape[1], 1) and m.method == "probe"
    single = [c for c, k in enumerate(w.kinds) if k != "split"]
    assert m.rec_f1[single, 0].min() > 0.9
    with pytest.raises(ConfigError, match="features"):
        km.probe_upper_bound(w.X[tr], w.Y[tr], w.X[ev, :5], w.Y[ev])


def test_held_out_scores_by_the_selection_budget_and_deflates_noise_fits():
    rng = np.random.default_rng(0)
    n, d = 600, 2000
    Y = rng.random((n, 30)) < 0.1
    B = rng.random((n, d)) < 0.05  # latents unrelated to the concepts
    same = km.fbmp(Y, B)
    sel, ev = np.arange(300), np.arange(300, 600)
    held = km.held_out(Y, B, sel, ev)
    assert held.params["held_out"] and held.coalitions == km.fbmp(Y[sel], B[sel]).coalitions
    assert km.match_score(held, 3) < km.match_score(same, 3) - 0.1
    # rescoring on the selection split itself reproduces the FBMP curves
    again = km.rescore(same, Y, B)
    np.testing.assert_array_equal(again.rec_f1, same.rec_f1)
    assert km.match_score(again, 3) == km.match_score(same, 3)
    with pytest.raises(DataError, match="overlap"):
        km.held_out(Y, B, np.arange(400), np.arange(300, 600))


def test_held_out_budget_ignores_the_evaluation_curve():
    sel = Matching(coalitions=[[0, 1, 2]], rec_f1=np.array([[0.2, 0.4, 0.6]]), method="fbmp")
    Y = np.array([[1], [0], [0], [0]], dtype=bool)
    B = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)  # latents 1, 2 add false positives
    held = km.rescore(sel, Y, B)
    np.testing.assert_allclose(held.rec_f1[0], [1.0, 2 / 3, 0.5])
    assert km.match_score(held, 3) == 0.5  # the selected 3-latent coalition, not the best prefix on eval


def test_bootstrap_intervals_cover_the_score():
    rng = np.random.default_rng(1)
    Y = rng.random((500, 25)) < 0.2
    B = (rng.random((500, 80)) < 0.1) | np.repeat(Y, 4, axis=1)[:, :80] & (rng.random((500, 80)) < 0.7)
    m = km.fbmp(Y, B)
    s = km.match_score(m, 3)
    for over in ("concepts", "samples"):
        lo, hi = km.match_score_ci(m, 3, over=over, Y=Y, B=B, n_boot=300, seed=2)
        assert lo < s < hi and hi - lo < 0.3
        lo_w, hi_w = km.match_score_ci(m, 3, over=over, Y=Y, B=B, average="support", n_boot=300)
        assert lo_w <= km.match_score(m, 3, "support") <= hi_w
    assert km.match_score_ci(m, 3, n_boot=200, seed=7) == km.match_score_ci(m, 3, n_boot=200, seed=7)
    with pytest.raises(ConfigError, match="needs"):
        km.match_score_ci(m, 3, over="samples")


def test_delta_match_score_against_untrained_and_random_projection():
    w = make_world(n_samples=1000, seed=6)
    good = w.codes
    rng = np.random.default_rng(0)
    untrained = np.maximum(rng.standard_normal(good.shape).astype(np.float32) - 1.0, 0)
    res = km.delta_match_score(w.Y, good, untrained, k=3)
    assert res.trained == 1.0 and res.baseline < 0.8 and res.delta == res.trained - res.baseline
    assert res.baseline_name == "untrained"
    rp = km.delta_match_score(w.Y, res.trained_matching, "random_projection", X=w.X, dict_size=64, seed=0)
    assert rp.baseline_name == "random_projection" and rp.trained == 1.0 and 0 < rp.baseline < 1
    Zr = km.random_projection_codes(w.X, 64, seed=0)
    assert 0.3 < (Zr > 0).mean() < 0.7
    np.testing.assert_array_equal(Zr, km.random_projection_codes(w.X, 64, seed=0))
    with pytest.raises(ConfigError, match="needs the embeddings"):
        km.delta_match_score(w.Y, good, "random_projection")


def _sparse_forms(B: np.ndarray, rng: np.random.Generator) -> list:
    """The same firing patterns as scipy.sparse matrices of other formats and spellings: CSR, CSC, COO with
    entries repeated (bool: merged by OR) and out of order, and int8 with stored zeros."""
    r, c = np.nonzero(B)
    dup = rng.integers(0, 2, size=r.size).astype(bool)
    order = rng.permutation(r.size + dup.sum())
    rr, cc = np.r_[r, r[dup]][order], np.r_[c, c[dup]][order]
    zr, zc = rng.integers(0, B.shape[0], size=3), rng.integers(0, B.shape[1], size=3)
    keep = ~B[zr, zc]  # a stored zero where the pattern fires would add to a one: only where it does not
    stored_zeros = sp.coo_array((np.r_[np.ones(r.size), np.zeros(keep.sum())].astype(np.int8),
                                 (np.r_[r, zr[keep]], np.r_[c, zc[keep]])), shape=B.shape)
    return [sp.csr_array(B), sp.csc_matrix(B), sp.coo_array((np.ones(rr.size, bool), (rr, cc)), shape=B.shape),
            stored_zeros]


@settings(max_examples=60, deadline=None)
@given(tied_problem(), st.sampled_from([1.0, 0.5, 0.25]), st.integers(1, 4), st.sampled_from(["sparse", "dense"]),
       st.sampled_from([4, 300, 2**26]), st.integers(0, 2**32 - 1))
def test_sparse_patterns_match_as_the_dense_ones(problem, beta, max_size, backend, chunk, seed):
    """Firing patterns given sparse, in any format and spelling, match exactly as the dense patterns do, on
    either backend (the dense one densifies column blocks), held out too; the caller's matrix is not changed."""
    Y, B = problem
    dense = km.fbmp(Y, B, beta=beta, max_size=max_size, device="cpu", backend=backend, chunk_bytes=chunk)
    half = np.arange(B.shape[0]) % 2 == 0
    for S in _sparse_forms(B, np.random.default_rng(seed)):
        before = S.copy()
        m = km.fbmp(Y, S, beta=beta, max_size=max_size, device="cpu", backend=backend, chunk_bytes=chunk)
        assert m.coalitions == dense.coalitions and m.params == dense.params
        np.testing.assert_array_equal(m.rec_f1, dense.rec_f1)
        counts = km.LatentCounts(S, device="cpu", backend=backend, chunk_bytes=chunk)
        np.testing.assert_array_equal(counts.sizes, B.sum(axis=0))
        assert km.one_to_one(Y, counts).coalitions == km.one_to_one(Y, B, device="cpu").coalitions
        assert (S != before).nnz == 0 and S.format == before.format
        if half.all() or not half.any():
            continue
        h, hd = km.held_out(Y, S, half, ~half), km.held_out(Y, B, half, ~half)
        assert h.coalitions == hd.coalitions
        np.testing.assert_array_equal(h.rec_f1, hd.rec_f1)


def test_sparse_patterns_in_scores_and_auto_backend():
    rng = np.random.default_rng(5)
    Y, B = rng.random((200, 6)) < 0.2, rng.random((200, 40)) < 0.05
    S = sp.csr_array(B)
    m = km.fbmp(Y, B)
    assert km.match_score_ci(m, over="samples", Y=Y, B=S, n_boot=40) == km.match_score_ci(
        m, over="samples", Y=Y, B=B, n_boot=40)
    np.testing.assert_array_equal(km.rescore(m, Y, S).rec_f1, km.rescore(m, Y, B).rec_f1)
    assert km.LatentCounts(S, device="cpu").backend == "sparse"
    assert km.LatentCounts(sp.csr_array(np.ones((20, 5), bool)), device="cpu").backend == "dense"  # all fire
    from kit.matching._binary import as_firing

    assert np.shares_memory(as_firing(S).indices, S.indices)  # canonical bool CSR: taken as it is, not copied


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.floats(-0.5, 0.9), st.integers(0, 2**32 - 1),
       st.sampled_from([16, 2**24]))
def test_binarize_sparse_equals_dense(n, d, threshold, seed, block):
    """``binarize(Z, sparse=True)`` in row blocks of any size (numpy, torch) equals the dense comparison; sparse
    codes (stored negatives and zeros included) give the comparison of their dense form at thresholds ≥ 0."""
    from kit.matching import _binary

    rng = np.random.default_rng(seed)
    Z = np.where(rng.random((n, d)) < 0.3, rng.normal(size=(n, d)), 0).astype(np.float32)
    ref = Z > threshold
    old, _binary.CODE_BLOCK_BYTES = _binary.CODE_BLOCK_BYTES, block
    try:
        for codes in (Z, torch.from_numpy(Z), Z > 0):
            S = km.binarize(codes, threshold, sparse=True)
            assert isinstance(S, sp.csr_array) and S.dtype == bool and S.has_canonical_format
            expect = ref if codes.dtype != bool else (Z > 0) > threshold
            np.testing.assert_array_equal(S.toarray(), expect)
            np.testing.assert_array_equal(S.toarray(), km.binarize(codes, threshold))
    finally:
        _binary.CODE_BLOCK_BYTES = old
    half = max(1, n // 2)  # codes encoded in batches, binarised batch by batch and stacked, as the docstring says
    parts = [km.binarize(Z[r0:r0 + half], threshold, sparse=True) for r0 in range(0, n, half)]
    Y = Z[:, :1] > 0
    assert km.fbmp(Y, sp.vstack(parts), device="cpu").coalitions == km.fbmp(Y, ref, device="cpu").coalitions
    if threshold >= 0:
        coo = sp.coo_array(Z)
        np.testing.assert_array_equal(km.binarize(coo, threshold).toarray(), ref)
        np.testing.assert_array_equal(km.binarize(coo, threshold, sparse=False), ref)


def test_sparse_bad_input_is_named():
    Y = np.ones((4, 2), dtype=bool)
    twos = sp.coo_array((np.array([1.0, 2.0]), (np.array([0, 2]), np.array([1, 2]))), shape=(4, 3))
    with pytest.raises(DataError, match=r"row 2, column 2 holds.*binarize"):
        km.fbmp(Y, twos)
    nan = sp.csr_array((np.array([0.5, np.nan]), (np.array([1, 3]), np.array([0, 1]))), shape=(4, 3))
    with pytest.raises(DataError, match=r"non-finite.*row 3, column 1"):
        km.binarize(nan)
    with pytest.raises(DataError, match=r"non-finite.*row 3, column 1"):
        km.fbmp(Y, nan)
    dense_nan = np.zeros((9, 4), np.float32)
    dense_nan[7, 2] = np.inf
    for codes in (dense_nan, torch.from_numpy(dense_nan)):
        with pytest.raises(DataError, match=r"non-finite.*row 7, column 2"):
            km.binarize(codes, sparse=True)
    with pytest.raises(ConfigError, match="threshold"):
        km.binarize(sp.csr_array(np.eye(3)), -0.1)
    with pytest.raises(DataError, match="empty"):
        km.fbmp(np.zeros((0, 2), bool), sp.csr_array((0, 3), dtype=bool))
    with pytest.raises(DataError, match="empty"):
        km.binarize(np.zeros((5, 0)), sparse=True)
    with pytest.raises(DataError, match="real numbers"):
        km.binarize(sp.csr_array(np.eye(3) * 1j))
    with pytest.raises(DataError, match="rows"):
        km.fbmp(Y[:3], sp.csr_array(np.eye(4, 3, dtype=bool)))


# ---------------------------------------------------------------- bad input


def test_bad_input_is_named():
    Y = np.ones((4, 2), dtype=bool)
    B = np.ones((4, 3), dtype=bool)
    with pytest.raises(DataError, match="rows"):
        km.fbmp(Y[:3], B)
    with pytest.raises(DataError, match="binary"):
        km.fbmp(np.full((4, 2), 2), B)
    with pytest.raises(DataError, match="binarize"):
        km.fbmp(Y, np.full((4, 3), 0.5))
    with pytest.raises(DataError, match="non-finite"):
        km.binarize(np.array([[0.0, np.nan]]))
    with pytest.raises(DataError, match="non-finite"):
        km.binarize(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(DataError, match="non-finite"):
        km.nnomp(Y, np.array([[np.inf, 0, 0]] * 4))
    for beta in (0, -1, float("nan"), 0.123456789):
        with pytest.raises(ConfigError, match="beta"):
            km.fbmp(Y, B, beta=beta)
    with pytest.raises(ConfigError, match="max_size"):
        km.fbmp(Y, B, max_size=0)
    with pytest.raises(ConfigError, match="max_size"):
        km.nnomp(Y, B.astype(float), max_size=0)
    with pytest.raises(DataError, match="empty"):
        km.fbmp(np.zeros((0, 2), dtype=bool), np.zeros((0, 3), dtype=bool))
    with pytest.raises(DataError, match="empty"):
        km.binarize(np.zeros((5, 0)))
    with pytest.raises(ConfigError, match="average"):
        km.match_score(km.fbmp(Y, B), 3, average="micro")
    with pytest.raises(ConfigError, match="k"):
        km.match_score(km.fbmp(Y, B), 0)


def test_binarize_threshold_and_torch():
    Z = np.array([[0.0, 1e-9, 2e-8, 1.0]])
    np.testing.assert_array_equal(km.binarize(Z), [[False, False, True, True]])
    np.testing.assert_array_equal(km.binarize(torch.from_numpy(Z)), km.binarize(Z))
    assert km.binarize(Z, threshold=0.5).sum() == 1


