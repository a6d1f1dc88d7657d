"""The stages chained for the notebooks: a benchmark and its embeddings, SAEs trained once and cached, and
TAPAScore from the images of a paired benchmark.

    data = prepare(PipelineConfig(), cache_dir)          # toy-synCUB + the toy encoder, offline
    X_train, Y_train = data.split("train")
    saes = train_cached(X_train, [dict(family="topk", dict_size=256, k=8)], cache_dir)

Everything expensive is cached under ``cache_dir`` by the parameters (and, for SAEs, a hash of the training
data), so every chapter of the book can call these functions and only the first one pays.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kit import data, embed, sae
from kit.arrays import check_positive_int, to_numpy
from kit.data.render import RENDER_VERSION
from kit.errors import ConfigError, DataError
from kit.io import atomic_path, content_hash, remove_stale
from kit.sae import encode_array
from kit.sae.config import make_config
from kit.sae.train import TRAINER_VERSION
from kit.tapas import TapasResult, tapascore
from kit.types import ConceptTable, Embeddings, Matching, PairedBenchmark

TOY = {"toy-syncub", "toy-syncoco"}
HUB = {"syncub", "syncoco"}


@dataclass(frozen=True)
class PipelineConfig:
    """Which benchmark, which encoder (defaults: the offline default).

    benchmark: "toy-syncub", "toy-syncoco" (rendered by the kit), "syncub", "syncoco" (the Hub) or a folder
    in the Hub layout; concepts_dir: for Hub benchmarks, the base dataset's folder (CUB_200_2011 for synCUB,
    COCO 2017 for synCOCO) whose annotated images are matched; coco_split: which COCO images (``"train+val"``,
    the paper's protocol: train2017 trains, val2017 halved into val and test; ``"val"`` or ``"train"`` alone);
    n_pairs, n_images: sizes of toy benchmarks.
    """

    benchmark: str = "toy-syncub"
    encoder: str = "toy"
    n_pairs: int = 2000
    n_images: int = 3000
    concepts_dir: str | None = None
    coco_split: str = "train+val"
    revision: str | None = None
    seed: int = 0
    device: str = "auto"
    embed_batch_size: int = 256

    def __post_init__(self) -> None:
        known = TOY | HUB
        if self.benchmark not in known and not Path(self.benchmark).is_dir():
            raise ConfigError(f"benchmark={self.benchmark!r} is neither one of {sorted(known)} nor a folder")
        if self.benchmark in TOY and min(self.n_pairs, self.n_images) < 1:
            raise ConfigError("n_pairs and n_images must be ≥ 1")
        check_positive_int("PipelineConfig.embed_batch_size", self.embed_batch_size)


@dataclass(frozen=True, eq=False)
class Prepared:
    """A benchmark with its embeddings.

    concepts: annotated images (ConceptTable with split labels); X: their embeddings ``float32[N, d]``;
    pairs: the paired benchmark; X_orig, X_edit: embeddings of its originals and edits ``float32[P, d]``.
    """

    concepts: ConceptTable
    X: Embeddings
    pairs: PairedBenchmark
    X_orig: Embeddings
    X_edit: Embeddings
    config: PipelineConfig

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X: float32[n, d], Y: bool[n, C])`` of one split (``"train"``, ``"val"``, ``"test"``)."""
        if self.concepts.split is None:
            raise ConfigError("these concept annotations have no split labels")
        mask = self.concepts.split == name
        if not mask.any():
            raise ConfigError(f"no image in split {name!r} (splits: {sorted(set(self.concepts.split))})")
        return self.X.X[mask], self.concepts.Y[mask]


def benchmark_folder(config: PipelineConfig, cache_dir: str | os.PathLike) -> Path:
    """The folder of a toy benchmark, rendered on first use (cached by its parameters and the render version,
    so a cache written by an older renderer is not read as the current world)."""
    name = f"{config.benchmark}-p{config.n_pairs}-i{config.n_images}-s{config.seed}-r{RENDER_VERSION}"
    folder = Path(cache_dir) / "benchmarks" / name
    remove_stale(folder.parent)  # renders an interrupted run left
    if not (folder / "metadata.csv").is_file():
        render = data.render_toy_syncub if config.benchmark == "toy-syncub" else data.render_toy_syncoco
        with atomic_path(folder, replace=False) as tmp:  # another process may render the same entry
            render(tmp, n_pairs=config.n_pairs, n_images=config.n_images, seed=config.seed)
    return folder


def prepare(config: PipelineConfig | None = None, cache_dir: str | os.PathLike = ".cache", progress: bool = False,
            **overrides) -> Prepared:
    """Load (or render) the benchmark and embed its annotated images and its pairs (cached); progress: bars
    over the embedding of images that are not cached yet."""
    config = config or PipelineConfig()
    if overrides:
        config = dataclasses.replace(config, **overrides)
    if config.benchmark in TOY:
        folder = benchmark_folder(config, cache_dir)
        pairs = data.load_paired(folder)
        concepts = data.load_toy_images(folder)
    else:
        pairs = data.load_paired(config.benchmark, revision=config.revision)
        if not config.concepts_dir:
            raise ConfigError(f"benchmark={config.benchmark!r} needs concepts_dir: the folder of its base dataset "
                              "(CUB_200_2011 for synCUB, COCO 2017 for synCOCO)")
        # synCUB's layout (attribute families) matches CUB-200-2011, synCOCO's (removals) COCO 2017
        concepts = (data.load_cub(config.concepts_dir) if pairs.groups is not None
                    else data.load_coco(config.concepts_dir, config.coco_split))
        if list(concepts.names) != list(pairs.concepts):
            bad = next((i for i, (a, b) in enumerate(zip(concepts.names, pairs.concepts)) if a != b),
                       min(len(concepts.names), len(pairs.concepts)))
            raise DataError(f"benchmark={config.benchmark!r} names {len(pairs.concepts)} concepts and concepts_dir="
                            f"{config.concepts_dir!r} {len(concepts.names)}, which differ from concept {bad} on "
                            f"({pairs.concepts[bad] if bad < len(pairs.concepts) else '-'!r} vs "
                            f"{concepts.names[bad] if bad < len(concepts.names) else '-'!r}); is concepts_dir the "
                            "benchmark's base dataset?")
    if concepts.images is None:
        raise ConfigError("the concept annotations carry no image paths to embed")
    encoder = embed.load_encoder(config.encoder, device=config.device)
    emb_cache = Path(cache_dir) / "embeddings"
    X = embed.embed_images(concepts.images, encoder, batch_size=config.embed_batch_size, device=config.device,
                           cache_dir=emb_cache, ids=concepts.ids, progress=progress)
    X_orig, X_edit = embed.embed_benchmark(pairs, encoder, cache_dir=emb_cache, batch_size=config.embed_batch_size,
                                           device=config.device, progress=progress)
    return Prepared(concepts=concepts, X=X, pairs=pairs, X_orig=X_orig, X_edit=X_edit, config=config)


def _data_hash(X: np.ndarray) -> str:
    X = np.ascontiguousarray(X, dtype=np.float32)
    return content_hash(X, str(X.shape))[:16]


def train_cached(X: np.ndarray, configs: list[dict], cache_dir: str | os.PathLike, **common) -> list:
    """Train SAEs (``kit.sae.TrainConfig`` fields per dict, ``common`` for all) on ``X: float[N, d]`` in one
    pass, or load them from ``cache_dir/saes`` when the same data and configuration were trained before.

    Unset fields keep TrainConfig's defaults, the paper's settings; the chapters pass their ``batch_size``,
    ``epochs``, ``standardize``, ``lr`` parameters, which each profile sets (``params/*.yaml``).
    """
    cfgs = [make_config({**common, **c}) for c in configs]
    h = _data_hash(X)

    def folder(cfg) -> Path:
        settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("progress", "device")}
        digest = content_hash(settings, h, f"trainer{TRAINER_VERSION}")[:12]
        return Path(cache_dir) / "saes" / f"{cfg.name}-{digest}"

    todo = [c for c in cfgs if not (folder(c) / "config.json").is_file()]
    for cfg, trained in zip(todo, sae.train_many(X, todo) if todo else []):
        sae.save(trained, folder(cfg), replace=False)  # another process may have cached it meanwhile
    return [sae.load(folder(c)) for c in cfgs]


def tapascore_benchmark(benchmark: PairedBenchmark, encoder, sae, matching: Matching, k: int = 3,
                        cache_dir=None, *, batch_size: int = 4096, device: str = "auto",
                        **options) -> TapasResult:
    """TAPAScore of an SAE on a paired benchmark: embed both images of every pair once (through the
    embedding cache, :func:`kit.embed.embed_benchmark`), encode all 2P embeddings in one call
    (:func:`kit.sae.encode_array`), then :func:`kit.tapas.tapascore` with the benchmark's labels, ids and names.
    ``options``: the keyword settings of :func:`kit.tapas.tapascore` (aggregation, threshold, n_boot, alpha,
    seed)."""
    emb_orig, emb_edit = embed.embed_benchmark(benchmark, encoder, cache_dir=cache_dir)
    p = benchmark.n_pairs
    for what, e in (("original", emb_orig), ("edited", emb_edit)):
        if e.n != p:
            raise DataError(f"{benchmark.name}: {e.n} embeddings of {what} images for {p} pairs")
    Z = to_numpy(encode_array(sae, np.concatenate([emb_orig.X, emb_edit.X]), batch_size=batch_size, device=device))
    if Z.ndim != 2 or Z.shape[0] != 2 * p:
        raise DataError(f"{benchmark.name}: the SAE returned codes of shape {Z.shape} for {2 * p} embeddings")
    return tapascore(Z[:p], Z[p:], benchmark.old, benchmark.new, matching, k, benchmark.labels_orig,
                     labels_edit=benchmark.labels_edit, pair_ids=benchmark.pair_ids,
                     concepts=benchmark.concepts, groups=benchmark.groups, **options)
