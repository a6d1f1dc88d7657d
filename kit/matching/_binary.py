"""Binary inputs of the matching methods and exact overlap counting.

``binarize`` turns codes into firing patterns, dense ``bool[N, D]`` or sparse (a ``scipy.sparse.csr_array`` of
bool, built in row blocks: an SAE's few active latents per sample without the dense matrix, which at D = 65,536
is 64 KiB per sample); every matching method takes either. :class:`LatentCounts` holds ``B: bool[N, D]`` and
finds, for many boolean rows ``r`` at once, the latent maximising ``|r ∧ b_j| / (p|r| + q|b_j|)`` — one matrix
product of integer counts per call. Two backends give identical answers: ``"sparse"`` (scipy, CPU: the latents
that fire, sorted by firing count, as a CSR matrix times the dense rows; its cost is nnz(B)·M, fast when few
latents fire per sample; scoring touches one maximum per firing count instead of one quotient per latent) and
``"dense"`` (torch float32 blocks of latents on any device; sums of 0/1 below 2^24 are exact in float32, TF32
included, since 0 and 1 are exact in every format).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import scipy.sparse as sp

from kit.arrays import as_bool_matrix, first_non_finite, resolve_device, to_numpy
from kit.errors import ConfigError, DataError

MAX_SAMPLES = 2**24  # float32 holds every count up to here exactly
ROW_CHUNK = 4096  # rows per block when scanning large code matrices
CODE_BLOCK_BYTES = 2**24  # bytes of codes per block when binarising into sparse patterns


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
    where = first_non_finite(a, ROW_CHUNK)
    if where is not None:
        raise DataError(f"{name} holds a non-finite value (NaN or inf) at row {where[0]}, column {where[1]}")
    return a


def binarize(Z: Any, threshold: float = 1e-8, *, sparse: bool | None = None) -> Any:
    """``B = Z > threshold``: which latents fire on which samples. Z: float[N, D] (numpy, torch or scipy.sparse)
    → bool[N, D]; ``sparse=True`` returns a ``scipy.sparse.csr_array`` of bool, built in blocks of rows
    (``CODE_BLOCK_BYTES`` of codes each) so that the dense firing matrix never exists (default: sparse exactly
    when Z is). A torch tensor is compared where it lives and only the positions that fire move. Encode in
    batches and stack the blocks (``scipy.sparse.vstack``) to match codes too large to hold dense."""
    if not np.isfinite(threshold):
        raise ConfigError(f"binarize: threshold must be a finite number, got {threshold}")
    if sp.issparse(Z):
        B = _sparse_above(Z, threshold)
        return B if sparse in (None, True) else B.toarray()
    if sparse:
        return _dense_above_as_sparse(Z, threshold)
    if hasattr(Z, "detach"):  # a torch tensor: compare where it lives, move only the bits
        if Z.ndim == 2 and Z.numel() and not bool(Z.isfinite().all()):
            check_codes("codes Z", Z)
        return check_codes("codes Z", (Z.detach() > threshold))
    a = check_codes("codes Z", Z)
    return a > threshold


def _csr(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> sp.csr_array:
    """csr_array of bool from the (row, column) pairs of its True entries, in row-major order."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    index = np.int32 if shape[1] < 2**31 and cols.size < 2**31 else np.int64
    return sp.csr_array((np.ones(cols.size, dtype=bool), cols.astype(index, copy=False),
                         indptr.astype(index, copy=False)), shape=shape)


def _dense_above_as_sparse(Z: Any, threshold: float) -> sp.csr_array:
    """Dense codes (numpy or torch) → csr_array of ``Z > threshold``, ``CODE_BLOCK_BYTES`` of codes at a time."""
    torch_codes = hasattr(Z, "detach")
    a = Z.detach() if torch_codes else to_numpy(Z)
    if a.ndim != 2 or 0 in tuple(a.shape) or not torch_codes and a.dtype != bool and (
            not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a)):
        check_codes("codes Z", a)  # names what is wrong
    n, d = (int(x) for x in a.shape)
    itemsize = a.element_size() if torch_codes else a.itemsize
    step = max(1, CODE_BLOCK_BYTES // (d * itemsize))
    rows, cols = [], []
    for r0 in range(0, n, step):
        block = a[r0:r0 + step]
        if torch_codes:
            if not bool(block.isfinite().all()) or block.is_complex():
                check_codes("codes Z", Z)  # names the first bad entry of the whole matrix
            rc = (block > threshold).nonzero().cpu().numpy()
            rows.append(rc[:, 0] + r0)
            cols.append(rc[:, 1])
        else:
            where = first_non_finite(block, step)
            if where is not None:
                raise DataError(f"codes Z holds a non-finite value (NaN or inf) at row {r0 + where[0]}, "
                                f"column {where[1]}")
            pos = true_positions(np.ascontiguousarray(block > threshold).reshape(-1))
            rows.append(pos // d + r0)
            cols.append(pos % d)
    return _csr((n, d), np.concatenate(rows), np.concatenate(cols))


def _canonical(M: Any, name: str) -> sp.csr_array:
    """A scipy.sparse matrix as a new csr_array without duplicates (summed, as scipy does), checked to be a
    non-empty 2-D matrix of real numbers (or booleans) without NaN/inf."""
    if M.ndim != 2:
        raise DataError(f"{name} must be 2-D [samples, latents], got shape {M.shape}")
    if 0 in M.shape:
        raise DataError(f"{name} is empty (shape {M.shape})")
    if M.dtype != bool and (not np.issubdtype(M.dtype, np.number) or np.issubdtype(M.dtype, np.complexfloating)):
        raise DataError(f"{name} must hold real numbers, got dtype {M.dtype}")
    csr = sp.csr_array(M, copy=True)
    csr.sum_duplicates()
    if csr.dtype != bool and not np.isfinite(csr.data).all():
        r, c = _entry(csr, int(np.argmin(np.isfinite(csr.data))))
        raise DataError(f"{name} holds a non-finite value (NaN or inf) at row {r}, column {c}")
    return csr


def _stored_where(csr: sp.csr_array, fire: np.ndarray) -> sp.csr_array:
    """csr_array of bool holding the stored entries of ``csr`` where ``fire: bool[nnz]`` (the rest dropped by
    scipy's ``eliminate_zeros``, which keeps the canonical order)."""
    B = sp.csr_array((fire, csr.indices, csr.indptr), shape=csr.shape)
    B.eliminate_zeros()
    return B


def _entry(csr: sp.csr_array, k: int) -> tuple[int, int]:
    """(row, column) of stored entry ``k``."""
    return int(np.searchsorted(csr.indptr, k, side="right") - 1), int(csr.indices[k])


def _sparse_above(Z: Any, threshold: float, name: str = "codes Z") -> sp.csr_array:
    """Sparse codes → csr_array of bool of their stored entries above ``threshold`` (≥ 0: the entries not
    stored are zeros and do not fire)."""
    if threshold < 0:
        raise ConfigError(f"binarize: threshold {threshold} < 0 would make every entry the sparse codes do not "
                          f"store fire; use a threshold ≥ 0 or dense codes")
    csr = _canonical(Z, name)
    return _stored_where(csr, csr.data > threshold)


def as_labels(Y: Any, n: int | None = None, name: str = "Y") -> np.ndarray:
    """Annotations as ``bool[N, C]``; with ``n``, check they have ``n`` rows like the codes."""
    Y = as_bool_matrix(f"annotations {name}", Y)
    if n is not None and Y.shape[0] != n:
        raise DataError(f"annotations {name} have {Y.shape[0]} rows but the codes have {n}; rows must be the same samples")
    return Y


def as_firing(B: Any, name: str = "B") -> Any:
    """Firing patterns as ``bool[N, D]``: a numpy array, or, for patterns given sparse (any scipy.sparse
    format), a ``csr_array`` of bool without duplicates or stored zeros (a new one unless B is one already).
    Real-valued codes must be binarised first (:func:`binarize`)."""
    if sp.issparse(B):
        if (B.format == "csr" and B.dtype == bool and B.ndim == 2 and 0 not in B.shape
                and B.has_canonical_format and B.data.all()):
            return sp.csr_array(B)  # already as it would be made: shared, not copied
        csr = _canonical(B, f"firing pattern {name}")
        if csr.dtype != bool:
            bad = (csr.data != 0) & (csr.data != 1)
            if bad.any():
                k = int(np.argmax(bad))
                r, c = _entry(csr, k)
                raise DataError(f"firing pattern {name} must be binary (0/1); row {r}, column {c} holds "
                                f"{csr.data[k]!r} (pass codes through kit.matching.binarize first)")
        return _stored_where(csr, csr.data != 0)
    a = to_numpy(B)
    if a.dtype != bool and np.issubdtype(a.dtype, np.floating):
        check_codes(f"firing pattern {name}", a)
    try:
        return as_bool_matrix(f"firing pattern {name}", a)
    except DataError as e:
        raise DataError(f"{e} (pass codes through kit.matching.binarize first)") from None


def firing_columns(B: Any, js: Any) -> np.ndarray:
    """bool[N, len(js)]: columns ``js`` of firing patterns ``B`` (dense or sparse, see :func:`as_firing`)."""
    return B[:, js].toarray() if sp.issparse(B) else B[:, js]


SCAN_BYTES = 2**22  # bytes of B scanned per block when locating its nonzeros (its word flags stay in cache)
SCORE_BYTES = 2**20  # bytes of one block of key counts in the sparse backend (a block stays in cache)
_NONE = np.iinfo(np.int64).max  # "no latent" in a minimum over latent indices


def true_positions(flat: np.ndarray, offset: int = 0) -> np.ndarray:
    """int64: ``offset`` plus the positions of the True entries of ``flat: bool[M]``, ascending.

    numpy's ``flatnonzero`` costs about a nanosecond per byte where a tenth or more of the bytes are True, and
    tens of nanoseconds per True entry where fewer are: so the 8-byte words that hold a True are located first
    (the same way, while they are rare) and only their bytes are scanned, at least an eighth of them True."""
    full = flat.size - flat.size % 8
    words = flat[:full].view(np.uint64)
    hit = words != 0
    count = np.count_nonzero(hit)
    if 2 * count > hit.size or hit.size < 64:  # most words hold a True: scan the bytes themselves
        pos = np.flatnonzero(flat)
        return pos + offset if offset else pos
    which = true_positions(hit) if 10 * count < hit.size else np.flatnonzero(hit)
    k = np.flatnonzero(words[which].view(bool))
    # byte k of the gathered words is byte k & 7 of word which[k >> 3]: at k + 8·(which[i] − i), i = k >> 3
    shift = which - np.arange(which.size)
    shift <<= 3
    shift += offset
    pos = shift[k >> 3]
    pos += k
    if full < flat.size:
        pos = np.concatenate([pos, np.flatnonzero(flat[full:]) + (full + offset)])
    return pos


def nonzero_positions(B: np.ndarray, limit: int | None = None, block: int = SCAN_BYTES) -> np.ndarray | None:
    """int64[nnz]: the flat (row-major) positions of the True entries of ``B: bool[N, D]``, ascending; ``None``
    as soon as there are more than ``limit``. One pass over B, ``block`` bytes at a time (:func:`true_positions`)."""
    flat = np.ascontiguousarray(B).reshape(-1)
    out, count = [], 0
    for c0 in range(0, flat.size, block):
        out.append(true_positions(flat[c0:c0 + block], c0))
        count += out[-1].size
        if limit is not None and count > limit:
            return None
    return np.concatenate(out) if len(out) != 1 else out[0]


class _SparseLatents:
    """The sparse backend: the live latents (those that fire) as rows of a CSR matrix, sorted by firing
    count (ties by index), so that latents of one count — one denominator of the score — sit in one block
    of rows, a *group*.

    One product ``B'^T [L, N+1] × R'^T [N+1, M]`` gives, per live latent j at sorted position t and row r,
    the key ``|r∧b_j| · 2^S + (2^S − 1 − t)``: B' holds ``2^S`` where a latent fires and, in an extra column
    whose row of R' is all ones, ``2^S − 1 − t``. The maximum key of a group is its largest overlap and, among
    latents with that overlap, the lowest index; one ``maximum.reduceat`` per cache-sized block of keys finds it.
    Only the groups' maxima are divided (float64, exact, see :mod:`kit.matching.fbmp`), and the best group per
    row, ties to the lowest latent index, is the argmax over all latents. A latent that never fires overlaps
    no row: it can only be an argmax of zero scores, where the answer is latent 0 (no latent improves F1).
    """

    def __init__(self, n: int, d: int, row_start: np.ndarray, cols: np.ndarray) -> None:
        """The firing patterns by their entries in row-major order: ``row_start: int[N+1]`` (where each sample's
        entries begin), ``cols: int[nnz]`` (the latent of each entry)."""
        sizes = np.bincount(cols, minlength=d)
        live = np.flatnonzero(sizes)
        key = sizes[live]
        if n < 2**16:
            key = key.astype(np.uint16)  # numpy sorts 16-bit keys by radix sort
        perm = live[np.argsort(key, kind="stable")]  # by firing count, then index
        nlive = perm.size
        rank = np.full(d, -1, dtype=np.int64)
        rank[perm] = np.arange(nlive)
        self.sizes, self.perm, self.rank, self.n = sizes, perm, rank, n
        sorted_sizes = sizes[perm]
        starts = np.flatnonzero(np.r_[True, sorted_sizes[1:] != sorted_sizes[:-1]]) if nlive else np.empty(0, int)
        self.group_start = starts.astype(np.int64)
        self.group_size = sorted_sizes[starts]
        self.group_of = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, nlive]).astype(np.int64))
        self.shift = max(1, int(nlive).bit_length())  # 2^S > every sorted position
        self.dtype = np.int32 if (n + 1) << self.shift <= 2**31 - 1 else np.int64
        one = 1 << self.shift
        # B' as CSR [N+1, L] (its last row holds the index entries); its CSC form is the key matrix's CSR
        nnz = cols.size
        indptr = np.r_[row_start, nnz + nlive]
        data = np.full(nnz + nlive, one, dtype=self.dtype)
        data[nnz:] = one - 1 - np.arange(nlive)
        indices = np.empty(nnz + nlive, dtype=np.int32)
        np.take(rank.astype(np.int32), cols, out=indices[:nnz])
        indices[nnz:] = np.arange(nlive)
        self._keys = sp.csr_matrix((data, indices, indptr), shape=(n + 1, nlive)).tocsc().T  # CSR [L, N+1]
        self._layouts: dict[int, list[tuple[Any, np.ndarray, np.ndarray]]] = {}

    def _layout(self, m: int, block_bytes: int) -> list[tuple[Any, np.ndarray, np.ndarray]]:
        """Blocks of sorted latents whose keys for ``m`` rows fill at most ``block_bytes`` (widths are powers of
        two, so that few layouts are ever built): (rows of the key matrix, segment starts in the block, their
        groups)."""
        fit = max(1, block_bytes // (np.dtype(self.dtype).itemsize * m))
        width = 1 << (fit.bit_length() - 1)
        if width not in self._layouts:
            blocks = []
            for t0 in range(0, self.perm.size, width):
                t1 = min(t0 + width, self.perm.size)
                seg = np.r_[t0, self.group_start[(self.group_start > t0) & (self.group_start < t1)]]
                keys = self._keys if t0 == 0 and t1 == self.perm.size else self._keys[t0:t1]
                blocks.append((keys, seg - t0, self.group_of[seg]))
            self._layouts[width] = blocks
        return self._layouts[width]

    def operand(self, R: np.ndarray) -> np.ndarray:
        """R'^T: the rows ``R: bool[M, N]`` as columns, with the all-ones row of the index entries."""
        Rt = np.empty((self.n + 1, R.shape[0]), dtype=self.dtype)
        Rt[:self.n] = np.ascontiguousarray(R.T)  # transposed as bytes, then widened: faster than at once
        Rt[self.n] = 1
        return Rt

    def products(self, Rt: np.ndarray, block_bytes: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per block: (its keys ``[w, M]``, its segment starts, their groups)."""
        for keys, seg, gid in self._layout(Rt.shape[1], block_bytes):
            yield keys @ Rt, seg, gid

    def best(self, R: np.ndarray, r: np.ndarray, p: int, q: int,
             block_bytes: int) -> tuple[np.ndarray, np.ndarray]:
        m = R.shape[0]
        best_j = np.zeros(m, dtype=np.int64)
        best_tb = np.zeros(m, dtype=np.int64)
        ng = self.group_start.size
        if ng == 0 or m == 0:
            return best_j, best_tb
        whole = len(self._layout(m, block_bytes)) == 1  # one block: its group maxima are all of them
        G = None if whole else np.full((ng, m), -1, dtype=self.dtype)
        wide = m >= 64  # numpy's column maxima are fast over wide rows, reduceat over narrow ones
        for keys, seg, gid in self.products(self.operand(R), block_bytes):
            if wide and seg.size <= 8:
                bounds = np.r_[seg, keys.shape[0]]
                part = np.stack([keys[a:b].max(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
            else:
                part = np.maximum.reduceat(keys, seg, axis=0)
            if whole:
                G = part
                break
            np.maximum(G[gid[0]], part[0], out=G[gid[0]])  # the first segment may continue a group
            G[gid[1:]] = part[1:]
        mask = (1 << self.shift) - 1
        over = (G >> self.shift).astype(np.int64)  # [groups, M]: each group's largest overlap
        score = over / (p * r[None, :] + q * self.group_size[:, None]).astype(np.float64)
        top = score.max(axis=0)
        first = self.perm[mask - (G & mask).astype(np.int64)]  # the lowest latent with that overlap
        j = np.where(score == top[None, :], first, _NONE).min(axis=0)
        hit = top > 0
        best_j[hit] = j[hit]
        best_tb[hit] = over[self.group_of[self.rank[j[hit]]], np.flatnonzero(hit)]
        return best_j, best_tb

    def columns(self, js: np.ndarray) -> np.ndarray:
        out = np.zeros((js.size, self.n), dtype=bool)
        t = self.rank[js]
        lens = np.where(t >= 0, self.sizes[js], 0)  # a latent that never fires has an empty pattern
        ends = np.cumsum(lens)
        if ends.size and ends[-1]:
            starts = self._keys.indptr[np.maximum(t, 0)]  # a row's samples, then its index entry
            at = np.arange(ends[-1]) + np.repeat(starts - (ends - lens), lens)  # every row's samples, in turn
            out[np.repeat(np.arange(js.size), lens), self._keys.indices[at]] = True
        return out


class LatentCounts:
    """``B: bool[N, D]`` (numpy, torch or scipy.sparse) ready for exact overlap counts with boolean rows: built
    once, it serves every matching of the same firing patterns (:func:`kit.matching.fbmp` and
    :func:`~kit.matching.one_to_one` take it in place of B; :mod:`kit.evaluate` prepares each model's B once for
    all its criteria). From sparse patterns the sparse backend's set-up skips the one pass over a dense B that
    otherwise costs more than all of FBMP's products when few concepts are matched.

    backend: ``"auto"`` (sparse on CPU when at most ``sparse_density`` of the entries fire, else dense),
    ``"sparse"`` or ``"dense"``; chunk_bytes: size of one float32 block of latents in the dense backend (and a
    cap on the blocks of the sparse one); cache_bytes: the dense blocks are kept on the device when they fit,
    else rebuilt for every product.
    """

    def __init__(self, B: Any, device: str = "auto", backend: str = "auto",
                 sparse_density: float = 0.1, chunk_bytes: int = 2**26, cache_bytes: int = 2**29) -> None:
        B = as_firing(B)
        n, d = B.shape
        if n >= MAX_SAMPLES:
            raise DataError(f"exact counting supports fewer than {MAX_SAMPLES} samples, got {n}")
        if backend not in ("auto", "sparse", "dense"):
            raise ConfigError(f"backend must be 'auto', 'sparse' or 'dense', got {backend!r}")
        self.n, self.d = n, d
        self.device = resolve_device(device)
        if backend == "sparse" and self.device != "cpu":
            raise ConfigError(f"the sparse backend runs on the CPU, not on device={self.device!r}")
        entries = None  # (row_start, cols) of B's True entries in row-major order
        if backend == "sparse" or (backend == "auto" and self.device == "cpu"):
            limit = None if backend == "sparse" else int(sparse_density * n * d)
            if sp.issparse(B):
                entries = (B.indptr, B.indices) if limit is None or B.nnz <= limit else None
            else:
                pos = nonzero_positions(B, limit)
                if pos is not None:
                    cols = pos // d  # numpy divides by one number with a multiplication
                    cols *= d
                    np.subtract(pos, cols, out=cols)
                    entries = (np.searchsorted(pos, np.arange(n + 1) * d), cols)
        self.backend = "dense" if entries is None else "sparse"
        self.chunk_bytes = int(chunk_bytes)
        if entries is not None:
            self._sparse = _SparseLatents(n, d, *entries)
            self.sizes = self._sparse.sizes  # int[D]: |b_j|
        else:
            self.B = B.tocsc() if sp.issparse(B) else B  # CSC: column blocks of sparse patterns are cheap
            self.sizes = np.bincount(B.indices, minlength=d) if sp.issparse(B) else B.sum(axis=0, dtype=np.int64)
            self._width = max(1, int(chunk_bytes) // (4 * n))
            self._cached = n * d * 4 <= cache_bytes
            self._blocks = [self._block(j0) for j0 in range(0, d, self._width)] if self._cached else None

    def _block(self, j0: int):
        import torch

        block = firing_columns(self.B, slice(j0, j0 + self._width))
        return torch.from_numpy(np.ascontiguousarray(block)).to(self.device, torch.float32)

    def counts(self, R: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """For ``R: bool[M, N]`` yield ``(j0, int[M, w])``: ``|R_m ∧ b_j|`` for latents j0..j0+w−1 (dense backend)."""
        import torch

        Rt = torch.from_numpy(np.ascontiguousarray(R)).to(self.device, torch.float32)
        for i, j0 in enumerate(range(0, self.d, self._width)):
            block = self._blocks[i] if self._cached else self._block(j0)
            yield j0, (Rt @ block).cpu().numpy()  # integer-valued float32, exact

    def best(self, R: np.ndarray, p: int, q: int, r: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per row ``r`` of ``R: bool[M, N]``, the latent maximising ``|r∧b_j| / (p|r| + q|b_j|)`` (lowest index
        on ties; latent 0 when no latent overlaps ``r``) and that overlap: ``(int64[M], int64[M])``. ``r``: the
        rows' sizes ``|r|`` (int64[M]) where the caller keeps them.

        Quotients are float64 divisions of integers, compared as they are (exact below 2^26, see fbmp).
        """
        if r is None:
            r = R.sum(axis=1, dtype=np.int64)
        if self.backend == "sparse":
            return self._sparse.best(R, r, p, q, min(self.chunk_bytes, SCORE_BYTES))
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
            return self._sparse.columns(js)
        return np.ascontiguousarray(firing_columns(self.B, js).T)
