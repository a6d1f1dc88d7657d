"""Linear probes: many independent L2-regularised logistic regressions fitted at once, and SAEBench's
L1-regularised probe on all latents (absorption's choice of main latents).

The objective of each task c matches sklearn's ``LogisticRegression(C=inverse_reg)``:
``Σ_n w_nc · log-loss_nc + ‖β_c‖² / (2·inverse_reg)`` (bias unpenalised), on the raw features or, with
``standardize=True``, on features standardised per task (weighted mean and standard deviation; the
coefficients are mapped back to the raw features). The tasks are separable, so one L-BFGS run on their sum
fits them all.
"""

from __future__ import annotations

import warnings
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
               max_iter: int = 100, tolerance: float = 1e-5, device: str = "auto",
               standardize: bool = True) -> Probes:
    """Fit one logistic regression per task.

    F: float[N, p] shared features, or float[C, N, p] per-task features; Y: bool[N, C];
    weights: float[N, C] sample weights (0 leaves a sample out of a task); max_iter, tolerance: L-BFGS's
    iteration cap and gradient tolerance (on the objective divided by N); standardize: penalise the
    coefficients of per-task standardised features (True) or of the raw features, as sklearn does (False).
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
    if not standardize:
        mu, sd = torch.zeros_like(mu), torch.ones_like(sd)
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


def fit_l1_probes(F: np.ndarray, Y: np.ndarray, l1_decay: float = 0.01, max_iter: int = 1000,
                  tolerance: float = 1e-5, device: str = "auto") -> Probes:
    """SAEBench's L1-regularised one-vs-rest probe on all features (its absorption eval's ``train_sparse_multi_probe``),
    fitted to convergence: per task c, ``(1/N) Σ_n ℓ_nc + l1_decay · ‖w_c‖₁`` with ℓ the binary cross-entropy
    with logits whose positives weigh negatives/positives (bias unpenalised). SAEBench minimises the same loss
    by 50 epochs of Adam with a decaying learning rate (and a weight decay of 1e-6, left out here), which on
    small sets stops far from the minimum; here FISTA (proximal gradient with momentum, step 1/L from the
    features' largest singular value, float32 in torch) runs until no weight moves by more than ``tolerance``
    × the largest weight, or ``max_iter`` steps. Deterministic (starts at zero).

    F: float[N, p] (multiplied as a sparse CSR matrix when at most 10% of it is non-zero); Y: bool[N, C].
    """
    import torch

    dev = torch.device(resolve_device(device))
    n, c = Y.shape
    f = torch.as_tensor(np.ascontiguousarray(F), dtype=torch.float32)
    if int(torch.count_nonzero(f)) <= 0.1 * f.numel():
        with warnings.catch_warnings():  # torch: "Sparse CSR tensor support is in beta state", once per process
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support", category=UserWarning)
            A, At = f.to_sparse_csr().to(dev), f.T.contiguous().to_sparse_csr().to(dev)
    else:
        A = f.to(dev)
        At = A.T
    y = torch.as_tensor(Y, dtype=torch.float32, device=dev)
    pos = y.sum(0)
    pw = (n - pos) / pos.clamp_min(1)  # positives' weight per task
    scale = y * pw + (1 - y)  # the loss weight of each (sample, task)
    g0 = torch.Generator().manual_seed(0)
    v = torch.randn(f.shape[1] + 1, 1, generator=g0).to(dev)  # power iteration on [F, 1]ᵀ[F, 1]
    for _ in range(50):
        u = A @ v[:-1] + v[-1]
        v = torch.cat([At @ u, u.sum(0, keepdim=True)])
        v = v / v.norm().clamp_min(1e-30)
    u = A @ v[:-1] + v[-1]
    sigma2 = float((u * u).sum()) * 1.01 + 1e-12
    step = 4 * n / (pw.clamp_min(1) * sigma2)  # 1/L per task: ℓ'' ≤ max(pw, 1)/4
    w = torch.zeros(f.shape[1], c, device=dev)
    b = torch.zeros(c, device=dev)
    wy, by, t = w.clone(), b.clone(), 1.0
    for _ in range(max_iter):
        g = (torch.sigmoid(A @ wy + by) * scale - y * pw) / n  # dℓ/ds
        w_new = wy - step * (At @ g)
        w_new = torch.sign(w_new) * (w_new.abs() - step * l1_decay).clamp_min(0)  # the L1 prox
        b_new = by - step * g.sum(0)
        t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
        moved = float((w_new - w).abs().max()) if w.numel() else 0.0
        wy = w_new + (t - 1) / t_new * (w_new - w)
        by = b_new + (t - 1) / t_new * (b_new - b)
        w, b, t = w_new, b_new, t_new
        if moved <= tolerance * max(float(w.abs().max()) if w.numel() else 0.0, 1e-12):
            break
    return Probes(coef=w.T.cpu().numpy().astype(np.float32), intercept=b.cpu().numpy().astype(np.float32))
