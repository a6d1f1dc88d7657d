"""The one writer of the Hub layout (kit.data.layout.write_benchmark): what it writes the loaders read back,
and a write that fails leaves the folder as it was."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from kit.data import load_paired, load_toy_images
from kit.data.layout import SYNCOCO_COLUMNS, format_list, write_benchmark
from kit.errors import ConfigError, DataError

NAMES = ["cat", "dog", "cup", "kite"]


def _tables(labels: list[list[int]], n_unpaired: int):
    """A synCOCO-layout removal benchmark: pair i removes the first category of labels[i]."""
    rows = []
    for i, cats in enumerate(labels):
        rows.append({"pair_id": i, "orig_image": f"images/orig/{i:06d}.png", "syn_image": f"images/syn/{i:06d}.png",
                     "coco_idx": 100 + i, "removed_cls_idx": cats[0], "removed_class": NAMES[cats[0]],
                     "orig_labels": format_list(cats), "syn_labels": format_list(cats[1:])})
    meta = pd.DataFrame(rows)[SYNCOCO_COLUMNS]
    unpaired = pd.DataFrame({"image": [f"images/unpaired/{j:06d}.png" for j in range(n_unpaired)],
                             "labels": [format_list([j % len(NAMES)]) for j in range(n_unpaired)],
                             "split": ["train", "val", "test"] * (n_unpaired // 3) + ["train"] * (n_unpaired % 3)})
    return meta, unpaired


def _draw(paths):
    def write(root):
        for k, p in enumerate(paths):
            Image.new("RGB", (4, 4), (k % 256, 0, 0)).save(root / p)
    return write


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(st.lists(st.integers(0, len(NAMES) - 1), min_size=1, max_size=4, unique=True),
                       min_size=1, max_size=5),
       n_unpaired=st.integers(0, 5))
def test_what_write_benchmark_writes_the_loaders_read(tmp_path, labels, n_unpaired):
    meta, unpaired = _tables(labels, n_unpaired)
    paths = [*meta["orig_image"], *meta["syn_image"], *unpaired["image"]]
    folder = tmp_path / "bench"
    made = {"benchmark": "test", "seed": 3}
    out = write_benchmark(folder, meta, NAMES, "categories.txt", ("render_config.json", made), _draw(paths),
                          unpaired if n_unpaired else None)
    assert out == folder
    bench = load_paired(folder)
    assert bench.concepts == NAMES and bench.n_pairs == len(labels)
    assert bench.old.tolist() == [c[0] for c in labels] and (bench.new == -1).all()
    assert [set(np.flatnonzero(y)) for y in bench.labels_orig] == [set(c) for c in labels]
    assert (bench.extra["coco_idx"] == 100 + np.arange(len(labels))).all()
    for k, p in enumerate(bench.orig_images):
        assert Image.open(p).getpixel((0, 0))[0] == k % 256
    assert json.loads((folder / "render_config.json").read_text()) == made
    assert (folder / "unpaired.csv").is_file() == bool(n_unpaired)
    if n_unpaired:
        assert load_toy_images(folder).n_samples == n_unpaired
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench"]  # no temporary left beside it


def test_a_failed_write_leaves_the_previous_folder(tmp_path):
    meta, unpaired = _tables([[0, 1], [2]], 3)
    paths = [*meta["orig_image"], *meta["syn_image"], *unpaired["image"]]
    folder = tmp_path / "bench"
    write_benchmark(folder, meta, NAMES, "categories.txt", ("render_config.json", {"v": 1}), _draw(paths), unpaired)
    before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    with pytest.raises(DataError, match=r"1 image\(s\) named by the tables were not written.*unpaired/000002"):
        write_benchmark(folder, meta, NAMES, "categories.txt", ("render_config.json", {"v": 2}), _draw(paths[:-1]),
                        unpaired)

    def broken(root):
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        write_benchmark(folder, meta, NAMES, "categories.txt", ("render_config.json", {"v": 3}), broken, unpaired)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == before
    assert json.loads((folder / "render_config.json").read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench"]
    with pytest.raises(ConfigError, match="names_file"):
        write_benchmark(folder, meta, NAMES, "names.txt", ("render_config.json", {}), _draw(paths), unpaired)
