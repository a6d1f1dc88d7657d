"""kit.metrics on planted worlds where the answers are known, against slow literal versions, and invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kit.metrics as M
from kit.errors import ConfigError, DataError
from kit.sae import encode_array as sae_codes
from kit.metrics.fms import best_stumps
from kit.metrics.probes import fit_probes
from kit.planted import make_world


class TinySAE(torch.nn.Module):
    """A TopK SAE following the kit's protocol: encode = relu(topk(x W_enc + b_enc)), decode = z W_dec + b_dec."""

    def __init__(self, W_dec: np.ndarray, k: int, b_enc: float = 0.0) -> None:
        super().__init__()
        W = torch.nn.functional.normalize(torch.as_tensor(np.asarray(W_dec), dtype=torch.float32), dim=1)
        self.W_dec = torch.nn.Parameter(W)
        self.W_enc = torch.nn.Parameter(W.T.clone())
        self.b_enc = torch.nn.Parameter(torch.full((W.shape[0],), float(b_enc)))
        self.b_dec = torch.nn.Parameter(torch.zeros(W.shape[1]))
        self.k = k

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        top = ((x - self.b_dec) @ self.W_enc + self.b_enc).topk(self.k, dim=1)
        return torch.zeros(x.shape[0], self.W_dec.shape[0], dtype=x.dtype).scatter(1, top.indices, top.values.relu())

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W_dec + self.b_dec


def perfect_sae(world) -> TinySAE:
    """The world's own dictionary (orthonormal atoms); the bias removes the noise, so codes ≈ true codes."""
    return TinySAE(world.atoms, k=world.atoms.shape[0], b_enc=-0.25)


def random_sae(world, seed: int = 0) -> TinySAE:
    K, d = world.atoms.shape
    return TinySAE(np.random.default_rng(seed).standard_normal((K, d)), k=12)


@pytest.fixture(scope="module")
def w():
    return make_world(n_samples=1200, seed=3)


@pytest.fixture(scope="module")
def saes(w):
    good, bad = perfect_sae(w), random_sae(w)
    return {"good": (good, sae_codes(good, w.X)), "bad": (bad, sae_codes(bad, w.X))}


def independent(w) -> list[int]:
    return [c for c, k in enumerate(w.kinds) if k == "independent"]


# ---------------------------------------------------------------- probes


def test_probes_match_sklearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5)).astype(np.float32) * [1, 2, 3, 0.5, 10]
    Y = np.stack([X[:, 0] + rng.standard_normal(300) > 0.5, X[:, 1] - X[:, 4] / 5 > 0], axis=1)
    from kit.metrics._common import balanced_weights

    ours = fit_probes(X, Y, balanced_weights(Y), inverse_reg=1.0, device="cpu")
    Xs = StandardScaler().fit(X)
    for c in range(2):
        # our standardisation is per task with the balanced weights; compare decisions and logits' ranking
        sk = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(Xs.transform(X), Y[:, c])
        agree = np.mean((ours.logits(X)[:, c] > 0) == sk.predict(Xs.transform(X)))
        assert agree > 0.97
        assert np.corrcoef(ours.logits(X)[:, c], sk.decision_function(Xs.transform(X)))[0, 1] > 0.995


# ---------------------------------------------------------------- proxies


def test_proxies_perfect_dictionary_and_literal_values(w, saes):
    clean = make_world(n_samples=500, seed=3, noise=0.0)
    r = M.proxies(clean.X, TinySAE(clean.atoms, k=clean.atoms.shape[0], b_enc=-1e-4))
    assert r.headline()["mse"] < 1e-6 and r.headline()["fvu"] < 1e-5
    assert r.headline()["cosine"] == pytest.approx(1.0, abs=1e-6)
    assert r.headline()["l0"] == pytest.approx((clean.codes > 0).sum(1).mean())
    sae, Z = saes["bad"]
    r = M.proxies(w.X, sae)
    Xh = Z @ sae.W_dec.detach().numpy()
    fvu = ((w.X - Xh) ** 2).sum() / ((w.X - w.X.mean(0)) ** 2).sum()
    assert r.headline()["fvu"] == pytest.approx(fvu, rel=1e-4)
    assert r.headline()["mse"] == pytest.approx(((w.X - Xh) ** 2).mean(), rel=1e-4)
    assert np.array_equal(r.frequency, (Z > 0).mean(0))
    with pytest.raises(DataError, match="width"):
        M.proxies(w.X[:, :10], sae)


def test_proxies_dead_and_dense():
    clean = make_world(n_samples=400, seed=0)
    atoms = np.vstack([clean.atoms, -clean.atoms[:1]])  # the last atom never fires (b_enc kills it)
    sae = TinySAE(atoms, k=atoms.shape[0], b_enc=-0.25)
    with torch.no_grad():
        sae.b_enc[-1] = -100.0
    r = M.proxies(clean.X, sae, M.ProxiesConfig(dense_threshold=0.3))
    assert r.dead[-1] and r.dead.sum() == 1
    assert np.array_equal(r.dense, r.frequency > 0.3)
    with pytest.raises(ConfigError, match="dense_threshold"):
        M.ProxiesConfig(dense_threshold=1.5)


# ---------------------------------------------------------------- CKNNA


def literal_cknna(X: np.ndarray, Z: np.ndarray, k: int) -> float:
    """Dense N×N version, straight from the definition."""
    def knn_mask(G):
        G = G.copy()
        np.fill_diagonal(G, -np.inf)
        idx = np.argsort(-G, axis=1, kind="stable")[:, :k]
        m = np.zeros_like(G, dtype=bool)
        np.put_along_axis(m, idx, True, axis=1)
        return m

    def hsic(K, L):
        m = K.shape[0]
        K, L = K.copy(), L.copy()
        np.fill_diagonal(K, 0)
        np.fill_diagonal(L, 0)
        return ((K * L.T).sum() + K.sum() * L.sum() / ((m - 1) * (m - 2)) - 2 * (K @ L).sum() / (m - 2)) / (m * (m - 3))

    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    K, L = Xn @ Xn.T, Zn @ Zn.T
    mk, ml = knn_mask(K), knn_mask(L)
    both = mk & ml
    return hsic(K * both, L * both) / math.sqrt(hsic(K * mk, K * mk) * hsic(L * ml, L * ml))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(14, 40), k=st.integers(2, 6), seed=st.integers(0, 10_000), chunk=st.integers(1, 50))
def test_cknna_matches_literal(n, k, seed, chunk):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5)).astype(np.float32)
    Z = (X @ rng.standard_normal((5, 7)) + rng.standard_normal((n, 7))).astype(np.float32)
    fast = M.cknna(X, Z, M.CKNNAConfig(k=k, chunk_size=chunk)).value
    assert fast == pytest.approx(literal_cknna(X.astype(np.float64), Z.astype(np.float64), k), abs=1e-4)


def test_cknna_invariances_and_planted(w, saes):
    _, Z = saes["bad"]
    base = M.cknna(w.X, Z).value
    perm = np.random.default_rng(0).permutation(Z.shape[1])
    assert M.cknna(w.X, Z[:, perm]).value == pytest.approx(base, abs=1e-5)
    assert M.cknna(w.X, 7.5 * Z).value == pytest.approx(base, abs=1e-5)
    assert M.cknna(Z, w.X).value == pytest.approx(base, abs=1e-5)
    assert M.cknna(w.X, w.X).value == pytest.approx(1.0, abs=1e-6)
    truth = M.cknna(w.X, w.codes).value
    assert truth > 0.6 and truth > base + 0.2
    lo, hi = M.cknna(w.X, w.codes).bootstrap_ci(n_boot=200)
    assert lo <= truth <= hi and hi < 1.0 + 1e-9


def test_cknna_rejects_bad_input(w):
    with pytest.raises(DataError, match="row counts differ"):
        M.cknna(w.X, w.codes[:-1])
    with pytest.raises(ConfigError, match="k must be"):
        M.CKNNAConfig(k=1)


# ---------------------------------------------------------------- MS


def literal_ms(E: np.ndarray, Z: np.ndarray) -> np.ndarray:
    En = E / np.linalg.norm(E, axis=1, keepdims=True)
    S = En @ En.T
    out = np.full(Z.shape[1], np.nan)
    for j in range(Z.shape[1]):
        a = Z[:, j]
        if a.max() == a.min():
            continue
        a = (a - a.min()) / (a.max() - a.min())
        num = den = 0.0
        for n in range(len(a)):
            for m in range(len(a)):
                if n != m:
                    num += a[n] * a[m] * S[n, m]
                    den += a[n] * a[m]
        out[j] = num / den if den > 0 else np.nan
    return out


@settings(max_examples=20, deadline=None)
@given(n=st.integers(3, 25), D=st.integers(1, 5), seed=st.integers(0, 10_000), chunk=st.integers(1, 30))
def test_ms_matches_literal(n, D, seed, chunk):
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n, 4)).astype(np.float32)
    Z = np.maximum(rng.standard_normal((n, D)), 0).astype(np.float32)
    fast = M.monosemanticity(E, Z, M.MSConfig(chunk_size=chunk)).per_latent
    np.testing.assert_allclose(fast, literal_ms(E.astype(np.float64), Z.astype(np.float64)), atol=1e-5)


def test_ms_known_answer_and_invariances(w, saes):
    # latent 0 fires (at any strength) only on cluster A of identical images: MS = 1
    E = np.repeat(np.eye(3, dtype=np.float32), 10, axis=0)
    Z = np.zeros((30, 2), dtype=np.float32)
    Z[:10, 0] = np.linspace(0.5, 2, 10)
    Z[:, 1] = np.random.default_rng(0).random(30)
    ms = M.monosemanticity(E, Z).per_latent
    assert ms[0] == pytest.approx(1.0) and ms[1] < 0.6
    _, Zb = saes["bad"]
    base = M.monosemanticity(w.X, Zb).per_latent
    perm = np.random.default_rng(1).permutation(Zb.shape[1])
    np.testing.assert_allclose(M.monosemanticity(w.X, Zb[:, perm]).per_latent, base[perm], atol=1e-6)
    scale = np.random.default_rng(2).uniform(0.1, 10, Zb.shape[1]).astype(np.float32)
    np.testing.assert_allclose(M.monosemanticity(w.X, Zb * scale + 3).per_latent, base, atol=1e-5)
    assert M.monosemanticity(w.X, saes["good"][1]).headline()["ms"] > base.mean()


# ---------------------------------------------------------------- FMS


@settings(max_examples=20, deadline=None)
@given(n=st.integers(6, 40), D=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_stumps_match_sklearn_root(n, D, seed):
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, D)).astype(np.float32)
    y = rng.random(n) < 0.5
    if y.all() or not y.any():
        return
    score, thr, left, right = best_stumps(Z, y[:, None].astype(float), (~y)[:, None].astype(float))
    tree = DecisionTreeClassifier(max_depth=1).fit(Z, y)
    j = int(np.argmax(score[0]))
    # the same purity as sklearn's root split (features may tie), and our threshold realises it
    assert score[0, j] == pytest.approx(_gini_q(Z[:, tree.tree_.feature[0]], y, tree.tree_.threshold[0]))
    assert score[0, j] == pytest.approx(_gini_q(Z[:, j], y, thr[0, j]))
    pred = np.where(Z[:, j] <= thr[0, j], left[0, j], right[0, j])
    assert np.mean(pred == y) >= max(y.mean(), 1 - y.mean()) - 1e-9  # each side predicts its majority


def _gini_q(z, y, t):
    q = 0.0
    for side in (z <= t, z > t):
        if side.any():
            q += (y[side].sum() ** 2 + (~y[side]).sum() ** 2) / side.sum()
    return q


def test_fms_planted_and_invariances(w, saes):
    ind = independent(w)
    cfg = M.FMSConfig(n_global=3)
    good = M.fms(saes["good"][1], w.Y[:, ind], cfg)
    bad = M.fms(saes["bad"][1], w.Y[:, ind], cfg)
    assert np.nanmin(good.accs[:, 0]) > 0.95  # one latent per concept: full capacity …
    assert np.nanmin(good.local) > 0.8  # … and nothing left once it is gone
    assert good.headline()["fms"] > 0.9 > bad.headline()["fms"] + 0.2
    Z = saes["bad"][1]
    perm = np.random.default_rng(0).permutation(Z.shape[1])
    scale = np.random.default_rng(1).uniform(0.5, 4, Z.shape[1]).astype(np.float32)
    again = M.fms(Z[:, perm] * scale, w.Y[:, ind], cfg)
    np.testing.assert_allclose(again.fms, bad.fms, atol=1e-9)
    np.testing.assert_array_equal(perm[again.roots[:, 0]], bad.roots[:, 0])
    assert np.array_equal(M.fms(Z, w.Y[:, ind], cfg).fms, bad.fms, equal_nan=True)  # seeded sampling
    other = M.fms(Z, w.Y[:, ind], M.FMSConfig(n_global=3, seed=7))
    assert not np.allclose(other.accs, bad.accs)


# ---------------------------------------------------------------- sparse probing


def test_sparse_probing_planted_and_invariances(w, saes):
    single = [c for c, k in enumerate(w.kinds) if k != "split"]
    good = M.sparse_probing(saes["good"][1], w.Y[:, single])
    bad = M.sparse_probing(saes["bad"][1], w.Y[:, single])
    # one latent is the concept; SAEBench's L2 penalty on the raw values costs a few points of accuracy
    assert np.nanmin(good.accuracy[:, 0]) > 0.9 and np.nanmean(good.accuracy[:, 0]) > 0.97
    standardised = M.sparse_probing(saes["good"][1], w.Y[:, single], M.SparseProbingConfig(standardize=True))
    assert np.nanmin(standardised.accuracy[:, 0]) > 0.97
    truth = [w.concept_atoms[c][0] for c in single]
    assert np.array_equal(good.latents[:, 0], truth)
    assert good.headline()["sparse_probing_k1"] > bad.headline()["sparse_probing_k1"] + 0.15
    assert (np.diff(bad.accuracy, axis=1) > -0.05).all()  # more latents hardly ever hurt
    Z = saes["bad"][1]
    perm = np.random.default_rng(0).permutation(Z.shape[1])
    # invariant to permuting latents; to one common scale only with standardised features (the raw fit's
    # penalty is not scale-free), while the ranking is
    again = M.sparse_probing(Z[:, perm], w.Y[:, single])
    np.testing.assert_allclose(again.accuracy, bad.accuracy, atol=1e-6)
    np.testing.assert_array_equal(perm[again.latents], bad.latents)
    cfg = M.SparseProbingConfig(standardize=True)
    np.testing.assert_allclose(M.sparse_probing(3.0 * Z, w.Y[:, single], cfg).accuracy,
                               M.sparse_probing(Z, w.Y[:, single], cfg).accuracy, atol=0.01)
    np.testing.assert_array_equal(M.sparse_probing(3.0 * Z, w.Y[:, single]).latents, bad.latents)
    with pytest.raises(ConfigError, match="asks for 50 latents"):
        M.sparse_probing(Z, w.Y, M.SparseProbingConfig(ks=(1, 50)))


# ---------------------------------------------------------------- TPP / SCR


def _permuted(sae: TinySAE, perm: np.ndarray) -> TinySAE:
    return TinySAE(sae.W_dec.detach().numpy()[perm], k=sae.k)


def test_tpp_planted(w, saes):
    cfg = M.ErasureConfig(n_values=(1, 2, 5), headline_n=1)
    groups = [independent(w)]
    good = M.tpp(w.X, w.Y, saes["good"][0], groups, Z=saes["good"][1], config=cfg)
    bad = M.tpp(w.X, w.Y, saes["bad"][0], groups, Z=saes["bad"][1], config=cfg)
    assert good.headline()["tpp"] > 0.4  # own probe falls to chance, the others stay
    assert np.nanmax(np.abs(good.other_drop[0])) < 0.05
    assert abs(bad.headline()["tpp"]) < 0.15
    sae, Z = saes["bad"]
    perm = np.random.default_rng(0).permutation(Z.shape[1])
    again = M.tpp(w.X, w.Y, _permuted(sae, perm), groups, Z=Z[:, perm], config=cfg)
    np.testing.assert_allclose(again.tpp, bad.tpp, atol=1e-9)


def test_scr_planted(w, saes):
    co = [c for c, k in enumerate(w.kinds) if k == "cooccurring"]
    pairs = M.choose_scr_pairs(w.Y, w.concepts.groups, n_pairs=2)
    assert sorted(pairs) == [(co[0], co[1]), (co[2], co[3])]  # the correlated pairs rank first
    cfg = M.ErasureConfig(n_values=(1, 2), headline_n=1)
    good = M.scr(w.X, w.Y, saes["good"][0], pairs, Z=saes["good"][1], config=cfg)
    bad = M.scr(w.X, w.Y, saes["bad"][0], pairs, Z=saes["bad"][1], config=cfg)
    assert len(good.pairs) == 4 and (good.oracle > good.base).all()
    assert good.headline()["scr"] > 0.7  # removing the spurious atom recovers the unbiased accuracy
    assert bad.headline()["scr"] < good.headline()["scr"] - 0.4
    with pytest.raises(DataError, match="no concept pair"):
        M.scr(w.X, w.Y, saes["good"][0], pairs=[], Z=saes["good"][1], config=cfg)


# ---------------------------------------------------------------- absorption


def test_absorption_planted(w, saes):
    """Four 'v0 ∧ something' child latents take over from the v0 latent on 10 % of v0's samples (each too
    rare to count as a main latent): absorption shows on v0 only."""
    sae, Z = saes["good"]
    v0 = w.concepts.names.index("fam0::v0")
    a_v0 = w.concept_atoms[v0][0]
    rng = np.random.default_rng(0)
    pos = np.flatnonzero(w.Y[:, v0])
    taken = rng.choice(pos, 4 * int(0.025 * pos.size), replace=False).reshape(4, -1)
    others = [w.concept_atoms[w.concepts.names.index(f"ind{i}")][0] for i in range(4)]
    children = [(w.atoms[a_v0] + w.atoms[o]) / np.sqrt(2) for o in others]
    absorbed = TinySAE(np.vstack([sae.W_dec.detach().numpy(), *children]), k=sae.k)
    Za = np.hstack([Z, np.zeros((Z.shape[0], 4), np.float32)])
    for i, rows in enumerate(taken):
        Za[rows, Z.shape[1] + i] = Z[rows, a_v0] * np.sqrt(2)
        Za[rows, a_v0] = 0.0
    clean = M.absorption(w.X, w.Y, sae, w.concepts.groups, Z=Z)
    dirty = M.absorption(w.X, w.Y, absorbed, w.concepts.groups, Z=Za)
    assert clean.headline()["full_absorption"] == 0.0
    assert dirty.main_latents[v0] == [a_v0]
    assert 0.04 < dirty.full_absorption[v0] < 0.2
    assert dirty.absorption_fraction[v0] > clean.absorption_fraction[v0] + 0.04
    rest = [c for c in range(w.Y.shape[1]) if c != v0 and np.isfinite(dirty.full_absorption[c])]
    assert len(rest) == 7 and np.nanmax(dirty.full_absorption[rest]) == 0.0
    assert np.isnan(clean.full_absorption[w.concepts.names.index("ind0")])  # not in a family
    with pytest.raises(DataError, match="groups has"):
        M.absorption(w.X, w.Y, sae, ["a"], Z=Z)


# ---------------------------------------------------------------- steerability


def test_steerability_planted(w, saes):
    names = w.concepts.names
    single = [c for c, k in enumerate(w.kinds) if k != "split"]
    table = {n: w.atoms[a].mean(0) for n, a in zip(names, w.concept_atoms)}

    def text_embed(texts):
        return np.stack([table[t] for t in texts])

    good = M.steerability(w.X, saes["good"][0], text_embed, names, Z=saes["good"][1])
    atoms = [w.concept_atoms[c][0] for c in single]
    assert [names[t] for t in good.target[atoms]] == [names[c] for c in single]
    assert good.power[atoms].min() > 0.5
    assert np.all(np.diff(good.power_curve[:, atoms], axis=0) > -1e-9)  # stronger clamps push further
    bad = M.steerability(w.X, saes["bad"][0], text_embed, names, Z=saes["bad"][1])
    assert bad.headline()["steer_power"] < good.power[atoms].mean() - 0.2
    perm = np.random.default_rng(0).permutation(bad.power.size)
    again = M.steerability(w.X, _permuted(saes["bad"][0], perm), text_embed, names, Z=saes["bad"][1][:, perm])
    np.testing.assert_allclose(again.power, bad.power[perm], atol=1e-5)
    with pytest.raises(DataError, match="text_embed returned shape"):
        M.steerability(w.X, saes["good"][0], lambda t: np.ones((2, 3)), names)


# ---------------------------------------------------------------- headline and units


def test_headline_is_the_mean_of_the_units(w, saes):
    for r in (M.proxies(w.X, saes["good"][0]), M.fms(saes["good"][1], w.Y, M.FMSConfig(n_global=2)),
              M.sparse_probing(saes["good"][1], w.Y)):
        units, head = r.units(), r.headline()
        for name, u in units.items():
            assert head[name] == pytest.approx(np.nanmean(u)), name


@given(st.integers(1, 30), st.integers(1, 12), st.integers(1, 4),
       st.lists(st.integers(1, 15), min_size=1, max_size=4, unique=True), st.integers(0, 10**6))
@settings(max_examples=60, deadline=None)
def test_ablation_effect_matches_the_literal_cumulative_sum(n, L, J, n_values, seed):
    from kit.metrics.erasure import _ablation_effect

    rng = np.random.default_rng(seed)
    D = L + 3
    Z, M = rng.random((n, D)), rng.standard_normal((D, J))
    latents = rng.permutation(D)[:L]
    n_values = sorted(n_values)
    literal = -np.stack([sum(Z[:, [j]] * M[[j]] for j in latents[:min(v, L)]) for v in n_values])
    np.testing.assert_allclose(_ablation_effect(Z, latents, M, n_values), literal, rtol=1e-10, atol=1e-10)


def test_proxies_compare_in_the_sae_input_space():
    """A standardising SAE reconstructs standardised inputs: its proxies must be measured there."""
    import torch

    from kit.metrics import proxies
    from kit.sae import from_tensors

    rng = np.random.default_rng(0)
    d = 6
    X = (rng.standard_normal((200, d)) * 5 + 3).astype(np.float32)
    eye = torch.eye(d)
    sae = from_tensors(eye, torch.zeros(d), eye, torch.zeros(d), activation="relu", standardize=True,
                       subtract_b_dec=False)
    Xs = (X - X.mean(1, keepdims=True)) / (X.std(1, ddof=1, keepdims=True) + 1e-6)
    expected = np.maximum(Xs, 0)  # identity dictionary, ReLU: x̂ = relu(standardised x)
    r = proxies(X, sae)
    np.testing.assert_allclose(r.sq_error, ((Xs - expected) ** 2).mean(1), rtol=1e-4, atol=1e-5)
    total = ((Xs - Xs.mean(0)) ** 2).sum(1).mean()
    np.testing.assert_allclose(r.fvu_share, r.sq_error * d / total, rtol=1e-4)
