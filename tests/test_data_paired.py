"""load_paired validates every metadata row; bad input raises DataError naming the file, pair and column."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.data import load_paired, render_toy_syncoco, render_toy_syncub
from kit.data.layout import multi_hot
from kit.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("p")
    return (
        render_toy_syncub(root / "cub", n_pairs=12, n_images=5, seed=1, workers=1),
        render_toy_syncoco(root / "coco", n_pairs=12, n_images=5, seed=1, workers=1),
    )


@pytest.fixture
def cub(clean, tmp_path):
    return shutil.copytree(clean[0], tmp_path / "cub")


@pytest.fixture
def coco(clean, tmp_path):
    return shutil.copytree(clean[1], tmp_path / "coco")


def _edit(folder, fn):
    df = pd.read_csv(folder / "metadata.csv", dtype=str, keep_default_na=False)
    df = fn(df)
    df.to_csv(folder / "metadata.csv", index=False)


def _set(row, col, value):
    def fn(df):
        df.loc[row, col] = value
        return df

    return fn


def test_clean_folders_load(cub, coco):
    b = load_paired(cub)
    assert b.n_pairs == 12 and os.path.isabs(b.orig_images[0]) and b.root == os.path.realpath(cub)
    assert b.pair_ids.dtype == np.int64 and list(b.pair_ids) == list(range(12))
    c = load_paired(str(coco))
    assert (c.new == -1).all() and "coco_idx" in c.extra.columns


@pytest.mark.parametrize("col", ["old_attr_idx", "syn_image", "orig_attr_idx"])
def test_missing_column(cub, col):
    _edit(cub, lambda df: df.drop(columns=[col]))
    with pytest.raises(DataError, match=f"metadata.csv: missing columns \\['{col}'\\]"):
        load_paired(cub)


@pytest.mark.parametrize(
    "value,msg", [("[1, x]", "not a list of integers"), ("1, 2", "not a list like"), ("[1, 999]", "out of range")]
)
def test_bad_lists(cub, value, msg):
    _edit(cub, _set(4, "syn_attr_idx", value))
    with pytest.raises(DataError, match=f"pair_id '4' \\(row 4\\), column 'syn_attr_idx'.*{msg}"):
        load_paired(cub)


def test_labels_differing_in_another_concept(cub):
    def fn(df):
        lst = eval(df.loc[5, "syn_attr_idx"])
        lst[0] = lst[0] + 1 if lst[0] + 1 not in lst else lst[0]
        df.loc[5, "syn_attr_idx"] = str(sorted(set(lst)))
        return df

    _edit(cub, fn)
    with pytest.raises(DataError, match="pair '5'"):
        load_paired(cub)


def test_index_out_of_range_and_wrong_name(cub, coco):
    _edit(cub, _set(2, "new_attr_idx", "62"))
    with pytest.raises(DataError, match="pair_id '2'.*'new_attr_idx'.*out of range"):
        load_paired(cub)
    _edit(coco, _set(3, "removed_class", "giraffe"))
    with pytest.raises(DataError, match="pair_id '3'.*'removed_class'.*'giraffe'"):
        load_paired(coco)


def test_non_integer_index(coco):
    _edit(coco, _set(1, "removed_cls_idx", "1.5"))
    with pytest.raises(DataError, match="pair_id '1'.*'removed_cls_idx'.*not an integer"):
        load_paired(coco)


def test_duplicate_pair_id(cub):
    _edit(cub, _set(7, "pair_id", "3"))
    with pytest.raises(DataError, match="pair_id '3' \\(row 7\\) appears more than once"):
        load_paired(cub)


def test_missing_image(cub):
    os.remove(cub / "images" / "syn" / "000006.png")
    with pytest.raises(DataError, match="pair_id '6'.*'syn_image'.*not found"):
        load_paired(cub)


@pytest.mark.parametrize("path", ["../outside.png", "/etc/hostname", "images/../../outside.png"])
def test_paths_escaping_the_folder(cub, path):
    (cub.parent / "outside.png").write_bytes((cub / "images" / "orig" / "000000.png").read_bytes())
    _edit(cub, _set(0, "orig_image", path))
    with pytest.raises(DataError, match="pair_id '0'.*leads outside the dataset folder"):
        load_paired(cub)


def test_symlink_escaping_the_folder(cub):
    target = cub.parent / "outside.png"
    shutil.copy(cub / "images" / "orig" / "000001.png", target)
    link = cub / "images" / "orig" / "000001.png"
    link.unlink()
    link.symlink_to(target)
    with pytest.raises(DataError, match="pair_id '1'.*leads outside"):
        load_paired(cub)


def test_truncated_image_on_request(cub):
    p = cub / "images" / "orig" / "000008.png"
    p.write_bytes(p.read_bytes()[:200])
    load_paired(cub)  # existence only by default
    with pytest.raises(DataError, match="pair_id '8'.*'orig_image'.*cannot be decoded"):
        load_paired(cub, verify_images=True)


def test_empty_metadata(cub):
    _edit(cub, lambda df: df.iloc[:0])
    with pytest.raises(DataError, match="no row"):
        load_paired(cub)
    (cub / "metadata.csv").write_text("")
    with pytest.raises(DataError, match="metadata is empty"):
        load_paired(cub)
    (cub / "metadata.csv").unlink()
    with pytest.raises(DataError, match="metadata file not found"):
        load_paired(cub)


def test_bad_attributes_file(cub):
    (cub / "attributes.txt").write_text("1 has_a::b\n3 has_c::d\n")
    with pytest.raises(DataError, match="attributes.txt, line 2"):
        load_paired(cub)


def test_not_a_folder_and_revision_on_folder(tmp_path, cub):
    with pytest.raises(DataError, match="no such benchmark folder"):
        load_paired(tmp_path / "nope")
    with pytest.raises(ConfigError, match="revision"):
        load_paired(cub, revision="v1.0")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 19), max_size=8), min_size=1, max_size=20))
def test_multi_hot_matches_a_literal_loop(rows):
    text = [str(r) for r in rows]
    Y = multi_hot(text, 20, lambda i: f"row {i}")
    expected = np.zeros((len(rows), 20), dtype=bool)
    for i, r in enumerate(rows):
        for j in r:
            expected[i, j] = True
    assert (Y == expected).all()


@pytest.fixture(scope="module")
def maze(tmp_path_factory):
    """A folder with files, sub-folders, and symlinks that lead inside and outside it."""
    top = tmp_path_factory.mktemp("maze")
    root = top / "root"
    (root / "a" / "b").mkdir(parents=True)
    (top / "out").mkdir()
    for p in (root / "f.png", root / "a" / "f.png", root / "a" / "b" / "f.png", top / "out" / "f.png", top / "f.png"):
        p.write_bytes(b"x")
    (root / "a" / "in").symlink_to(root / "a" / "b")
    (root / "a" / "out").symlink_to(top / "out")
    (root / "a" / "lf.png").symlink_to(top / "f.png")
    (root / "a" / "li.png").symlink_to(root / "f.png")
    return root


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "in", "out", "..", ".", "root"]), max_size=4),
    st.sampled_from(["f.png", "lf.png", "li.png", "missing.png", "..", "b"]),
)
def test_inside_matches_a_literal_resolve(maze, parts, name):
    from pathlib import Path

    from kit.data.layout import inside

    rel = "/".join(parts + [name])
    full = Path(maze, rel).resolve()
    base = maze.resolve()
    below = full != base and full.is_relative_to(base)
    ok_literal = below and full.is_file()
    try:
        got = inside(maze, [rel], lambda i: f"row {i}")
    except DataError as e:
        assert not ok_literal, str(e)
        assert ("outside" in str(e)) == (not below)
    else:
        assert ok_literal and got == [str(full)]
