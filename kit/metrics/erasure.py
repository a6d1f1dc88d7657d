"""Targeted concept erasure as in SAEBench: TPP and SCR/SHIFT (Karvonen et al., "Evaluating Sparse Autoencoders
on Targeted Concept Erasure Tasks"; SAEBench's ``scr_and_tpp`` eval), adapted to concept labels.

Linear probes are trained on the embeddings. A latent's effect on a concept's probe is SAEBench's
``(mean activation on positives − on negatives) × (probe weight · decoder atom)`` on the training split; TPP
keeps only latents more active on the positive class (the mean difference clipped at 0), SCR takes the
absolute effect. The latents ablated at n are the n largest effects, but no more than there are non-zero
effects (:func:`kit.metrics._common.top_effects`). A set L of latents is ablated keeping the SAE's error term,
so that the edited embedding is ``x' = x − Σ_{l∈L} z_l · W_dec[l]``; its effect on probe j's logit is therefore
``− Σ_{l∈L} z_l · (W_dec[l] · w_j)``, one matrix product for all probes.

- TPP, over groups of similar concepts (the values of one family): ablating concept i's latents should
  lower probe i's test accuracy and leave the other probes of the group alone:
  TPP_i = drop_ii − mean_{j≠i} drop_ij.
- SCR, over (task, spurious) pairs of correlated concepts: a probe trained on a perfectly biased set
  ((task, spurious) ∈ {(1,1), (0,0)}) is tested on a balanced set; ablating the spurious concept's
  latents should recover the accuracy of an unbiased ("oracle") probe:
  SCR = (A_ablated − A_biased) / (A_oracle − A_biased).

Where the kit differs: the probes are L2 logistic regressions fitted by L-BFGS with class-balanced weights
on the embeddings (SAEBench trains its probes by AdamW with an L1 penalty on mean-pooled language-model
activations); TPP's mean differences are taken over the whole training split (SAEBench: over the class's
balanced probe set); accuracies are balanced accuracies over the whole test split (SAEBench: plain accuracy
on a sampled balanced test set); TPP's groups are the values of one attribute family (SAEBench: the classes of
one dataset); SCR is scored in both directions of each pair and is undefined (NaN) when the unbiased probe
is not better than the biased one (SAEBench keeps one direction per dataset and scores a gap under 0.001 as 0).
``tpp_positive_only=False``, ``scr_absolute=False`` rank by the signed effect (the kit's former ranking, now
capped, like SAEBench's, at the non-zero effects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kit.errors import ConfigError, DataError
from kit.metrics._common import (ResultMixin, balanced_accuracy, balanced_weights, bools, check_dims, check_rows,
                                 codes_for, decoder, floats, nanmean, split_indices, top_effects)
from kit.metrics.probes import fit_probes
from kit.metrics.sparse_probing import mean_difference


@dataclass(frozen=True)
class ErasureConfig:
    """n_values: how many latents are ablated (SAEBench's 2 … 500); headline_n: the one reported as the
    headline (SAEBench's 20); test_fraction, seed: the split (SAEBench: 1000 of 5000, seed 42);
    inverse_reg: the probes' sklearn-style C; tpp_positive_only: TPP's effects use the mean difference
    clipped at 0, so that only latents more active on the positive class are ablated (SAEBench), else the
    signed difference; scr_absolute: SCR ranks by the absolute effect (SAEBench), else the signed one;
    batch_size/device: for encoding."""

    n_values: tuple[int, ...] = (2, 5, 10, 20, 50, 100, 500)
    headline_n: int = 20
    test_fraction: float = 0.2
    seed: int = 42
    inverse_reg: float = 1.0
    tpp_positive_only: bool = True
    scr_absolute: bool = True
    batch_size: int = 4096
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.n_values or min(self.n_values) < 1 or list(self.n_values) != sorted(set(self.n_values)):
            raise ConfigError(f"ErasureConfig.n_values must be increasing positive integers, got {self.n_values}")
        if self.headline_n not in self.n_values:
            raise ConfigError(f"ErasureConfig.headline_n={self.headline_n} is not among n_values {self.n_values}")


def attribution(Z: np.ndarray, Y: np.ndarray, W: np.ndarray, W_dec: np.ndarray,
                positive_only: bool = False) -> np.ndarray:
    """float[C, D]: mean difference of each latent for each concept (clipped at 0 with ``positive_only``)
    × (probe weight · decoder atom).

    Z: float[N, D]; Y: bool[N, C]; W: float[C, d] probe weights; W_dec: float[D, d]."""
    diff = np.nan_to_num(mean_difference(Z, Y))
    if positive_only:
        diff = np.maximum(diff, 0)
    return diff * (W @ W_dec.T)


def ablation_order(effects: np.ndarray, n: int) -> list[np.ndarray]:
    """Per row of ``effects: float[C, D]``, the latents ablated for up to ``n`` (:func:`top_effects`)."""
    return [top_effects(e, n) for e in effects]


def _ablation_effect(Z: np.ndarray, latents: np.ndarray, M: np.ndarray, n_values: Sequence[int]) -> np.ndarray:
    """float[len(n_values), N, J]: the change of J probe logits when the first n of ``latents`` are ablated.

    Z: float[N, D]; latents: int[L] in attribution order; M: float[D, J] = W_dec · probe weights."""
    acc = np.zeros((Z.shape[0], M.shape[1]), dtype=np.result_type(Z, M))
    out, prev = [], 0
    for n in n_values:  # one product per block of latents between consecutive n (never an [N, L, J] array)
        n = min(n, len(latents))
        block = latents[prev:n]
        if block.size:
            acc = acc + Z[:, block] @ M[block]
        prev = max(prev, n)
        out.append(-acc)
    return np.stack(out)


def _probes(X: np.ndarray, Y: np.ndarray, cfg: ErasureConfig):
    return fit_probes(X, Y, balanced_weights(Y), cfg.inverse_reg, device=cfg.device)


@dataclass(frozen=True, eq=False)
class TPPResult(ResultMixin):
    """Per concept in a group (NaN elsewhere): own_drop, other_drop, tpp: float[len(n_values), C];
    groups: the concept groups used."""

    own_drop: np.ndarray
    other_drop: np.ndarray
    tpp: np.ndarray
    groups: list[list[int]]
    config: ErasureConfig

    def _row(self) -> int:
        return list(self.config.n_values).index(self.config.headline_n)

    def units(self) -> dict[str, np.ndarray]:
        t = self.tpp[self._row()]
        return {"tpp": t[np.isfinite(t)]}

    def headline(self) -> dict[str, float]:
        out = {"tpp": nanmean(self.tpp[self._row()])}
        out.update({f"tpp_n{n}": nanmean(self.tpp[i]) for i, n in enumerate(self.config.n_values)})
        return out


def tpp(X: np.ndarray, Y: np.ndarray, sae: Any, groups: Sequence[Sequence[int]] | None = None,
        Z: np.ndarray | None = None, config: ErasureConfig | None = None) -> TPPResult:
    """Targeted probe perturbation of an SAE on embeddings ``X: float[N, d]`` and concepts ``Y: bool[N, C]``.

    groups: lists of ≥ 2 similar concept indices (default: all concepts in one group);
    Z: the codes of X when already computed."""
    cfg = config or ErasureConfig()
    X, Y = floats("X", X), bools("Y", Y)
    n = check_rows(X=X, Y=Y)
    C = Y.shape[1]
    groups = [list(range(C))] if groups is None else [[int(c) for c in g] for g in groups]
    for g in groups:
        if len(g) < 2 or min(g) < 0 or max(g) >= C:
            raise DataError(f"tpp: group {g} needs ≥ 2 concept indices in [0, {C})")
    W_dec = decoder(sae)
    check_dims(X, W_dec)
    Z = codes_for(sae, X, Z, cfg.batch_size, cfg.device)
    train, test = split_indices(n, cfg.test_fraction, cfg.seed)
    probes = _probes(X[train], Y[train], cfg)
    attr = attribution(Z[train], Y[train], probes.coef, W_dec, positive_only=cfg.tpp_positive_only)
    ranked = ablation_order(attr, max(cfg.n_values))
    M = W_dec @ probes.coef.T  # [D, C]
    base_logits = probes.logits(X[test])
    Yt = Y[test]
    base_acc = balanced_accuracy(base_logits > 0, Yt)
    own = np.full((len(cfg.n_values), C), np.nan)
    other = np.full_like(own, np.nan)
    Z_test = Z[test]
    for g in groups:
        g = np.asarray(g)
        for i in g:
            delta = _ablation_effect(Z_test, ranked[i], M[:, g], cfg.n_values)  # [V, N, |G|]
            acc = np.stack([balanced_accuracy(base_logits[:, g] + d > 0, Yt[:, g]) for d in delta])
            drop = base_acc[g][None] - acc
            own[:, i] = drop[:, g == i][:, 0]
            other[:, i] = np.nanmean(drop[:, g != i], axis=1)
    return TPPResult(own_drop=own, other_drop=other, tpp=own - other, groups=groups, config=cfg)


def choose_scr_pairs(Y: np.ndarray, groups: Sequence[str] | None = None, n_pairs: int = 4,
                     min_cell: int = 20) -> list[tuple[int, int]]:
    """The ``n_pairs`` most correlated concept pairs (``|phi|`` coefficient) from different families whose four
    (a, b) cells each hold at least ``min_cell`` samples. Y: bool[N, C]; groups: the C family names."""
    Y = bools("Y", Y)
    n, C = Y.shape
    fam = np.asarray(groups if groups is not None else [str(c) for c in range(C)])
    if fam.shape != (C,):
        raise DataError(f"choose_scr_pairs: groups has {fam.size} entries for {C} concepts")
    Yf = Y.astype(np.float64)
    n11 = Yf.T @ Yf
    pa = Yf.sum(0)
    n10 = pa[:, None] - n11
    n01 = pa[None, :] - n11
    n00 = n - n11 - n10 - n01
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = (n11 * n00 - n10 * n01) / np.sqrt(pa[:, None] * (n - pa[:, None]) * pa[None] * (n - pa[None]))
    ok = (np.minimum(np.minimum(n11, n00), np.minimum(n10, n01)) >= min_cell) & (fam[:, None] != fam[None, :])
    ok &= np.triu(np.ones((C, C), dtype=bool), 1)
    a, b = np.nonzero(ok)
    order = np.argsort(-np.abs(np.nan_to_num(phi[a, b])), kind="stable")[:n_pairs]
    return [(int(a[i]), int(b[i])) for i in order]


@dataclass(frozen=True, eq=False)
class SCRResult(ResultMixin):
    """Per directed pair (task, spurious): pairs: list of (task, spurious); base, oracle: float[P] test
    accuracies of the biased and the unbiased probe; ablated, scr: float[len(n_values), P]."""

    pairs: list[tuple[int, int]]
    base: np.ndarray
    oracle: np.ndarray
    ablated: np.ndarray
    scr: np.ndarray
    config: ErasureConfig

    def _row(self) -> int:
        return list(self.config.n_values).index(self.config.headline_n)

    def units(self) -> dict[str, np.ndarray]:
        s = self.scr[self._row()]
        return {"scr": s[np.isfinite(s)]}

    def headline(self) -> dict[str, float]:
        out = {"scr": nanmean(self.scr[self._row()])}
        out.update({f"scr_n{n}": nanmean(self.scr[i]) for i, n in enumerate(self.config.n_values)})
        return out


def _cells(rows: np.ndarray, t: np.ndarray, s: np.ndarray, cells: Sequence[tuple[bool, bool]],
           rng: np.random.Generator) -> np.ndarray:
    """Rows with an equal number drawn from each (task, spurious) cell (the smallest cell's size)."""
    members = [rows[(t[rows] == a) & (s[rows] == b)] for a, b in cells]
    m = min(x.size for x in members)
    if m == 0:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([rng.choice(x, m, replace=False) for x in members])


def scr(X: np.ndarray, Y: np.ndarray, sae: Any, pairs: Sequence[tuple[int, int]] | None = None,
        groups: Sequence[str] | None = None, Z: np.ndarray | None = None,
        config: ErasureConfig | None = None) -> SCRResult:
    """Spurious correlation removal on embeddings ``X: float[N, d]`` and concepts ``Y: bool[N, C]``.

    pairs: (a, b) concept pairs, each evaluated in both directions (task a / spurious b and the reverse);
    default :func:`choose_scr_pairs` with the family names ``groups``. Z: the codes of X when known."""
    cfg = config or ErasureConfig()
    X, Y = floats("X", X), bools("Y", Y)
    n = check_rows(X=X, Y=Y)
    W_dec = decoder(sae)
    check_dims(X, W_dec)
    Z = codes_for(sae, X, Z, cfg.batch_size, cfg.device)
    if pairs is None:
        pairs = choose_scr_pairs(Y, groups)
    if not pairs:
        raise DataError("scr: no concept pair to evaluate (none has enough samples in all four cells)")
    directed = [(int(a), int(b)) for a, b in pairs] + [(int(b), int(a)) for a, b in pairs]
    train, test = split_indices(n, cfg.test_fraction, cfg.seed)
    V, P = len(cfg.n_values), len(directed)
    base, oracle = np.full(P, np.nan), np.full(P, np.nan)
    ablated = np.full((V, P), np.nan)
    four = [(True, True), (True, False), (False, True), (False, False)]
    for p, (t, s) in enumerate(directed):
        rng = np.random.default_rng([cfg.seed, t, s])
        yt, ys = Y[:, t], Y[:, s]
        biased = _cells(train, yt, ys, [(True, True), (False, False)], rng)
        fair = _cells(train, yt, ys, four, rng)
        held = _cells(test, yt, ys, four, rng)
        if min(biased.size, fair.size, held.size) == 0:
            continue
        lab = np.stack([yt, ys], axis=1)
        probe_b = _probes(X[biased], yt[biased, None], cfg)
        fair_probes = _probes(X[fair], lab[fair], cfg)  # [task, spurious] probes on the balanced set
        attr = attribution(Z[fair], ys[fair, None], fair_probes.coef[1:], W_dec)[0]
        ranked = top_effects(np.abs(attr) if cfg.scr_absolute else attr, max(cfg.n_values))
        logits = probe_b.logits(X[held])
        y_held = yt[held, None]
        base[p] = balanced_accuracy(logits > 0, y_held)[0]
        oracle[p] = balanced_accuracy(fair_probes.logits(X[held])[:, :1] > 0, y_held)[0]
        delta = _ablation_effect(Z[held], ranked, W_dec @ probe_b.coef.T, cfg.n_values)
        ablated[:, p] = [balanced_accuracy(logits + d > 0, y_held)[0] for d in delta]
    gap = oracle - base  # two balanced accuracies: equal ones may differ by rounding (1e-16), a real gap is ≥ 1/n
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(gap > 1e-9, (ablated - base) / gap, np.nan)
    return SCRResult(pairs=directed, base=base, oracle=oracle, ablated=ablated, scr=score, config=cfg)
