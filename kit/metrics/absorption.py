"""Feature absorption as in SAEBench (Chanin et al., "A is for Absorption"; SAEBench's ``absorption`` eval), for
concept hierarchies: each family (``has_wing_color``) plays the part of "first letter", its values the letters.

Per value concept c of a family with ≥ 2 values, on a seeded train/test split:

1. a ground-truth probe on the embeddings; c is evaluated only if its test F1 exceeds ``min_probe_f1``;
   u_c is its unit weight;
2. the main latents: SAEBench's L1-regularised probe on all latents (:func:`kit.metrics.probes.fit_l1_probes`,
   fitted to convergence where SAEBench runs 50 epochs of Adam) ranks them by weight (signed: latents that
   predict the concept); a k-sparse logistic regression
   (sklearn's ``LogisticRegression(max_iter=500, class_weight="balanced")`` on the raw values) is fitted on the
   top k, for k = 1, 2, …; the main latents are the top k of the last k whose test F1 beat the previous one by
   more than ``f1_jump_threshold`` (k = 1 always counts), up to ``max_k``;
3. on the test samples that show c and that the probe detects, each latent's projection onto the probe
   direction ``z_l · cos(W_dec[l], u_c)`` (activation × cosine) and the embedding's own ``x · u_c``:
   - full absorption: every main latent is silent (activation < 1e-8), the latent that projects most has
     cosine ≥ ``probe_cos_threshold`` (0.025) with u_c, ``x · u_c > 0``, and that latent's projection is at
     least ``projection_threshold`` (0.4) × ``x · u_c``;
   - absorption fraction: the absorbers are the non-main latents with cosine ≥ ``fraction_cos_threshold``
     (0.1) and a positive projection, at most ``max_absorbing_latents`` (3) of them, the largest; with M the
     main latents' summed projection and A the absorbers': 0 if ``M ≥ x·u_c`` or ``A < 0.4 · x·u_c``; else 1 if
     ``M ≤ 0``; else ``a / (a + M)`` with ``a = min(A, x·u_c − M)``.
   Both are averaged over the samples, per concept.

Where the kit differs: inputs are codes of embeddings (no language model, no prompt); the ground-truth probe
is an L2 logistic regression with class-balanced weights, fitted by L-BFGS (SAEBench trains its letter probes
by Adam on language-model activations); a sample whose ``x · u_c`` is 0 is not absorbed (SAEBench divides by
it); concepts are scored whenever at least ``min_concepts`` (default 1) pass the probe's F1 (SAEBench refuses
an SAE on which fewer than 20 letters pass). ``main_latents="mean_difference"`` ranks the latents by their
mean difference instead (the kit's former choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kit.errors import ConfigError, DataError
from kit.metrics._common import (ResultMixin, balanced_weights, bools, check_dims, check_rows, codes_for, decoder,
                                 floats, nanmean, split_indices)
from kit.metrics.probes import fit_l1_probes, fit_probes
from kit.metrics.sparse_probing import mean_difference

MAIN_LATENTS = ("l1_probe", "mean_difference")
EPS = 1e-8  # SAEBench's "does not fire"


@dataclass(frozen=True)
class AbsorptionConfig:
    """SAEBench's settings: f1_jump_threshold 0.03, max_k 10, min_probe_f1 0.6, seed 42; its absorption
    calculator's probe_cos_threshold 0.025 (full absorption), fraction_cos_threshold 0.1 (absorption
    fraction), projection_threshold 0.4 (both), max_absorbing_latents 3 (fraction); its k-sparse probing's
    L1 probe (l1_decay 0.01; fitted to convergence, at most l1_max_iter steps) and the k-sparse probes'
    sparse_max_iter 500. main_latents: ``"l1_probe"`` (SAEBench) or ``"mean_difference"``; min_concepts:
    fewest concepts passing min_probe_f1 for any score (SAEBench: 20 letters)."""

    f1_jump_threshold: float = 0.03
    max_k: int = 10
    min_probe_f1: float = 0.6
    probe_cos_threshold: float = 0.025
    fraction_cos_threshold: float = 0.1
    projection_threshold: float = 0.4
    max_absorbing_latents: int = 3
    main_latents: str = "l1_probe"
    l1_decay: float = 0.01
    l1_max_iter: int = 1000
    sparse_max_iter: int = 500
    min_concepts: int = 1
    test_fraction: float = 0.2
    seed: int = 42
    inverse_reg: float = 1.0
    batch_size: int = 4096
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.max_k < 1:
            raise ConfigError(f"AbsorptionConfig.max_k must be ≥ 1, got {self.max_k}")
        if self.main_latents not in MAIN_LATENTS:
            raise ConfigError(f"AbsorptionConfig.main_latents must be one of {MAIN_LATENTS}, "
                              f"got {self.main_latents!r}")
        if self.max_absorbing_latents < 1:
            raise ConfigError(f"AbsorptionConfig.max_absorbing_latents must be ≥ 1, got {self.max_absorbing_latents}")


@dataclass(frozen=True, eq=False)
class AbsorptionResult(ResultMixin):
    """Per concept (NaN where not evaluated): full_absorption, absorption_fraction, probe_f1: float[C];
    main_latents: per concept the main latents (empty where not evaluated)."""

    full_absorption: np.ndarray
    absorption_fraction: np.ndarray
    probe_f1: np.ndarray
    main_latents: list[list[int]]
    config: AbsorptionConfig

    def units(self) -> dict[str, np.ndarray]:
        return {"full_absorption": self.full_absorption[np.isfinite(self.full_absorption)],
                "absorption_fraction": self.absorption_fraction[np.isfinite(self.absorption_fraction)]}

    def headline(self) -> dict[str, float]:
        return {"full_absorption": nanmean(self.full_absorption),
                "absorption_fraction": nanmean(self.absorption_fraction)}


def _f1(pred: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """float[C] F1 of ``pred, Y: bool[N, C]`` (0 where nothing is predicted nor present, as sklearn's
    ``f1_score`` with its warning)."""
    tp = (pred & Y).sum(0)
    denom = pred.sum(0) + Y.sum(0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


_CHUNK = 32  # concepts whose k-sparse probes are fitted together


def n_main(f1k: np.ndarray, threshold: float) -> np.ndarray:
    """int[C]: from the test F1 of the k-sparse probes ``f1k: float[C, K]`` (k = 1…K), how many ranked latents
    are main latents: SAEBench's loop — k counts while its F1 beats the last counted one by more than
    ``threshold`` (k = 1 always counts), and stops at the first k that does not."""
    jumps = f1k[:, 1:] > f1k[:, :-1] + threshold  # [C, K-1], compared as SAEBench compares
    stop = np.concatenate([~jumps, np.ones((f1k.shape[0], 1), dtype=bool)], axis=1)
    return 1 + np.argmax(stop, axis=1)


def _sparse_f1(Z: np.ndarray, Ytr: np.ndarray, Yte: np.ndarray, ranked: np.ndarray, train: np.ndarray,
               test: np.ndarray, cfg: AbsorptionConfig) -> np.ndarray:
    """float[C, K]: test F1 of the k-sparse probes on the first k ranked latents (int[C, K]). All C × K probes
    are fitted at once, the probe of size k seeing the first k ranked latents and zeros in the other columns."""
    K = ranked.shape[1]
    pad = np.tril(np.ones((K, K), dtype=np.float32))  # row k-1 keeps the first k columns

    def feats(rows: np.ndarray) -> np.ndarray:
        F = Z[rows][:, ranked]  # [n, C, K]
        return np.ascontiguousarray((F[:, :, None, :] * pad[None, None]).reshape(len(rows), -1, K).transpose(1, 0, 2))

    Yk = np.repeat(Ytr, K, axis=1)
    sparse = fit_probes(feats(train), Yk, balanced_weights(Yk), cfg.inverse_reg, max_iter=cfg.sparse_max_iter,
                        device=cfg.device, standardize=False)
    return _f1(sparse.logits(feats(test)) > 0, np.repeat(Yte, K, axis=1)).reshape(-1, K)


def main_ranking(Z: np.ndarray, Y: np.ndarray, cfg: AbsorptionConfig, K: int) -> np.ndarray:
    """int[C, K]: per concept the K latents the k-sparse probes draw from, best first (ties to the lowest index):
    the largest weights of SAEBench's L1 probe, or the largest mean differences."""
    if cfg.main_latents == "l1_probe":
        probe = fit_l1_probes(Z, Y, cfg.l1_decay, cfg.l1_max_iter, device=cfg.device)
        score = probe.coef.astype(np.float64)
    else:
        score = np.nan_to_num(mean_difference(Z, Y), nan=-np.inf)
    return np.argsort(-score, axis=1, kind="stable")[:, :K]


def sample_absorption(z: np.ndarray, x_proj: np.ndarray, cos: np.ndarray, main: np.ndarray,
                      cfg: AbsorptionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, SAEBench's (full absorption: bool, absorption fraction: float).

    z: float[S, D] the samples' codes; x_proj: float[S] their embeddings' projection on the probe direction;
    cos: float[D] each atom's cosine with it; main: int[m] the main latents."""
    proj = z * cos[None, :]  # activation × cosine
    rows = np.arange(z.shape[0])
    top = proj.argmax(axis=1)  # the latent that projects most (ties: the lowest index)
    with np.errstate(invalid="ignore", divide="ignore"):
        full = ((z[:, main] < EPS).all(axis=1) & (cos[top] >= cfg.probe_cos_threshold) & (x_proj > 0)
                & (proj[rows, top] >= cfg.projection_threshold * x_proj))
    m = proj[:, main].sum(axis=1)
    cand = cos >= cfg.fraction_cos_threshold
    cand[main] = False
    absorbers = np.where(cand[None, :] & (proj > 0), proj, 0.0)
    k = min(cfg.max_absorbing_latents, absorbers.shape[1])
    a_total = np.partition(absorbers, absorbers.shape[1] - k, axis=1)[:, absorbers.shape[1] - k:].sum(axis=1)
    a = np.minimum(a_total, x_proj - m)
    with np.errstate(invalid="ignore", divide="ignore"):
        mixed = np.clip(a / (a + m), 0.0, 1.0)
    frac = np.where((x_proj <= 0) | (m >= x_proj) | (a_total < cfg.projection_threshold * x_proj), 0.0,
                    np.where(m <= 0, 1.0, mixed))
    return full, frac


def absorption(X: np.ndarray, Y: np.ndarray, sae: Any, groups: Sequence[str], Z: np.ndarray | None = None,
               config: AbsorptionConfig | None = None) -> AbsorptionResult:
    """Feature absorption of an SAE on embeddings ``X: float[N, d]`` and concepts ``Y: bool[N, C]``.

    groups: the family name of each of the C concepts; Z: the codes of X when already computed."""
    cfg = config or AbsorptionConfig()
    X, Y = floats("X", X), bools("Y", Y)
    n = check_rows(X=X, Y=Y)
    C = Y.shape[1]
    groups = [str(g) for g in groups]
    if len(groups) != C:
        raise DataError(f"absorption: groups has {len(groups)} entries for {C} concepts")
    fam_size = {g: groups.count(g) for g in set(groups)}
    concepts = np.array([c for c in range(C) if fam_size[groups[c]] >= 2], dtype=np.int64)
    if concepts.size == 0:
        raise DataError("absorption: no family has ≥ 2 values (no concept hierarchy to test)")
    W_dec = decoder(sae)
    check_dims(X, W_dec)
    Z = codes_for(sae, X, Z, cfg.batch_size, cfg.device)
    train, test = split_indices(n, cfg.test_fraction, cfg.seed)
    Ytr, Yte = Y[train][:, concepts], Y[test][:, concepts]
    probes = fit_probes(X[train], Ytr, balanced_weights(Ytr), cfg.inverse_reg, device=cfg.device)
    detect = probes.logits(X[test]) > 0
    probe_f1 = np.where((Yte.sum(0) > 0), _f1(detect, Yte), np.nan)
    K = min(cfg.max_k, Z.shape[1])
    ranked = main_ranking(Z[train], Ytr, cfg, K)
    f1k = np.concatenate([_sparse_f1(Z, Ytr[:, s:s + _CHUNK], Yte[:, s:s + _CHUNK], ranked[s:s + _CHUNK], train,
                                     test, cfg) for s in range(0, len(concepts), _CHUNK)])
    mains_n = n_main(f1k, cfg.f1_jump_threshold)
    u = probes.coef / np.linalg.norm(probes.coef, axis=1, keepdims=True).clip(1e-12)  # [C', d]
    atom_cos = (W_dec / np.linalg.norm(W_dec, axis=1, keepdims=True).clip(1e-12)) @ u.T  # [D, C']
    full = np.full(C, np.nan)
    frac = np.full(C, np.nan)
    mains: list[list[int]] = [[] for _ in range(C)]
    passing = probe_f1 > cfg.min_probe_f1
    for i, c in enumerate(concepts):
        main = ranked[i, :mains_n[i]]
        mains[c] = [int(j) for j in main]
        tp = test[Yte[:, i] & detect[:, i]]
        if not passing[i] or tp.size == 0 or passing.sum() < cfg.min_concepts:
            continue
        f, a = sample_absorption(Z[tp], X[tp] @ u[i], atom_cos[:, i], main, cfg)
        full[c], frac[c] = f.mean(), a.mean()
    f1_all = np.full(C, np.nan)
    f1_all[concepts] = probe_f1
    return AbsorptionResult(full_absorption=full, absorption_fraction=frac, probe_f1=f1_all,
                            main_latents=mains, config=cfg)
