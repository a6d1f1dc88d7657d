"""Loss terms as functions. Reconstruction errors are normalised by the target's variance so that one
set of coefficients works whatever the embedding's scale (0 = perfect, 1 = as bad as predicting the mean).
"""

from __future__ import annotations

import math

import torch

from kit.sae.families import heaviside


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


def l1_penalty(z: torch.Tensor, W_dec: torch.Tensor, norm: float) -> torch.Tensor:
    """Mean over rows of ``Σ_j z_j‖W_dec[j]‖``, divided by ``√norm`` (the NMSE normaliser of :func:`nmse`), so
    that it is the L1 norm of the codes of data scaled to unit variance — on the same scale as the NMSE."""
    return (z * W_dec.norm(dim=1)).sum(1).mean() / math.sqrt(norm)


AUX_MIN_SCALE = 0.1  # the smallest factor by which AuxK's reconstruction of the residual is shrunk


def auxk_loss(residual: torch.Tensor, e_hat: torch.Tensor) -> torch.Tensor:
    """AuxK (Gao et al. 2024): NMSE of the residual ``e = x − x̂`` (detached; normalised by its variance)
    predicted as ``α·ê``, where ``ê = Σ relu(pre_j)·W_dec[j]`` over each row's top ``k_aux`` dead latents
    (no b_dec; the trainer builds it with :func:`kit.sae.sparse.decode`).

    ``α = clamp(⟨e, ê⟩ / ‖ê‖², AUX_MIN_SCALE, 1)`` over the batch (detached) shrinks an ê that overshoots
    the residual (the floor keeps a gradient toward e when ê points away from it).
    Without it, the dead latents' pre-activations (of the input's size) would be pulled down to the size of
    the residual (a few percent of the input's variance) — below those of the live latents, so they never
    win the top-k again, and AuxK made more latents dead instead of fewer.

    residual, e_hat: float[N, d].
    """
    e = residual.detach()
    alpha = ((e * e_hat).sum() / e_hat.pow(2).sum().clamp_min(1e-12)).detach().clamp(AUX_MIN_SCALE, 1.0)
    return nmse(e, alpha * e_hat)


def jumprelu_l0(pre: torch.Tensor, log_threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """JumpReLU's sparsity penalty: mean active latents per row, differentiable in θ = exp(log_threshold)."""
    return heaviside(pre, log_threshold.exp(), bandwidth).sum(-1).mean()


def project_decoder_grad(W_dec: torch.Tensor) -> None:
    """Remove from ``W_dec.grad`` its component parallel to each (unit) decoder row, in place."""
    if W_dec.grad is not None:
        W_dec.grad.addcmul_(torch.linalg.vecdot(W_dec.grad, W_dec).unsqueeze(1), W_dec, value=-1)


@torch.no_grad()
def renormalise_decoder(W_dec: torch.Tensor) -> None:
    """Rescale each decoder row to unit norm, in place."""
    W_dec.div_(W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))
