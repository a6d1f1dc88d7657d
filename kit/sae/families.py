"""The sparsifying activations of the SAE families, as pure functions on pre-activations.

``pre: float[N, D]`` are the encoder's pre-activations; every function returns non-negative codes
``z: float[N, D]``. Training-time and inference-time behaviour differ only for BatchTopK/Matryoshka
(a batch-level top-k while training, a learned threshold at inference) and JumpReLU (a straight-through
estimator for the threshold's gradient while training).
"""

from __future__ import annotations

import torch

# the families' names and Matryoshka's prefix sizes are defined with the configurations (torch-free)
from kit.sae.config import FAMILIES, K_FAMILIES, matryoshka_prefixes  # noqa: F401


def topk_codes(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest pre-activations of each row (ReLU'd): ``z: float[N, D]`` with ≤ k non-zeros per row."""
    vals, idx = pre.topk(k, dim=-1)
    return torch.zeros_like(pre).scatter(-1, idx, torch.relu(vals))


def batchtopk_codes(pre: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the k·N largest pre-activations of the whole batch (ReLU'd).

    Returns ``(z: float[N, D], min_kept: float[])`` where ``min_kept`` is the smallest positive kept value
    (``nan`` when none is positive) — the running inference threshold is estimated from it.
    """
    n = min(k * pre.shape[0], pre.numel())
    vals, idx = pre.flatten().topk(n)
    vals = torch.relu(vals)
    z = torch.zeros_like(pre).flatten().scatter(0, idx, vals).view_as(pre)
    positive = vals.detach()[vals.detach() > 0]
    min_kept = positive.min() if positive.numel() else torch.tensor(float("nan"), device=pre.device)
    return z, min_kept


def threshold_codes(pre: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Keep the pre-activations above ``threshold`` (a scalar or float[D]); ReLU'd, so codes stay ≥ 0."""
    return torch.relu(pre) * (pre > threshold)


def _rectangle(u: torch.Tensor) -> torch.Tensor:
    """The rectangle kernel 1[-½ < u < ½]."""
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    """z = pre·H(pre − θ); ∂z/∂pre = H(pre − θ); ∂z/∂θ = −(θ/ε)·K((pre − θ)/ε) (straight-through)."""

    @staticmethod
    def forward(ctx, pre, theta, bandwidth):
        ctx.save_for_backward(pre, theta)
        ctx.bandwidth = bandwidth
        return pre * (pre > theta)

    @staticmethod
    def backward(ctx, grad):
        pre, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        g_pre = grad * (pre > theta)
        g_theta = (grad * -(theta / eps) * _rectangle((pre - theta) / eps)).sum(0)
        return g_pre, g_theta, None


class _Step(torch.autograd.Function):
    """H(pre − θ) with ∂/∂pre = 0 and ∂/∂θ = −(1/ε)·K((pre − θ)/ε) (straight-through)."""

    @staticmethod
    def forward(ctx, pre, theta, bandwidth):
        ctx.save_for_backward(pre, theta)
        ctx.bandwidth = bandwidth
        return (pre > theta).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad):
        pre, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        g_theta = (grad * -(1.0 / eps) * _rectangle((pre - theta) / eps)).sum(0)
        return torch.zeros_like(pre), g_theta, None


def jumprelu_codes(pre: torch.Tensor, log_threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """JumpReLU codes with a per-latent threshold θ = exp(log_threshold: float[D]) (differentiable in θ)."""
    return _JumpReLU.apply(pre, log_threshold.exp(), bandwidth)


def heaviside(pre: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """float[N, D] indicator ``pre > threshold``, differentiable in the threshold (rectangle-kernel STE)."""
    return _Step.apply(pre, threshold, bandwidth)

