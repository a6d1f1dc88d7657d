"""F-beta matching pursuit (FBMP) and one-to-one matching on binary firing patterns.

FBMP, for every concept independently: residual ``r ← y``, reconstruction ``R ← ∅``; each step picks the
latent ``j`` maximising ``F_β(r, b_j) = (1+β²)|r∧b_j| / (β²|r| + |b_j|)`` (ties → lowest index), then
``r ← r ∧ ¬b_j``, ``R ← R ∨ b_j``; it stops, without recording ``j``, as soon as ``F1(y, R)`` does not
strictly improve. One-to-one matching is the first FBMP step with β = 1.

All concepts advance together: a step is one product ``R_res: [C, N] × B: [N, D]`` of integer counts
(:class:`~kit.matching._binary.LatentCounts`; pass one in place of B to match the same firing patterns several
times without preparing them again). Scores are compared exactly: with ``β = a/b`` the argmax of
``F_β`` is the argmax of ``|r∧b_j| / (a²|r| + b²|b_j|)``, a ratio of integers whose float64 quotients keep
the order of the rationals and their ties as long as the denominators stay below 2^26.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from kit.arrays import resolve_device
from kit.errors import ConfigError, DataError
from kit.matching._binary import LatentCounts, as_firing, as_labels
from kit.types import Matching

EXACT_DENOMINATOR = 2**26  # float64 quotients of integers below this keep every order and tie


def beta_fraction(beta: float) -> tuple[int, int]:
    """``(a², b²)`` with ``β = a/b`` in lowest terms (β must be a fraction with denominator ≤ 1000)."""
    try:
        beta = float(beta)
    except (TypeError, ValueError):
        raise ConfigError(f"beta must be a number, got {beta!r}") from None
    if not np.isfinite(beta) or beta <= 0:
        raise ConfigError(f"beta must be a positive number, got {beta}")
    frac = Fraction(beta).limit_denominator(1000)
    if float(frac) != beta:
        raise ConfigError(f"beta={beta} is not a simple fraction (denominator ≤ 1000, e.g. 1, 0.5, 0.25, 2/3)")
    return frac.numerator ** 2, frac.denominator ** 2


def pad_curves(rec: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Repeat each row's last recorded value (0 for an empty coalition) to the full width."""
    for s in range(1, rec.shape[1]):
        stopped = lengths <= s
        rec[stopped, s] = rec[stopped, s - 1]
    return rec


def _coalitions(selected: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    return [row[:n].tolist() for row, n in zip(selected, lengths)]


def prepared(B: Any, device: str = "auto", backend: str = "auto", chunk_bytes: int | None = None) -> LatentCounts:
    """``B`` as a :class:`LatentCounts`: built here from firing patterns, or ``B`` itself when it is one already
    (then a ``device``, ``backend`` or ``chunk_bytes`` other than its own is refused: it was built for those)."""
    if not isinstance(B, LatentCounts):
        return LatentCounts(B, device=device, backend=backend,
                            **({} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}))
    for name, asked, built in (("device", None if device == "auto" else resolve_device(device), B.device),
                               ("backend", None if backend == "auto" else backend, B.backend),
                               ("chunk_bytes", chunk_bytes, B.chunk_bytes)):
        if asked is not None and asked != built:
            raise ConfigError(f"{name}={asked!r} differs from the prepared LatentCounts' {name}={built!r}; "
                              f"prepare B with {name}={asked!r} or leave {name} out")
    return B


def fbmp(Y: Any, B: Any, beta: float = 0.5, max_size: int = 20, *, device: str = "auto",
         backend: str = "auto", concepts: Sequence[str] | None = None, method: str = "fbmp",
         chunk_bytes: int | None = None) -> Matching:
    """F-beta matching pursuit of every concept on the firing patterns.

    Y: bool[N, C] annotations; B: bool[N, D] firing patterns (:func:`kit.matching.binarize`), numpy, torch or
    scipy.sparse (``binarize(Z, sparse=True)``), or a :class:`LatentCounts` prepared from them (shared by several matchings of the same B);
    beta: β of the selection score (paper: 1, 0.5, 0.25); max_size: most latents per concept.
    Returns a :class:`~kit.types.Matching` with ``rec_f1: float[C, max_size]`` and ``params["support"]``
    (positives per concept). ``device``/``backend``/``chunk_bytes`` choose where and in what blocks the counts
    run (:class:`LatentCounts`); the result is identical.
    """
    p, q = beta_fraction(beta)
    if not isinstance(max_size, (int, np.integer)) or isinstance(max_size, bool) or max_size < 1:
        raise ConfigError(f"max_size must be an integer ≥ 1, got {max_size!r}")
    if not isinstance(B, LatentCounts):
        B = as_firing(B)
    n = B.n if isinstance(B, LatentCounts) else B.shape[0]
    Y = as_labels(Y, n)
    if (p + q) * n >= EXACT_DENOMINATOR:  # refused before B is prepared
        raise DataError(f"fbmp: {n} samples is too many for exact comparison at beta={beta} "
                        f"(need (a²+b²)·N < 2^26 with beta=a/b)")
    counter = prepared(B, device, backend, chunk_bytes)
    Yt = np.ascontiguousarray(Y.T)  # bool[C, N]
    c = Yt.shape[0]
    pos = Yt.sum(axis=1, dtype=np.int64)
    resid = Yt.copy()
    recon = np.zeros_like(Yt)
    tp = np.zeros(c, dtype=np.int64)
    size = np.zeros(c, dtype=np.int64)
    rec = np.zeros((c, max_size))
    selected = np.full((c, max_size), -1, dtype=np.int64)
    lengths = np.zeros(c, dtype=np.int64)
    active = np.flatnonzero(pos > 0)  # a concept without positives has F1 0 whatever is chosen
    for s in range(max_size):
        if active.size == 0:
            break
        js, tb = counter.best(resid[active], p, q, pos[active] - tp[active])  # |r| = positives not yet covered
        cols = counter.columns(js)
        new_tp = tp[active] + tb
        new_size = size[active] + (cols & ~recon[active]).sum(axis=1)
        # F1 = 2·TP / (|y| + |R|); strict improvement compared in integers
        better = new_tp * (pos[active] + size[active]) > tp[active] * (pos[active] + new_size)
        keep = active[better]
        recon[keep] |= cols[better]
        resid[keep] &= ~cols[better]
        tp[keep] = new_tp[better]
        size[keep] = new_size[better]
        rec[keep, s] = 2 * tp[keep] / (pos[keep] + size[keep])
        selected[keep, s] = js[better]
        lengths[keep] = s + 1
        active = keep
    params = {"beta": float(beta), "max_size": int(max_size), "support": pos.tolist()}
    return Matching(coalitions=_coalitions(selected, lengths), rec_f1=pad_curves(rec, lengths),
                    method=method, params=params, concepts=None if concepts is None else list(concepts))


def one_to_one(Y: Any, B: Any, *, device: str = "auto", backend: str = "auto",
               concepts: Sequence[str] | None = None, chunk_bytes: int | None = None) -> Matching:
    """Per concept, the single latent with the highest F1 (ties → lowest index); empty when no latent
    covers a positive. Y: bool[N, C]; B: bool[N, D] or a :class:`LatentCounts` of it. ``rec_f1: float[C, 1]``."""
    m = fbmp(Y, B, beta=1.0, max_size=1, device=device, backend=backend, concepts=concepts, method="one_to_one",
             chunk_bytes=chunk_bytes)
    params = {k: v for k, v in m.params.items() if k != "max_size"}
    return Matching(coalitions=m.coalitions, rec_f1=m.rec_f1, method="one_to_one", params=params,
                    concepts=m.concepts)
