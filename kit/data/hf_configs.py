"""A benchmark folder as ``datasets`` loads it natively: one Parquet file per config and split, typed by a
``datasets.Features`` that names every concept (``ClassLabel``), and the ``configs`` / ``dataset_info`` entries
of the dataset card built from the same Features.

Configs (what ``datasets.load_dataset(folder_or_repo, name)`` gives):

- ``default`` — the pairs (split ``test``): ``orig_image``, ``syn_image`` (decoded to PIL), every column of
  ``metadata.csv``, the concept indices as ``ClassLabel`` (synCUB: ``old_attr_idx``, ``new_attr_idx`` and the
  lists ``orig_attr_idx``, ``syn_attr_idx``; synCOCO: ``removed_cls_idx``, ``orig_labels``, ``syn_labels``);
- ``attributes`` (synCUB) or ``categories`` (synCOCO) — the concept names (split ``train``): ``index`` (the
  0-based value of the label columns), ``name`` and, for attributes, ``family``;
- ``unpaired`` — a rendered benchmark's unpaired labelled images (splits train, validation, test): ``image``,
  ``labels`` (``ClassLabel`` list) and every other column of ``unpaired.csv`` (split, class_id, class_name,
  scene).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from kit.data.files import read_csv
from kit.data.layout import families
from kit.data.paired import ROLES
from kit.data.unpaired import load_toy_images
from kit.types import PairedBenchmark

SPLITS = {"train": "train", "val": "validation", "test": "test"}  # unpaired.csv's split → the dataset's split
DATA_DIR = "data"


@dataclass(frozen=True)
class Config:
    """One config as written: its name, Features, and per split ``(file relative to the folder, rows, bytes in
    Arrow)``."""

    name: str
    features: Any  # datasets.Features
    splits: dict[str, tuple[str, int, int]]


def _typed(values: pd.Series) -> tuple[list, str]:
    """A CSV column (every field a str) as int64 where every field is an integer, float64 where every one is a
    number, string otherwise: ``(values, dtype)``."""
    num = pd.to_numeric(values, errors="coerce")
    if len(num) and not num.isna().any():
        integral = bool((num == num.round()).all()) and bool(values.str.fullmatch(r"-?\d+").all())
        return num.astype("int64" if integral else "float64").tolist(), "int64" if integral else "float64"
    return values.tolist(), "string"


def _images(paths: Sequence[str], bar) -> list[dict]:
    """The files as ``datasets.Image`` values (bytes and file name), counted on ``bar``."""
    out = []
    for path in paths:
        with open(path, "rb") as f:
            out.append({"bytes": f.read(), "path": os.path.basename(path)})
        bar.update()
    return out


def _lists(Y: np.ndarray) -> list[list[int]]:
    return [np.flatnonzero(y).tolist() for y in Y]


def pair_columns(meta: pd.DataFrame, bench: PairedBenchmark) -> tuple[dict[str, list], dict[str, Any]]:
    """The pairs' columns without the images, ``(values, features)``, in ``metadata.csv``'s order: concept
    indices as ``ClassLabel`` (lists of them for the label columns), the rest typed by :func:`_typed`."""
    from datasets import ClassLabel, List, Value

    label = ClassLabel(names=list(bench.concepts))
    roles = ROLES["syncub" if bench.groups is not None else "syncoco"]  # the loader gives families to synCUB only
    single = {roles.old: bench.old, **({roles.new: bench.new} if roles.new else {})}
    lists = dict(zip(roles.lists, (bench.labels_orig, bench.labels_edit)))
    values: dict[str, list] = {}
    feats: dict[str, Any] = {}
    for col in meta.columns:
        if col in ("orig_image", "syn_image"):
            continue
        if col in single:
            values[col], feats[col] = single[col].tolist(), label
        elif col in lists:
            values[col], feats[col] = _lists(lists[col]), List(label)
        else:
            values[col], dtype = _typed(meta[col])
            feats[col] = Value(dtype)
    return values, feats


def _write(out: Path, rel: str, data: dict, features) -> tuple[str, int, int]:
    from datasets import Dataset

    ds = Dataset.from_dict(data, features=features)
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(out / rel))
    return rel, len(ds), int(ds.data.nbytes)


def write_configs(folder: str | os.PathLike, bench: PairedBenchmark, out: str | os.PathLike,
                  progress: bool = False) -> list[Config]:
    """Write the Parquet files of every config of the benchmark in ``folder`` (already read as ``bench``) under
    ``out/data/``; return the configs as written. progress: a bar over the images written."""
    with tqdm(desc="parquet images", unit="image", disable=not progress) as bar:
        return _write_configs(Path(folder), bench, Path(out), bar)


def _write_configs(folder: Path, bench: PairedBenchmark, out: Path, bar) -> list[Config]:
    from datasets import ClassLabel, Features, Image, List, Value

    meta = read_csv(folder / "metadata.csv", "metadata")[0]
    values, feats = pair_columns(meta, bench)
    pairs = Features({"orig_image": Image(), "syn_image": Image(), **feats})
    data = {"orig_image": _images(bench.orig_images, bar), "syn_image": _images(bench.edit_images, bar), **values}
    configs = [Config("default", pairs, {"test": _write(out, f"{DATA_DIR}/pairs.parquet", data, pairs)})]

    which = "attributes" if bench.groups is not None else "categories"
    names = {"index": list(range(bench.n_concepts)), "name": list(bench.concepts)}
    if bench.groups is not None:
        names["family"] = families(bench.concepts)
    names_features = Features({k: Value("int64" if k == "index" else "string") for k in names})
    configs.append(Config(which, names_features,
                          {"train": _write(out, f"{DATA_DIR}/{which}.parquet", names, names_features)}))

    if (folder / "unpaired.csv").is_file():
        table = load_toy_images(folder)
        csv = read_csv(folder / "unpaired.csv", "image list")[0]
        cols = {"image": Image(), "labels": List(ClassLabel(names=list(table.names)))}
        typed = {c: _typed(csv[c]) for c in csv.columns if c not in cols}
        features = Features({c: cols[c] if c in cols else Value(typed[c][1]) for c in csv.columns})
        splits = {}
        for split, name in SPLITS.items():
            rows = np.flatnonzero(table.split == split)
            if not len(rows):
                continue
            data = {c: (_images([table.images[i] for i in rows], bar) if c == "image" else
                        _lists(table.Y[rows]) if c == "labels" else [typed[c][0][i] for i in rows])
                    for c in csv.columns}
            splits[name] = _write(out, f"{DATA_DIR}/unpaired-{split}.parquet", data, features)
        configs.append(Config("unpaired", features, splits))
    return configs


def card_metadata(configs: Sequence[Config], card_data: Any) -> None:
    """Add the ``configs`` (data files per split) and ``dataset_info`` (features, split sizes) of ``configs`` to
    a ``huggingface_hub.DatasetCardData``, through the same ``datasets`` code that ``push_to_hub`` uses."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    infos, files = {}, {}
    for c in configs:
        splits = SplitDict()
        for split, (_, rows, nbytes) in c.splits.items():
            splits.add(SplitInfo(name=split, num_bytes=nbytes, num_examples=rows))
        infos[c.name] = DatasetInfo(features=c.features, splits=splits,
                                    dataset_size=sum(n for _, _, n in c.splits.values()))
        files[c.name] = {"data_files": [{"split": s, "path": p} for s, (p, _, _) in c.splits.items()]}
    MetadataConfigs(files).to_dataset_card_data(card_data)
    DatasetInfosDict(infos).to_dataset_card_data(card_data)

