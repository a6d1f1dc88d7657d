"""Monosemanticity score MS (Pach et al., "Sparse autoencoders learn monosemantic features in
vision-language models").

For latent j with min–max normalised activations ã_nj ∈ [0, 1] over N images and the cosine similarity
S_nm of the images' reference embeddings E (the paper uses a separate image encoder, e.g. DINOv2):

    MS_j = Σ_{n≠m} ã_nj ã_mj S_nm / Σ_{n≠m} ã_nj ã_mj.

With unit rows Ẽ, Σ_{n≠m} ã_n ã_m S_nm = ‖Ẽᵀ ã‖² − Σ_n ã_n², so all latents come from one chunked
product ``Ãᵀ Ẽ: [D, d]`` — no N×N matrix and no loop over pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.arrays import resolve_device
from kit.errors import ConfigError, DataError
from kit.metrics._common import ResultMixin, check_rows, floats, nanmean


@dataclass(frozen=True)
class MSConfig:
    """chunk_size: rows per block of the product."""

    chunk_size: int = 4096
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ConfigError(f"MSConfig.chunk_size must be ≥ 1, got {self.chunk_size}")


@dataclass(frozen=True, eq=False)
class MSResult(ResultMixin):
    """per_latent: float[D] MS of each latent (NaN for a latent that is constant over the images)."""

    per_latent: np.ndarray
    config: MSConfig

    def units(self) -> dict[str, np.ndarray]:
        return {"ms": self.per_latent[np.isfinite(self.per_latent)]}

    def headline(self) -> dict[str, float]:
        return {"ms": nanmean(self.per_latent)}


def monosemanticity(E: np.ndarray, Z: np.ndarray, config: MSConfig | None = None) -> MSResult:
    """MS of every latent of codes ``Z: float[N, D]`` against reference embeddings ``E: float[N, e]``."""
    import torch

    cfg = config or MSConfig()
    E, Z = floats("E", E), floats("Z", Z)
    check_rows(E=E, Z=Z)
    norms = np.linalg.norm(E, axis=1)
    if (norms == 0).any():
        raise DataError(f"monosemanticity: reference embedding row {int(np.flatnonzero(norms == 0)[0])} is zero")
    dev = resolve_device(cfg.device)
    lo = torch.as_tensor(Z.min(0), device=dev, dtype=torch.float64)
    span = torch.as_tensor(Z.max(0), device=dev, dtype=torch.float64) - lo
    alive = span > 0
    span = torch.where(alive, span, torch.ones_like(span))
    M = torch.zeros(Z.shape[1], E.shape[1], dtype=torch.float64, device=dev)
    s1 = torch.zeros(Z.shape[1], dtype=torch.float64, device=dev)
    s2 = torch.zeros_like(s1)
    for s in range(0, Z.shape[0], cfg.chunk_size):
        a = (torch.as_tensor(Z[s:s + cfg.chunk_size], device=dev, dtype=torch.float64) - lo) / span
        e = torch.as_tensor(E[s:s + cfg.chunk_size] / norms[s:s + cfg.chunk_size, None], device=dev)
        M += (a.float().T @ e).double()  # the big product in float32, accumulated in float64
        s1 += a.sum(0)
        s2 += a.square().sum(0)
    num = M.square().sum(1) - s2
    den = s1.square() - s2
    ok = alive & (den > 0)
    ms = torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.full_like(den, float("nan")))
    return MSResult(per_latent=ms.cpu().numpy(), config=cfg)
