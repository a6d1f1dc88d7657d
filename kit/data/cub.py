"""CUB-200-2011 as a ConceptTable: 312 binary attributes per image, from the official folder layout.

Expected under ``folder`` (the extracted ``CUB_200_2011/``): ``images.txt``, ``images/``,
``train_test_split.txt``, ``attributes/image_attribute_labels.txt`` and the attribute names
``attributes.txt`` (in ``folder``, ``folder/attributes/`` or beside ``folder`` as in the archive).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.layout import families, inside, read_names
from kit.errors import ConfigError, DataError
from kit.types import ConceptTable


def _table(path: Path, names: list[str]) -> pd.DataFrame:
    """Whitespace-separated integer table; lines with extra trailing fields (as in the CUB release) keep
    their first ``len(names)`` fields."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (is this the extracted CUB_200_2011 folder?)")
    try:
        a = np.loadtxt(path, usecols=tuple(range(len(names))), dtype=np.int64, ndmin=2)
    except ValueError as e:
        raise DataError(f"{path}: expected {len(names)} integer fields per line ({e})") from None
    if a.shape[0] == 0:
        raise DataError(f"{path}: no line")
    return pd.DataFrame(a, columns=names)


def _attribute_names(folder: Path) -> tuple[list[str], Path]:
    for p in (folder / "attributes.txt", folder / "attributes" / "attributes.txt", folder.parent / "attributes.txt"):
        if p.is_file():
            return read_names(p), p
    raise DataError(f"{folder}: attributes.txt not found (looked in the folder, attributes/ and beside it)")


def load_cub(folder: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0) -> ConceptTable:
    """CUB-200-2011: ``Y: bool[N, 312]`` (``is_present``), ``ids`` the image ids, ``images`` absolute paths,
    ``groups`` the attribute families, ``split`` train/val/test — the official test split, and a seeded
    ``val_fraction`` of the official training images as validation."""
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"load_cub: val_fraction must lie in [0, 1), got {val_fraction}")
    root = Path(folder)
    names, names_path = _attribute_names(root)
    images = (
        pd.read_csv(root / "images.txt", sep=" ", header=None, names=["image_id", "path"], dtype={"path": str})
        if (root / "images.txt").is_file()
        else None
    )
    if images is None:
        raise DataError(f"{root / 'images.txt'}: file not found (is this the extracted CUB_200_2011 folder?)")
    ids = images["image_id"].to_numpy()
    split_df = _table(root / "train_test_split.txt", ["image_id", "is_train"])
    labels = _table(root / "attributes" / "image_attribute_labels.txt", ["image_id", "attribute_id", "is_present"])

    order = np.argsort(ids)
    lookup = ids[order]

    def rows_of(image_ids: np.ndarray, path: Path) -> np.ndarray:
        pos = np.searchsorted(lookup, image_ids)
        pos = np.minimum(pos, len(lookup) - 1)
        bad = lookup[pos] != image_ids
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}, line {i + 1}: image id {image_ids[i]} is not in images.txt")
        return order[pos]

    lab_path = root / "attributes" / "image_attribute_labels.txt"
    a = labels["attribute_id"].to_numpy()
    bad = (a < 1) | (a > len(names))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{lab_path}, line {i + 1}: attribute id {a[i]} is out of range 1..{len(names)} ({names_path})")
    present = labels["is_present"].to_numpy()
    if not np.isin(present, (0, 1)).all():
        i = int(np.flatnonzero(~np.isin(present, (0, 1)))[0])
        raise DataError(f"{lab_path}, line {i + 1}: is_present must be 0 or 1, got {present[i]}")
    Y = np.zeros((len(ids), len(names)), dtype=bool)
    r = rows_of(labels["image_id"].to_numpy(), lab_path)
    Y[r[present == 1], a[present == 1] - 1] = True

    is_train = np.zeros(len(ids), dtype=bool)
    is_train[rows_of(split_df["image_id"].to_numpy(), root / "train_test_split.txt")] = (
        split_df["is_train"].to_numpy() == 1
    )
    split = np.where(is_train, "train", "test").astype(object)
    train_rows = np.flatnonzero(is_train)
    n_val = int(round(val_fraction * len(train_rows)))
    split[np.random.default_rng(seed).choice(train_rows, size=n_val, replace=False)] = "val"

    paths = inside(
        root / "images", images["path"].to_numpy(), lambda i: f"{root / 'images.txt'}, line {i + 1} (image id {ids[i]})"
    )
    return ConceptTable(names=names, Y=Y, ids=ids, groups=families(names), split=split, images=paths)
