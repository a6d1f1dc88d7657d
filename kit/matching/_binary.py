"""Binary inputs of the matching methods and exact overlap counting.

``binarize`` turns codes into firing patterns; :class:`LatentCounts` holds ``B: bool[N, D]`` and counts
``|r ∧ b_j|`` for many boolean rows ``r`` at once — one matrix product per call, exact in integers.
Two backends give identical counts: ``"sparse"`` (scipy: sparse ``B^T`` times the dense rows, int32, CPU; its
cost is nnz(B)·M, fast when few latents fire per sample) and ``"dense"`` (torch float32 blocks of latents on any
device; sums of 0/1 below 2^24 are exact in float32, TF32 included, since 0 and 1 are exact in every format).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from kit.arrays import as_bool_matrix, resolve_device, to_numpy
from kit.errors import ConfigError, DataError

MAX_SAMPLES = 2**24  # float32 holds every count up to here exactly
ROW_CHUNK = 4096  # rows per block when scanning large code matrices


def check_codes(name: str, Z: Any) -> np.ndarray:
    """Check ``Z`` is a non-empty 2-D real array without NaN/inf (scanned in row blocks); return it as numpy."""
    a = to_numpy(Z)
    if a.ndim != 2:
        raise DataError(f"{name} must be 2-D [samples, latents], got shape {a.shape}")
    if a.size == 0:
        raise DataError(f"{name} is empty (shape {a.shape})")
    if a.dtype == bool:
        return a
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise DataError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating):
        for r0 in range(0, a.shape[0], ROW_CHUNK):
            bad = ~np.isfinite(a[r0:r0 + ROW_CHUNK])
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise DataError(f"{name} holds a non-finite value (NaN or inf) at row {r0 + r}, column {c}")
    return a


def binarize(Z: Any, threshold: float = 1e-8) -> np.ndarray:
    """``B = Z > threshold``: which latents fire on which samples. Z: float[N, D] (numpy or torch) → bool[N, D]."""
    if not np.isfinite(threshold):
        raise ConfigError(f"binarize: threshold must be a finite number, got {threshold}")
    if hasattr(Z, "detach"):  # a torch tensor: compare where it lives, move only the bits
        if Z.ndim == 2 and Z.numel() and not bool(Z.isfinite().all()):
            check_codes("codes Z", Z)
        return check_codes("codes Z", (Z.detach() > threshold))
    a = check_codes("codes Z", Z)
    return a > threshold


def as_labels(Y: Any, n: int | None = None, name: str = "Y") -> np.ndarray:
    """Annotations as ``bool[N, C]``; with ``n``, check they have ``n`` rows like the codes."""
    Y = as_bool_matrix(f"annotations {name}", Y)
    if n is not None and Y.shape[0] != n:
        raise DataError(f"annotations {name} have {Y.shape[0]} rows but the codes have {n}; rows must be the same samples")
    return Y


def as_firing(B: Any, name: str = "B") -> np.ndarray:
    """Firing patterns as ``bool[N, D]``; real-valued codes must be binarised first (:func:`binarize`)."""
    a = to_numpy(B)
    if a.dtype != bool and np.issubdtype(a.dtype, np.floating):
        check_codes(f"firing pattern {name}", a)
    try:
        return as_bool_matrix(f"firing pattern {name}", a)
    except DataError as e:
        raise DataError(f"{e} (pass codes through kit.matching.binarize first)") from None


class LatentCounts:
    """``B: bool[N, D]`` ready for exact overlap counts with boolean rows.

    backend: ``"auto"`` (sparse on CPU when at most ``sparse_density`` of the entries fire, else dense),
    ``"sparse"`` or ``"dense"``; chunk_bytes: size of one float32 block of latents in the dense backend;
    cache_bytes: the dense blocks are kept on the device when they fit, else rebuilt for every product.
    """

    def __init__(self, B: np.ndarray, device: str = "auto", backend: str = "auto",
                 sparse_density: float = 0.1, chunk_bytes: int = 2**26, cache_bytes: int = 2**29) -> None:
        n, d = B.shape
        if n >= MAX_SAMPLES:
            raise DataError(f"exact counting supports fewer than {MAX_SAMPLES} samples, got {n}")
        self.B = B
        self.n, self.d = n, d
        self.device = resolve_device(device)
        self.sizes = B.sum(axis=0, dtype=np.int64)  # int[D]: |b_j|
        density = float(self.sizes.sum()) / (n * d)
        if backend == "auto":
            backend = "sparse" if self.device == "cpu" and density <= sparse_density else "dense"
        if backend not in ("sparse", "dense"):
            raise ConfigError(f"backend must be 'auto', 'sparse' or 'dense', got {backend!r}")
        if backend == "sparse" and self.device != "cpu":
            raise ConfigError(f"the sparse backend runs on the CPU, not on device={self.device!r}")
        self.backend = backend
        if backend == "sparse":
            import scipy.sparse as sp

            self._bt = sp.csr_matrix(B).astype(np.int32).T.tocsr()  # [D, N]: a latent's firing pattern is one row
            self._chunk_bytes = int(chunk_bytes)
        else:
            self._width = max(1, int(chunk_bytes) // (4 * n))
            self._cached = n * d * 4 <= cache_bytes
            self._blocks = [self._block(j0) for j0 in range(0, d, self._width)] if self._cached else None

    def _block(self, j0: int):
        import torch

        return torch.from_numpy(np.ascontiguousarray(self.B[:, j0:j0 + self._width])).to(self.device, torch.float32)

    def counts(self, R: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """For ``R: bool[M, N]`` yield ``(j0, int[M, w])``: ``|R_m ∧ b_j|`` for latents j0..j0+w−1."""
        if self.backend == "sparse":  # sparse [w, N] × dense [N, M]: cost nnz(B)·M, exact in int32
            Rt = np.ascontiguousarray(R.T, dtype=np.int32)
            width = max(1, self._chunk_bytes // (12 * R.shape[0]))  # int32 counts + float64 scores per block
            for j0 in range(0, self.d, width):
                yield j0, (self._bt[j0:j0 + width] @ Rt).T
            return
        import torch

        Rt = torch.from_numpy(np.ascontiguousarray(R)).to(self.device, torch.float32)
        for i, j0 in enumerate(range(0, self.d, self._width)):
            block = self._blocks[i] if self._cached else self._block(j0)
            yield j0, (Rt @ block).cpu().numpy()  # integer-valued float32, exact

    def best(self, R: np.ndarray, p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Per row ``r`` of ``R: bool[M, N]``, the latent maximising ``|r∧b_j| / (p|r| + q|b_j|)`` (lowest index
        on ties; latent 0 when no latent overlaps ``r``) and that overlap: ``(int64[M], int64[M])``.

        Quotients are float64 divisions of integers, compared as they are (exact below 2^26, see fbmp).
        """
        r = R.sum(axis=1, dtype=np.int64)
        m = R.shape[0]
        best = np.full(m, -1.0)
        best_j = np.zeros(m, dtype=np.int64)
        best_tb = np.zeros(m, dtype=np.int64)
        rows = np.arange(m)
        for j0, tb in self.counts(R):
            den = p * r[:, None] + q * self.sizes[None, j0:j0 + tb.shape[1]]
            score = np.divide(tb, den, out=np.zeros(tb.shape), where=den > 0)
            jj = score.argmax(axis=1)
            val = score[rows, jj]
            better = val > best  # strict: an earlier block (lower index) wins a tie
            best[better] = val[better]
            best_j[better] = j0 + jj[better]
            best_tb[better] = tb[rows, jj][better].astype(np.int64)
        return best_j, best_tb

    def columns(self, js: np.ndarray) -> np.ndarray:
        """bool[M, N]: the firing patterns of latents ``js: int[M]``, one per row."""
        if self.backend == "sparse":
            return self._bt[js].toarray().astype(bool)
        return np.ascontiguousarray(self.B[:, js].T)
