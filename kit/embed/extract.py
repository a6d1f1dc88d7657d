"""Batched, ordered embedding extraction with DataLoader workers, a resumable cache and multi-GPU sharding.

``embed_images`` decodes images in ``num_workers`` DataLoader workers (conversion rules in
:mod:`kit.embed.images`), runs the encoder batch by batch (bf16/fp16 autocast on a GPU) and returns
``Embeddings`` in the order given. With ``cache_dir`` the rows are written shard by shard
(:mod:`kit.embed.cache`); an interrupted run resumes at the first missing shard. Under ``accelerate launch``
or ``torchrun`` (several processes, GPUs or nodes sharing the cache folder) each process computes the shards
``s`` with ``s % world_size == rank``, waits until every shard is on disk, and reads the merged result —
the same rows a single process would write.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from kit._version import __version__
from kit.arrays import resolve_device
from kit.embed.cache import CacheEntry, entry_folder, open_entry
from kit.embed.images import ImageLike, image_list_hash, open_image
from kit.embed.registry import Encoder, load_encoder
from kit.errors import CheckpointError, ConfigError, DataError
from kit.types import Embeddings, PairedBenchmark


@dataclass(frozen=True)
class EmbedConfig:
    """Settings of the embedding stage (the notebooks' parameters mirror these). The encoder default is the
    paper's backbone; the offline book passes ``encoder="toy"``."""

    encoder: str = "open_clip:ViT-L-14/openai"
    batch_size: int = 256
    num_workers: int | None = None  # None: one per CPU core, at most 16
    shard_size: int = 8192
    device: str = "auto"


DEFAULTS = EmbedConfig()


class ImageSet(Dataset):
    """Images (paths or PIL images) → preprocessed tensors float[3, H, W]; index i is image i."""

    def __init__(self, images: Sequence[ImageLike], preprocess):
        self.images = list(images)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.preprocess(open_image(self.images[i]))


def _process_info() -> tuple[int, int, str | None]:
    """(rank, world_size, device) of this process under a multi-process launch, else (0, 1, None).

    accelerate's view when it recognises the launch (``accelerate launch`` on GPUs); otherwise the
    torchrun variables RANK / WORLD_SIZE / LOCAL_RANK.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, None
    from accelerate import PartialState

    state = PartialState()
    if state.num_processes == world:
        return state.process_index, state.num_processes, str(state.device)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return int(os.environ.get("RANK", "0")), world, f"cuda:{local}" if torch.cuda.is_available() else "cpu"


def _auto_workers() -> int:
    """One DataLoader worker per CPU core available to this process (cores shared among the processes of
    this node under a multi-process launch), at most 16."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(16, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def _wait_until(done, what: str, timeout_s: float, poll_s: float = 1.0) -> None:
    """Poll ``done()`` until true; the processes meet through the shared cache folder, not a process group."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise CheckpointError(f"gave up after {timeout_s:.0f} s waiting for {what}; did another process fail?")
        time.sleep(poll_s)


def _as_encoder(encoder: Encoder | str, device: str) -> Encoder:
    if isinstance(encoder, str):
        return load_encoder(encoder, device=device)
    if not isinstance(encoder, Encoder):
        raise ConfigError(f"encoder must be a name or an Encoder, got {type(encoder).__name__}")
    device = resolve_device(device)
    return encoder if encoder.device == device else encoder.to(device)


def _check_images(images: Sequence[ImageLike]) -> list[ImageLike]:
    images = list(images)
    if not images:
        raise DataError("embed_images: the image list is empty")
    for i, item in enumerate(images):
        if not isinstance(item, (str, os.PathLike, Image.Image)):
            raise DataError(f"embed_images: image {i} is a {type(item).__name__}; give a path or a PIL image")
    return images


def _compute(images: list[ImageLike], encoder: Encoder, batches: list[list[int]], num_workers: int,
             progress: bool, desc: str) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield (row indices, float32[len, d]) batch by batch, in the order of ``batches``."""
    from tqdm.auto import tqdm

    loader = DataLoader(ImageSet(images, encoder.preprocess), batch_sampler=batches,
                        num_workers=min(num_workers, len(batches)),
                        pin_memory=torch.device(encoder.device).type == "cuda")
    total = sum(len(b) for b in batches)
    with tqdm(total=total, unit="img", unit_scale=True, desc=desc, disable=not progress, smoothing=0.1) as bar:
        try:
            for rows, x in zip(batches, loader):
                out = encoder.encode_images(x).cpu().numpy()
                bar.update(len(rows))
                yield rows, out
        except DataError as e:  # from a worker: keep the original message, not the worker's traceback
            last = str(e).strip().splitlines()[-1]
            raise DataError(last.split("DataError: ", 1)[-1]) from None


def run_shards(images: list[ImageLike], encoder: Encoder, entry: CacheEntry, *, batch_size: int,
               num_workers: int, rank: int = 0, world_size: int = 1, progress: bool = True) -> list[int]:
    """Compute and store this process's missing shards (``s % world_size == rank``); return their indices."""
    todo = [s for s in entry.missing() if s % world_size == rank]
    batches, owner = [], []
    for s in todo:
        rows = entry.rows(s)
        for start in range(rows.start, rows.stop, batch_size):
            batches.append(list(range(start, min(start + batch_size, rows.stop))))
            owner.append(s)
    if not batches:
        return todo
    desc = f"{encoder.name} [{rank + 1}/{world_size}]" if world_size > 1 else encoder.name
    buffer: list[np.ndarray] = []
    for b, (rows, out) in enumerate(_compute(images, encoder, batches, num_workers, progress, desc)):
        buffer.append(out)
        if b + 1 == len(batches) or owner[b + 1] != owner[b]:
            entry.write_shard(owner[b], np.concatenate(buffer, axis=0))
            buffer = []
    return todo


def embed_images(images: Sequence[ImageLike], encoder: Encoder | str, batch_size: int = DEFAULTS.batch_size,
                 device: str = DEFAULTS.device, cache_dir: str | os.PathLike | None = None, *,
                 num_workers: int | None = DEFAULTS.num_workers, shard_size: int = DEFAULTS.shard_size,
                 ids: Sequence | None = None, progress: bool = True, wait_s: float = 6 * 3600) -> Embeddings:
    """Embed N images in order → ``Embeddings`` with ``X: float32[N, d]``.

    images: paths or PIL images; encoder: an :class:`Encoder` or a registry name; num_workers: DataLoader
    decoding processes (None: one per CPU core, at most 16; 0: decode in this process); ids: [N] sample ids
    (default ``0..N-1``); cache_dir: where to keep (and resume) the sharded result; wait_s: how long a
    process of a multi-process run waits for the others' shards.
    """
    images = _check_images(images)
    for name, v in (("batch_size", batch_size), ("shard_size", shard_size)):
        if not isinstance(v, int) or v < 1:
            raise ConfigError(f"embed_images: {name} must be a positive integer, got {v!r}")
    if num_workers is None:
        num_workers = _auto_workers()
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ConfigError(f"embed_images: num_workers must be an integer ≥ 0, got {num_workers!r}")
    rank, world, process_device = _process_info()
    device = process_device or device
    enc = _as_encoder(encoder, device)
    dev_type = torch.device(enc.device).type
    compute = "float32" if dev_type != "cuda" else ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")
    provenance = {**enc.provenance, "image_list_hash": image_list_hash(images), "compute": f"{dev_type}/{compute}",
                  "kit_version": __version__}
    if cache_dir is None:
        if world > 1:
            raise ConfigError("embed_images: a multi-process run needs cache_dir (the processes merge through it)")
        rows = [list(range(i, min(i + batch_size, len(images)))) for i in range(0, len(images), batch_size)]
        X = np.concatenate([out for _, out in _compute(images, enc, rows, num_workers, progress, enc.name)], axis=0)
        return Embeddings(X=X, ids=ids, provenance={**provenance, "n_images": len(images)})
    if rank != 0:  # rank 0 creates the entry; the others check it once it exists
        folder = entry_folder(cache_dir, provenance, len(images), enc.dim, shard_size)
        _wait_until((folder / "provenance.json").is_file, f"{folder / 'provenance.json'}", wait_s)
    entry = open_entry(cache_dir, provenance, len(images), enc.dim, shard_size)
    done = run_shards(images, enc, entry, batch_size=batch_size, num_workers=num_workers, rank=rank,
                      world_size=world, progress=progress)
    if world > 1:
        logging.getLogger("kit").debug(f"process {rank + 1} of {world} ({enc.device}): computed shards {done} of "
                                       f"{entry.n_shards} in {entry.folder.name}")
    if world > 1:
        _wait_until(lambda: not entry.missing(), f"the other processes' shards in {entry.folder}", wait_s)
    return Embeddings(X=entry.load(), ids=ids, provenance={**entry.provenance, "cache": str(entry.folder)})


def embed_texts(texts: Sequence[str], encoder: Encoder | str, batch_size: int = DEFAULTS.batch_size,
                device: str = DEFAULTS.device) -> np.ndarray:
    """Embed T texts with a CLIP-like encoder's text tower → float32[T, d]."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise DataError("embed_texts: the text list is empty")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise DataError(f"embed_texts: text {bad[0]} is a {type(texts[bad[0]]).__name__}, not a string")
    enc = _as_encoder(encoder, device)
    parts = [enc.encode_texts(texts[i:i + batch_size]).cpu().numpy() for i in range(0, len(texts), batch_size)]
    return np.concatenate(parts, axis=0).astype(np.float32, copy=False)


def embed_benchmark(benchmark: PairedBenchmark, encoder: Encoder | str, cache_dir: str | os.PathLike | None = None,
                    **kwargs) -> tuple[Embeddings, Embeddings]:
    """Embeddings of a paired benchmark's originals and of its edits, both with ids = the pair ids.

    kwargs go to :func:`embed_images` (batch_size, device, num_workers, ...).
    """
    root = Path(benchmark.root) if benchmark.root else None

    def paths(items: list[str]) -> list[str]:
        return [p if root is None or os.path.isabs(p) else str(root / p) for p in items]

    enc = _as_encoder(encoder, kwargs.pop("device", DEFAULTS.device))
    orig = embed_images(paths(benchmark.orig_images), enc, cache_dir=cache_dir, ids=benchmark.pair_ids,
                        device=enc.device, **kwargs)
    edit = embed_images(paths(benchmark.edit_images), enc, cache_dir=cache_dir, ids=benchmark.pair_ids,
                        device=enc.device, **kwargs)
    return orig, edit
