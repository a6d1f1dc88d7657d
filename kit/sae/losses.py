"""Loss terms as functions. Reconstruction errors are normalised by the target's variance so that one
set of coefficients works whatever the embedding's scale (0 = perfect, 1 = as bad as predicting the mean).
"""

from __future__ import annotations

import torch

from kit.sae.families import heaviside, sparse_decode


def nmse(x: torch.Tensor, x_hat: torch.Tensor, norm: float | None = None) -> torch.Tensor:
    """Normalised squared error ``mean‖x − x̂‖² / norm`` over a batch ``x, x̂: float[N, d]``.

    ``norm`` is the data's mean squared distance to its mean (the trainer measures it once on the training
    split); ``None`` uses the batch's own.
    """
    if norm is None:
        norm = (x - x.mean(0, keepdim=True)).pow(2).sum(1).mean().detach().clamp_min(1e-12)
    return (x - x_hat).pow(2).sum(1).mean() / norm


def matryoshka_nmse(x: torch.Tensor, z: torch.Tensor, W_dec: torch.Tensor, b_dec: torch.Tensor,
                    prefixes: tuple[int, ...], norm: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean NMSE of the reconstructions from the nested prefixes ``z[:, :m]`` (m in ``prefixes``, last = D).

    One matrix product per segment between consecutive prefixes; the cumulative sums give every prefix's
    reconstruction. Returns ``(loss, x̂ of the full dictionary)``.
    """
    bounds = (0,) + tuple(prefixes)
    x_hat = b_dec.expand_as(x)
    losses = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        x_hat = x_hat + z[:, a:b] @ W_dec[a:b]
        losses.append(nmse(x, x_hat, norm))
    return torch.stack(losses).mean(), x_hat


def l1_penalty(z: torch.Tensor, W_dec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``Σ_j z_j‖W_dec[j]‖``, divided by the batch's RMS norm (scale-free)."""
    scale = x.pow(2).sum(1).mean().sqrt().detach().clamp_min(1e-12)
    return (z * W_dec.norm(dim=1)).sum(1).mean() / scale


def auxk_loss(residual: torch.Tensor, pre: torch.Tensor, dead: torch.Tensor, W_dec: torch.Tensor,
              k_aux: int) -> torch.Tensor:
    """AuxK: NMSE of the residual ``x − x̂`` (detached; normalised by its own variance) predicted from the
    top ``k_aux`` dead latents.

    residual: float[N, d]; pre: float[N, D]; dead: bool[D]. Zero when no latent is dead.
    """
    n_dead = int(dead.sum())
    if n_dead == 0:
        return pre.new_zeros(())
    k = min(k_aux, n_dead)
    masked = torch.where(dead, pre, torch.full_like(pre, -torch.inf))
    vals, idx = masked.topk(k, dim=-1)
    return nmse(residual.detach(), sparse_decode(torch.relu(vals), idx, W_dec))


def jumprelu_l0(pre: torch.Tensor, log_threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """JumpReLU's sparsity penalty: mean active latents per row, differentiable in θ = exp(log_threshold)."""
    return heaviside(pre, log_threshold.exp(), bandwidth).sum(-1).mean()


def project_decoder_grad(W_dec: torch.Tensor) -> None:
    """Remove from ``W_dec.grad`` its component parallel to each (unit) decoder row, in place."""
    if W_dec.grad is not None:
        W_dec.grad -= (W_dec.grad * W_dec).sum(1, keepdim=True) * W_dec


@torch.no_grad()
def renormalise_decoder(W_dec: torch.Tensor) -> None:
    """Rescale each decoder row to unit norm, in place."""
    W_dec.div_(W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))
