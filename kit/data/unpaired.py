"""The unpaired labelled image set of a rendered toy benchmark (``unpaired.csv``) as a ConceptTable."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from kit.data.files import read_csv
from kit.data.layout import UNPAIRED_COLUMNS, families, inside, multi_hot, read_names
from kit.errors import DataError
from kit.types import ConceptTable


def concept_names(folder: Path) -> list[str]:
    """The concept names of a benchmark folder (attributes.txt or categories.txt)."""
    for name in ("attributes.txt", "categories.txt"):
        if (folder / name).is_file():
            return read_names(folder / name)
    raise DataError(f"{folder}: neither attributes.txt nor categories.txt found")


def load_toy_images(folder: str | os.PathLike) -> ConceptTable:
    """ConceptTable of the unpaired images: ``Y: bool[N, C]``, ``images`` (absolute paths), ``groups``
    (attribute families), ``split`` (train/val/test), ``ids`` (row numbers)."""
    root = Path(folder)
    path = root / "unpaired.csv"
    if not path.is_file():
        raise DataError(f"{path}: not found; is {root} a benchmark rendered by the kit?")
    df, lines = read_csv(path, "image list")
    missing = [c for c in UNPAIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}")
    if len(df) == 0:
        raise DataError(f"{path}: no row")
    names = concept_names(root)

    def where(col):
        return lambda i: f"{path}, line {lines[i]}: row {i}, column {col!r}"

    Y = multi_hot(df["labels"].to_numpy(), len(names), where("labels"))
    images = inside(root, df["image"].to_numpy(), where("image"))
    bad = ~df["split"].isin(["train", "val", "test"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{where('split')(i)}: unknown split {df['split'].iloc[i]!r} (train, val or test)")
    return ConceptTable(names=names, Y=Y, groups=families(names), split=df["split"].to_numpy(), images=images)
