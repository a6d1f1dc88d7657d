"""The paper's dictionary-size study: train (or load) families × sizes × seeds and evaluate each SAE.

Every SAE goes through :func:`kit.evaluate.evaluate` with its untrained twin, so the rows are in the results
vocabulary (:mod:`kit.results`): MATCHScore, ΔMATCHScore and TAPAScore per criterion, with intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from kit._version import __version__
from kit.errors import ConfigError
from kit.evaluate import EvalConfig, EvalData, evaluate
from kit.io import content_hash
from kit.pipeline import train_cached
from kit.results import jsonable, load_results, save_results
from kit.sae.train import TRAINER_VERSION

PAPER_FAMILIES = ("topk", "batchtopk", "matryoshka", "jumprelu")
DISPLAY = {"topk": "TopK", "batchtopk": "BatchTopK", "matryoshka": "Matryoshka", "jumprelu": "JumpReLU",
           "relu": "ReLU"}


@dataclass(frozen=True)
class StudyConfig:
    """The dictionary-size study (defaults: the paper's grid; sizes are shrunk by the notebooks' smoke flag).

    families, sizes, seeds: the SAEs; k: their sparsity; train_split / match_split: which annotated images
    train the SAEs and which are matched; train: further kit.sae.TrainConfig settings; evaluation: the
    :class:`kit.evaluate.EvalConfig` each SAE is scored with (default: the paper's criteria and metrics
    against the untrained twin).
    """

    families: tuple[str, ...] = PAPER_FAMILIES
    sizes: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    seeds: tuple[int, ...] = (0,)
    k: int = 32
    train_split: str = "train"
    match_split: str = "test"
    train: dict = field(default_factory=dict)
    evaluation: EvalConfig = field(default_factory=lambda: EvalConfig(baselines=("untrained",)))

    def __post_init__(self) -> None:
        if not self.families or not self.sizes or not self.seeds:
            raise ConfigError("StudyConfig needs at least one family, size and seed")
        if any(s < 1 for s in self.sizes):
            raise ConfigError(f"StudyConfig.sizes must be ≥ 1, got {self.sizes}")


def _study_key(prepared, config: StudyConfig, dataset: str) -> str:
    arrays = (prepared.X.X, prepared.concepts.Y, prepared.X_orig.X, prepared.X_edit.X, prepared.pairs.old,
              prepared.pairs.new)
    return content_hash(*(np.asarray(a) for a in arrays),
                        [jsonable(config), dataset, prepared.config.encoder, __version__, TRAINER_VERSION])[:16]


def dictionary_size_study(prepared, config: StudyConfig, cache_dir, dataset: str | None = None,
                          progress: bool = True):
    """Train (or load) every SAE of the grid on the train split and evaluate it; return a tidy DataFrame.

    The table is cached in ``cache_dir/studies`` by the data, the configuration and the kit version, so a
    second chapter asking for the same study reads it instead of evaluating again. progress: training and
    evaluation progress bars.
    """
    import pandas as pd

    dataset = dataset or prepared.config.benchmark
    cached = Path(cache_dir) / "studies" / f"dictionary-size-{_study_key(prepared, config, dataset)}.json"
    if cached.is_file():
        return load_results(cached)[0]
    X_train, _ = prepared.split(config.train_split)
    data = EvalData.from_prepared(prepared, config.match_split, dataset=dataset)
    grid = [dict(family=f, dict_size=s, k=config.k, seed=seed)
            for f in config.families for s in config.sizes for seed in config.seeds]
    saes = train_cached(X_train, grid, cache_dir, progress=progress, **config.train)
    tables = [evaluate(sae, data, config.evaluation).rows
              for sae in tqdm(saes, desc="evaluate SAEs", disable=not progress)]
    table = pd.concat(tables, ignore_index=True)
    save_results(cached, table.to_dict("records"), {"study": config, "dataset": dataset,
                                                    "encoder": prepared.config.encoder})
    return table
