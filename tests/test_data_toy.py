"""The procedural twins: toy-synCUB and toy-synCOCO render exact pairs that the paired loader reads."""

from __future__ import annotations

import filecmp

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from kit.data import load_paired, load_toy_images, render_toy_syncoco, render_toy_syncub
from kit.data.layout import SYNCOCO_COLUMNS, SYNCUB_COLUMNS, read_names
from kit.data.toy_birds import ATTRIBUTES, FAMILIES
from kit.data.toy_scenes import CATEGORIES, NAMES, ToyScenesConfig, removal, render_scene, sample_scene
from kit.errors import ConfigError


@pytest.fixture(scope="module")
def cub(tmp_path_factory):
    return render_toy_syncub(tmp_path_factory.mktemp("t") / "cub", n_pairs=40, n_images=30, seed=3, workers=1)


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return render_toy_syncoco(tmp_path_factory.mktemp("t") / "coco", n_pairs=40, n_images=30, seed=3, workers=1)


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_toy_syncub_layout_and_labels(cub):
    meta = pd.read_csv(cub / "metadata.csv")
    assert list(meta.columns) == SYNCUB_COLUMNS
    assert read_names(cub / "attributes.txt") == ATTRIBUTES
    b = load_paired(cub, verify_images=True)
    assert b.n_pairs == 40 and b.n_concepts == len(ATTRIBUTES)
    fam = np.array(b.groups)
    # one value per family on both sides, and old/new in the same family
    for labels in (b.labels_orig, b.labels_edit):
        for f in FAMILIES:
            assert (labels[:, fam == f].sum(1) == 1).all()
    assert (fam[b.old] == fam[b.new]).all()
    assert ((b.labels_orig ^ b.labels_edit).sum(1) == 2).all()
    assert (b.extra["class_name"].str.match(r"^\d{3}\.")).all()


def test_toy_syncub_pairs_are_the_same_bird(cub):
    b = load_paired(cub)
    for o, e in zip(b.orig_images, b.edit_images):
        a, z = _pixels(o), _pixels(e)
        assert a.shape == (96, 96, 3)
        assert (a != z).any(), "the edit changed nothing"
        assert (a[:3] == z[:3]).all(), "the background (top rows) changed"


def test_toy_render_is_deterministic_and_seeded(cub, tmp_path):
    again = render_toy_syncub(tmp_path / "again", n_pairs=40, n_images=30, seed=3, workers=2)
    cmp = filecmp.dircmp(cub / "images" / "syn", again / "images" / "syn")
    assert not cmp.diff_files and not cmp.left_only
    assert (cub / "metadata.csv").read_bytes() == (again / "metadata.csv").read_bytes()
    other = render_toy_syncub(tmp_path / "other", n_pairs=40, n_images=30, seed=4, workers=1)
    assert (cub / "metadata.csv").read_bytes() != (other / "metadata.csv").read_bytes()


def test_load_toy_images(cub, coco):
    t = load_toy_images(cub)
    assert t.Y.shape == (30, len(ATTRIBUTES)) and len(t.images) == 30
    assert t.groups == [a.split("::")[0] for a in ATTRIBUTES]
    assert set(t.split) <= {"train", "val", "test"} and (t.split == "train").sum() == 21
    assert (t.Y.sum(1) == len(FAMILIES)).all()
    assert all(Image.open(p).size == (96, 96) for p in t.images[:5])
    c = load_toy_images(coco)
    assert c.names == NAMES and c.Y.any(1).all()


def test_toy_syncoco_layout_and_removal_rule(coco):
    assert len(CATEGORIES) >= 20
    meta = pd.read_csv(coco / "metadata.csv")
    assert list(meta.columns) == SYNCOCO_COLUMNS
    b = load_paired(coco, verify_images=True)
    assert b.is_removal.all() and b.n_concepts == len(NAMES)
    assert ((b.labels_orig ^ b.labels_edit).sum(1) == 1).all()
    assert b.labels_orig.sum(1).min() >= 2
    for o, e in zip(b.orig_images, b.edit_images):
        assert (_pixels(o) != _pixels(e)).any()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_removal_leaves_everything_outside_the_removed_objects(seed):
    rng = np.random.default_rng(seed)
    scene = sample_scene(rng, ToyScenesConfig(min_categories=2))
    r = removal(scene["instances"])
    # the rule, literally: fewest instances, then the largest total area
    count = {c: sum(i[0] == c for i in scene["instances"]) for c, *_ in scene["instances"]}
    area = {
        c: sum(i[3] ** 2 * CATEGORIES[NAMES[c]][1] * CATEGORIES[NAMES[c]][2] for i in scene["instances"] if i[0] == c)
        for c in count
    }
    assert count[r] == min(count.values())
    assert area[r] == max(a for c, a in area.items() if count[c] == count[r])
    edited = {**scene, "instances": [i for i in scene["instances"] if i[0] != r]}
    size = 96
    a = np.asarray(render_scene(scene, size), dtype=np.int16)
    z = np.asarray(render_scene(edited, size), dtype=np.int16)
    allowed = np.zeros((size, size), dtype=bool)
    for c, cx, cy, s, _, _ in scene["instances"]:
        if c == r:
            _, bw, bh = CATEGORIES[NAMES[c]]
            m = 0.12 * s * size + 2
            x0, x1 = int(max(0, (cx - s * bw / 2) * size - m)), int(min(size, (cx + s * bw / 2) * size + m + 1))
            y0, y1 = int(max(0, (cy - s * bh / 2) * size - m)), int(min(size, (cy + s * bh / 2) * size + m + 1))
            allowed[y0:y1, x0:x1] = True
    changed = (a != z).any(-1)
    assert changed.any()
    assert not (changed & ~allowed).any()


def test_bad_render_settings(tmp_path):
    with pytest.raises(ConfigError, match="n_pairs"):
        render_toy_syncub(tmp_path / "x", n_pairs=0)
    with pytest.raises(ConfigError, match="split"):
        render_toy_syncoco(tmp_path / "y", n_pairs=2, split=(0.5, 0.5, 0.5))
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
