"""COCO 2017 as a ConceptTable: 80 categories, multi-hot from the instance annotations.

Expected under ``folder``: ``annotations/instances_<split>2017.json`` and the images in ``<split>2017/``.
Splits are ``"train"`` and ``"val"`` (or ``"train2017"``, ``"val2017"``), and ``"train+val"``, the paper's
protocol: train2017 trains, val2017 is halved at random (seed 42) into validation and test images.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kit.data.layout import families, inside
from kit.errors import ConfigError, DataError
from kit.io import read_json
from kit.types import ConceptTable

SPLITS = ("train", "val")
PROTOCOL = "train+val"  # the paper's: train2017 for training, val2017 halved into val and test (seed 42)


def _split(split: str) -> str:
    name = split[:-4] if isinstance(split, str) and split.endswith("2017") else split
    if name not in SPLITS:
        raise ConfigError(f"COCO split must be one of {SPLITS} (or {[s + '2017' for s in SPLITS]}, or "
                          f"{PROTOCOL!r}), got {split!r}")
    return name


def _read(folder: Path, split: str) -> tuple[dict, Path]:
    split = _split(split)
    path = folder / "annotations" / f"instances_{split}2017.json"
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    data = read_json(path, "COCO annotation file", unique_keys=False)
    if not isinstance(data, dict):
        raise DataError(f"{path}: a COCO annotation file holds one object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(f"{path}: no {key!r} entry")
        if not isinstance(data[key], list):
            raise DataError(f"{path}: {key!r} must be a list, got {type(data[key]).__name__}")
    return data, path


def _field(path: Path, entries: list, section: str, keys: tuple[str, ...], kinds: tuple) -> list[list]:
    """``[values of keys[0], values of keys[1], …]`` of every entry of ``section``; an entry that is not an
    object, lacks a key or holds a value of another kind raises a DataError naming the file and the entry."""
    out: list[list] = [[] for _ in keys]
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DataError(f"{path}: {section}[{i}] must be an object, got {type(entry).__name__}")
        for j, (key, kind) in enumerate(zip(keys, kinds)):
            v = entry.get(key, _MISSING)
            if v is _MISSING:
                ident = f" (id {entry['id']!r})" if "id" in entry else ""
                raise DataError(f"{path}: {section}[{i}]{ident} lacks the key {key!r}")
            if not isinstance(v, kind) or isinstance(v, bool):
                ident = f" (id {entry['id']!r})" if "id" in entry and key != "id" else ""
                want = "an integer" if kind is int else "a number" if kind == (int, float) else "a string"
                raise DataError(f"{path}: {section}[{i}]{ident}: {key!r} must be {want}, got {v!r:.40}")
            out[j].append(v)
    return out


_MISSING = object()


def _unique(path: Path, section: str, what: str, values: list) -> None:
    seen: dict = {}
    for i, v in enumerate(values):
        if v in seen:
            raise DataError(f"{path}: {section}[{i}] repeats the {what} {v!r} of {section}[{seen[v]}]")
        seen[v] = i


def coco_instances(folder: str | os.PathLike, split: str) -> tuple[ConceptTable, np.ndarray, np.ndarray]:
    """``(table, counts: int[N, 80], areas: float[N, 80])`` — instances per category and their total area
    per image (what ``kit.data.build.choose_removals`` needs)."""
    root = Path(folder)
    split = _split(split)
    data, path = _read(root, split)
    cat_id, cat_name = _field(path, data["categories"], "categories", ("id", "name"), (int, str))
    _unique(path, "categories", "id", cat_id)
    _unique(path, "categories", "name", cat_name)
    corder = np.argsort(np.asarray(cat_id, dtype=np.int64), kind="stable")
    names = [cat_name[i] for i in corder]
    cat_ids = np.asarray(cat_id, dtype=np.int64)[corder]
    im_id, im_file = _field(path, data["images"], "images", ("id", "file_name"), (int, str))
    _unique(path, "images", "id", im_id)
    iorder = np.argsort(np.asarray(im_id, dtype=np.int64), kind="stable")
    ids = np.asarray(im_id, dtype=np.int64)[iorder]
    files = [im_file[i] for i in iorder]
    if not len(ids):
        raise DataError(f"{path}: no image")
    if not len(cat_ids):
        raise DataError(f"{path}: no category")
    ann = data["annotations"]
    a_img, a_cat = _field(path, ann, "annotations", ("image_id", "category_id"), (int, int))
    a_img = np.asarray(a_img, dtype=np.int64)
    a_cat = np.asarray(a_cat, dtype=np.int64)
    area = []
    for i, a in enumerate(ann):
        v = a.get("area", 0.0)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v < 0:
            raise DataError(f"{path}: annotations[{i}] (id {a.get('id', i)!r}): 'area' must be a finite number "
                            f"≥ 0, got {v!r:.40}")
        area.append(v)
    a_area = np.asarray(area, dtype=np.float64)

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
    paths = inside(root / f"{split}2017", files, lambda i: f"{path}: image id {ids[i]}")
    # each category is its own family, as in the toy twin (kit.data.load_toy_images): breakdowns by family work
    table = ConceptTable(names=names, Y=counts > 0, ids=ids, groups=families(names), split=np.full(len(ids), split),
                         images=paths)
    return table, counts, areas


def load_coco(folder: str | os.PathLike, split: str, seed: int = 42) -> ConceptTable:
    """COCO 2017 ``split`` ("train" or "val"): ``Y: bool[N, 80]`` (a category is present when the image has
    at least one instance of it), ``ids`` the image ids, ``images`` absolute paths.

    ``split="train+val"``: both, with split labels as the paper uses them — train2017 ``"train"``, a random half
    of val2017 (``seed``) ``"val"`` and the other half ``"test"``."""
    if split != PROTOCOL:
        return coco_instances(folder, split)[0]
    train = coco_instances(folder, "train")[0]
    val = coco_instances(folder, "val")[0]
    if train.names != val.names:
        raise DataError(f"{folder}: the categories of instances_train2017.json and instances_val2017.json differ")
    shared = np.intersect1d(train.ids, val.ids)
    if len(shared):
        raise DataError(f"{folder}: image id {shared[0]} is in both train2017 and val2017")
    half = np.full(len(val.ids), "test", dtype=object)
    half[np.random.default_rng(seed).permutation(len(val.ids))[: len(val.ids) // 2]] = "val"
    return ConceptTable(names=train.names, Y=np.concatenate([train.Y, val.Y]), groups=train.groups,
                        ids=np.concatenate([train.ids, val.ids]),
                        split=np.concatenate([np.full(len(train.ids), "train", dtype=object), half]),
                        images=list(train.images) + list(val.images))
