"""k-sparse probing in the SAEBench manner.

Per concept: rank the latents by the absolute difference of their mean activation on positive and on
negative training samples, fit a logistic regression on the top k, and report its test accuracy
(class-balanced, as SAEBench's balanced datasets give). All concepts and all k are fitted at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.errors import ConfigError
from kit.metrics._common import (ResultMixin, balanced_accuracy, balanced_weights, bools, check_rows, floats,
                                 nanmean, split_indices)
from kit.metrics.probes import fit_probes


@dataclass(frozen=True)
class SparseProbingConfig:
    """ks: probe sizes (SAEBench's 1, 2, 5); test_fraction: SAEBench's 1000 of 5000; seed: SAEBench's 42;
    inverse_reg: sklearn's C (its default 1.0)."""

    ks: tuple[int, ...] = (1, 2, 5)
    test_fraction: float = 0.2
    seed: int = 42
    inverse_reg: float = 1.0
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.ks or min(self.ks) < 1:
            raise ConfigError(f"SparseProbingConfig.ks must be positive integers, got {self.ks}")


def mean_difference(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """float[C, D]: mean activation on positives minus mean on negatives (NaN where a class is missing)."""
    Yf = Y.astype(np.float32)
    pos = Yf.sum(0)
    neg = Y.shape[0] - pos
    s_pos = Yf.T @ Z
    s_all = Z.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return s_pos / pos[:, None] - (s_all[None] - s_pos) / neg[:, None]


@dataclass(frozen=True, eq=False)
class SparseProbingResult(ResultMixin):
    """accuracy: float[C, K] test accuracy per concept and k; latents: int[C, max k] the ranked latents."""

    accuracy: np.ndarray
    latents: np.ndarray
    config: SparseProbingConfig

    def units(self) -> dict[str, np.ndarray]:
        return {f"sparse_probing_k{k}": self.accuracy[np.isfinite(self.accuracy[:, i]), i]
                for i, k in enumerate(self.config.ks)}

    def headline(self) -> dict[str, float]:
        return {f"sparse_probing_k{k}": nanmean(self.accuracy[:, i]) for i, k in enumerate(self.config.ks)}


def sparse_probing(Z: np.ndarray, Y: np.ndarray, config: SparseProbingConfig | None = None) -> SparseProbingResult:
    """Test accuracy of k-sparse probes on codes ``Z: float[N, D]`` for concepts ``Y: bool[N, C]``."""
    cfg = config or SparseProbingConfig()
    Z, Y = floats("Z", Z), bools("Y", Y)
    n = check_rows(Z=Z, Y=Y)
    ks = sorted(set(cfg.ks))
    if ks[-1] > Z.shape[1]:
        raise ConfigError(f"SparseProbingConfig.ks asks for {ks[-1]} latents but Z has {Z.shape[1]}")
    train, test = split_indices(n, cfg.test_fraction, cfg.seed)
    diff = np.abs(mean_difference(Z[train], Y[train]))
    latents = np.argsort(-np.nan_to_num(diff, nan=-1.0), axis=1, kind="stable")[:, :ks[-1]]
    acc = np.full((Y.shape[1], len(cfg.ks)), np.nan)
    for k in ks:
        sel = latents[:, :k]
        probes = fit_probes(np.ascontiguousarray(Z[train][:, sel].transpose(1, 0, 2)), Y[train],
                            balanced_weights(Y[train]), cfg.inverse_reg, device=cfg.device)
        pred = probes.logits(np.ascontiguousarray(Z[test][:, sel].transpose(1, 0, 2))) > 0
        a = balanced_accuracy(pred, Y[test])
        for i, kk in enumerate(cfg.ks):
            if kk == k:
                acc[:, i] = a
    return SparseProbingResult(accuracy=acc, latents=latents, config=cfg)
