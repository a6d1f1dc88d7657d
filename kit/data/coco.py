"""COCO 2017 as a ConceptTable: 80 categories, multi-hot from the instance annotations.

Expected under ``folder``: ``annotations/instances_<split>2017.json`` and the images in ``<split>2017/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from kit.data.layout import inside
from kit.errors import ConfigError, DataError
from kit.types import ConceptTable

SPLITS = ("train", "val")


def _read(folder: Path, split: str) -> tuple[dict, Path]:
    if split not in SPLITS:
        raise ConfigError(f"COCO split must be one of {SPLITS}, got {split!r}")
    path = folder / "annotations" / f"instances_{split}2017.json"
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(f"{path}: no {key!r} entry")
    return data, path


def coco_instances(folder: str | os.PathLike, split: str) -> tuple[ConceptTable, np.ndarray, np.ndarray]:
    """``(table, counts: int[N, 80], areas: float[N, 80])`` — instances per category and their total area
    per image (what :func:`kit.data.build.choose_removals` needs)."""
    root = Path(folder)
    data, path = _read(root, split)
    cats = sorted(data["categories"], key=lambda c: c["id"])
    names = [c["name"] for c in cats]
    cat_ids = np.array([c["id"] for c in cats])
    images = sorted(data["images"], key=lambda im: im["id"])
    ids = np.array([im["id"] for im in images])
    if not len(ids):
        raise DataError(f"{path}: no image")
    ann = data["annotations"]
    a_img = np.array([a["image_id"] for a in ann], dtype=np.int64)
    a_cat = np.array([a["category_id"] for a in ann], dtype=np.int64)
    a_area = np.array([a.get("area", 0.0) for a in ann], dtype=np.float64)

    def index(values: np.ndarray, table: np.ndarray, what: str) -> np.ndarray:
        pos = np.minimum(np.searchsorted(table, values), len(table) - 1)
        bad = table[pos] != values
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}: annotation {ann[i].get('id', i)!r} refers to unknown {what} {values[i]}")
        return pos

    rows = index(a_img, ids, "image id")
    cols = index(a_cat, cat_ids, "category id")
    counts = np.zeros((len(ids), len(names)), dtype=np.int64)
    areas = np.zeros((len(ids), len(names)), dtype=np.float64)
    np.add.at(counts, (rows, cols), 1)
    np.add.at(areas, (rows, cols), a_area)
    paths = inside(root / f"{split}2017", [im["file_name"] for im in images], lambda i: f"{path}: image id {ids[i]}")
    table = ConceptTable(names=names, Y=counts > 0, ids=ids, split=np.full(len(ids), split), images=paths)
    return table, counts, areas


def load_coco(folder: str | os.PathLike, split: str) -> ConceptTable:
    """COCO 2017 ``split`` ("train" or "val"): ``Y: bool[N, 80]`` (a category is present when the image has
    at least one instance of it), ``ids`` the image ids, ``images`` absolute paths."""
    return coco_instances(folder, split)[0]
