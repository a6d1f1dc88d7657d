"""kit.sae.sparse: the k families' sparse training path equals the dense literal, loss and gradients."""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kit.sae import families as fam
from kit.sae import losses, sparse


def _params(n, d, D, seed):
    """float64: a batch of one row has a residual of (almost) zero variance, and the NMSE's normaliser then
    magnifies float32 rounding beyond any tolerance; the algebra is what the test compares."""
    g = torch.Generator().manual_seed(seed)
    f = dict(generator=g, dtype=torch.float64)
    x = torch.randn(n, d, **f)
    W_enc = torch.randn(d, D, **f).requires_grad_(True)
    b_enc = (0.1 * torch.randn(D, **f)).requires_grad_(True)
    W_dec = torch.nn.functional.normalize(torch.randn(D, d, **f), dim=1).requires_grad_(True)
    b_dec = (0.1 * torch.randn(d, **f)).requires_grad_(True)
    return x, W_enc, b_enc, W_dec, b_dec


def _grads(loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)


@settings(max_examples=40, deadline=None)
@given(family=st.sampled_from(["topk", "batchtopk", "matryoshka"]), n=st.integers(1, 9), d=st.integers(1, 7),
       D=st.integers(2, 40), k=st.integers(1, 6), centre=st.booleans(), n_dead=st.integers(0, 40),
       k_aux=st.integers(1, 8), seed=st.integers(0, 10_000))
@example(family="topk", n=1, d=2, D=16, k=5, centre=False, n_dead=1, k_aux=1, seed=3975)  # one row: zero variance
def test_sparse_training_loss_and_gradients_equal_the_dense_literal(family, n, d, D, k, centre, n_dead, k_aux, seed):
    k, n_dead = min(k, D), min(n_dead, D)
    x, W_enc, b_enc, W_dec, b_dec = params = _params(n, d, D, seed)
    dead = torch.zeros(D, dtype=torch.bool)
    dead[torch.randperm(D, generator=torch.Generator().manual_seed(seed))[:n_dead]] = True
    prefixes = fam.matryoshka_prefixes(D) if family == "matryoshka" else (D,)

    # dense literal: differentiate the whole pre-activation matrix
    pre = ((x - b_dec) if centre else x) @ W_enc + b_enc
    z = fam.topk_codes(pre, k) if family == "topk" else fam.batchtopk_codes(pre, k)[0]
    rec_dense, x_hat_dense = losses.matryoshka_nmse(x, z, W_dec, b_dec, prefixes, norm=1.7)
    loss_dense = rec_dense
    if n_dead:
        e_hat = fam.topk_codes(torch.where(dead, pre, torch.tensor(-torch.inf)), min(k_aux, n_dead)) @ W_dec
        loss_dense = loss_dense + 0.5 * losses.auxk_loss(x - x_hat_dense, e_hat)

    # sparse path
    with torch.no_grad():
        pre_ng = ((x - b_dec) if centre else x) @ W_enc + b_enc
    sel = sparse.top_k(pre_ng, k) if family == "topk" else sparse.batch_top_k(pre_ng, k)
    vals = torch.relu(sparse.gather_pre(sel, pre_ng, x, W_enc, b_enc, b_dec if centre else None))
    rec_sparse, x_hat = sparse.matryoshka_nmse(sel, vals, x, W_dec, b_dec, prefixes, norm=1.7)
    loss_sparse = rec_sparse
    if n_dead:
        aux_sel = sparse.top_k(pre_ng.masked_fill(~dead, -torch.inf), min(k_aux, n_dead))
        aux_vals = torch.relu(sparse.gather_pre(aux_sel, pre_ng, x, W_enc, b_enc, b_dec if centre else None))
        loss_sparse = loss_sparse + 0.5 * losses.auxk_loss(x - x_hat, sparse.decode(aux_sel, aux_vals, W_dec))

    assert torch.allclose(x_hat, x_hat_dense, atol=1e-4)
    assert float(loss_sparse.detach()) == pytest.approx(float(loss_dense.detach()), rel=1e-4, abs=1e-5)
    for name, a, b in zip(["W_enc", "b_enc", "W_dec", "b_dec"], _grads(loss_sparse, params[1:]),
                          _grads(loss_dense, params[1:])):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 8), D=st.integers(1, 30), k=st.integers(1, 10), seed=st.integers(0, 10_000))
def test_selections_hold_the_dense_codes_support(n, D, k, seed):
    k = min(k, D)
    pre = torch.randn(n, D, generator=torch.Generator().manual_seed(seed))
    for sel, z in [(sparse.top_k(pre, k), fam.topk_codes(pre, k)),
                   (sparse.batch_top_k(pre, k), fam.batchtopk_codes(pre, k)[0])]:
        kept = torch.zeros(n, D, dtype=torch.bool)
        kept[sel.rows, sel.latents] = True
        assert torch.equal(kept & (pre > 0), z > 0)
        assert (sel.rows[1:] >= sel.rows[:-1]).all()  # ordered by row
        assert torch.equal(sel.offsets, torch.searchsorted(sel.rows, torch.arange(n)))
        by_latent = sel.latents[sel.by_latent]
        assert torch.equal(sel.latent_offsets, torch.searchsorted(by_latent, torch.arange(D)))
