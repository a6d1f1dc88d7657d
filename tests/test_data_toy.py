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


def test_toy_syncoco_render_is_byte_identical_across_workers(coco, tmp_path):
    again = render_toy_syncoco(tmp_path / "again", n_pairs=40, n_images=30, seed=3, workers=2)
    for sub in ("orig", "syn", "unpaired"):
        files = sorted(p.name for p in (coco / "images" / sub).iterdir())
        assert files == sorted(p.name for p in (again / "images" / sub).iterdir())
        assert all((coco / "images" / sub / f).read_bytes() == (again / "images" / sub / f).read_bytes() for f in files)
    for name in ("metadata.csv", "unpaired.csv"):
        assert (coco / name).read_bytes() == (again / name).read_bytes()


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


# ---- the photograph around the edit: nuisances shared within a pair, varied across images -------------------


def test_toy_syncub_pairs_share_every_nuisance():
    from kit.data.toy_birds import ToyBirdsConfig, plan_toy_syncub

    plan = plan_toy_syncub(ToyBirdsConfig(n_pairs=60, n_images=5, seed=5))
    fam = [a.split("::")[0] for a in plan.meta["old_attr"]]
    for o, e, f, old, new in zip(plan.orig, plan.edit, fam, plan.meta["old_attr"], plan.meta["new_attr"]):
        assert {k: v for k, v in o.items() if k != "attrs"} == {k: v for k, v in e.items() if k != "attrs"}
        changed = [k for k in FAMILIES if o["attrs"][k] != e["attrs"][k]]
        assert changed == [f]
        assert f"{f}::{o['attrs'][f]}" == old and f"{f}::{e['attrs'][f]}" == new


def test_toy_syncoco_pairs_share_every_nuisance():
    from kit.data.toy_scenes import plan_toy_syncoco

    plan = plan_toy_syncoco(ToyScenesConfig(n_pairs=60, n_images=5, seed=5))
    for o, e, r in zip(plan.orig, plan.edit, plan.meta["removed_cls_idx"]):
        assert {k: v for k, v in o.items() if k != "instances"} == {k: v for k, v in e.items() if k != "instances"}
        assert e["instances"] == [i for i in o["instances"] if i[0] != r]


def _spread(values) -> float:
    return float(np.std(np.asarray(values, dtype=float)))


def test_toy_syncub_nuisances_vary_across_images():
    from kit.data.toy_birds import OCCLUDERS, PERCHES, SETTINGS, ToyBirdsConfig, plan_toy_syncub

    specs = plan_toy_syncub(ToyBirdsConfig(n_pairs=1, n_images=400, seed=6)).images
    assert {s["setting"] for s in specs} == set(SETTINGS)
    assert {s["perch"] for s in specs} == set(PERCHES)
    assert {o[0] for s in specs for o in s["occluders"]} == set(OCCLUDERS)
    assert 0.2 < np.mean([bool(s["occluders"]) for s in specs]) < 0.9
    assert 0.1 < np.mean([bool(s["objects"]) for s in specs]) < 0.9
    assert 0.3 < np.mean([s["mirror"] for s in specs]) < 0.7
    for key, least in (("tilt", 5.0), ("head_turn", 5.0), ("zoom", 0.08), ("fx", 0.05), ("fy", 0.05), ("blur", 0.4),
                       ("aspect", 0.04)):
        assert _spread([s[key] for s in specs]) > least, key
    for key, least in (("temperature", 0.2), ("exposure", 0.08), ("contrast", 0.05), ("noise", 1.0)):
        assert _spread([s["light"][key] for s in specs]) > least, key


def test_toy_syncoco_nuisances_vary_across_images():
    from kit.data.toy_scenes import OCCLUDER_WORDS, SETTINGS, plan_toy_syncoco

    specs = plan_toy_syncoco(ToyScenesConfig(n_pairs=1, n_images=300, seed=6)).images
    assert {s["setting"] for s in specs} == set(SETTINGS)
    assert {o[0] for s in specs for o in s["occluders"]} == set(OCCLUDER_WORDS)
    assert 0.3 < np.mean([bool(s["occluders"]) for s in specs]) < 0.9
    scales = [i[3] for s in specs for i in s["instances"]]
    assert max(scales) / min(scales) > 2  # perspective: near objects are larger
    for key, least in (("horizon", 0.05), ("blur", 0.2)):
        assert _spread([s[key] for s in specs]) > least, key
    for key, least in (("temperature", 0.2), ("exposure", 0.08), ("noise", 1.0)):
        assert _spread([s["light"][key] for s in specs]) > least, key


def test_rendered_pairs_share_their_pixels_and_images_differ(cub, coco):
    for folder in (cub, coco):
        b = load_paired(folder)
        same_pair = [np.mean((_pixels(o) == _pixels(e)).all(-1)) for o, e in zip(b.orig_images, b.edit_images)]
        other = [np.mean((_pixels(o) == _pixels(e)).all(-1))
                 for o, e in zip(b.orig_images, np.roll(np.asarray(b.edit_images), 1))]
        assert min(same_pair) > 0.5  # an edit changes the bird or the removed object, not the photograph
        assert max(other) < 0.05  # two pairs share no background, light or sensor noise
    scenes = pd.read_csv(cub / "unpaired.csv")["scene"]
    assert scenes.nunique() > 0.8 * len(scenes)


def test_unpaired_tables_describe_the_scene(cub, coco):
    from kit.data.toy_birds import PERCHES

    cub_scenes = pd.read_csv(cub / "unpaired.csv")["scene"]
    assert all(any(p in s.split("; ") for p in PERCHES.values()) for s in cub_scenes)
    coco_scenes = pd.read_csv(coco / "unpaired.csv")["scene"]
    assert coco_scenes.str.match(r"^(on|in) ").all()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_a_bird_edit_changes_the_bird_and_nothing_else(seed):
    from kit.data.toy_birds import SIZES, _spec, extent, render_bird, sample_birds

    rng = np.random.default_rng(seed)
    _, values, [nuis] = sample_birds(1, rng, 20, 0.15)
    size = 96
    x0, y0, x1, y1 = extent(nuis, max(SIZES.values()) * nuis["zoom"])
    assert x0 >= 0 and y0 >= 0.05 and x1 <= 1 and y1 <= 1  # the bird stays in the frame, clear of the top rows
    allowed = np.zeros((size, size), dtype=bool)
    allowed[max(0, int(y0 * size) - 2):int(y1 * size) + 3, max(0, int(x0 * size) - 2):int(x1 * size) + 3] = True
    def draw(v):  # as the benchmark draws it: twice the size, reduced
        return np.asarray(render_bird(_spec(v, nuis), 2 * size).reduce(2), dtype=np.int16)

    a = draw(values[0])
    for f, fam in enumerate(FAMILIES):
        edit = values[0].copy()
        edit[f] = (edit[f] + 1 + rng.integers(len(FAMILIES[fam]) - 1)) % len(FAMILIES[fam])
        z = draw(edit)
        changed = (a != z).any(-1)
        assert changed.any(), f"the {fam} edit is invisible"
        assert not (changed & ~allowed).any(), f"the {fam} edit changed pixels outside the bird"
