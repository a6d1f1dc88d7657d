"""Linear probes: many independent L2-regularised logistic regressions fitted at once.

The objective of each task c matches sklearn's ``LogisticRegression(C=inverse_reg)`` on standardised
features: ``Σ_n w_nc · log-loss_nc + ‖β_c‖² / (2·inverse_reg)`` (bias unpenalised). The tasks are
separable, so one L-BFGS run on their sum fits them all; features are standardised per task inside
(weighted mean and standard deviation) and the coefficients are mapped back to the raw features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.arrays import resolve_device
from kit.errors import DataError


@dataclass(frozen=True, eq=False)
class Probes:
    """C fitted probes: ``coef: float32[C, p]`` and ``intercept: float32[C]`` on the raw features."""

    coef: np.ndarray
    intercept: np.ndarray

    def logits(self, F: np.ndarray) -> np.ndarray:
        """float[N, C] for shared features ``F: float[N, p]``, or per-task features ``F: float[C, N, p]``."""
        if F.ndim == 2:
            return F @ self.coef.T + self.intercept
        return np.einsum("cnp,cp->nc", F, self.coef) + self.intercept


def fit_probes(F: np.ndarray, Y: np.ndarray, weights: np.ndarray, inverse_reg: float = 1.0,
               max_iter: int = 100, tolerance: float = 1e-5, device: str = "auto") -> Probes:
    """Fit one logistic regression per task.

    F: float[N, p] shared features, or float[C, N, p] per-task features; Y: bool[N, C];
    weights: float[N, C] sample weights (0 leaves a sample out of a task); max_iter, tolerance: L-BFGS's
    iteration cap and gradient tolerance (on the objective divided by N).
    """
    import torch

    if inverse_reg <= 0:
        raise DataError(f"inverse_reg must be > 0, got {inverse_reg}")
    dev = resolve_device(device)
    shared = F.ndim == 2
    n, c = Y.shape
    if (F.shape[0] if shared else F.shape[1]) != n or (not shared and F.shape[0] != c):
        raise DataError(f"probe features of shape {F.shape} do not fit labels of shape {Y.shape}")
    f = torch.as_tensor(np.ascontiguousarray(F), dtype=torch.float32, device=dev)
    y = torch.as_tensor(Y, dtype=torch.float32, device=dev)
    w = torch.as_tensor(weights, dtype=torch.float32, device=dev)
    wsum = w.sum(0).clamp_min(1e-6)
    if shared:  # weighted mean/std per task: [C, p]
        mu = (w.T @ f) / wsum[:, None]
        var = (w.T @ f.square()) / wsum[:, None] - mu.square()
    else:
        mu = torch.einsum("cnp,nc->cp", f, w) / wsum[:, None]
        var = torch.einsum("cnp,nc->cp", f.square(), w) / wsum[:, None] - mu.square()
    sd = var.clamp_min(0).sqrt()
    sd = torch.where(sd > 1e-6, sd, torch.ones_like(sd))
    p = f.shape[-1]
    beta = torch.zeros(c, p, dtype=torch.float32, device=dev, requires_grad=True)
    bias = torch.zeros(c, dtype=torch.float32, device=dev, requires_grad=True)

    def logits() -> torch.Tensor:
        b = beta / sd  # coefficients on the raw features
        off = bias - (b * mu).sum(1)
        z = f @ b.T if shared else torch.einsum("cnp,cp->nc", f, b)
        return z + off

    opt = torch.optim.LBFGS([beta, bias], lr=1, max_iter=max_iter, tolerance_grad=tolerance,
                            tolerance_change=1e-9, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(logits(), y, reduction="none")).sum()
        loss = (loss + beta.square().sum() / (2 * inverse_reg)) / n  # scaled by 1/N: same minimiser
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        b = beta / sd
        off = bias - (b * mu).sum(1)
    return Probes(coef=b.cpu().numpy().astype(np.float32), intercept=off.cpu().numpy().astype(np.float32))
