"""Feature absorption in the SAEBench manner (Chanin et al., "A is for Absorption"), for concept
hierarchies: each family (``has_wing_color``) plays the part of "first letter", its values the letters.

Per value concept c of a family with ≥ 2 values:

1. a ground-truth probe on the embeddings (skipped if its test F1 < ``min_probe_f1``); u_c its unit weight;
2. the main latents: k-sparse probes on the latents ranked by mean difference, k grown from 1 while the
   test F1 jumps by more than ``f1_jump_threshold`` (up to ``max_k``);
3. on the test samples that show c and that the probe detects, each latent's projection onto the probe
   direction, ``z_l · (W_dec[l] · u_c)``:
   - full absorption: no main latent fires, and one latent whose atom has cosine ≥ ``probe_cos_threshold``
     with u_c projects at least ``projection_threshold`` × the embedding's own projection ``x · u_c``;
   - absorption fraction: the share of the positive projection of such aligned non-main latents in the
     positive projection of those and the main latents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kit.errors import ConfigError, DataError
from kit.metrics._common import (ResultMixin, balanced_weights, bools, check_dims, check_rows, codes_for, decoder,
                                 floats, nanmean, split_indices)
from kit.metrics.probes import fit_probes
from kit.metrics.sparse_probing import mean_difference


@dataclass(frozen=True)
class AbsorptionConfig:
    """SAEBench's settings: f1_jump_threshold 0.03, max_k 10, min_probe_f1 0.6, seed 42, and its absorption
    calculator's probe_cos_threshold 0.025 and projection_threshold 0.4."""

    f1_jump_threshold: float = 0.03
    max_k: int = 10
    min_probe_f1: float = 0.6
    probe_cos_threshold: float = 0.025
    projection_threshold: float = 0.4
    test_fraction: float = 0.2
    seed: int = 42
    inverse_reg: float = 1.0
    batch_size: int = 4096
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.max_k < 1:
            raise ConfigError(f"AbsorptionConfig.max_k must be ≥ 1, got {self.max_k}")


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
    """float[C] F1 of ``pred, Y: bool[N, C]``."""
    tp = (pred & Y).sum(0)
    denom = pred.sum(0) + Y.sum(0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


_CHUNK = 32  # concepts whose k-sparse probes are fitted together


def _n_main(Z: np.ndarray, Ytr: np.ndarray, Yte: np.ndarray, ranked: np.ndarray, train: np.ndarray,
            test: np.ndarray, cfg: AbsorptionConfig) -> np.ndarray:
    """int[C]: how many of the ranked latents (int[C, K]) are main latents: k grows from 1 while the test
    F1 of the k-sparse probe jumps by more than the threshold. All C × K probes are fitted at once, the
    probe of size k seeing the first k ranked latents and zeros in the other columns."""
    K = ranked.shape[1]
    pad = np.tril(np.ones((K, K), dtype=np.float32))  # row k-1 keeps the first k columns

    def feats(rows: np.ndarray) -> np.ndarray:
        F = Z[rows][:, ranked]  # [n, C, K]
        return np.ascontiguousarray((F[:, :, None, :] * pad[None, None]).reshape(len(rows), -1, K).transpose(1, 0, 2))

    Yk = np.repeat(Ytr, K, axis=1)
    sparse = fit_probes(feats(train), Yk, balanced_weights(Yk), cfg.inverse_reg, device=cfg.device)
    f1k = _f1(sparse.logits(feats(test)) > 0, np.repeat(Yte, K, axis=1)).reshape(-1, K)
    jumps = np.diff(np.nan_to_num(f1k), axis=1) > cfg.f1_jump_threshold  # [C, K-1]
    return 1 + np.where(jumps.all(1), K - 1, np.argmin(jumps, axis=1))


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
    probe_f1 = _f1(detect, Yte)
    K = min(cfg.max_k, Z.shape[1])
    ranked = np.argsort(-np.nan_to_num(mean_difference(Z[train], Ytr), nan=-np.inf), axis=1, kind="stable")[:, :K]
    n_main = np.concatenate([_n_main(Z, Ytr[:, s:s + _CHUNK], Yte[:, s:s + _CHUNK], ranked[s:s + _CHUNK],
                                     train, test, cfg) for s in range(0, len(concepts), _CHUNK)])
    u = probes.coef / np.linalg.norm(probes.coef, axis=1, keepdims=True).clip(1e-12)  # [C', d]
    atom_cos = (W_dec / np.linalg.norm(W_dec, axis=1, keepdims=True).clip(1e-12)) @ u.T  # [D, C']
    proj_atoms = W_dec @ u.T  # [D, C']
    full = np.full(C, np.nan)
    frac = np.full(C, np.nan)
    mains: list[list[int]] = [[] for _ in range(C)]
    for i, c in enumerate(concepts):
        main = ranked[i, :n_main[i]]
        mains[c] = [int(j) for j in main]
        tp = test[Yte[:, i] & detect[:, i]]
        if not probe_f1[i] >= cfg.min_probe_f1 or tp.size == 0:
            continue
        proj = Z[tp] * proj_atoms[:, i]  # [n_tp, D]
        aligned = atom_cos[:, i] >= cfg.probe_cos_threshold
        aligned[main] = False
        main_off = (Z[tp][:, main] <= 0).all(1)
        x_proj = X[tp] @ u[i]
        absorbing = (proj * aligned).max(1) >= cfg.projection_threshold * np.maximum(x_proj, 0)
        full[c] = np.mean(main_off & absorbing & (x_proj > 0))
        a = np.clip(proj * aligned, 0, None).sum(1)
        m = np.clip(proj[:, main], 0, None).sum(1)
        frac[c] = np.mean(np.where(a + m > 0, a / np.maximum(a + m, 1e-12), 0.0))
    f1_all = np.full(C, np.nan)
    f1_all[concepts] = probe_f1
    return AbsorptionResult(full_absorption=full, absorption_fraction=frac, probe_f1=f1_all,
                            main_latents=mains, config=cfg)
