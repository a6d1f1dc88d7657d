"""The paper's published numbers in the kit's results vocabulary.

The figures of Klotz et al. (ECCV 2026) ship with the kit (``kit/assets/reference/``, see its README):
``paper_clip_results.csv`` (ΔMATCHScore and TAPAScore per family, criterion and dictionary size, CLIP
ViT-L/14, k = 32) and ``paper_sanity_check.csv`` (trained, untrained and random codes per metric).
:func:`paper_results` returns both as rows with the columns of :data:`kit.results.COLUMNS` (no intervals:
the paper published none), so they can be set beside the kit's rows by the same keys.

Where the paper's labels leave something implicit, the mapping says so: "MATCHScore FBMP (k=3)" of the sanity
table is read as FBMP with β = 0.5, the paper's default criterion; its trained value is a mean over
4 families × 6 sizes, so its family is "mean" and its dict_size 0.
"""

from __future__ import annotations

import os
from pathlib import Path

from kit.errors import DataError
from kit.data.files import read_csv
from kit.results import COLUMNS

DEFAULT_DIR = Path(__file__).resolve().parent / "assets" / "reference"
PAPER_ENCODER = "CLIP ViT-L/14"
PAPER_K = 32
FAMILY = {"TopK": "topk", "BatchTopK": "batchtopk", "Matryoshka": "matryoshka", "JumpReLU": "jumprelu"}
CRITERION = {"F1 (k=1)": ("one_to_one", 1), "FBMP F1": ("fbmp_b1", 3), "FBMP F0.5": ("fbmp_b0.5", 3),
             "FBMP F0.25": ("fbmp_b0.25", 3)}
METRIC = {"delta_matchscore": "delta_match_score", "tapascore": "tapascore"}
SANITY_METRIC = {"FMS": ("fms", "", None), "MS": ("ms", "", None), "CKNNA": ("cknna", "", None),
                 "MATCHScore F1 (k=1)": ("match_score", "one_to_one", 1),
                 "MATCHScore FBMP (k=3)": ("match_score", "fbmp_b0.5", 3),
                 "TAPAScore FBMP F0.5 (k=3)": ("tapascore", "fbmp_b0.5", 3)}


def paper_dataset(benchmark: str) -> str | None:
    """The paper's dataset a benchmark compares with: ``"CUB"`` (synCUB, toy-synCUB, CUB folders), ``"COCO"``."""
    name = os.fspath(benchmark).lower()
    return "CUB" if "cub" in name else "COCO" if "coco" in name else None


def _row(dataset, metric, value, role="trained", family="", dict_size=0, criterion="", budget=None) -> dict:
    return {"dataset": dataset, "encoder": PAPER_ENCODER, "sae": "paper", "family": family, "dict_size": dict_size,
            "sparsity": PAPER_K, "role": role, "criterion": criterion, "budget": budget, "metric": metric,
            "value": float(value), "ci_low": float("nan"), "ci_high": float("nan"), "n_units": None, "seed": None}


def _table(path: Path, columns: list[str], numbers: list[str]):
    """The rows of a reference CSV with the named columns, ``numbers`` parsed as floats: ``[(line, dict)]``."""
    df, lines = read_csv(path, "reference table")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{path}: the reference table lacks the column(s) {missing}")
    out = []
    for line, r in zip(lines, df.to_dict("records")):
        for c in numbers:
            try:
                r[c] = float(r[c])
            except ValueError:
                raise DataError(f"{path}, line {line}: {c} = {r[c]!r} is not a number") from None
        out.append((line, r))
    return out


def paper_results(folder: str | os.PathLike | None = None):
    """Every published number as a DataFrame in the results vocabulary (columns :data:`kit.results.COLUMNS`)."""
    import pandas as pd

    folder = Path(folder) if folder else DEFAULT_DIR
    rows = []
    path = folder / "paper_clip_results.csv"
    for line, r in _table(path, ["encoder", "dataset", "metric", "sae", "criterion", "dict_size", "value"],
                          ["dict_size", "value"]):
        try:
            criterion, budget = CRITERION[r["criterion"]]
            rows.append(_row(r["dataset"], METRIC[r["metric"]], r["value"], family=FAMILY[r["sae"]], dict_size=int(r["dict_size"]),
                             criterion=criterion, budget=budget))
        except KeyError as e:
            raise DataError(f"{path}, line {line}: unexpected value {e}") from None
    path = folder / "paper_sanity_check.csv"
    for line, r in _table(path, ["encoder", "dataset", "metric", "trained", "untrained", "random"],
                          ["trained", "untrained", "random"]):
        if r["metric"] not in SANITY_METRIC:
            raise DataError(f"{path}, line {line}: unknown metric {r['metric']!r}")
        metric, criterion, budget = SANITY_METRIC[r["metric"]]
        for role in ("trained", "untrained", "random"):
            rows.append(_row(r["dataset"], metric, r[role], role=role, family="mean", criterion=criterion,
                             budget=budget))
    return pd.DataFrame(rows, columns=list(COLUMNS))
