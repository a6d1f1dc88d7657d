"""CKNNA: centered kernel nearest-neighbour alignment (Huh et al., "The Platonic Representation Hypothesis").

Linear kernels ``K = X Xᵀ`` and ``L = Z Zᵀ`` (rows L2-normalised), each restricted to the pairs (i, j),
i ≠ j, where j is among the k nearest neighbours of i in *both* representations, compared with the
unbiased HSIC estimator (Song et al. 2012):

    HSIC(K, L) = [Σ K̃∘L̃ᵀ + ΣK̃ ΣL̃ / ((m−1)(m−2)) − 2·1ᵀK̃L̃1 / (m−2)] / (m(m−3)),
    CKNNA = HSIC(K_kl, L_kl) / sqrt(HSIC(K_kk, K_kk) · HSIC(L_ll, L_ll)).

The neighbour search runs in row chunks, and the masked kernels have at most k entries per row, so memory
is O(chunk · N + N · k), never N².
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kit.arrays import resolve_device
from kit.errors import ConfigError, DataError
from kit.metrics._common import ResultMixin, check_rows, floats
from kit.stats import bootstrap_ci


@dataclass(frozen=True)
class CKNNAConfig:
    """k: neighbours (the paper's 10); normalize: L2-normalise rows first (as the paper does);
    chunk_size: rows per block of the neighbour search."""

    k: int = 10
    normalize: bool = True
    chunk_size: int = 1024
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.k < 2:
            raise ConfigError(f"CKNNAConfig.k must be ≥ 2, got {self.k}")
        if self.chunk_size < 1:
            raise ConfigError(f"CKNNAConfig.chunk_size must be ≥ 1, got {self.chunk_size}")


@dataclass(frozen=True, eq=False)
class CKNNAResult(ResultMixin):
    """value: the CKNNA; terms: float[3, N, 4] per-row HSIC terms of (K,L), (K,K), (L,L) — the row sums of
    K̃∘L̃ᵀ, of K̃, of L̃, and colsum(K̃)·rowsum(L̃) — from which :meth:`bootstrap_ci` resamples rows."""

    value: float
    terms: np.ndarray
    config: CKNNAConfig

    def headline(self) -> dict[str, float]:
        return {"cknna": self.value}

    def bootstrap_ci(self, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
        """Percentile CI from resampling rows of the masked kernels (the neighbour graph held fixed)."""
        terms = self.terms

        def stat(idx: np.ndarray) -> np.ndarray:
            s = terms[:, idx, :].sum(axis=2)  # [3, B, 4]
            h = _hsic_from_sums(s, terms.shape[1])
            with np.errstate(invalid="ignore"):
                return h[0] / np.sqrt(h[1] * h[2])

        return bootstrap_ci(stat, terms.shape[1], n_boot=n_boot, alpha=alpha, seed=seed)


def _hsic_from_sums(s: np.ndarray, m: int) -> np.ndarray:
    """Unbiased HSIC from summed terms ``s[..., 4]`` = (Σ K̃∘L̃ᵀ, ΣK̃, ΣL̃, 1ᵀK̃L̃1)."""
    return (s[..., 0] + s[..., 1] * s[..., 2] / ((m - 1) * (m - 2)) - 2 * s[..., 3] / (m - 2)) / (m * (m - 3))


def _row_terms(rows: np.ndarray, cols: np.ndarray, kv: np.ndarray, lv: np.ndarray, m: int) -> np.ndarray:
    """float[m, 4] per-row HSIC terms of sparse kernels with entries K[rows, cols] = kv, L = lv."""
    K = sp.csr_matrix((kv.astype(np.float64), (rows, cols)), shape=(m, m))
    L = sp.csr_matrix((lv.astype(np.float64), (rows, cols)), shape=(m, m))
    t1 = np.asarray(K.multiply(L.T).sum(axis=1)).ravel()
    sk = np.asarray(K.sum(axis=1)).ravel()
    sl = np.asarray(L.sum(axis=1)).ravel()
    colk = np.asarray(K.sum(axis=0)).ravel()
    return np.stack([t1, sk, sl, colk * sl], axis=1)


def cknna(X: np.ndarray, Z: np.ndarray, config: CKNNAConfig | None = None) -> CKNNAResult:
    """CKNNA between embeddings ``X: float[N, d]`` and codes ``Z: float[N, D]`` (symmetric in X, Z)."""
    import torch

    cfg = config or CKNNAConfig()
    X, Z = floats("X", X), floats("Z", Z)
    m = check_rows(X=X, Z=Z)
    if m <= max(cfg.k, 3):
        raise DataError(f"cknna: needs more than max(k, 3) = {max(cfg.k, 3)} samples, got {m}")
    dev = resolve_device(cfg.device)
    a = torch.as_tensor(X, device=dev)
    b = torch.as_tensor(Z, device=dev)
    if cfg.normalize:
        a = torch.nn.functional.normalize(a, dim=1)
        b = torch.nn.functional.normalize(b, dim=1)
    k = cfg.k
    nx, nz, kx, lx, lz = [], [], [], [], []
    for s in range(0, m, cfg.chunk_size):
        r = torch.arange(s, min(s + cfg.chunk_size, m), device=dev)
        gk = a[r] @ a.T
        gl = b[r] @ b.T
        gk_self = gk.clone()
        gk_self[torch.arange(r.numel(), device=dev), r] = -math.inf
        gl_self = gl.clone()
        gl_self[torch.arange(r.numel(), device=dev), r] = -math.inf
        ix = gk_self.topk(k, dim=1).indices
        iz = gl_self.topk(k, dim=1).indices
        nx.append(ix.cpu())
        nz.append(iz.cpu())
        kx.append(gk.gather(1, ix).cpu())  # K at X's neighbours
        lx.append(gl.gather(1, ix).cpu())  # L at X's neighbours
        lz.append(gl.gather(1, iz).cpu())  # L at Z's neighbours
    nx_, nz_ = torch.cat(nx), torch.cat(nz)
    both = (nx_[:, :, None] == nz_[:, None, :]).any(-1).numpy()  # X-neighbour that is also a Z-neighbour
    nx_, nz_ = nx_.numpy(), nz_.numpy()
    kx_, lx_, lz_ = (torch.cat(t).double().numpy() for t in (kx, lx, lz))
    rows = np.repeat(np.arange(m), k).reshape(m, k)
    terms = np.stack([
        _row_terms(rows[both], nx_[both], kx_[both], lx_[both], m),
        _row_terms(rows.ravel(), nx_.ravel(), kx_.ravel(), kx_.ravel(), m),
        _row_terms(rows.ravel(), nz_.ravel(), lz_.ravel(), lz_.ravel(), m),
    ])
    h = _hsic_from_sums(terms.sum(axis=1), m)
    value = float(h[0] / math.sqrt(h[1] * h[2])) if h[1] * h[2] > 0 else math.nan
    return CKNNAResult(value=value, terms=terms, config=cfg)
