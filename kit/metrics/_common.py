"""Helpers shared by the metrics: input checks, splits, SAE codes, result rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kit.arrays import as_bool_matrix, as_float_matrix, to_numpy
from kit.errors import ConfigError, DataError
from kit.sae.model import encode_array


def check_rows(**arrays: np.ndarray) -> int:
    """Check that all named arrays have the same number of rows; return it."""
    counts = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(counts.values())) > 1:
        raise DataError("row counts differ: " + ", ".join(f"{k} has {v}" for k, v in counts.items()))
    return next(iter(counts.values()))


def floats(name: str, x: Any) -> np.ndarray:
    return as_float_matrix(name, x)


def bools(name: str, x: Any) -> np.ndarray:
    return as_bool_matrix(name, x)


def split_indices(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random train/test split of ``n`` rows: ``(train: int[n_train], test: int[n_test])``."""
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    if n - n_test < 2:
        raise DataError(f"{n} samples are too few for a train/test split with test_fraction={test_fraction}")
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def balanced_weights(Y: np.ndarray) -> np.ndarray:
    """float32[N, C]: per-task sample weights that give both classes the same total weight
    (sklearn's ``class_weight="balanced"``: ``N / (2 · class count)``); 0 for a task lacking a class."""
    Y = Y.astype(bool)
    n = Y.shape[0]
    pos = Y.sum(0)
    neg = n - pos
    ok = (pos > 0) & (neg > 0)
    wp = np.where(ok, n / (2.0 * np.maximum(pos, 1)), 0.0)
    wn = np.where(ok, n / (2.0 * np.maximum(neg, 1)), 0.0)
    return np.where(Y, wp, wn).astype(np.float32)


def balanced_sets(Y: np.ndarray, seed: Any) -> np.ndarray:
    """float32[N, C] of 0/1: per concept, SAEBench's balanced probe set among the N rows: every positive and as
    many negatives drawn at random without replacement (``prepare_probe_data``). SAEBench's classes exclude
    each other and its negatives are drawn evenly from the other classes; concept labels overlap, so the
    negatives are drawn from all rows lacking the concept. With fewer negatives than positives, the positives
    are drawn down to the negatives' count. Concept c's draw is seeded by ``[seed…, c]`` alone."""
    Y = Y.astype(bool)
    out = np.zeros(Y.shape, dtype=np.float32)
    base = list(np.atleast_1d(seed))
    for c in range(Y.shape[1]):
        pos, neg = np.flatnonzero(Y[:, c]), np.flatnonzero(~Y[:, c])
        m = min(pos.size, neg.size)
        if m == 0:
            continue
        rng = np.random.default_rng([*base, c])
        out[pos if pos.size == m else rng.choice(pos, m, replace=False), c] = 1
        out[rng.choice(neg, m, replace=False), c] = 1
    return out


def weighted_accuracy(pred: np.ndarray, Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """float[C]: ``Σ w·[pred = y] / Σ w`` per concept — plain accuracy on a 0/1 set (:func:`balanced_sets`),
    balanced accuracy with :func:`balanced_weights`; NaN where a class is missing."""
    Y = Y.astype(bool)
    wsum = W.sum(0)
    has = ((W * Y).sum(0) > 0) & ((W * ~Y).sum(0) > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = (W * (pred == Y)).sum(0) / wsum
    return np.where(has, acc, np.nan)


def top_effects(effects: np.ndarray, n: int) -> np.ndarray:
    """int[k]: the latents SAEBench ablates (``select_top_n_features``): the ``n`` largest effects, ties to the
    lowest index, but no more than the effects that are non-zero (NaN counts as zero). As in SAEBench, the
    count caps a ranking of all effects, so when fewer than n are positive a zero may rank above a negative."""
    e = np.nan_to_num(np.asarray(effects, dtype=np.float64), nan=0.0)
    k = min(int(n), int(np.count_nonzero(e)))
    return np.argsort(-e, kind="stable")[:k]


def balanced_accuracy(pred: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """float[C]: mean of true-positive and true-negative rates of ``pred, Y: bool[N, C]``
    (NaN where a class is missing)."""
    pos = Y.sum(0)
    neg = Y.shape[0] - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (pred & Y).sum(0) / pos
        tnr = (~pred & ~Y).sum(0) / neg
    return np.where((pos > 0) & (neg > 0), 0.5 * (tpr + tnr), np.nan)


def sae_dtype(sae: Any):
    """The dtype of the SAE's parameters (float32 for a module without parameters)."""
    import torch

    param = next(sae.parameters(), None)
    return torch.float32 if param is None else param.dtype


def decoder(sae: Any) -> np.ndarray:
    """float32[D, d]: the SAE's decoder atoms ``W_dec``."""
    return to_numpy(sae.W_dec).astype(np.float32)


def codes_for(sae: Any, X: np.ndarray, Z: np.ndarray | None, batch_size: int, device: str) -> np.ndarray:
    """The codes of ``X``: ``Z`` when given (checked against ``X`` and the SAE), else ``sae.encode(X)``."""
    if Z is None:
        return encode_array(sae, X, batch_size, device)
    Z = floats("Z", Z)
    check_rows(X=X, Z=Z)
    D = decoder(sae).shape[0]
    if Z.shape[1] != D:
        raise DataError(f"Z has {Z.shape[1]} columns but the SAE's W_dec has {D} latents")
    return Z


def check_dims(X: np.ndarray, W_dec: np.ndarray) -> None:
    if W_dec.shape[1] != X.shape[1]:
        raise DataError(f"X has {X.shape[1]} columns but the SAE's W_dec has width {W_dec.shape[1]}")


def nanmean(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.nanmean(a)) if np.isfinite(a).any() else math.nan


class ResultMixin:
    """What every metric result offers: ``headline() -> {metric: value}`` and ``units() -> {metric: float[U]}``
    (the per-unit values — samples, latents, concepts — whose mean is the headline, for bootstraps).
    Rows in the results vocabulary come from :func:`kit.evaluate.evaluate`, which calls the metrics."""

    def headline(self) -> dict[str, float]:  # pragma: no cover - each result overrides it
        raise NotImplementedError
