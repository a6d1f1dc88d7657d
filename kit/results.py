"""The results vocabulary: one tidy row per measured number, the same columns and metric names everywhere.

Every number the kit reports — in a chapter, a study, the sanity check or ``kit score`` — is a row with the
columns :data:`COLUMNS`:

    dataset, encoder       what was embedded, by what
    sae                    an id of the SAE being scored (its baselines carry the same id)
    family, dict_size      the SAE's family and number of latents D
    sparsity               the SAE's k (active latents per sample; None for ReLU/JumpReLU)
    role                   trained | untrained | random | … (:data:`ROLES`): which model gave the number
    criterion              how latents were matched: one_to_one | fbmp_b0.5 | … | nnomp | probe | "" (none)
    budget                 the coalition size (MATCHScore, TAPAScore) or the probe's k (sparse probing)
    metric                 one of :data:`METRICS`
    value, ci_low, ci_high the number and its bootstrap interval
    n_units                how many units (concepts, pairs, samples, latents) the value averages
    seed                   the SAE's seed

A results file is JSON: ``{"kit_version", "config", "rows": [...]}`` so that every number travels with the
full configuration that produced it. :func:`load_results` returns the rows as a pandas DataFrame.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from kit._version import __version__
from kit.errors import ConfigError, DataError
from kit.io import write_text

COLUMNS = ("dataset", "encoder", "sae", "family", "dict_size", "sparsity", "role", "criterion", "budget",
           "metric", "value", "ci_low", "ci_high", "n_units", "seed")

# The models a number can come from. The baselines are built to match the trained SAE (same d, D, k, family,
# input preprocessing); see kit.evaluate.
ROLES = {
    "trained": "the SAE being scored",
    "untrained": "the same architecture at its random initialisation (the same encoder for matching and TAPAScore)",
    "random": "k latents per sample drawn from a hash of the embedding: codes that ignore what the image shows",
    "paper_untrained": "the reference code's untrained SAE: dense codes x·W_enc, the encoder drawn again per stage",
    "dense_sign": "dense codes x·W_enc of one random encoder, the same for matching and TAPAScore",
}

# Every metric name, defined once, with what it measures. Higher is better unless the description says lower.
METRICS = {
    # the paper's
    "match_score": "MATCHScore: mean F1 over concepts of each concept's matched coalition (budget latents)",
    "delta_match_score": "ΔMATCHScore: MATCHScore of the SAE minus that of its untrained twin",
    "tapascore": "TAPAScore: pair mean of (added concept's latents switch on) − (removed concept's switch on)",
    "tapascore_normalised": "TAPAScore divided per pair by its maximum (2 for a swap, 1 for a removal)",
    "tapascore_macro": "TAPAScore averaged per edited concept, then over concepts",
    "tapas_add": "mean change of the added concept's coalition over pairs",
    "tapas_rem": "mean change of the removed concept's coalition over pairs (lower is better: it should switch off)",
    "delta_stay": "Δ_stay: mean |change| of the coalitions of concepts the edit left alone (lower is better)",
    "delta_tapascore": "TAPAScore of the SAE minus that of its untrained twin on the same pairs (paired bootstrap)",
    # reconstruction and sparsity proxies
    "mse": "mean squared reconstruction error per feature, in the SAE's input space (lower is better)",
    "fvu": "fraction of variance unexplained (lower is better)",
    "cosine": "cosine similarity of input and reconstruction",
    "l0": "active latents per sample",
    "dead_fraction": "share of latents that never fire (lower is better)",
    "dense_fraction": "share of latents firing on more than 10% of samples (lower is better)",
    # the baseline metrics
    "cknna": "CKNNA: alignment of the nearest-neighbour kernels of embeddings and codes",
    "ms": "monosemanticity score MS of the latents",
    "fms": "feature monosemanticity score FMS over concepts",
    "sparse_probing": "balanced accuracy of a probe on the budget most informative latents, mean over concepts",
    "tpp": "targeted probe perturbation: accuracy drop on the target concept minus that on the others",
    "scr": "spurious correlation removal: share of the shift recovered by ablating the spurious latents",
    "absorption": "full absorption: share of a concept's positives absorbed by other latents (lower is better)",
    "absorption_fraction": "mean fraction of a concept's activation that is absorbed (lower is better)",
    "steer_power": "how strongly a latent's direction steers toward its concept's text",
    "steerability": "steerability of latents toward their concept's text",
    "steerable_fraction": "share of latents whose steering power passes the threshold",
}
NO_DIRECTION = frozenset({"l0"})  # set by the architecture (k), not better or worse
PAPER_METRICS = ("match_score", "delta_match_score", "tapascore", "delta_stay")
LOWER_IS_BETTER = frozenset({"tapas_rem", "delta_stay", "mse", "fvu", "dead_fraction", "dense_fraction", "absorption",
                             "absorption_fraction"})

_CRITERION = re.compile(r"^(one_to_one|nnomp|probe)$|^fbmp_b(\d+(?:\.\d+)?)$")


def criterion_name(method: str, beta: float | None = None) -> str:
    """The vocabulary's name of a matching criterion: ``one_to_one``, ``fbmp_b0.5``, ``nnomp``, ``probe``."""
    if method == "fbmp":
        if beta is None:
            raise ConfigError("criterion fbmp needs its beta")
        return f"fbmp_b{float(beta):g}"
    if method in ("one_to_one", "nnomp", "probe"):
        return method
    raise ConfigError(f"unknown matching method {method!r} (known: one_to_one, fbmp, nnomp, probe)")


def parse_criterion(name: str) -> tuple[str, float | None]:
    """``"fbmp_b0.5" → ("fbmp", 0.5)``, ``"one_to_one" → ("one_to_one", None)``."""
    m = _CRITERION.match(str(name))
    if not m:
        raise ConfigError(f"unknown criterion {name!r}: expected one_to_one, fbmp_b<β> (e.g. fbmp_b0.5), nnomp "
                          "or probe")
    return (m.group(1), None) if m.group(1) else ("fbmp", float(m.group(2)))


@dataclass(frozen=True)
class ResultRow:
    """One measured number with what it was measured on (the columns of :data:`COLUMNS`).

    ``extra`` holds further keys (e.g. a planted world's parameters) that become columns of their own.
    """

    dataset: str
    encoder: str
    sae: str
    metric: str
    value: float
    family: str = ""
    dict_size: int = 0
    sparsity: int | None = None
    role: str = "trained"
    criterion: str = ""
    budget: int | None = None
    ci_low: float = math.nan
    ci_high: float = math.nan
    n_units: int | None = None
    seed: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise DataError(f"ResultRow: unknown metric {self.metric!r} (the vocabulary: kit.results.METRICS)")
        if not isinstance(self.value, (int, float, np.floating, np.integer)) or isinstance(self.value, bool):
            raise DataError(f"ResultRow {self.metric!r}: value must be a number, got {type(self.value).__name__}")
        if not self.role or not isinstance(self.role, str):
            raise DataError(f"ResultRow {self.metric!r}: role must be a non-empty string, got {self.role!r}")
        if self.criterion:
            parse_criterion(self.criterion)
        clash = set(self.extra) & set(COLUMNS)
        if clash:
            raise DataError(f"ResultRow {self.metric!r}: extra keys {sorted(clash)} clash with the standard columns")

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in COLUMNS}
        d.update(self.extra)
        return {k: _plain(v) for k, v in d.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def jsonable(config: Any) -> Any:
    """A configuration (dataclasses, dicts, arrays, paths) as plain JSON values; dataclasses keep their class name."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {"__class__": type(config).__name__,
                **{f.name: jsonable(getattr(config, f.name)) for f in dataclasses.fields(config)}}
    if isinstance(config, dict):
        return {str(k): jsonable(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [jsonable(v) for v in config]
    if isinstance(config, (np.generic,)):
        return config.item()
    if isinstance(config, np.ndarray):
        return config.tolist()
    if isinstance(config, os.PathLike):
        return os.fspath(config)
    return config


def save_results(path: str | os.PathLike, rows: Iterable[ResultRow | dict], config: Any) -> Path:
    """Write rows and the configuration that produced them to ``path`` (JSON, atomic)."""
    out = [r.as_dict() if isinstance(r, ResultRow) else {k: _plain(v) for k, v in r.items()} for r in rows]
    for i, r in enumerate(out):
        missing = [c for c in ("metric", "value") if c not in r]
        if missing:
            raise DataError(f"results row {i} lacks the column(s) {missing}")
    doc = {"kit_version": __version__, "config": jsonable(config), "rows": out}
    return write_text(path, json.dumps(doc, indent=1, allow_nan=True, default=str))


def load_results(path: str | os.PathLike):
    """Read a results file: ``(DataFrame of rows, config dict)``."""
    import pandas as pd

    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a readable results file ({e}); delete it and rerun") from None
    if not isinstance(doc, dict) or "rows" not in doc or "config" not in doc:
        raise DataError(f"{path}: a results file needs the keys 'config' and 'rows'")
    if not isinstance(doc["rows"], list) or not all(isinstance(r, dict) for r in doc["rows"]):
        raise DataError(f"{path}: 'rows' must be a list of objects")
    df = pd.DataFrame(doc["rows"], columns=None if doc["rows"] else list(COLUMNS))
    df.attrs["config"] = doc["config"]
    df.attrs["kit_version"] = doc.get("kit_version")
    return df, doc["config"]
