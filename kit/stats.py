"""Bootstrap confidence intervals, vectorised over resamples."""

from __future__ import annotations

from typing import Callable

import numpy as np

from kit.errors import ConfigError, DataError


def bootstrap_indices(n: int, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """int[n_boot, n]: row indices of ``n_boot`` resamples with replacement of ``n`` items."""
    if n < 1:
        raise DataError("bootstrap: nothing to resample (0 items)")
    if n_boot < 1:
        raise ConfigError(f"bootstrap: n_boot must be ≥ 1, got {n_boot}")
    return np.random.default_rng(seed).integers(n, size=(n_boot, n))


def percentile_ci(samples: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """The (alpha/2, 1 − alpha/2) percentiles of bootstrap statistics ``samples: float[B]``."""
    if not 0 < alpha < 1:
        raise ConfigError(f"bootstrap: alpha must lie in (0, 1), got {alpha}")
    lo, hi = np.quantile(np.asarray(samples, dtype=np.float64), [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_mean_ci(values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05,
                      seed: int = 0) -> tuple[float, float]:
    """Percentile CI of the mean of ``values: float[n]`` (one gather + one mean for all resamples)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise DataError(f"bootstrap: values must be 1-D, got shape {v.shape}")
    idx = bootstrap_indices(v.size, n_boot, seed)
    return percentile_ci(v[idx].mean(axis=1), alpha)


def bootstrap_ci(statistic: Callable[[np.ndarray], np.ndarray], n: int, n_boot: int = 1000,
                 alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile CI of a statistic that maps a batch of resample indices ``int[B, n]`` to ``float[B]``.

    The statistic receives all resamples at once, so it can be vectorised over them.
    """
    idx = bootstrap_indices(n, n_boot, seed)
    stats = np.asarray(statistic(idx), dtype=np.float64)
    if stats.shape != (n_boot,):
        raise DataError(f"bootstrap: the statistic returned shape {stats.shape}, expected ({n_boot},)")
    return percentile_ci(stats, alpha)


def t_interval(values, alpha: float = 0.05) -> tuple[float, float, float]:
    """``(mean, low, high)``: Student's t interval of the mean of ``values: float[n]`` (n ≥ 2) — for means over a
    few independent repetitions, such as seeds, whose spread is the uncertainty of interest."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise DataError(f"t interval: needs at least 2 values, got shape {v.shape}")
    if not 0 < alpha < 1:
        raise ConfigError(f"t interval: alpha must lie in (0, 1), got {alpha}")
    m, se = float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))
    h = float(stats.t.ppf(1 - alpha / 2, v.size - 1)) * se
    return m, m - h, m + h
