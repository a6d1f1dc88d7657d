"""CUB-200-2011 as a ConceptTable: 312 binary attributes per image, from the official folder layout.

Expected under ``folder`` (the extracted ``CUB_200_2011/``): ``images.txt``, ``images/``,
``train_test_split.txt``, ``attributes/image_attribute_labels.txt`` and the attribute names
``attributes.txt`` (in ``folder``, ``folder/attributes/`` or beside ``folder`` as in the archive).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kit.data.files import check_unique, read_table
from kit.data.layout import families, inside, read_names
from kit.errors import ConfigError, DataError
from kit.types import ConceptTable


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
    images_path = root / "images.txt"
    split_path = root / "train_test_split.txt"
    lab_path = root / "attributes" / "image_attribute_labels.txt"
    for p in (images_path, split_path, lab_path):
        if not p.is_file():
            raise DataError(f"{p}: file not found (is this the extracted CUB_200_2011 folder?)")
    images, image_lines = read_table(images_path, ["image_id", "path"], text=("path",), what="CUB image list")
    ids = images["image_id"]
    check_unique(images_path, "image id", ids, image_lines)
    split_df, split_lines = read_table(split_path, ["image_id", "is_train"], what="CUB split file")
    check_unique(split_path, "image id", split_df["image_id"], split_lines)
    labels, lab_lines = read_table(lab_path, ["image_id", "attribute_id", "is_present"], extra=True,
                                   what="CUB attribute labels")
    check_unique(lab_path, "(image id, attribute id)",
                 np.stack([labels["image_id"], labels["attribute_id"]], axis=1), lab_lines)

    order = np.argsort(ids)
    lookup = ids[order]

    def rows_of(image_ids: np.ndarray, path: Path, lines: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(lookup, image_ids)
        pos = np.minimum(pos, len(lookup) - 1)
        bad = lookup[pos] != image_ids
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}, line {lines[i]}: image id {image_ids[i]} is not in images.txt")
        return order[pos]

    a = labels["attribute_id"]
    bad = (a < 1) | (a > len(names))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{lab_path}, line {lab_lines[i]}: attribute id {a[i]} is out of range 1..{len(names)} "
                        f"({names_path})")
    present = labels["is_present"]
    if not np.isin(present, (0, 1)).all():
        i = int(np.flatnonzero(~np.isin(present, (0, 1)))[0])
        raise DataError(f"{lab_path}, line {lab_lines[i]}: is_present must be 0 or 1, got {present[i]}")
    Y = np.zeros((len(ids), len(names)), dtype=bool)
    r = rows_of(labels["image_id"], lab_path, lab_lines)
    Y[r[present == 1], a[present == 1] - 1] = True

    train_flag = split_df["is_train"]
    if not np.isin(train_flag, (0, 1)).all():
        i = int(np.flatnonzero(~np.isin(train_flag, (0, 1)))[0])
        raise DataError(f"{split_path}, line {split_lines[i]}: is_train must be 0 or 1, got {train_flag[i]}")
    split_rows = rows_of(split_df["image_id"], split_path, split_lines)
    listed = np.zeros(len(ids), dtype=bool)
    listed[split_rows] = True
    if not listed.all():
        i = int(np.flatnonzero(~listed)[0])
        raise DataError(f"{split_path}: image id {ids[i]} ({images_path}, line {image_lines[i]}) has no line")
    is_train = np.zeros(len(ids), dtype=bool)
    is_train[split_rows] = train_flag == 1
    split = np.where(is_train, "train", "test").astype(object)
    train_rows = np.flatnonzero(is_train)
    n_val = int(round(val_fraction * len(train_rows)))
    split[np.random.default_rng(seed).choice(train_rows, size=n_val, replace=False)] = "val"

    paths = inside(root / "images", images["path"],
                   lambda i: f"{images_path}, line {image_lines[i]} (image id {ids[i]})")
    return ConceptTable(names=names, Y=Y, ids=ids, groups=families(names), split=split, images=paths)
