"""Load a paired benchmark (synCUB, synCOCO or a folder in their layout) as a validated PairedBenchmark.

Every metadata row is checked: required columns present, lists parsable, indices in range, names
matching their indices, pair ids unique, image files present and inside the folder, and the two label
rows differing in exactly the stated concepts. Errors name the file, the pair id, row and column.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from kit.data import hub
from kit.data.files import read_csv
from kit.data.layout import COCO_CATEGORIES, SYNCOCO_COLUMNS, SYNCUB_COLUMNS, families, inside, multi_hot, read_names
from kit.errors import ConfigError, DataError
from kit.types import PairedBenchmark, check_pairs


def load_paired(
    name_or_folder: str | os.PathLike,
    revision: str | None = None,
    *,
    verify_images: bool = False,
    cache_dir: str | os.PathLike | None = None,
) -> PairedBenchmark:
    """``"syncub"`` / ``"syncoco"`` (downloaded from the Hub at a pinned revision) or a local folder.

    verify_images: also open and decode every image with PIL (slow; catches truncated files).
    """
    key = str(name_or_folder)
    if key.lower() in hub.BENCHMARKS:
        folder = hub.download(key.lower(), revision=revision, cache_dir=cache_dir)
        name = key.lower()
        # a cached snapshot's files are links into the repository's blobs/ (huggingface_hub's cache layout)
        blobs = folder.parent.parent / "blobs" if folder.parent.name == "snapshots" else None
        return read_paired_folder(folder, name=name, verify_images=verify_images, links_to=blobs)
    else:
        if revision is not None:
            raise ConfigError(
                f"revision={revision!r} applies to Hub benchmarks {sorted(hub.BENCHMARKS)}, not to the folder {key!r}"
            )
        folder = Path(name_or_folder)
        if not folder.is_dir():
            raise DataError(f"{folder}: no such benchmark folder (nor a Hub name: {sorted(hub.BENCHMARKS)})")
        name = folder.name
    return read_paired_folder(folder, name=name, verify_images=verify_images)


class Roles(NamedTuple):
    """Which metadata columns of a layout hold what: the old concept's index and name, the new one's (None for
    synCOCO's removals), and the two label lists (original, edit)."""

    old: str
    old_name: str
    new: str | None
    new_name: str | None
    lists: tuple[str, str]


ROLES = {
    "syncub": Roles("old_attr_idx", "old_attr", "new_attr_idx", "new_attr", ("orig_attr_idx", "syn_attr_idx")),
    "syncoco": Roles("removed_cls_idx", "removed_class", None, None, ("orig_labels", "syn_labels")),
}


def _kind(columns: list[str], path: Path) -> str:
    coco_only = set(SYNCOCO_COLUMNS) - set(SYNCUB_COLUMNS)
    kind = "syncoco" if coco_only & set(columns) else "syncub"
    required = SYNCOCO_COLUMNS if kind == "syncoco" else SYNCUB_COLUMNS
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing} of the {kind} layout (has {columns})")
    return kind


def _ints(df: pd.DataFrame, col: str, where) -> np.ndarray:
    v = pd.to_numeric(df[col], errors="coerce")
    bad = v.isna() | ~np.isfinite(v.fillna(0)) | (v != v.round()) | (v.abs() >= 2**53)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{where(i, col)}: {df[col].iloc[i]!r} is not an integer")
    return v.to_numpy().astype(np.int64)


def read_paired_folder(
    folder: str | os.PathLike, name: str | None = None, verify_images: bool = False, progress: bool = False,
    links_to: str | os.PathLike | None = None,
) -> PairedBenchmark:
    """Read and validate ``folder/metadata.csv`` with its concept names and images (progress: a bar over the
    images decoded, with ``verify_images``; links_to: a folder the files may link into, the blobs of a Hub cache
    snapshot)."""
    root = Path(folder)
    df, kind, where = read_metadata(root / "metadata.csv")
    roles = ROLES[kind]
    concepts = layout_concepts(root, kind)
    old, new = _edits(df, roles, concepts, where)
    lo, le = (multi_hot(df[c].to_numpy(), len(concepts), lambda i, c=c: where(i, c)) for c in roles.lists)
    try:
        check_pairs(old, new, lo, le, pair_ids=df["pair_id"].to_numpy(), what=str(root / "metadata.csv"))
    except DataError as e:
        raise DataError(f"{e} (columns {roles.lists[0]!r}/{roles.lists[1]!r})") from None
    orig = inside(root, df["orig_image"].to_numpy(), lambda i: where(i, "orig_image"), links_to)
    edit = inside(root, df["syn_image"].to_numpy(), lambda i: where(i, "syn_image"), links_to)
    if verify_images:
        verify_image_files(orig, lambda i: where(i, "orig_image"), progress, "decode originals")
        verify_image_files(edit, lambda i: where(i, "syn_image"), progress, "decode edits")
    ids = df["pair_id"].to_numpy()
    if df["pair_id"].str.fullmatch(r"-?\d+").all():
        ids = df["pair_id"].astype(np.int64).to_numpy()
    return PairedBenchmark(
        orig_images=orig,
        edit_images=edit,
        old=old,
        new=new,
        labels_orig=lo,
        labels_edit=le,
        concepts=concepts,
        pair_ids=ids,
        groups=families(concepts) if kind == "syncub" else None,
        root=str(Path(os.path.realpath(root))),
        name=name or root.name,
        extra=_extra_columns(df, roles),
    )


def read_metadata(path: Path) -> tuple[pd.DataFrame, str, Callable[[int, str], str]]:
    """``metadata.csv`` of a benchmark folder, every field a str, with its layout (``"syncub"``/``"syncoco"``) and
    ``where(row, column)``, the words that name a field in an error (file, line, pair id, row, column); its columns
    are those of the layout, it has a row and its pair ids are unique."""
    if not path.is_file():
        raise DataError(f"{path}: metadata file not found")
    df, lines = read_csv(path, "metadata")
    kind = _kind(list(df.columns), path)
    if len(df) == 0:
        raise DataError(f"{path}: the metadata has no row")
    ids = df["pair_id"].to_numpy()

    def where(i: int, col: str) -> str:
        return f"{path}, line {lines[i]}: pair_id {ids[i]!r} (row {i}), column {col!r}"

    dup = df["pair_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        j = int(np.flatnonzero((df["pair_id"] == ids[i]).to_numpy())[0])
        raise DataError(f"{path}, line {lines[i]}: pair_id {ids[i]!r} (row {i}) appears more than once "
                        f"(first at line {lines[j]})")
    return df, kind, where


def layout_concepts(root: Path, kind: str) -> list[str]:
    """The concept names of a benchmark folder: ``attributes.txt`` (synCUB) or ``categories.txt`` (synCOCO; when
    absent, the 80 COCO 2017 categories)."""
    if kind == "syncub":
        return read_names(root / "attributes.txt")
    cats = root / "categories.txt"
    return read_names(cats) if cats.exists() else list(COCO_CATEGORIES)


def _edits(df: pd.DataFrame, roles: Roles, concepts: list[str], where) -> tuple[np.ndarray, np.ndarray]:
    """``(old, new): int[P]`` from the index columns (``new = -1`` for removals), each in range and named by its
    name column."""
    c = len(concepts)
    old = _ints(df, roles.old, where)
    new = _ints(df, roles.new, where) if roles.new else np.full(len(df), -1, dtype=np.int64)
    for col, arr, low in ((roles.old, old, 0), (roles.new, new, 0 if roles.new else -1)):
        bad = (arr < low) | (arr >= c)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where(i, col)}: index {arr[i]} is out of range [0, {c})")
    named = np.asarray(concepts, dtype=object)
    for col, arr in ((roles.old_name, old), (roles.new_name, new)):
        if col is None:
            continue
        bad = df[col].to_numpy() != named[arr]
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where(i, col)}: {df[col].iloc[i]!r} does not name concept {arr[i]} ({named[arr[i]]!r})")
    return old, new


def _extra_columns(df: pd.DataFrame, roles: Roles) -> pd.DataFrame:
    """The metadata columns beyond the pair itself (class, verification score, …), numeric where every value is."""
    core = {"pair_id", "orig_image", "syn_image", roles.old, roles.old_name, *roles.lists} | (
        {roles.new, roles.new_name} if roles.new else set()
    )
    extra = df[[col for col in df.columns if col not in core]].copy()
    for col in extra.columns:
        num = pd.to_numeric(extra[col], errors="coerce")
        if not num.isna().any():
            extra[col] = num
    return extra.reset_index(drop=True)


def verify_image_files(paths: list[str], what, progress: bool = False, desc: str = "decode images") -> None:
    """Open and fully decode each image with PIL; a truncated or unreadable file raises, naming its row."""
    for i, p in enumerate(tqdm(paths, desc=desc, unit="image", disable=not progress)):
        try:
            with Image.open(p) as im:
                im.load()
        except (OSError, UnidentifiedImageError, SyntaxError) as e:
            raise DataError(f"{what(i)}: image {p} cannot be decoded ({e})") from None
