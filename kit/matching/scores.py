"""MATCHScore and what is built on it: budgets, held-out scoring, bootstrap intervals, ΔMATCHScore.

MATCHScore(k) is the mean over concepts of the F1 of each concept's coalition cut to budget k
(:meth:`kit.types.Matching.budget_lengths`). For FBMP curves (monotone, padded) this is ``mean rec_f1[:, k−1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kit.arrays import as_float_matrix, resolve_device
from kit.errors import ConfigError, DataError
from kit.matching._binary import as_firing, as_labels, check_codes, firing_columns
from kit.matching.fbmp import fbmp, one_to_one
from kit.matching.methods import match_codes
from kit.stats import bootstrap_ci, bootstrap_mean_ci
from kit.types import Matching

AVERAGES = ("macro", "support")


def budget_lengths(matching: Matching, k: int) -> np.ndarray:
    """int[C]: latents kept per concept under budget k. A held-out matching (:func:`rescore`) takes its budget
    from the curve of the split it was selected on, so the scoring split never chooses the prefix."""
    sel = matching.params.get("selection_rec_f1")
    if sel is None:
        return matching.budget_lengths(k)
    return Matching(coalitions=matching.coalitions, rec_f1=np.asarray(sel), method=matching.method).budget_lengths(k)


def concept_scores(matching: Matching, k: int = 3) -> np.ndarray:
    """float[C]: each concept's F1 at budget k (the last column when k exceeds the curve's width)."""
    n = budget_lengths(matching, k)
    idx = np.clip(n - 1, 0, matching.rec_f1.shape[1] - 1)
    return matching.rec_f1[np.arange(matching.n_concepts), idx]


def _weights(matching: Matching, average: str, support: Any) -> np.ndarray | None:
    if average not in AVERAGES:
        raise ConfigError(f"average must be one of {AVERAGES}, got {average!r}")
    if average == "macro":
        return None
    w = matching.params.get("support") if support is None else support
    if w is None:
        raise ConfigError("average='support' needs support (positives per concept): pass support=Y.sum(0)")
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (matching.n_concepts,) or (w < 0).any() or w.sum() <= 0:
        raise DataError(f"support must be {matching.n_concepts} non-negative counts with a positive sum")
    return w


def match_score(matching: Matching, k: int = 3, average: str = "macro", support: Any = None) -> float:
    """MATCHScore(k): mean F1 of the budget-k coalitions; ``average="support"`` weights concepts by positives."""
    v = concept_scores(matching, k)
    w = _weights(matching, average, support)
    return float(v.mean() if w is None else (w * v).sum() / w.sum())


def score_sweep(matching: Matching, ks: Sequence[int] = (1, 3, 5, 10), average: str = "macro") -> dict[int, float]:
    """MATCHScore at each coalition budget: ``{k: score}``."""
    return {int(k): match_score(matching, int(k), average) for k in ks}


def coalition_curves(Y: np.ndarray, B: Any, coalitions: Sequence[Sequence[int]], width: int) -> np.ndarray:
    """float[C, width]: F1 of the OR of each coalition's first s+1 latents on ``Y: bool[N, C]``, ``B: bool[N, D]``
    (dense or sparse, :func:`~kit.matching._binary.as_firing`; padded with the last value; 0 for an empty
    coalition). One column gather per step, all concepts at once."""
    c = Y.shape[1]
    lengths = np.array([len(x) for x in coalitions], dtype=np.int64)
    sel = np.zeros((c, max(width, 1)), dtype=np.int64)
    for i, x in enumerate(coalitions):
        sel[i, :len(x)] = x
    if sel.size and sel.max() >= B.shape[1]:
        raise DataError(f"a coalition names latent {int(sel.max())} but the codes have {B.shape[1]} latents")
    Yt = np.ascontiguousarray(Y.T)
    pos = Yt.sum(axis=1, dtype=np.int64)
    R = np.zeros_like(Yt)
    rec = np.zeros((c, width))
    for s in range(width):
        grow = np.flatnonzero(lengths > s)
        R[grow] |= firing_columns(B, sel[grow, s]).T
        tp = (R & Yt).sum(axis=1)
        den = pos + R.sum(axis=1)
        rec[:, s] = np.divide(2 * tp, den, out=np.zeros(c), where=den > 0)
    return rec


def rescore(matching: Matching, Y: Any, B: Any) -> Matching:
    """The same coalitions scored on other samples (held-out matching): ``rec_f1`` on ``(Y, B)``.

    The budget is still chosen on the selection split's curve (kept in ``params["selection_rec_f1"]``).
    """
    B = as_firing(B)
    Y = as_labels(Y, B.shape[0])
    if Y.shape[1] != matching.n_concepts:
        raise DataError(f"rescore: Y has {Y.shape[1]} concepts but the matching has {matching.n_concepts}")
    rec = coalition_curves(Y, B, matching.coalitions, matching.rec_f1.shape[1])
    params = {**matching.params, "held_out": True, "support": Y.sum(axis=0).tolist(),
              "selection_rec_f1": matching.params.get("selection_rec_f1", matching.rec_f1.tolist())}
    return Matching(coalitions=matching.coalitions, rec_f1=rec, method=matching.method, params=params,
                    concepts=matching.concepts)


def _rows(name: str, rows: Any, n: int) -> np.ndarray:
    idx = np.arange(n)[np.asarray(rows)]
    if idx.size == 0:
        raise DataError(f"held-out matching: the {name} rows are empty")
    return idx


def held_out(Y: Any, B: Any, select: Any, evaluate: Any, method: str = "fbmp", **options) -> Matching:
    """Select coalitions on rows ``select`` and score them on rows ``evaluate`` (masks or indices).

    Y: bool[N, C]; B: bool[N, D]; method: ``"fbmp"`` or ``"one_to_one"``; options go to the method.
    """
    methods = {"fbmp": fbmp, "one_to_one": one_to_one}
    if method not in methods:
        raise ConfigError(f"held_out: method must be one of {sorted(methods)}, got {method!r}")
    B = as_firing(B)
    Y = as_labels(Y, B.shape[0])
    s, e = _rows("select", select, B.shape[0]), _rows("evaluate", evaluate, B.shape[0])
    if np.intersect1d(s, e).size:
        raise DataError("held-out matching: the select and evaluate rows overlap")
    return rescore(methods[method](Y[s], B[s], **options), Y[e], B[e])


def match_score_ci(matching: Matching, k: int = 3, over: str = "concepts", Y: Any = None, B: Any = None,
                   average: str = "macro", n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Bootstrap percentile interval of MATCHScore(k).

    over="concepts": resample concepts; over="samples": resample the rows of ``(Y, B)`` — the data the
    matching is scored on — with the coalitions held fixed (selection is not repeated).
    """
    w = _weights(matching, average, None)
    if over == "concepts":
        v = concept_scores(matching, k)
        if w is None:
            return bootstrap_mean_ci(v, n_boot, alpha, seed)
        return bootstrap_ci(lambda idx: (w[idx] * v[idx]).sum(1) / np.maximum(w[idx].sum(1), 1e-300),
                            v.size, n_boot, alpha, seed)
    if over != "samples":
        raise ConfigError(f"over must be 'concepts' or 'samples', got {over!r}")
    if Y is None or B is None:
        raise ConfigError("match_score_ci(over='samples') needs the annotations Y and firing patterns B")
    B = as_firing(B)
    Y = as_labels(Y, B.shape[0])
    n = B.shape[0]
    keep = budget_lengths(matching, k)
    cut = [c[:m] for c, m in zip(matching.coalitions, keep)]
    lengths = np.array([len(x) for x in cut])
    width = int(lengths.max(initial=0))
    R = np.zeros((n, Y.shape[1]), dtype=bool)  # firing of each budgeted coalition
    for s in range(width):
        grow = np.flatnonzero(lengths > s)
        R[:, grow] |= firing_columns(B, [cut[i][s] for i in grow])
    hits = np.stack([(Y & R), Y, R]).astype(np.float32)  # [3, N, C]

    def stat(idx: np.ndarray) -> np.ndarray:
        flat = (np.arange(idx.shape[0])[:, None] * n + idx).ravel()
        W = np.bincount(flat, minlength=idx.size).reshape(idx.shape).astype(np.float32)  # [B, N] draw counts
        tp, pos, fired = (W @ hits[i] for i in range(3))  # [B, C] counts per resample
        den = pos + fired
        f1 = np.divide(2 * tp, den, out=np.zeros_like(den), where=den > 0)
        if w is None:
            return f1.mean(axis=1)
        return (pos * f1).sum(1) / np.maximum(pos.sum(1), 1e-300)  # weights: resampled positives

    return bootstrap_ci(stat, n, n_boot, alpha, seed)


def random_projection_codes(X: Any, dict_size: int, seed: int = 0, device: str = "auto") -> np.ndarray:
    """The paper code's baseline: ``relu(X @ W)`` with ``W ~ N(0, 1/d)`` fixed by ``seed``: float32[N, dict_size].

    Each latent fires on about half of the samples (``x·w`` is symmetric around 0 for every ``x ≠ 0``).
    """
    import torch  # only here: kit.matching stays importable without loading torch

    if dict_size < 1:
        raise ConfigError(f"random projection: dict_size must be ≥ 1, got {dict_size}")
    X = as_float_matrix("random projection X", X)
    g = torch.Generator().manual_seed(int(seed))
    W = torch.randn(X.shape[1], dict_size, generator=g) / np.sqrt(X.shape[1])
    dev = resolve_device(device)
    Z = torch.relu(torch.from_numpy(X).to(dev) @ W.to(dev))
    return Z.cpu().numpy()


@dataclass(frozen=True)
class DeltaMatchScore:
    """ΔMATCHScore = trained − baseline at budget k, with the two matchings."""

    trained: float
    baseline: float
    delta: float
    k: int
    baseline_name: str
    trained_matching: Matching
    baseline_matching: Matching


def delta_match_score(Y: Any, trained: Any, baseline: Any, *, k: int = 3, method: str = "fbmp",
                      beta: float = 0.5, max_size: int = 20, threshold: float = 1e-8, X: Any = None,
                      dict_size: int | None = None, seed: int = 0, average: str = "macro",
                      device: str = "auto") -> DeltaMatchScore:
    """MATCHScore(trained) − MATCHScore(baseline).

    trained: codes float[N, D] or a Matching. baseline: the codes (or Matching) of an untrained SAE of the same
    family and size with the same sparsification (the default comparison, e.g. from ``kit.sae.untrained``), or
    ``"random_projection"`` (the paper code's dense baseline; needs the embeddings ``X`` and, when ``trained``
    is a Matching, ``dict_size``). Codes are binarised at ``threshold`` and matched with ``method``.
    """
    def matched(codes: Any) -> Matching:
        if isinstance(codes, Matching):
            return codes
        return match_codes(Y, codes, method=method, beta=beta, max_size=max_size, threshold=threshold, device=device)

    m_trained = matched(trained)
    name = "untrained"
    if isinstance(baseline, str):
        if baseline != "random_projection":
            raise ConfigError(f"baseline must be codes, a Matching or 'random_projection', got {baseline!r}")
        if X is None:
            raise ConfigError("baseline='random_projection' needs the embeddings X")
        if dict_size is None:
            if isinstance(trained, Matching):
                raise ConfigError("baseline='random_projection' with a trained Matching needs dict_size")
            dict_size = check_codes("trained codes", trained).shape[1]
        baseline, name = random_projection_codes(X, dict_size, seed=seed, device=device), "random_projection"
    m_base = matched(baseline)
    if m_base.n_concepts != m_trained.n_concepts:
        raise DataError(f"ΔMATCHScore: the baseline matches {m_base.n_concepts} concepts, the trained SAE "
                        f"{m_trained.n_concepts}")
    a = match_score(m_trained, k, average)
    b = match_score(m_base, k, average)
    return DeltaMatchScore(trained=a, baseline=b, delta=a - b, k=k, baseline_name=name,
                           trained_matching=m_trained, baseline_matching=m_base)
