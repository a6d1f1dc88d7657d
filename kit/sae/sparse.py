"""The training path of the k families (TopK, BatchTopK, Matryoshka) and of AuxK, on the kept entries only.

Differentiating the dense ``pre = (x − b_dec) W_enc + b_enc: float[N, D]`` costs two more N×D×d products
in the backward pass, although only the kept entries (k per row) receive a gradient. Here the trainer
computes ``pre`` without a graph, selects the kept entries as a :class:`Selection`, and differentiates only
their values (:func:`gather_pre`, whose backward costs nnz·d); reconstructions are embedding bags over
the selection (:func:`decode`). Each function has a dense literal twin in :mod:`kit.sae.families` /
:mod:`kit.sae.losses` that the tests compare it with.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.functional import embedding_bag

from kit.sae.losses import nmse


def _starts(groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """int64[n_groups]: where each group's run starts in ``groups: int64[nnz]`` (sorted ascending)."""
    starts = torch.zeros(n_groups, dtype=torch.int64, device=groups.device)
    starts[1:] = torch.bincount(groups, minlength=n_groups).cumsum(0)[:-1]
    return starts


@dataclass(frozen=True)
class Selection:
    """The kept entries of ``pre: float[n, dict_size]``, ordered by row.

    rows, latents: int64[nnz] (rows ascending); offsets: int64[n], where each row's entries start;
    by_latent: int64[nnz], the entries' order by latent (stable); latent_offsets: int64[dict_size], where
    each latent's entries start in that order.
    """

    n: int
    dict_size: int
    rows: torch.Tensor
    latents: torch.Tensor
    offsets: torch.Tensor
    by_latent: torch.Tensor
    latent_offsets: torch.Tensor

    @classmethod
    def of(cls, rows: torch.Tensor, latents: torch.Tensor, n: int, dict_size: int) -> "Selection":
        """The selection of entries ``(rows[i], latents[i])``; ``rows`` must be sorted ascending."""
        by_latent = torch.argsort(latents, stable=True)
        return cls(n, dict_size, rows, latents, _starts(rows, n), by_latent,
                   _starts(latents[by_latent], dict_size))

    def subset(self, keep: torch.Tensor) -> "Selection":
        """The entries where ``keep: bool[nnz]`` holds (still ordered by row)."""
        return Selection.of(self.rows[keep], self.latents[keep], self.n, self.dict_size)


def top_k(pre: torch.Tensor, k: int) -> Selection:
    """The k largest entries of each row of ``pre: float[N, D]`` (TopK; AuxK on masked pre-activations)."""
    n, D = pre.shape
    latents = pre.topk(k, dim=1).indices.flatten()
    rows = torch.arange(n, device=pre.device).repeat_interleave(k)
    return Selection.of(rows, latents, n, D)


def batch_top_k(pre: torch.Tensor, k: int) -> Selection:
    """The k·N largest entries of the whole batch ``pre: float[N, D]`` (BatchTopK, Matryoshka)."""
    n, D = pre.shape
    flat = pre.flatten().topk(min(k * n, pre.numel())).indices.sort().values
    return Selection.of(flat // D, flat % D, n, D)


class _GatherPre(torch.autograd.Function):
    """``pre[rows, latents]`` of ``pre = x_c W_enc + b_enc`` with ``x_c = x − b_dec``, differentiable in W_enc,
    b_enc and b_dec with a backward of nnz·d operations (``pre`` and ``x_c`` are given, without a graph)."""

    @staticmethod
    def forward(ctx, W_enc, b_enc, b_dec, pre, x_c, sel: Selection):
        ctx.save_for_backward(W_enc, x_c)
        ctx.sel = sel
        return pre[sel.rows, sel.latents]

    @staticmethod
    def backward(ctx, g):
        W_enc, x_c = ctx.saved_tensors
        sel = ctx.sel
        g_b_enc = torch.zeros(sel.dict_size, dtype=g.dtype, device=g.device).index_add_(0, sel.latents, g)
        # ∂/∂W_enc[:, j] = Σ over latent j's entries of g · x_c[row]: one bag per latent over the rows of x_c
        g_W_enc = embedding_bag(sel.rows[sel.by_latent], x_c, sel.latent_offsets, mode="sum",
                                per_sample_weights=g[sel.by_latent]).T
        g_b_dec = -(W_enc @ g_b_enc) if ctx.needs_input_grad[2] else None
        return g_W_enc, g_b_enc, g_b_dec, None, None, None


def gather_pre(sel: Selection, pre: torch.Tensor, x: torch.Tensor, W_enc: torch.Tensor, b_enc: torch.Tensor,
               b_dec: torch.Tensor | None) -> torch.Tensor:
    """The selected pre-activations ``float[nnz]``, differentiable in the encoder's parameters.

    pre: float[N, D], computed without a graph from the preprocessed inputs ``x: float[N, d]``; b_dec: the
    centring bias (None when the SAE does not subtract it).
    """
    with torch.no_grad():
        x_c = x if b_dec is None else x - b_dec
    if b_dec is None:
        b_dec = torch.zeros((), device=x.device)
    return _GatherPre.apply(W_enc, b_enc, b_dec, pre, x_c, sel)


def decode(sel: Selection, vals: torch.Tensor, W_dec: torch.Tensor) -> torch.Tensor:
    """``Σ vals · W_dec[latent]`` per row: float[N, d], the product ``z @ W_dec`` of the sparse codes (no b_dec)."""
    return embedding_bag(sel.latents, W_dec, sel.offsets, mode="sum", per_sample_weights=vals)


def matryoshka_nmse(sel: Selection, vals: torch.Tensor, x: torch.Tensor, W_dec: torch.Tensor, b_dec: torch.Tensor,
                    prefixes: tuple[int, ...], norm: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean NMSE of the reconstructions from the nested prefixes of the dictionary (the sparse twin of
    :func:`kit.sae.losses.matryoshka_nmse`): one embedding bag per segment between consecutive prefixes.
    Returns ``(loss, x̂ of the full dictionary)``."""
    bounds = (0,) + tuple(prefixes)
    x_hat = b_dec.expand_as(x)
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        keep = (sel.latents >= a) & (sel.latents < b)
        x_hat = x_hat + decode(sel.subset(keep), vals[keep], W_dec)
        parts.append(nmse(x, x_hat, norm))
    return torch.stack(parts).mean(), x_hat
