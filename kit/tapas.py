"""TAPAScore: do matched latents respond to a one-attribute edit, selectively and in the right direction?

A paired benchmark holds P pairs (original image, edited image). Pair p removes the concept ``old[p]``
(present in the original, absent after the edit) and, for a swap, adds ``new[p]`` (absent → present);
``new[p] = -1`` marks a removal. With M(c) the matched coalition of concept c cut to budget k
(:meth:`kit.types.Matching.budgeted`), z / z̃ the codes of the original / edit and b = 1[z > threshold]:

- I_rem = M(old) \\ M(new), I_add = M(new) \\ M(old) (latents shared by both coalitions are dropped);
- add_p = f(I_add), rem_p = f(I_rem), with the aggregation f (0 on an empty set):

  ``"binary"`` (the paper, default)  f(I) = max_I b̃ − max_I b
  ``"max_then_delta"``               f(I) = max_I z̃ − max_I z
  ``"delta_then_max"``               f(I) = max_I (z̃ − z)
  ``"delta_then_mean"``              f(I) = mean_I (z̃ − z)

  The same f is applied to both sets, so codes that do not depend on the image score ≈ 0 in expectation
  (for "delta_then_max" that means rem_p is the largest change in I_rem, not the steepest fall).

- score_p = add_p − rem_p, and TAPAScore = mean_p add_p − mean_p rem_p = mean_p score_p
  (add_p = 0 on removals since I_add is empty): range [−2, 2] on swaps, [−1, 1] on removals for "binary".
- normalised TAPAScore = mean_p score_p / m_p with m_p the most a pair of its kind can score under
  "binary" (2 for a swap, 1 for a removal): swap and removal benchmarks on one scale, [−1, 1], where 1 means
  every edit switched the added concept on and the removed one off. The continuous aggregations are divided
  by the same m_p (their range is that of the codes).
- macro TAPAScore: the mean over edited concepts ``old`` of the mean score_p of their pairs, so that every
  concept counts once however many pairs it has.
- Δ_stay (selectivity, needs the original's labels): the mean of ``|f(M(a))|`` over every (pair, other concept a)
  item — a present in the original, a ∉ {old, new}, M(a) non-empty — pooled over all pairs (the paper;
  ``stay_pooling="items"``), or the mean over pairs of each pair's own mean (``stay_pooling="pairs"``,
  which weights a pair with one other concept like one with twenty). 0 means the edit left the other
  concepts' latents alone.

Confidence intervals are percentile bootstraps over pairs (:mod:`kit.stats`), one shared set of resamples
for all the figures. Everything is vectorised over pairs: the coalitions become a padded index matrix
``[C, K]`` and the codes of each pair's sets are gathered at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kit.arrays import as_bool_matrix, as_float_matrix, to_numpy
from kit.errors import ConfigError, DataError
from kit.stats import bootstrap_indices, percentile_ci
from kit.types import Matching, check_pairs

AGGREGATIONS = ("binary", "max_then_delta", "delta_then_max", "delta_then_mean")
BREAKDOWNS = ("old", "new", "group", "kind", "transition")
STAY_POOLINGS = ("items", "pairs")
METRICS = ("tapascore", "tapascore_normalised", "tapascore_macro", "tapas_add", "tapas_rem", "delta_stay")
_FILL = np.finfo(np.float64).min  # stands for "no latent": the max of an empty set, cancels in differences
_CHUNK = 1 << 22  # latents gathered at once in the Δ_stay pass ([entries, K] blocks)


@dataclass(frozen=True)
class TapasConfig:
    """Settings of a TAPAScore run (defaults: the paper's).

    k: coalition budget; aggregation: one of :data:`AGGREGATIONS`; threshold: a latent is on where z > it;
    stay_pooling: Δ_stay over all (pair, other concept) items (``"items"``, the paper) or the mean of the
    per-pair means (``"pairs"``); n_boot, alpha, seed: the bootstrap over pairs (``n_boot`` resamples, a
    (1 − alpha) interval).
    """

    k: int = 3
    aggregation: str = "binary"
    threshold: float = 0.0
    stay_pooling: str = "items"
    n_boot: int = 1000
    alpha: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ConfigError(f"TAPAScore: the coalition budget k must be an integer ≥ 1, got {self.k!r}")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"TAPAScore: aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if not math.isfinite(self.threshold):
            raise ConfigError(f"TAPAScore: threshold must be finite, got {self.threshold!r}")
        if self.stay_pooling not in STAY_POOLINGS:
            raise ConfigError(f"TAPAScore: stay_pooling must be one of {STAY_POOLINGS}, got {self.stay_pooling!r}")
        if self.n_boot < 1:
            raise ConfigError(f"TAPAScore: n_boot must be ≥ 1, got {self.n_boot}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"TAPAScore: alpha must lie in (0, 1), got {self.alpha}")


@dataclass(frozen=True, eq=False)
class TapasResult:
    """The TAPAScore of one set of codes on one paired benchmark.

    score: pair-weighted TAPAScore; add, rem: mean add_p and rem_p over all pairs (score = add − rem);
    normalised, macro: see the module docstring; delta_stay: Δ_stay (None without the original's labels);
    ci: the bootstrap CI of ``score``; cis: metric name (:data:`METRICS`) → CI;
    pairs: the per-pair table (pair_id, old, new, kind, add, rem, score, normalised, n_add, n_rem,
    delta_stay and n_stay (the pair's mean over its n_stay other concepts), and old_name/new_name/group when
    names are known); config: the settings.
    """

    score: float
    add: float
    rem: float
    normalised: float
    macro: float
    delta_stay: float | None
    ci: tuple[float, float]
    cis: dict
    pairs: Any
    config: TapasConfig
    concepts: list[str] | None = None
    groups: list[str] | None = None

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    def values(self) -> dict[str, float]:
        """Metric name → value, for the names in :data:`METRICS` (Δ_stay only when measured)."""
        out = {"tapascore": self.score, "tapascore_normalised": self.normalised, "tapascore_macro": self.macro,
               "tapas_add": self.add, "tapas_rem": self.rem}
        if self.delta_stay is not None:
            out["delta_stay"] = self.delta_stay
        return out

    def breakdown(self, by: str = "old"):
        """A pandas table with one row per value of ``by`` — the edited concept ``"old"``, the added concept
        ``"new"``, the attribute family ``"group"`` of the edited concept, the pair ``"kind"``, or the
        ``"transition"`` old → new — giving n_pairs, score with its bootstrap CI (resampling pairs),
        add, rem and delta_stay; sorted by score, best first."""
        import pandas as pd

        key = _breakdown_key(self, by)
        codes, labels = pd.factorize(key, sort=True)
        g = len(labels)
        t = self.pairs
        counts = resample_counts(len(t), self.config.n_boot, self.config.seed)
        boot = _group_means(t["score"].to_numpy(), codes, g, counts)
        with np.errstate(invalid="ignore"):
            lo, hi = np.nanquantile(boot, [self.config.alpha / 2, 1 - self.config.alpha / 2], axis=0)
        table = pd.DataFrame({
            by: labels,
            "n_pairs": np.bincount(codes, minlength=g),
            "score": _group_means(t["score"].to_numpy(), codes, g),
            "ci_low": lo,
            "ci_high": hi,
            "add": _group_means(t["add"].to_numpy(), codes, g),
            "rem": _group_means(t["rem"].to_numpy(), codes, g),
        })
        if "delta_stay" in t:
            table["delta_stay"] = _group_means(t["delta_stay"].to_numpy(), codes, g)
        return table.sort_values(["score", by], ascending=[False, True], kind="stable").reset_index(drop=True)


def tapascore(Z_orig, Z_edit, old, new, matching: Matching, k: int = 3, labels_orig=None, *,
              labels_edit=None, aggregation: str = "binary", threshold: float = 0.0, stay_pooling: str = "items",
              n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, pair_ids: Sequence[Any] | None = None,
              concepts: Sequence[str] | None = None, groups: Sequence[str] | None = None) -> TapasResult:
    """TAPAScore of codes ``Z_orig, Z_edit: float[P, D]`` (numpy or torch) of P pairs.

    old: int[P]; new: int[P] (−1 = removal); matching: C concepts' coalitions over the D latents;
    labels_orig: optional bool[P, C] (enables Δ_stay and checks that old is present and new absent);
    labels_edit: optional bool[P, C] (checks that the labels differ in exactly {old, new});
    pair_ids, concepts (C names; default ``matching.concepts``), groups (C family names): for tables and
    error messages. The other settings are those of :class:`TapasConfig`.
    """
    cfg = TapasConfig(k=k, aggregation=aggregation, threshold=threshold, stay_pooling=stay_pooling, n_boot=n_boot,
                      alpha=alpha, seed=seed)
    Zo = as_float_matrix("TAPAScore Z_orig", Z_orig)
    Ze = as_float_matrix("TAPAScore Z_edit", Z_edit)
    if Zo.shape != Ze.shape:
        raise DataError(f"TAPAScore: Z_orig has shape {Zo.shape} but Z_edit has shape {Ze.shape}")
    p, d = Zo.shape
    c = matching.n_concepts
    ids = np.arange(p) if pair_ids is None else np.asarray(pair_ids)
    if ids.shape != (p,):
        raise DataError(f"TAPAScore: pair_ids has shape {ids.shape}, expected ({p},) to match the codes")
    old, new, lo = _check_pairs(old, new, labels_orig, labels_edit, p, c, ids)
    names = _names("concepts", concepts if concepts is not None else matching.concepts, c)
    fams = _names("groups", groups, c)
    idx, mask = padded_coalitions(matching.budgeted(cfg.k), d)

    add, rem, n_add, n_rem = pair_terms(Zo, Ze, old, new, idx, mask, cfg.aggregation, cfg.threshold)
    score = add - rem
    norm = score / np.where(new >= 0, 2.0, 1.0)
    stay_total, stay_n = (None, None) if lo is None else stay_terms(Zo, Ze, old, new, lo, idx, mask, cfg.aggregation,
                                                                     cfg.threshold)
    stay = None
    if stay_total is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            stay = np.where(stay_n > 0, stay_total / np.maximum(stay_n, 1), np.nan)

    edited, old_codes = np.unique(old, return_inverse=True)
    old_n = len(edited)
    counts = resample_counts(p, cfg.n_boot, cfg.seed)
    columns = {"tapascore": score, "tapascore_normalised": norm, "tapas_add": add, "tapas_rem": rem}
    if stay is not None and cfg.stay_pooling == "pairs":
        columns["delta_stay"] = stay
    samples = _boot_means(columns, counts)
    if stay is not None and cfg.stay_pooling == "items":
        with np.errstate(invalid="ignore", divide="ignore"):
            samples["delta_stay"] = (counts @ stay_total) / (counts @ stay_n)
    samples["tapascore_macro"] = np.nanmean(_group_means(score, old_codes, old_n, counts), axis=1)
    cis = {name: _ci(samples[name], cfg.alpha) for name in METRICS if name in samples}

    table = _pair_table(ids, old, new, add, rem, score, norm, n_add, n_rem, stay, stay_n, names, fams)
    stay_mean = None
    if stay is not None:
        if cfg.stay_pooling == "items":
            stay_mean = float(stay_total.sum() / stay_n.sum()) if stay_n.sum() else math.nan
        else:
            stay_mean = float(np.nanmean(stay)) if np.isfinite(stay).any() else math.nan
    return TapasResult(score=float(score.mean()), add=float(add.mean()), rem=float(rem.mean()),
                       normalised=float(norm.mean()),
                       macro=float(_group_means(score, old_codes, old_n).mean()),
                       delta_stay=stay_mean, ci=cis["tapascore"], cis=cis, pairs=table, config=cfg,
                       concepts=names, groups=fams)


def plot_breakdown(result: TapasResult, by: str = "group", ax=None, top: int | None = None):
    """A seaborn bar chart of the per-pair scores grouped by ``by`` (see :meth:`TapasResult.breakdown`),
    best first, with bootstrap 1 − alpha error bars; ``top`` keeps the best ``top`` groups. Returns the axes."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    order = result.breakdown(by)[by].astype(str).tolist()
    if top is not None:
        order = order[:top]
    data = result.pairs.assign(**{by: np.asarray(_breakdown_key(result, by)).astype(str)})
    data = data[data[by].isin(order)]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.3 * len(order) + 1.2))
    cfg = result.config
    sns.barplot(data=data, x="score", y=by, order=order, errorbar=("ci", 100 * (1 - cfg.alpha)),
                n_boot=cfg.n_boot, seed=cfg.seed, color="C0", ax=ax)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel(f"TAPAScore per pair ({cfg.aggregation}, k={cfg.k})")
    return ax


# --- the vectorised core ----------------------------------------------------------------------------


def padded_coalitions(coalitions: Sequence[Sequence[int]], n_latents: int) -> tuple[np.ndarray, np.ndarray]:
    """``(idx: int64[C + 1, K], mask: bool[C + 1, K])``: coalition c's distinct latents in ``idx[c, mask[c]]``;
    the extra last row is empty (it stands for "no concept", ``new = -1``); K = max(1, longest)."""
    coal = [list(dict.fromkeys(int(j) for j in c)) for c in coalitions]
    for c, latents in enumerate(coal):
        bad = [j for j in latents if not 0 <= j < n_latents]
        if bad:
            raise DataError(f"TAPAScore: concept {c}'s coalition holds latent(s) {bad}, outside the codes' "
                            f"{n_latents} latents")
    lengths = np.array([len(c) for c in coal] + [0], dtype=np.int64)
    width = max(1, int(lengths.max()))
    mask = np.arange(width)[None, :] < lengths[:, None]
    idx = np.zeros(mask.shape, dtype=np.int64)
    idx[mask] = [j for c in coal for j in c]
    return idx, mask


def _only(idx: np.ndarray, mask: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """bool[U, K]: which latents of coalition a[u] are not in coalition b[u]."""
    shared = ((idx[a][:, :, None] == idx[b][:, None, :]) & mask[b][:, None, :]).any(axis=2)
    return mask[a] & ~shared


def aggregate(zo: np.ndarray, ze: np.ndarray, m: np.ndarray, how: str, threshold: float) -> np.ndarray:
    """float64[...]: the aggregation ``how`` of codes ``zo, ze: float[..., K]`` over the latents where
    ``m: bool[..., K]``; 0 where m selects nothing."""
    if how == "binary":
        return ((ze > threshold) & m).any(-1).astype(np.float64) - ((zo > threshold) & m).any(-1)
    zo = zo.astype(np.float64)
    ze = ze.astype(np.float64)
    if how == "max_then_delta":
        return np.where(m, ze, _FILL).max(-1) - np.where(m, zo, _FILL).max(-1)
    delta = np.where(m, ze - zo, 0.0)
    if how == "delta_then_max":
        return np.where(m.any(-1), np.where(m, delta, _FILL).max(-1), 0.0)
    if how == "delta_then_mean":
        return delta.sum(-1) / np.maximum(m.sum(-1), 1)
    raise ConfigError(f"TAPAScore: aggregation must be one of {AGGREGATIONS}, got {how!r}")


def pair_terms(Zo: np.ndarray, Ze: np.ndarray, old: np.ndarray, new: np.ndarray, idx: np.ndarray,
               mask: np.ndarray, how: str, threshold: float):
    """``(add, rem: float64[P], n_add, n_rem: int64[P])`` for codes ``Zo, Ze: float[P, D]`` and the padded
    coalitions of :func:`padded_coalitions`; one gather per set, masks computed once per (old, new) kind."""
    c = idx.shape[0] - 1
    new_row = np.where(new >= 0, new, c)
    kinds, inv = np.unique(old * (c + 1) + new_row, return_inverse=True)
    ko, kn = kinds // (c + 1), kinds % (c + 1)
    rem_mask = _only(idx, mask, ko, kn)[inv]
    add_mask = _only(idx, mask, kn, ko)[inv]
    rows = np.arange(len(old))[:, None]
    io, in_ = idx[old], idx[new_row]
    rem = aggregate(Zo[rows, io], Ze[rows, io], rem_mask, how, threshold)
    add = aggregate(Zo[rows, in_], Ze[rows, in_], add_mask, how, threshold)
    return add, rem, add_mask.sum(1), rem_mask.sum(1)


def stay_terms(Zo: np.ndarray, Ze: np.ndarray, old: np.ndarray, new: np.ndarray, labels_orig: np.ndarray,
               idx: np.ndarray, mask: np.ndarray, how: str, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``(total: float64[P], n: int64[P])``: per pair, the sum of ``|aggregation|`` over the other concepts present
    in the original with a non-empty coalition, and how many there are. Only those (pair, concept) entries are
    gathered, in blocks of entries to bound memory."""
    p = len(old)
    c = idx.shape[0] - 1
    rows = np.arange(p)
    others = labels_orig & mask[:c].any(1)[None, :]
    others[rows, old] = False
    swap = new >= 0
    others[rows[swap], new[swap]] = False
    pp, aa = np.nonzero(others)
    total = np.zeros(p)
    step = max(1, _CHUNK // idx.shape[1])
    for s in range(0, len(pp), step):  # blocks of entries, not single pairs
        bp, ba = pp[s:s + step, None], aa[s:s + step]
        d = np.abs(aggregate(Zo[bp, idx[ba]], Ze[bp, idx[ba]], mask[ba], how, threshold))
        total += np.bincount(bp[:, 0], weights=d, minlength=p)
    return total, others.sum(1)


# --- helpers ----------------------------------------------------------------------------------------


def _check_pairs(old, new, labels_orig, labels_edit, p: int, c: int, ids: np.ndarray):
    """Validate the pairs against P codes and C concepts; return ``(old, new, labels_orig or None)``."""
    old = to_numpy(old)
    new = to_numpy(new)
    for name, a in (("old", old), ("new", new)):
        if a.shape != (p,):
            raise DataError(f"TAPAScore: {name} has shape {a.shape}, expected ({p},) to match the codes")
        if not np.issubdtype(a.dtype, np.integer):
            raise DataError(f"TAPAScore: {name} must hold integer concept indices, got dtype {a.dtype}")
    rows = np.arange(p)
    swap = new >= 0

    def implied(lo: np.ndarray) -> np.ndarray:
        le = lo.copy()  # indices are clipped so that check_pairs can report an out-of-range one
        le[rows, np.clip(old, 0, c - 1)] = False
        le[rows[swap], np.clip(new[swap], 0, c - 1)] = True
        return le

    if labels_orig is None:
        lo = np.zeros((p, c), dtype=bool)
        lo[rows, np.clip(old, 0, c - 1)] = True
        check_pairs(old, new, lo, implied(lo), pair_ids=ids.tolist(), what="TAPAScore pairs")
        return old.astype(np.int64), new.astype(np.int64), None
    labels = {"labels_orig": as_bool_matrix("TAPAScore labels_orig", labels_orig)}
    if labels_edit is not None:
        labels["labels_edit"] = as_bool_matrix("TAPAScore labels_edit", labels_edit)
    for name, lab in labels.items():
        if lab.shape != (p, c):
            raise DataError(f"TAPAScore: {name} has shape {lab.shape}, expected ({p}, {c}): "
                            f"{p} pairs × the matching's {c} concepts")
    lo = labels["labels_orig"]
    le = labels["labels_edit"] if labels_edit is not None else implied(lo)
    old, new, lo, _ = check_pairs(old, new, lo, le, pair_ids=ids.tolist(), what="TAPAScore pairs")
    return old, new, lo


def _names(what: str, names: Sequence[str] | None, c: int) -> list[str] | None:
    if names is None:
        return None
    names = [str(n) for n in names]
    if len(names) != c:
        raise DataError(f"TAPAScore: {len(names)} {what} for the matching's {c} concepts")
    return names


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """float64[B, n]: how often each of n pairs is drawn in each of B bootstrap resamples
    (:func:`kit.stats.bootstrap_indices`), so that a resampled mean is one matrix product."""
    idx = bootstrap_indices(n, n_boot, seed)
    flat = (np.arange(n_boot)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def _boot_means(columns: dict[str, np.ndarray], counts: np.ndarray) -> dict[str, np.ndarray]:
    """Name → float[B]: the mean of the finite values of each column ``float[P]`` in every resample."""
    V = np.stack(list(columns.values()), axis=1)
    ok = np.isfinite(V)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (counts @ np.where(ok, V, 0.0)) / (counts @ ok)
    return dict(zip(columns, means.T))


def _group_means(values: np.ndarray, groups: np.ndarray, n_groups: int, counts: np.ndarray | None = None):
    """Mean of the finite ``values: float[P]`` per group ``groups: int[P]`` (every group in 0..G−1 non-empty)
    → float[G]; with resample counts ``float[B, P]`` (:func:`resample_counts`), per resample → float[B, G].
    NaN where a group has no finite value (in that resample)."""
    w = np.ones((1, len(values))) if counts is None else counts
    order = np.argsort(groups, kind="stable")
    starts = np.searchsorted(groups[order], np.arange(n_groups))
    ok = np.isfinite(values[order])
    w = w[:, order]
    sums = np.add.reduceat(w * np.where(ok, values[order], 0.0), starts, axis=1)
    n = np.add.reduceat(w * ok, starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n
    return means[0] if counts is None else means


def _ci(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    return percentile_ci(samples, alpha) if samples.size else (math.nan, math.nan)


def _pair_table(ids, old, new, add, rem, score, norm, n_add, n_rem, stay, n_stay, names, fams):
    import pandas as pd

    t = pd.DataFrame({"pair_id": ids, "old": old, "new": new,
                      "kind": np.where(new >= 0, "swap", "removal"), "add": add, "rem": rem, "score": score,
                      "normalised": norm, "n_add": n_add, "n_rem": n_rem})
    if stay is not None:
        t["delta_stay"] = stay
        t["n_stay"] = n_stay
    if names is not None:
        lookup = np.asarray(names + [""], dtype=object)
        t["old_name"] = lookup[old]
        t["new_name"] = lookup[new]  # new = −1 → ""
    if fams is not None:
        t["group"] = np.asarray(fams, dtype=object)[old]
    return t


def _breakdown_key(result: TapasResult, by: str) -> np.ndarray:
    """[P] labels of the pairs for a breakdown ``by`` (names where known, else concept indices)."""
    t = result.pairs
    if by not in BREAKDOWNS:
        raise ConfigError(f"TAPAScore breakdown: by must be one of {BREAKDOWNS}, got {by!r}")
    if by == "group":
        if "group" not in t:
            raise ConfigError("TAPAScore breakdown by 'group' needs the concepts' family names (groups=...)")
        return t["group"].to_numpy()
    if by == "kind":
        return t["kind"].to_numpy()
    named = "old_name" in t
    old = t["old_name"] if named else t["old"].astype(str)
    new = t["new_name"].replace("", "∅") if named else t["new"].astype(str).replace("-1", "∅")
    if by == "old":
        return old.to_numpy()
    if by == "new":
        return new.to_numpy()
    return (old + " → " + new).to_numpy()
