"""FMS, the feature monosemanticity score (Härle et al., "Measuring and Guiding Monosemanticity").

Per concept, on a class-balanced sample (seeded) split into train and test:

- accs_0: test accuracy of the best single-latent decision stump (Gini root) — feature capacity;
- accs_i: the same after removing the i previous roots (retraining a stump without them);
- accs_cum_j: test accuracy of a depth-j decision tree on the j top-ranked latents;
- local@p = 2·(accs_0 − accs_p) (a monosemantic concept falls to chance once its latent is gone);
- global = 1 − A(n)/n, A(n) = Σ_{j=1..n} (accs_cum_j − accs_0) (it needs no backup latents);
- FMS@p = mean over concepts of accs_0 · (local@p + global) / 2.

The root search over all D latents is vectorised (:func:`best_stumps`): the codes' entries are sorted
once, and for every concept the Gini impurity of every split of every latent comes from cumulative sums
of the concept's sample weights. The small depth-j trees use scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.errors import ConfigError
from kit.metrics._common import ResultMixin, bools, check_rows, floats, nanmean, split_indices


@dataclass(frozen=True)
class FMSConfig:
    """p: how many roots are removed for the local score; n_global: the deepest tree of the global score;
    test_fraction / seed: the split and the balanced sampling."""

    p: int = 1
    n_global: int = 5
    test_fraction: float = 0.2
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("p", "n_global"):
            if getattr(self, name) < 1:
                raise ConfigError(f"FMSConfig.{name} must be ≥ 1, got {getattr(self, name)}")


@dataclass(frozen=True, eq=False)
class FMSResult(ResultMixin):
    """Per concept (NaN where a class is too rare): accs: float[C, p+1]; accs_cum: float[C, n_global];
    local, ``global_``, fms: float[C]; roots: int[C, R] the ranked root latents."""

    accs: np.ndarray
    accs_cum: np.ndarray
    local: np.ndarray
    global_: np.ndarray
    fms: np.ndarray
    roots: np.ndarray
    config: FMSConfig

    def units(self) -> dict[str, np.ndarray]:
        return {"fms": self.fms[np.isfinite(self.fms)]}

    def headline(self) -> dict[str, float]:
        return {"fms": nanmean(self.fms), "fms_capacity": nanmean(self.accs[:, 0]),
                "fms_local": nanmean(self.local), "fms_global": nanmean(self.global_)}


def best_stumps(Z: np.ndarray, w_pos: np.ndarray, w_neg: np.ndarray) -> tuple[np.ndarray, ...]:
    """The Gini-best threshold split of every latent, for T weighted binary tasks.

    Z: float[N, D]; w_pos, w_neg: float[N, T] weights of each sample as a positive / negative of each
    task (0 = not in the task's training sample). Returns ``score: float[T, D]`` (Σ over both sides of
    (pos² + neg²)/size — higher is purer, the same order as Gini; −inf where no split exists),
    ``threshold: float[T, D]``, and ``left_pos, right_pos: bool[T, D]`` (each side's majority class, the
    prediction for ``z ≤ threshold`` and for ``z > threshold``).

    Sparse codes make this cheap: per column, every sample at the column's minimum forms one block, and
    only the E entries above it are sorted (once for all tasks), so a task costs O(E), not O(N·D).
    """
    n, D = Z.shape
    T = w_pos.shape[1]
    lo = Z.min(0)
    rows, cols = np.nonzero(Z > lo)
    order = np.lexsort((Z[rows, cols], cols))
    rows, cols = rows[order], cols[order]
    vals = Z[rows, cols]
    first = np.ones(vals.size, dtype=bool)  # the first entry of its column
    first[1:] = cols[1:] != cols[:-1]
    prev = np.where(first, lo[cols], np.r_[lo[:1], vals[:-1]])
    valid = vals > prev  # a split just below each entry that differs from the one before
    starts = np.flatnonzero(first)
    score = np.full((T, D), -np.inf)
    thr = np.zeros((T, D), dtype=np.float32)
    left = np.zeros((T, D), dtype=bool)
    right = np.zeros((T, D), dtype=bool)
    if vals.size == 0:
        return score, thr, left, right
    mid = (prev + vals) / 2
    seg = np.cumsum(first) - 1  # segment (column) number of each entry
    for t in range(T):
        tp, tn = w_pos[:, t].sum(), w_neg[:, t].sum()
        ep, en = w_pos[rows, t].astype(np.float64), w_neg[rows, t].astype(np.float64)
        cp, cn = np.cumsum(ep), np.cumsum(en)
        base_p = np.r_[0.0, cp][starts][seg]  # cumulative sums up to the column's start
        base_n = np.r_[0.0, cn][starts][seg]
        col_p = np.add.reduceat(ep, starts)[seg]
        col_n = np.add.reduceat(en, starts)[seg]
        lp = tp - col_p + (cp - ep - base_p)  # the minimum block plus the column's entries below
        ln = tn - col_n + (cn - en - base_n)
        rp, rn = tp - lp, tn - ln
        nl, nr = lp + ln, rp + rn
        ok = valid & (nl > 0) & (nr > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(ok, (lp**2 + ln**2) / nl + (rp**2 + rn**2) / nr, -np.inf)
        best = np.maximum.reduceat(q, starts)
        at = np.where(q == best[seg], np.arange(q.size), q.size)
        pick = np.minimum.reduceat(at, starts)
        has = np.isfinite(best)
        c = cols[starts[has]]
        score[t, c] = best[has]
        thr[t, c] = mid[pick[has]]
        left[t, c] = lp[pick[has]] >= ln[pick[has]]
        right[t, c] = rp[pick[has]] >= rn[pick[has]]
    return score, thr, left, right


def _balanced(rows: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows of a class-balanced subsample (the larger class subsampled to the smaller's size)."""
    pos, neg = rows[y[rows]], rows[~y[rows]]
    m = min(pos.size, neg.size)
    return np.concatenate([rng.choice(pos, m, replace=False), rng.choice(neg, m, replace=False)])


def fms(Z: np.ndarray, Y: np.ndarray, config: FMSConfig | None = None) -> FMSResult:
    """FMS of codes ``Z: float[N, D]`` for concepts ``Y: bool[N, C]``."""
    from sklearn.tree import DecisionTreeClassifier

    cfg = config or FMSConfig()
    Z, Y = floats("Z", Z), bools("Y", Y)
    n = check_rows(Z=Z, Y=Y)
    C = Y.shape[1]
    train, test = split_indices(n, cfg.test_fraction, cfg.seed)
    tr_rows, te_rows = [], []
    w_pos = np.zeros((n, C), dtype=np.float32)
    w_neg = np.zeros((n, C), dtype=np.float32)
    for c in range(C):  # seeded balanced samples, one per concept
        rng = np.random.default_rng([cfg.seed, c])
        tr, te = _balanced(train, Y[:, c], rng), _balanced(test, Y[:, c], rng)
        tr_rows.append(tr)
        te_rows.append(te)
        w_pos[tr[Y[tr, c]], c] = 1
        w_neg[tr[~Y[tr, c]], c] = 1
    score, thr, left, right = best_stumps(Z, w_pos, w_neg)
    R = max(cfg.p + 1, cfg.n_global)
    roots = np.argsort(-score, axis=1, kind="stable")[:, :R]
    accs = np.full((C, cfg.p + 1), np.nan)
    accs_cum = np.full((C, cfg.n_global), np.nan)
    for c in range(C):
        tr, te = tr_rows[c], te_rows[c]
        if tr.size < 2 or te.size < 2 or not np.isfinite(score[c, roots[c, 0]]):
            continue
        y_te = Y[te, c]
        for i in range(cfg.p + 1):
            j = roots[c, i]
            pred = np.where(Z[te, j] <= thr[c, j], left[c, j], right[c, j])
            accs[c, i] = np.mean(pred == y_te) if np.isfinite(score[c, j]) else 0.5
        for d in range(1, cfg.n_global + 1):
            feats = roots[c, :d]
            tree = DecisionTreeClassifier(max_depth=d, random_state=cfg.seed).fit(Z[np.ix_(tr, feats)], Y[tr, c])
            accs_cum[c, d - 1] = tree.score(Z[np.ix_(te, feats)], y_te)
    local = 2 * (accs[:, 0] - accs[:, cfg.p])
    global_ = 1 - (accs_cum - accs[:, :1]).sum(1) / cfg.n_global
    return FMSResult(accs=accs, accs_cum=accs_cum, local=local, global_=global_,
                     fms=accs[:, 0] * (local + global_) / 2, roots=roots, config=cfg)
