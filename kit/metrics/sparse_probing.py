"""k-sparse probing as in SAEBench (its ``sparse_probing`` eval), on concept labels.

Per concept, on a seeded train/test split of the samples:

1. the probe sets: every positive and as many negatives drawn at random (SAEBench's ``prepare_probe_data``),
   in the training split and, separately, in the test split (:func:`kit.metrics._common.balanced_sets`);
2. the latents ranked by ``|mean activation on the positives − on the negatives|`` of the training set
   (SAEBench's ``get_top_k_mean_diff_mask``; ties to the lowest index), or, with ``ranking="normalized"``,
   by the same difference after dividing each latent by its mean over the training samples where it fires
   (sae-probes' ``get_sorted_indices_new``: the raw difference favours latents of large scale);
3. for each k, a logistic regression on the top k latents — sklearn's ``LogisticRegression(C=1)`` on the raw
   values, L2, as SAEBench fits it — and its accuracy on the balanced test set.

All concepts and all k are fitted at once. Where the kit differs: inputs are codes of embeddings (no language
model, no token pooling); the negatives are drawn from all samples lacking the concept (SAEBench's classes
exclude each other and it draws them evenly from the other classes); the logistic regressions are fitted by
L-BFGS in torch to sklearn's objective. ``negatives="weighted"``, ``standardize=True`` give the kit's former
variant: all samples with class-balanced weights, balanced accuracy, standardised features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.errors import ConfigError
from kit.metrics._common import (ResultMixin, balanced_sets, balanced_weights, bools, check_rows, floats, nanmean,
                                 split_indices, weighted_accuracy)
from kit.metrics.probes import fit_probes

NEGATIVES = ("balanced", "weighted")
RANKINGS = ("mean_difference", "normalized")


@dataclass(frozen=True)
class SparseProbingConfig:
    """ks: probe sizes (SAEBench's 1, 2, 5); test_fraction: SAEBench's 1000 of 5000; seed: SAEBench's 42 (the
    split and the negatives' draw); inverse_reg: sklearn's C (its default 1.0); negatives: ``"balanced"``
    (SAEBench: positives and as many random negatives, plain accuracy) or ``"weighted"`` (all samples,
    class-balanced weights, balanced accuracy); ranking: ``"mean_difference"`` (SAEBench) or ``"normalized"``
    (sae-probes); standardize: fit on standardised latents instead of raw ones (SAEBench: raw); max_iter:
    the fit's iteration cap (SAEBench's sklearn max_iter 1000)."""

    ks: tuple[int, ...] = (1, 2, 5)
    test_fraction: float = 0.2
    seed: int = 42
    inverse_reg: float = 1.0
    negatives: str = "balanced"
    ranking: str = "mean_difference"
    standardize: bool = False
    max_iter: int = 1000
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.ks or min(self.ks) < 1:
            raise ConfigError(f"SparseProbingConfig.ks must be positive integers, got {self.ks}")
        if self.negatives not in NEGATIVES:
            raise ConfigError(f"SparseProbingConfig.negatives must be one of {NEGATIVES}, got {self.negatives!r}")
        if self.ranking not in RANKINGS:
            raise ConfigError(f"SparseProbingConfig.ranking must be one of {RANKINGS}, got {self.ranking!r}")


def mean_difference(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """float[C, D]: mean activation on positives minus mean on negatives (NaN where a class is missing)."""
    Yf = Y.astype(np.float32)
    pos = Yf.sum(0)
    neg = Y.shape[0] - pos
    s_pos = Yf.T @ Z
    s_all = Z.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return s_pos / pos[:, None] - (s_all[None] - s_pos) / neg[:, None]


def set_mean_difference(Z: np.ndarray, Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """float[C, D]: per concept, the mean of ``Z: float[N, D]`` over its positives minus over its negatives,
    both within its set (the rows with ``W: float[N, C] > 0``); NaN where the set lacks a class."""
    inset = (W > 0).astype(np.float32)
    P = inset * Y
    Q = inset * ~Y.astype(bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (P.T @ Z) / P.sum(0)[:, None] - (Q.T @ Z) / Q.sum(0)[:, None]


def firing_means(Z: np.ndarray, W: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """float[C, D]: per concept, each latent's mean over the rows of its set where it fires
    (``Σ z / (#{z ≠ 0} + 1e-6)``, as sae-probes computes it)."""
    inset = (W > 0).astype(np.float32)
    sums = inset.T @ Z
    fires = np.empty_like(sums)
    for j0 in range(0, Z.shape[1], chunk):  # a bool → float copy of one block of latents at a time
        fires[:, j0:j0 + chunk] = inset.T @ (Z[:, j0:j0 + chunk] != 0).astype(np.float32)
    return sums / (fires + 1e-6)


def rank_latents(Z: np.ndarray, Y: np.ndarray, W: np.ndarray, ranking: str = "mean_difference") -> np.ndarray:
    """float[C, D]: the ranking score of every latent for every concept (higher first; NaN where undefined)."""
    diff = np.abs(set_mean_difference(Z, Y, W))
    if ranking == "normalized":
        diff = diff / (firing_means(Z, W) + 1e-6)
    return diff


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
    Ztr, Ytr, Yte = Z[train], Y[train], Y[test]
    if cfg.negatives == "balanced":
        Wtr, Wte = balanced_sets(Ytr, [cfg.seed, 0]), balanced_sets(Yte, [cfg.seed, 1])
    else:
        Wtr, Wte = balanced_weights(Ytr), balanced_weights(Yte)
    score = rank_latents(Ztr, Ytr, Wtr, cfg.ranking)
    latents = np.argsort(-np.nan_to_num(score, nan=-1.0), axis=1, kind="stable")[:, :ks[-1]]
    acc = np.full((Y.shape[1], len(cfg.ks)), np.nan)
    Zte = Z[test]
    for k in ks:
        sel = latents[:, :k]
        probes = fit_probes(np.ascontiguousarray(Ztr[:, sel].transpose(1, 0, 2)), Ytr, Wtr, cfg.inverse_reg,
                            max_iter=cfg.max_iter, device=cfg.device, standardize=cfg.standardize)
        pred = probes.logits(np.ascontiguousarray(Zte[:, sel].transpose(1, 0, 2))) > 0
        a = weighted_accuracy(pred, Yte, Wte)
        for i, kk in enumerate(cfg.ks):
            if kk == k:
                acc[:, i] = a
    return SparseProbingResult(accuracy=acc, latents=latents, config=cfg)
