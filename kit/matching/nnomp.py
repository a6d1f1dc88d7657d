"""Non-negative orthogonal matching pursuit (nnOMP): the continuous-code baseline of the paper.

For every concept, ``y`` (0/1) is approximated by a non-negative combination of the column-normalised codes.
Each step adds the latent most correlated with the residual (ties within ``tie_tol`` → lowest index), refits
all selected coefficients by non-negative least squares, and records ``F1(y, ŷ > 0.5)``. It stops when the
best correlation vanishes (≤ ``tol``), when a latent is chosen again, or after ``max_size`` latents.

The correlations of all concepts come from one product ``residual: [C, N] × Z: [N, D]`` per step (sparse when
the codes are); the refits are small NNLS problems (``N × s``, s ≤ max_size), one per active concept.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls as _nnls

from kit.errors import ConfigError
from kit.matching._binary import as_labels, check_codes
from kit.matching.fbmp import pad_curves
from kit.types import Matching


def column_norms(Z: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """float64[D]: Euclidean norm of each code column (1 where a column is all zero), chunked over latents."""
    out = np.concatenate([np.linalg.norm(Z[:, j:j + chunk].astype(np.float64), axis=0)
                          for j in range(0, Z.shape[1], chunk)])
    out[out == 0] = 1.0
    return out


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    den = int(y.sum()) + int(pred.sum())
    return 0.0 if den == 0 else 2 * int((y & pred).sum()) / den


def _check_options(max_size: Any, tol: Any, tie_tol: Any, sparse_density: Any, chunk: Any) -> None:
    if not isinstance(max_size, (int, np.integer)) or isinstance(max_size, bool) or max_size < 1:
        raise ConfigError(f"max_size must be an integer ≥ 1, got {max_size!r}")
    for name, v in (("tol", tol), ("tie_tol", tie_tol)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not np.isfinite(v) or v < 0:
            raise ConfigError(f"nnomp: {name} must be a finite number ≥ 0, got {v!r}")
    if not (isinstance(sparse_density, (int, float, np.number)) and 0 <= sparse_density <= 1):
        raise ConfigError(f"nnomp: sparse_density must lie in [0, 1], got {sparse_density!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ConfigError(f"nnomp: chunk must be an integer ≥ 1, got {chunk!r}")


def _columns(Z: np.ndarray, sparse_density: float, chunk: int) -> tuple[Callable, Callable]:
    """The pursuit's two reads of the unit-norm columns of ``Z: float[N, D]``: ``correlations(res: [M, N])
    -> float64[M, D]`` and ``atoms(js) -> float64[N, len(js)]``; through a CSC copy when at most
    ``sparse_density`` of Z is non-zero, else from Z in blocks of ``chunk`` columns."""
    norms = column_norms(Z, chunk)
    if float(np.count_nonzero(Z)) / Z.size <= sparse_density:
        Zs = sp.csc_matrix(Z).astype(np.float64)

        def correlations(res: np.ndarray) -> np.ndarray:
            return np.asarray((Zs.T @ res.T).T) / norms

        def atoms(js: list[int]) -> np.ndarray:
            return Zs[:, js].toarray() / norms[js]
        return correlations, atoms

    def correlations(res: np.ndarray) -> np.ndarray:
        return np.concatenate([res @ Z[:, j:j + chunk].astype(np.float64) for j in range(0, Z.shape[1], chunk)],
                              axis=1) / norms

    def atoms(js: list[int]) -> np.ndarray:
        return Z[:, js].astype(np.float64) / norms[js]
    return correlations, atoms


def nnomp(Y: Any, Z: Any, max_size: int = 20, *, tol: float = 1e-10, tie_tol: float = 1e-9,
          concepts: Sequence[str] | None = None, sparse_density: float = 0.1, chunk: int = 1024) -> Matching:
    """nnOMP of every concept on the codes. Y: bool[N, C]; Z: float[N, D] non-negative codes (numpy or torch).

    Returns a :class:`~kit.types.Matching` with ``rec_f1: float[C, max_size]`` (F1 of ``ŷ > 0.5`` after each
    step, padded) and the NNLS coefficients of the final fit in ``params["coef"]``.
    """
    _check_options(max_size, tol, tie_tol, sparse_density, chunk)
    Z = check_codes("codes Z", Z)
    Y = as_labels(Y, Z.shape[0])
    correlations, atoms = _columns(Z, sparse_density, chunk)
    Yf = Y.T.astype(np.float64)  # [C, N]
    c = Yf.shape[0]
    res = Yf.copy()
    rec = np.zeros((c, max_size))
    chosen: list[list[int]] = [[] for _ in range(c)]
    coefs: list[list[float]] = [[] for _ in range(c)]
    active = np.arange(c)
    for s in range(max_size):
        if active.size == 0:
            break
        corr = correlations(res[active])
        top = corr.max(axis=1)
        js = (corr >= (top - tie_tol * np.abs(top))[:, None]).argmax(axis=1)
        still = []
        for i, ci in enumerate(active):  # small NNLS refits, one per active concept
            j = int(js[i])
            if top[i] <= tol or j in chosen[ci]:
                continue
            chosen[ci].append(j)
            A = atoms(chosen[ci])
            coef, _ = _nnls(A, Yf[ci])
            fit = A @ coef
            res[ci] = Yf[ci] - fit
            rec[ci, s] = _f1(Y[:, ci], fit > 0.5)
            coefs[ci] = coef.tolist()
            still.append(ci)
        active = np.asarray(still, dtype=np.int64)
    rec = pad_curves(rec, np.array([len(x) for x in chosen]))
    params = {"max_size": int(max_size), "tol": tol, "support": Y.sum(axis=0).tolist(), "coef": coefs}
    return Matching(coalitions=chosen, rec_f1=rec, method="nnomp", params=params,
                    concepts=None if concepts is None else list(concepts))
