"""The on-disk layout shared by synCUB, synCOCO and the kit's procedural twins (the Hub layout).

A benchmark folder holds ``images/``, ``metadata.csv`` (one row per pair) and the concept names:
``attributes.txt`` (synCUB, lines ``"<1-based id> <name>"``) or ``categories.txt`` (synCOCO; when absent,
the 80 COCO 2017 category names). Label columns hold lists of 0-based concept indices, written ``[3, 17]``.
Rendered toy benchmarks also hold ``unpaired.csv``: an unpaired labelled image set (image, labels, split).
How the folder was made is recorded beside them (``render_config.json`` or ``build_config.json``).
:func:`write_benchmark` is the one writer of this layout; the loaders (:mod:`kit.data.paired`,
:mod:`kit.data.unpaired`) read it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from kit.errors import ConfigError, DataError
from kit.io import atomic_path, read_text

if TYPE_CHECKING:
    import pandas as pd

SYNCUB_COLUMNS = [
    "pair_id",
    "orig_image",
    "syn_image",
    "class_id",
    "class_name",
    "old_attr",
    "new_attr",
    "old_attr_idx",
    "new_attr_idx",
    "orig_attr_idx",
    "syn_attr_idx",
]
SYNCOCO_COLUMNS = [
    "pair_id",
    "orig_image",
    "syn_image",
    "coco_idx",
    "removed_cls_idx",
    "removed_class",
    "orig_labels",
    "syn_labels",
]
UNPAIRED_COLUMNS = ["image", "labels", "split"]
NAME_FILES = ("attributes.txt", "categories.txt")  # synCUB's concept names, synCOCO's
MADE_FILES = ("render_config.json", "build_config.json")  # how a procedural / an edited benchmark was made

COCO_CATEGORIES = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
]


def format_list(indices: Iterable[int]) -> str:
    """``[3, 17]`` — how label lists are written in metadata files."""
    return json.dumps([int(i) for i in indices])


def parse_lists(values: Sequence[str], what: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse list strings (``"[3, 17]"``; ``"[]"`` is empty) into ``(rows: int[M], values: int[M])``.

    ``what(i)`` is called to name row ``i`` in the error raised on an unparsable entry.
    """
    rows: list[int] = []
    vals: list[int] = []
    for i, s in enumerate(values):
        s = str(s).strip()
        if len(s) < 2 or s[0] != "[" or s[-1] != "]":
            raise DataError(f"{what(i)}: {s!r} is not a list like [3, 17]")
        inner = s[1:-1].strip()
        if not inner:
            continue
        try:
            items = [int(t) for t in inner.split(",")]
        except ValueError:
            raise DataError(f"{what(i)}: {s!r} is not a list of integers") from None
        rows.extend([i] * len(items))
        vals.extend(items)
    return np.asarray(rows, dtype=np.int64), np.asarray(vals, dtype=np.int64)


def multi_hot(values: Sequence[str], n_concepts: int, what) -> np.ndarray:
    """bool[N, C] from N list strings of 0-based indices; out-of-range indices raise, naming the row."""
    rows, vals = parse_lists(values, what)
    bad = (vals < 0) | (vals >= n_concepts)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what(int(rows[j]))}: concept index {vals[j]} is out of range [0, {n_concepts})")
    Y = np.zeros((len(values), n_concepts), dtype=bool)
    Y[rows, vals] = True
    return Y


def write_names(path: str | os.PathLike, names: Sequence[str]) -> None:
    """Write ``"<1-based id> <name>"`` lines (attributes.txt / categories.txt)."""
    Path(path).write_text("".join(f"{i + 1} {n}\n" for i, n in enumerate(names)), encoding="utf-8")


def read_names(path: str | os.PathLike) -> list[str]:
    """Read ``"<1-based id> <name>"`` lines; ids must run 1, 2, … in order and names be distinct."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    names: list[str] = []
    first: dict[str, int] = {}
    for n, line in enumerate(read_text(path, "concept name file").splitlines(), start=1):
        if not line.strip():
            continue
        head, _, name = line.strip().partition(" ")
        if not head.isdigit() or not name.strip():
            raise DataError(f"{path}, line {n}: expected '<id> <name>', got {line!r}")
        if int(head) != len(names) + 1:
            raise DataError(f"{path}, line {n}: id {head} out of order (expected {len(names) + 1})")
        if name.strip() in first:
            raise DataError(f"{path}, line {n}: the name {name.strip()!r} appears more than once "
                            f"(first at line {first[name.strip()]})")
        first[name.strip()] = n
        names.append(name.strip())
    if not names:
        raise DataError(f"{path}: no names")
    return names


def write_benchmark(
    folder: str | os.PathLike,
    meta: "pd.DataFrame",
    names: Sequence[str],
    names_file: str,
    made: tuple[str, dict],
    write_images: Callable[[Path], None],
    unpaired: "pd.DataFrame | None" = None,
) -> Path:
    """Write a whole benchmark folder in the Hub layout, atomically (a temporary folder renamed onto ``folder``,
    replacing a previous one only once the new one is complete); return ``folder``.

    meta: one row per pair, its image columns (``orig_image``, ``syn_image``) paths relative to the folder;
    names: the concept names, written to ``names_file`` (``attributes.txt`` or ``categories.txt``); made:
    ``(file name, configuration)`` of how it was made (one of :data:`MADE_FILES`), written as indented JSON;
    write_images(root): writes every image the tables name under ``root`` (their folders already exist);
    unpaired: the unpaired labelled images (``unpaired.csv``, its ``image`` column relative paths).
    An image a table names but ``write_images`` did not write raises, and nothing is left behind.
    """
    if names_file not in NAME_FILES or made[0] not in MADE_FILES:
        raise ConfigError(f"write_benchmark: names_file must be one of {NAME_FILES} and made[0] one of {MADE_FILES}")
    images = [*meta["orig_image"], *meta["syn_image"], *([] if unpaired is None else unpaired["image"])]
    with atomic_path(folder) as tmp:
        for sub in sorted({os.path.dirname(str(p)) for p in images}):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        write_images(tmp)
        missing = [str(p) for p in images if not (tmp / p).is_file()]
        if missing:
            raise DataError(f"{folder}: {len(missing)} image(s) named by the tables were not written "
                            f"(first: {missing[0]})")
        meta.to_csv(tmp / "metadata.csv", index=False)
        if unpaired is not None:
            unpaired.to_csv(tmp / "unpaired.csv", index=False)
        write_names(tmp / names_file, names)
        (tmp / made[0]).write_text(json.dumps(made[1], indent=2, default=str), encoding="utf-8")
    return Path(folder)


def families(names: Sequence[str]) -> list[str]:
    """The family of each concept: ``has_wing_color::blue`` → ``has_wing_color``; other names stay whole."""
    return [n.split("::", 1)[0] for n in names]


def inside(root: Path, rel: Sequence[str], what, links_to: str | os.PathLike | None = None) -> list[str]:
    """Resolve each relative path under ``root``; raise if one escapes ``root`` (symlinks, ``..``, absolute
    paths) or is not a file. Return the resolved absolute paths.

    Each distinct parent folder is resolved once; a file that is itself a symlink is resolved in full.
    links_to: a folder that files of ``root`` may be links into (a Hugging Face cache snapshot's files link to
    the repository's ``blobs/``); the path itself must still lie under ``root``.
    """
    base = os.path.realpath(root)
    prefix = base + os.sep
    blobs = os.path.realpath(links_to) + os.sep if links_to is not None else None
    parents: dict[str, str] = {}
    out = []
    for i, r in enumerate(rel):
        r = str(r)
        parent, name = os.path.split(os.path.join(base, r))
        if name in ("", ".", ".."):
            full = os.path.realpath(os.path.join(base, r))
        else:
            if parent not in parents:
                parents[parent] = os.path.realpath(parent)
            full = os.path.join(parents[parent], name)
        link = full
        try:
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                full = os.path.realpath(full)
                st = os.stat(full)
        except OSError:
            st = None
        if not full.startswith(prefix):
            if not (blobs and os.path.dirname(full) + os.sep == blobs
                    and (parents.get(parent, "") + os.sep).startswith(prefix)):
                raise DataError(f"{what(i)}: path {r!r} leads outside the dataset folder {base}")
            full = link  # a cached Hub file: keep its name (and extension), not the blob's hash
        if st is None or not stat.S_ISREG(st.st_mode):
            raise DataError(f"{what(i)}: image file {r!r} not found in {base}")
        out.append(full)
    return out
