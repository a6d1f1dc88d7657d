"""Tidy results: one row per (dataset, encoder, SAE, dictionary size, k, seed, metric).

A results file is JSON: ``{"kit_version", "config", "rows": [...]}`` so that every number travels with
the full configuration that produced it. :func:`load_results` returns the rows as a pandas DataFrame.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from kit._version import __version__
from kit.errors import DataError
from kit.io import write_text

COLUMNS = ["dataset", "encoder", "sae", "dict_size", "k", "seed", "metric", "value", "ci_low", "ci_high"]


@dataclass(frozen=True)
class ResultRow:
    """One measured number with what it was measured on.

    ``extra`` holds further keys (criterion, β, split, concept …) that become columns of their own.
    """

    dataset: str
    encoder: str
    sae: str
    dict_size: int
    k: int | None
    seed: int | None
    metric: str
    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.value, (int, float, np.floating, np.integer)):
            raise DataError(f"ResultRow {self.metric!r}: value must be a number, got {type(self.value).__name__}")
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


def _jsonable(config: Any) -> Any:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {"__class__": type(config).__name__, **{k: _jsonable(v) for k, v in dataclasses.asdict(config).items()}}
    if isinstance(config, dict):
        return {str(k): _jsonable(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [_jsonable(v) for v in config]
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
    doc = {"kit_version": __version__, "config": _jsonable(config), "rows": out}
    return write_text(path, json.dumps(doc, indent=1, allow_nan=True, default=str))


def load_results(path: str | os.PathLike):
    """Read a results file: ``(DataFrame of rows, config dict)``."""
    import pandas as pd

    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a readable results file ({e})") from None
    if not isinstance(doc, dict) or "rows" not in doc or "config" not in doc:
        raise DataError(f"{path}: a results file needs the keys 'config' and 'rows'")
    df = pd.DataFrame(doc["rows"])
    df.attrs["config"] = doc["config"]
    df.attrs["kit_version"] = doc.get("kit_version")
    return df, doc["config"]
