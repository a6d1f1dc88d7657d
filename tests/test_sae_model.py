"""kit.sae model and loss terms: shapes, sparsity, batch independence, fast vs literal implementations."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kit.sae as S
from kit.errors import ConfigError, DataError
from kit.sae import families as fam
from kit.sae import losses, sparse


def _x(n, d, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("family", S.FAMILIES)
def test_encode_shapes_nonnegative_and_unit_decoder(family):
    sae = S.untrained(family, d=12, dict_size=40, k=5, seed=1)
    z = sae.encode(_x(30, 12))
    assert z.shape == (30, 40) and (z >= 0).all()
    assert sae.decode(z).shape == (30, 12)
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(40), atol=1e-5)
    assert sae.W_enc.shape == (12, 40) and sae.b_enc.shape == (40,) and sae.b_dec.shape == (12,)


@pytest.mark.parametrize("family", ["topk", "batchtopk", "matryoshka"])
def test_k_families_keep_at_most_k(family):
    z = S.untrained(family, d=8, dict_size=32, k=4).encode(_x(50, 8))
    assert ((z > 0).sum(1) <= 4).all() and ((z > 0).sum(1) == 4).any()


def test_untrained_is_deterministic_in_seed():
    a, b, c = (S.untrained("topk", 8, 16, k=3, seed=s) for s in (0, 0, 1))
    assert torch.equal(a.W_dec, b.W_dec) and not torch.equal(a.W_dec, c.W_dec)


def test_batchtopk_inference_uses_threshold_and_is_batch_independent():
    sae = S.untrained("batchtopk", d=8, dict_size=32, k=4)
    x = _x(64, 8)
    sae.training_codes(sae.pre_activations(x))  # learns the running threshold
    assert torch.isfinite(sae.threshold)
    z_all = sae.encode(x)
    z_rows = torch.cat([sae.encode(x[i:i + 1]) for i in range(64)])
    assert torch.equal(z_all > 0, z_rows > 0) and torch.allclose(z_all, z_rows, atol=1e-6)
    pre = sae.pre_activations(x)
    assert torch.equal(z_all > 0, pre > sae.threshold)


def _topk_literal(pre, k):
    out = torch.zeros_like(pre)
    for i, row in enumerate(pre):
        order = sorted(range(len(row)), key=lambda j: -float(row[j]))[:k]
        for j in order:
            out[i, j] = max(float(row[j]), 0.0)
    return out


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), D=st.integers(1, 12), k=st.integers(1, 12), seed=st.integers(0, 1000))
def test_topk_codes_match_literal(n, D, k, seed):
    k = min(k, D)
    pre = _x(n, D, seed)
    assert torch.equal(fam.topk_codes(pre, k), _topk_literal(pre, k))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), D=st.integers(1, 12), k=st.integers(1, 12), seed=st.integers(0, 1000))
def test_batchtopk_codes_match_literal(n, D, k, seed):
    k = min(k, D)
    pre = _x(n, D, seed)
    z, min_kept = fam.batchtopk_codes(pre, k)
    flat = sorted(pre.flatten().tolist(), reverse=True)[: k * n]
    cut = flat[-1]
    assert torch.equal(z, torch.relu(pre) * (pre >= cut))
    positive = [v for v in flat if v > 0]
    assert (np.isnan(float(min_kept)) and not positive) or float(min_kept) == min(positive)


@settings(max_examples=25, deadline=None)
@given(D=st.sampled_from([1, 5, 32, 64, 100]), seed=st.integers(0, 1000))
def test_matryoshka_loss_matches_literal(D, seed):
    prefixes = fam.matryoshka_prefixes(D)
    assert prefixes[-1] == D and list(prefixes) == sorted(set(prefixes))
    x, z = _x(7, 5, seed), torch.relu(_x(7, D, seed + 1))
    W, b = _x(D, 5, seed + 2), _x(1, 5, seed + 3)[0]
    loss, x_hat = losses.matryoshka_nmse(x, z, W, b, prefixes, norm=2.0)
    literal = np.mean([float(((x - (z[:, :m] @ W[:m] + b)) ** 2).sum(1).mean()) / 2.0 for m in prefixes])
    assert float(loss) == pytest.approx(literal, rel=1e-4)
    assert torch.allclose(x_hat, z @ W + b, atol=1e-4)


def test_matryoshka_prefixes_paper_sizes():
    assert fam.matryoshka_prefixes(4096) == (128, 256, 512, 1024, 2048, 4096)
    sae = S.untrained("matryoshka", 8, 4096, k=32)
    assert sae.W_dec.shape[0] == 4096  # D latents in total, not ~2D


def test_decoder_gradient_projection_removes_parallel_part():
    W = torch.nn.Parameter(_x(10, 6))
    losses.renormalise_decoder(W.data)
    W.grad = _x(10, 6, 3)
    losses.project_decoder_grad(W)
    assert torch.allclose((W.grad * W).sum(1), torch.zeros(10), atol=1e-5)


def test_jumprelu_straight_through_gradients():
    pre = torch.tensor([[0.5, 1.0, 0.0105, 0.02]])
    log_t = torch.nn.Parameter(torch.log(torch.full((4,), 0.01)))
    eps = 0.002
    z = fam.jumprelu_codes(pre, log_t, eps)
    assert torch.equal(z, torch.tensor([[0.5, 1.0, 0.0105, 0.02]]))
    l0 = losses.jumprelu_l0(pre, log_t, eps)
    assert float(l0.detach()) == 4
    l0.backward()
    # only latent 2 lies within the kernel's window |pre − θ| < ε/2; d l0/d log θ = −(1/ε)·θ there
    expected = torch.tensor([0.0, 0.0, -(1 / eps) * 0.01, 0.0])
    assert torch.allclose(log_t.grad, expected, rtol=1e-5)


def test_auxk_loss_is_zero_for_a_perfect_prediction_and_positive_otherwise():
    res, e_hat = _x(8, 4, 1), _x(8, 4, 2)
    assert float(losses.auxk_loss(res, res.clone())) == pytest.approx(0.0, abs=1e-7)
    assert float(losses.auxk_loss(res, e_hat)) > 0


@pytest.mark.parametrize("kw, match", [
    ({"family": "topk", "d": 8, "dict_size": 4, "k": 5}, "exceeds dict_size"),
    ({"family": "topk", "d": 8, "dict_size": 0, "k": 1}, "dict_size"),
    ({"family": "relu", "d": 0, "dict_size": 4}, "d must"),
    ({"family": "gated", "d": 8, "dict_size": 4}, "family"),
])
def test_bad_configs(kw, match):
    with pytest.raises(ConfigError, match=match):
        S.SAEConfig(**kw)


def test_d_mismatch_is_a_data_error():
    sae = S.untrained("relu", 8, 16)
    with pytest.raises(DataError, match="d=8"):
        sae.encode(_x(3, 9))
    with pytest.raises(DataError, match="d=8"):
        S.encode_array(sae, np.zeros((3, 7), np.float32))


def test_encode_array_is_chunking_invariant():
    sae = S.untrained("topk", 8, 32, k=4)
    X = _x(100, 8).numpy()
    Z = S.encode_array(sae, X, batch_size=7, device="cpu")
    assert Z.dtype == np.float32 and Z.shape == (100, 32)
    Z_full = sae.encode(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_array_equal(Z > 0, Z_full > 0)
    np.testing.assert_allclose(Z, Z_full, atol=1e-6)
    np.testing.assert_allclose(S.decode_array(sae, Z, batch_size=13), sae.decode(torch.from_numpy(Z)).detach().numpy(),
                               atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["topk", "relu", "jumprelu", "batchtopk"]), st.lists(st.integers(0, 31), min_size=1,
                                                                         max_size=40), st.integers(1, 50))
def test_encode_array_columns_are_those_of_the_full_codes(family, columns, batch_size):
    """``columns`` keeps those latents' codes (in the order and with the repeats given), chunk by chunk."""
    sae = S.untrained(family, 8, 32, k=4 if family in ("topk", "batchtopk") else None)
    X = _x(60, 8).numpy()
    np.testing.assert_array_equal(S.encode_array(sae, X, batch_size=batch_size, columns=columns),
                                  S.encode_array(sae, X, batch_size=batch_size)[:, columns])


def test_encode_array_refuses_bad_columns():
    sae = S.untrained("topk", 8, 32, k=4)
    for columns, match in (([], "non-empty"), ([[1, 2]], "1-D"), ([0.5], "dtype"), ([32], r"\[0, 32\)"),
                           ([-1], r"\[0, 32\)")):
        with pytest.raises(ConfigError, match=match):
            S.encode_array(sae, np.zeros((3, 8), np.float32), columns=columns)


@pytest.mark.parametrize("dict_size, k", [(50, 6), (6, 6)])
def test_random_codes_do_not_depend_on_their_score_blocks(monkeypatch, dict_size, k):
    rc = S.random_codes(d=8, dict_size=dict_size, k=k, seed=3)
    X = _x(40, 8).numpy()
    Z = S.encode_array(rc, X)
    monkeypatch.setattr(S.RandomCodes, "SCORE_BYTES", 8 * dict_size * 3)  # three rows' scores at a time
    np.testing.assert_array_equal(S.encode_array(rc, X), Z)
    assert ((Z > 0).sum(1) == min(k, dict_size)).all()


def test_random_codes_are_a_function_of_row_content_only():
    rc = S.random_codes(d=8, dict_size=50, k=6, seed=3)
    X = _x(40, 8).numpy()
    Z = S.encode_array(rc, X, batch_size=9)
    assert ((Z > 0).sum(1) == 6).all() and (Z <= 1).all()
    np.testing.assert_array_equal(Z, S.encode_array(rc, X, batch_size=40))  # batching plays no role
    np.testing.assert_array_equal(Z[::-1], S.encode_array(rc, X[::-1].copy()))  # nor the row's position
    edited = X.copy()
    edited[:, 0] += 1e-3  # an "edit" of every row, encoded in a separate call
    assert not (S.encode_array(rc, edited) == Z).all(1).any()
    assert (S.encode_array(rc, np.repeat(X[:1], 5, axis=0)) == Z[0]).all()  # identical rows, identical codes
    np.testing.assert_array_equal(Z, S.encode_array(S.random_codes(8, 50, 6, seed=3), X))
    assert not np.array_equal(Z, S.encode_array(S.random_codes(8, 50, 6, seed=4), X))
    assert len({tuple(np.flatnonzero(r)) for r in Z}) > 30  # rows differ from one another
    assert (Z > 0).mean(0).min() > 0  # latents are spread over the dictionary


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), scale=st.floats(1e-3, 1e3))
def test_l1_penalty_is_the_l1_norm_of_codes_of_unit_variance_data(seed, scale):
    z, W = torch.relu(_x(6, 9, seed)), _x(9, 4, seed + 1)
    literal = np.mean([sum(float(z[i, j]) * float(W[j].norm()) for j in range(9)) for i in range(6)]) / 2.0
    assert float(losses.l1_penalty(z, W, 4.0)) == pytest.approx(literal, rel=1e-5)
    # scaling the data (codes by s, the variance by s²) leaves the penalty unchanged
    assert float(losses.l1_penalty(scale * z, W, 4.0 * scale**2)) == pytest.approx(literal, rel=1e-4)
    pre = _x(6, 9, seed).requires_grad_(True)
    losses.l1_penalty(torch.relu(pre), W, 4.0).backward()
    assert torch.equal(pre.grad != 0, pre > 0)  # the gradient reaches every active code


def test_auxk_gradient_reaches_only_dead_latents_and_matches_the_literal_loss():
    x, W_enc, b_enc = _x(16, 6, 3), _x(6, 10).requires_grad_(True), torch.zeros(10, requires_grad=True)
    W = torch.nn.functional.normalize(_x(10, 6, 1), dim=1)
    dead = torch.arange(10) < 4
    residual = _x(16, 6, 2)
    pre = (x @ W_enc + b_enc).detach()
    sel = sparse.top_k(pre.masked_fill(~dead, -torch.inf), 3)
    e_hat = sparse.decode(sel, torch.relu(sparse.gather_pre(sel, pre, x, W_enc, b_enc, None)), W)
    aux = losses.auxk_loss(residual, e_hat)
    aux.backward()
    assert (b_enc.grad[4:] == 0).all() and (b_enc.grad[:4] != 0).any()
    assert (W_enc.grad[:, 4:] == 0).all()
    vals, idx = torch.where(dead, pre, torch.tensor(-torch.inf)).topk(3, dim=1)
    literal_e_hat = torch.zeros(16, 6)
    for i in range(16):
        for v, j in zip(vals[i], idx[i]):
            literal_e_hat[i] += max(float(v), 0.0) * W[j]  # no b_dec in the auxiliary reconstruction
    assert torch.allclose(e_hat, literal_e_hat, atol=1e-5)
    e_hat = e_hat.detach()
    alpha = min(1.0, max(losses.AUX_MIN_SCALE, float((residual * e_hat).sum() / e_hat.pow(2).sum())))
    literal = float((residual - alpha * literal_e_hat).pow(2).sum(1).mean()
                    / (residual - residual.mean(0)).pow(2).sum(1).mean())
    assert float(aux.detach()) == pytest.approx(literal, rel=1e-5)
    assert alpha < 1  # a random residual: ê overshoots and is shrunk
    e_small = 2 * literal_e_hat + 0.1 * residual  # ê aligned with the residual and smaller: used as is
    assert float(losses.auxk_loss(e_small, literal_e_hat)) == pytest.approx(
        float((e_small - literal_e_hat).pow(2).sum(1).mean() / (e_small - e_small.mean(0)).pow(2).sum(1).mean()),
        rel=1e-5)


def test_standardize_makes_codes_invariant_to_per_sample_shift_and_scale():
    sae = S.untrained("relu", d=10, dict_size=30, standardize=True, seed=2)
    x = _x(20, 10)
    g = torch.Generator().manual_seed(1)
    scale, shift = torch.rand(20, 1, generator=g) * 5 + 0.1, torch.randn(20, 1, generator=g)
    # the 1e-5 added to each row's std breaks exact invariance by about 1e-5 / (scale · std) of the codes' size
    tol = 4e-5 / float((scale * x.std(1, keepdim=True)).min()) * float(sae.encode(x).detach().abs().max())
    assert torch.allclose(sae.encode(x), sae.encode(scale * x + shift), atol=tol)
    assert not torch.allclose(S.untrained("relu", 10, 30, seed=2).encode(x),
                              S.untrained("relu", 10, 30, seed=2).encode(scale * x + shift), atol=1e-4)
