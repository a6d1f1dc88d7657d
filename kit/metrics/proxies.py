"""Reconstruction and sparsity proxies: MSE, FVU, cosine, L0, dead and dense latents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kit.arrays import resolve_device
from kit.errors import ConfigError
from kit.metrics._common import ResultMixin, check_dims, decoder, floats, sae_dtype


@dataclass(frozen=True)
class ProxiesConfig:
    """batch_size: rows per forward pass; dense_threshold: a latent firing on more than this fraction of
    samples counts as dense (SAEBench's 10 %); a latent that never fires is dead."""

    batch_size: int = 4096
    dense_threshold: float = 0.1
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"ProxiesConfig.batch_size must be ≥ 1, got {self.batch_size}")
        if not 0 < self.dense_threshold < 1:
            raise ConfigError(f"ProxiesConfig.dense_threshold must lie in (0, 1), got {self.dense_threshold}")


@dataclass(frozen=True, eq=False)
class ProxiesResult(ResultMixin):
    """sq_error: float[N] per-sample mean squared error; fvu_share: float[N] per-sample share of the FVU
    (its mean is the FVU); cosine: float[N]; l0: float[N] active latents per sample;
    frequency: float[D] firing frequency of each latent."""

    sq_error: np.ndarray
    fvu_share: np.ndarray
    cosine: np.ndarray
    l0: np.ndarray
    frequency: np.ndarray
    config: ProxiesConfig

    @property
    def dead(self) -> np.ndarray:
        return self.frequency == 0

    @property
    def dense(self) -> np.ndarray:
        return self.frequency > self.config.dense_threshold

    def units(self) -> dict[str, np.ndarray]:
        return {"mse": self.sq_error, "fvu": self.fvu_share, "cosine": self.cosine, "l0": self.l0,
                "dead_fraction": self.dead.astype(float), "dense_fraction": self.dense.astype(float)}

    def headline(self) -> dict[str, float]:
        return {k: float(np.mean(v)) for k, v in self.units().items()}


def proxies(X: np.ndarray, sae: Any, config: ProxiesConfig | None = None) -> ProxiesResult:
    """Reconstruction and sparsity of an SAE on ``X: float[N, d]``, in batches (one pass)."""
    import torch

    cfg = config or ProxiesConfig()
    X = floats("X", X)
    check_dims(X, decoder(sae))
    dev = resolve_device(cfg.device)
    dtype = sae_dtype(sae)
    sae = sae.to(dev)
    # the reconstruction lives in the SAE's input space (per-sample standardised for some SAEs), so the
    # target and its variance are taken there too
    to_input_space = getattr(sae, "preprocess", lambda x: x)
    sq, cos, l0 = [], [], []
    counts, t_sum, t_sq = None, np.zeros(X.shape[1]), 0.0
    with torch.no_grad():
        for s in range(0, X.shape[0], cfg.batch_size):
            raw = torch.as_tensor(X[s:s + cfg.batch_size], device=dev, dtype=dtype)
            x = to_input_space(raw)
            t_sum += x.double().sum(0).cpu().numpy()
            t_sq += float(x.double().square().sum())
            z = sae.encode(raw)
            xh = sae.decode(z)
            sq.append((x - xh).float().square().mean(1).cpu().numpy())
            cos.append(torch.nn.functional.cosine_similarity(x.float(), xh.float(), dim=1).cpu().numpy())
            active = z != 0
            l0.append(active.sum(1).cpu().numpy())
            c = active.sum(0, dtype=torch.int64)
            counts = c if counts is None else counts + c
    total_var = t_sq / X.shape[0] - float((t_sum / X.shape[0]) @ (t_sum / X.shape[0]))
    sq_error = np.concatenate(sq).astype(np.float64)
    d = X.shape[1]
    fvu_share = sq_error * d / total_var if total_var > 0 else np.full_like(sq_error, np.nan)
    return ProxiesResult(sq_error=sq_error, fvu_share=fvu_share, cosine=np.concatenate(cos).astype(np.float64),
                         l0=np.concatenate(l0).astype(np.float64),
                         frequency=counts.cpu().numpy() / X.shape[0], config=cfg)
