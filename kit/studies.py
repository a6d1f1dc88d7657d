"""The paper's studies as functions: score one SAE against its untrained twin, and the dictionary-size sweep.

:func:`evaluate_sae` computes, for one trained SAE, the rows the paper reports — MATCHScore and ΔMATCHScore
(one-to-one and FBMP at each β, budget k) and TAPAScore with the same matchings — in the paper's names:
metric ``matchscore`` / ``delta_matchscore`` / ``tapascore``, criterion ``F1 (k=1)`` / ``FBMP F<β>``.
:func:`dictionary_size_study` trains (or loads from the cache) families × sizes × seeds and evaluates each.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from kit._version import __version__
from kit.errors import ConfigError
from kit.results import ResultRow
from kit.sae.train import TRAINER_VERSION

PAPER_FAMILIES = ("topk", "batchtopk", "matryoshka", "jumprelu")
DISPLAY = {"topk": "TopK", "batchtopk": "BatchTopK", "matryoshka": "Matryoshka", "jumprelu": "JumpReLU",
           "relu": "ReLU"}


def criterion(method: str, beta: float | None = None) -> str:
    """The paper's name of a matching criterion: ``"F1 (k=1)"`` or ``"FBMP F0.5"``."""
    if method == "one_to_one":
        return "F1 (k=1)"
    return f"FBMP F{beta:g}"


@dataclass(frozen=True)
class StudyConfig:
    """The dictionary-size study (defaults: the paper's grid; sizes are shrunk by the notebooks' smoke flag).

    families, sizes, seeds: the SAEs; k: their sparsity; betas: FBMP's β values; budget: coalition size for
    MATCHScore and TAPAScore; train_split / match_split: which annotated images train the SAEs and which are
    matched; train: further kit.sae.TrainConfig settings; n_boot: bootstrap resamples for the intervals.
    """

    families: tuple[str, ...] = PAPER_FAMILIES
    sizes: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    seeds: tuple[int, ...] = (0,)
    k: int = 32
    betas: tuple[float, ...] = (1.0, 0.5, 0.25)
    budget: int = 3
    train_split: str = "train"
    match_split: str = "test"
    train: dict = field(default_factory=dict)
    n_boot: int = 1000

    def __post_init__(self) -> None:
        if not self.families or not self.sizes or not self.seeds:
            raise ConfigError("StudyConfig needs at least one family, size and seed")
        if any(s < 1 for s in self.sizes):
            raise ConfigError(f"StudyConfig.sizes must be ≥ 1, got {self.sizes}")
        if self.budget < 1:
            raise ConfigError(f"StudyConfig.budget must be ≥ 1, got {self.budget}")


def evaluate_sae(sae, baseline, X_match, Y_match, X_orig, X_edit, old, new, labels_orig, *, betas=(1.0, 0.5, 0.25),
                 budget: int = 3, n_boot: int = 1000, labels: dict[str, Any] | None = None) -> list[ResultRow]:
    """Rows of MATCHScore, ΔMATCHScore and TAPAScore for one SAE (``baseline``: its untrained twin).

    X_match: float[N, d], Y_match: bool[N, C] — the annotated images matched; X_orig, X_edit: float[P, d],
    old, new: int[P], labels_orig: bool[P, C] — the paired benchmark; labels: dataset, encoder, sae,
    dict_size, k, seed for the rows.
    """
    from kit import matching as M
    from kit.sae import encode_array
    from kit.tapas import tapascore

    labels = {"dataset": "", "encoder": "", "sae": "", "dict_size": 0, "k": None, "seed": None, **(labels or {})}
    Z = encode_array(sae, X_match)
    Z_base = encode_array(baseline, X_match)
    P = len(old)
    Z_pairs = encode_array(sae, np.concatenate([X_orig, X_edit]))
    B, B_base = M.binarize(Z), M.binarize(Z_base)
    rows = []
    settings = [("one_to_one", None)] + [("fbmp", b) for b in betas]
    for method, beta in settings:
        if method == "one_to_one":
            m, m0, k = M.one_to_one(Y_match, B), M.one_to_one(Y_match, B_base), 1
        else:
            m, m0, k = M.fbmp(Y_match, B, beta=beta), M.fbmp(Y_match, B_base, beta=beta), budget
        extra = {"criterion": criterion(method, beta)}
        score, base = M.match_score(m, k), M.match_score(m0, k)
        lo, hi = M.match_score_ci(m, k, "concepts", n_boot=n_boot) if n_boot else (np.nan, np.nan)
        rows.append(ResultRow(**labels, metric="matchscore", value=score, ci_low=lo, ci_high=hi, extra=extra))
        rows.append(ResultRow(**labels, metric="matchscore_untrained", value=base, extra=extra))
        rows.append(ResultRow(**labels, metric="delta_matchscore", value=score - base, extra=extra))
        t = tapascore(Z_pairs[:P], Z_pairs[P:], old, new, m, k=k, labels_orig=labels_orig, n_boot=n_boot)
        rows.append(ResultRow(**labels, metric="tapascore", value=t.score, ci_low=t.ci[0], ci_high=t.ci[1],
                              extra=extra))
        if t.delta_stay is not None:
            rows.append(ResultRow(**labels, metric="delta_stay", value=t.delta_stay, extra=extra))
    return rows


def _study_key(prepared, config: StudyConfig, dataset: str) -> str:
    h = hashlib.sha256()
    for a in (prepared.X.X, prepared.concepts.Y, prepared.X_orig.X, prepared.X_edit.X, prepared.pairs.old,
              prepared.pairs.new):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps([dataclasses.asdict(config), dataset, prepared.config.encoder, __version__, TRAINER_VERSION],
                        sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def dictionary_size_study(prepared, config: StudyConfig, cache_dir, dataset: str | None = None,
                          progress: bool = True):
    """Train (or load) every SAE of the grid on the train split and evaluate it; return a tidy DataFrame.

    The table is cached in ``cache_dir/studies`` by the data, the configuration and the kit version, so a
    second chapter asking for the same study reads it instead of evaluating again. progress: training and
    evaluation progress bars.
    """
    import pandas as pd

    from kit.pipeline import train_cached
    from kit.results import load_results, save_results
    from kit.sae import untrained

    dataset = dataset or prepared.config.benchmark
    cached = Path(cache_dir) / "studies" / f"dictionary-size-{_study_key(prepared, config, dataset)}.json"
    if cached.is_file():
        return load_results(cached)[0]
    X_train, _ = prepared.split(config.train_split)
    X_match, Y_match = prepared.split(config.match_split)
    pairs = prepared.pairs
    grid = [dict(family=f, dict_size=s, k=config.k, seed=seed)
            for f in config.families for s in config.sizes for seed in config.seeds]
    saes = train_cached(X_train, grid, cache_dir, progress=progress, **config.train)
    rows = []
    for g, sae in tqdm(list(zip(grid, saes)), desc="evaluate SAEs", disable=not progress):
        base = untrained(g["family"], X_train.shape[1], g["dict_size"], k=g["k"], seed=g["seed"])
        labels = dict(dataset=dataset, encoder=prepared.config.encoder, sae=DISPLAY.get(g["family"], g["family"]),
                      dict_size=g["dict_size"], k=g["k"], seed=g["seed"])
        rows += evaluate_sae(sae, base, X_match, Y_match, prepared.X_orig.X, prepared.X_edit.X, pairs.old,
                             pairs.new, pairs.labels_orig, betas=config.betas, budget=config.budget,
                             n_boot=config.n_boot, labels=labels)
    table = pd.DataFrame([r.as_dict() for r in rows])
    save_results(cached, table.to_dict("records"), {"study": config, "dataset": dataset,
                                                    "encoder": prepared.config.encoder})
    return table

