"""The on-disk embedding cache: a Hugging Face ``datasets`` dataset per shard, memory-mapped Arrow.

Layout of one entry, ``CACHE_DIR/<encoder>-<key16>/``::

    provenance.json          what the entry holds (encoder, checkpoint, preprocessing, image-list hash,
                             compute precision, shard size, kit version); written before any shard
    shards/00000/ ...        one ``Dataset.save_to_disk`` folder per shard of ``shard_size`` rows,
                             columns ``row: int64`` and ``embedding: float32[d]``

The key is the SHA-256 of the provenance, so another encoder, preprocessing, image list or kit version
lands in another folder. Each shard appears atomically (written beside, then renamed), so an interrupted
run leaves only whole shards and the next run computes just the missing ones. An entry whose
``provenance.json`` or shards disagree with what is asked raises :class:`CheckpointError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kit.errors import CheckpointError
from kit.io import atomic_path, content_hash, read_json, remove_stale, write_text


@dataclass(frozen=True)
class CacheEntry:
    """One cached embedding run: N rows of d floats in ``ceil(N / shard_size)`` shards."""

    folder: Path
    provenance: dict
    n: int
    dim: int
    shard_size: int

    @property
    def n_shards(self) -> int:
        return -(-self.n // self.shard_size)

    def rows(self, shard: int) -> range:
        """The image rows of shard ``shard``."""
        return range(shard * self.shard_size, min(self.n, (shard + 1) * self.shard_size))

    def shard_path(self, shard: int) -> Path:
        return self.folder / "shards" / f"{shard:05d}"

    def missing(self) -> list[int]:
        """Shards not yet on disk (a shard folder exists only once complete)."""
        out = []
        for s in range(self.n_shards):
            path = self.shard_path(s)
            if path.is_dir():
                continue
            if path.exists() or path.is_symlink():
                raise CheckpointError(f"{path}: not a shard folder (a file or a broken link); delete it and run the "
                                      "extraction again (only this shard is recomputed)")
            out.append(s)
        return out

    def write_shard(self, shard: int, X: np.ndarray) -> None:
        """Store X: float32[rows, d] as shard ``shard`` (atomically)."""
        import datasets
        import pyarrow as pa
        from datasets.table import InMemoryTable

        rows = self.rows(shard)
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.shape != (len(rows), self.dim):
            raise CheckpointError(f"{self.folder}: shard {shard} needs shape {(len(rows), self.dim)}, got {X.shape}")
        features = datasets.Features({"row": datasets.Value("int64"),
                                      "embedding": datasets.List(datasets.Value("float32"), length=self.dim)})
        # the Arrow columns straight from the numpy buffers (Dataset.from_dict goes through Python objects: 9×
        # slower for 32,768 × 768)
        table = pa.table({"row": pa.array(np.arange(rows.start, rows.stop, dtype=np.int64)),
                          "embedding": pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), self.dim)})
        ds = datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features))
        with atomic_path(self.shard_path(shard), replace=False) as tmp, _quiet_datasets():
            ds.save_to_disk(str(tmp))

    def load(self) -> np.ndarray:
        """All N rows, float32[N, d], read from the memory-mapped shards (all must be present)."""
        import datasets
        import pyarrow as pa

        missing = self.missing()
        if missing:
            raise CheckpointError(f"{self.folder}: shards {missing} are missing; run the extraction again to finish it")
        parts = []
        for s in range(self.n_shards):
            path = self.shard_path(s)
            again = "; delete it and run the extraction again (only this shard is recomputed)"
            try:
                with _quiet_datasets():
                    cols = datasets.load_from_disk(str(path)).with_format("numpy")[:]
                rows, X = np.asarray(cols["row"]), np.asarray(cols["embedding"])
            except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, pa.ArrowException) as e:
                raise CheckpointError(f"{path}: not a readable embedding shard, damaged or incomplete "
                                      f"({type(e).__name__}: {str(e)[:200]}){again}") from None
            want = self.rows(s)
            if X.shape != (len(want), self.dim) or not np.array_equal(rows, np.arange(want.start, want.stop)):
                raise CheckpointError(f"{path}: shard holds rows {rows[:1]}…{rows[-1:]} of shape {X.shape}, "
                                      f"expected rows {want.start}…{want.stop - 1} of dim {self.dim}{again}")
            if not np.issubdtype(X.dtype, np.floating):
                raise CheckpointError(f"{path}: shard holds {X.dtype} embeddings, not floats{again}")
            parts.append(np.asarray(X, dtype=np.float32))
        return np.concatenate(parts, axis=0)


@contextlib.contextmanager
def _quiet_datasets():
    """Hide datasets' own "Saving the dataset" bar inside the extraction's bar (restored afterwards)."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "encoder"


def _full(provenance: dict, n: int, dim: int, shard_size: int) -> dict:
    return {**provenance, "n_images": int(n), "dim": int(dim), "shard_size": int(shard_size)}


def entry_folder(cache_dir: str | os.PathLike, provenance: dict, n: int, dim: int, shard_size: int) -> Path:
    """Where the entry for these arguments lives (see :func:`open_entry`)."""
    full = _full(provenance, n, dim, shard_size)
    return Path(cache_dir) / f"{_slug(str(full.get('encoder', 'encoder')))}-{content_hash(full)[:16]}"


def open_entry(cache_dir: str | os.PathLike, provenance: dict, n: int, dim: int, shard_size: int) -> CacheEntry:
    """The cache entry for ``provenance`` under ``cache_dir``: created if new, checked if it exists.

    provenance must hold ``encoder``; ``n``, ``dim`` and ``shard_size`` are added to it before keying.
    """
    full = _full(provenance, n, dim, shard_size)
    folder = entry_folder(cache_dir, provenance, n, dim, shard_size)
    record = folder / "provenance.json"
    if record.is_file():
        stored = read_json(record, "cache provenance", CheckpointError, hint=f"; delete {folder} to recompute")
        want = json.loads(json.dumps(full, sort_keys=True, default=str))
        if stored != want:
            keys = sorted(k for k in set(stored) | set(want) if stored.get(k) != want.get(k))
            raise CheckpointError(f"{folder}: the cache was written for another configuration (fields {keys} differ, "
                                  f"e.g. {keys[0]}: stored {stored.get(keys[0])!r}, asked {want.get(keys[0])!r}); "
                                  f"delete {folder} to recompute")
    elif folder.exists() and any(not p.name.startswith(".") for p in folder.iterdir()):
        raise CheckpointError(f"{folder}: holds files but no provenance.json; delete it to recompute")
    else:
        write_text(record, json.dumps(full, indent=1, sort_keys=True, default=str))
    remove_stale(folder, recursive=True)  # shards an interrupted extraction was writing
    return CacheEntry(folder=folder, provenance=full, n=int(n), dim=int(dim), shard_size=int(shard_size))
