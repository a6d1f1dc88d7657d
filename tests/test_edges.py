"""Every edge a user meets (issue 16, families 1-3): bad files, damaged artefacts, non-finite numbers.

Each test builds the bad input and asserts one kit error naming the file and the line (or entry, or the
parameter), and that nothing is left half-written.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from kit.errors import CheckpointError, ConfigError, DataError, KitError

from test_data_base import _coco, _cub


def _raises(cls, fn, *parts):
    """``fn()`` raises ``cls``; its message holds every part (plain substrings, not regexes)."""
    with pytest.raises(cls) as info:
        fn()
    message = str(info.value)
    for p in parts:
        assert str(p) in message, message
    assert "\n" not in message
    return message


# ---- 1. every file the kit reads ------------------------------------------------------------------------
@pytest.fixture
def cub(tmp_path):
    return _cub(tmp_path)[0]


@pytest.mark.parametrize("file, edit, parts", [
    ("images.txt", lambda ls: ls[:2] + ["3 003.x/img_2.jpg extra\n"] + ls[3:], ["images.txt, line 3", "2 fields"]),
    ("images.txt", lambda ls: ls[:4] + ["five 003.x/img_4.jpg\n"] + ls[5:], ["images.txt, line 5", "image_id",
                                                                             "integer", "'five'"]),
    ("images.txt", lambda ls: ls + ["3 001.Bird_0/img_0.jpg\n"], ["images.txt, line 11", "image id 3",
                                                                  "more than once", "first at line 3"]),
    ("images.txt", lambda ls: ls[:1] + ["\n"] + ls[1:], None),  # a blank line is skipped
    ("train_test_split.txt", lambda ls: ls[:6] + ["7\n"] + ls[7:], ["train_test_split.txt, line 7", "2 fields"]),
    ("train_test_split.txt", lambda ls: ls[:6] + ["7 yes\n"] + ls[7:], ["train_test_split.txt, line 7",
                                                                        "is_train must be an integer"]),
    ("train_test_split.txt", lambda ls: ls[:6] + ["7 2\n"] + ls[7:], ["train_test_split.txt, line 7",
                                                                      "0 or 1"]),
    ("train_test_split.txt", lambda ls: ls[:-1], ["train_test_split.txt", "image id 10", "has no line"]),
    ("train_test_split.txt", lambda ls: ls + ["2 1\n"], ["train_test_split.txt, line 11", "image id 2",
                                                         "more than once"]),
    ("attributes/image_attribute_labels.txt", lambda ls: ls[:12] + ["3 3\n"] + ls[13:],
     ["image_attribute_labels.txt, line 13", "at least 3 fields"]),
    ("attributes/image_attribute_labels.txt", lambda ls: ls[:12] + ["3 3 1.0 3 1.0\n"] + ls[13:],
     ["image_attribute_labels.txt, line 13", "is_present must be an integer", "'1.0'"]),
    ("attributes/image_attribute_labels.txt", lambda ls: ls + ["2 4 1 3 1.0\n"],
     ["image_attribute_labels.txt, line 51", "(image id, attribute id) (2, 4)", "first at line 9"]),
    ("attributes/image_attribute_labels.txt", lambda ls: ls[:20] + ["\n"] + ls[20:] + ["11 1 1 3 1.0\n"],
     ["image_attribute_labels.txt, line 52", "image id 11"]),  # line numbers count the blank line
    ("../attributes.txt", lambda ls: ls + ["6 has_bill_shape::cone\n"],
     ["attributes.txt, line 6", "'has_bill_shape::cone'", "first at line 1"]),
])
def test_cub_text_files(cub, file, edit, parts):
    from kit.data import load_cub

    path = cub / file
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))
    if parts is None:
        assert load_cub(cub).Y.shape == (10, 5)
    else:
        _raises(DataError, lambda: load_cub(cub), *parts)


@pytest.mark.parametrize("file", ["images.txt", "train_test_split.txt", "attributes/image_attribute_labels.txt",
                                  "../attributes.txt"])
def test_cub_files_that_are_not_utf8(cub, file):
    from kit.data import load_cub

    path = cub / file
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1][:2] + b"\xe9" + lines[1][2:]
    path.write_bytes(b"\n".join(lines))
    _raises(DataError, lambda: load_cub(cub), f"{file.split('/')[-1]}, line 2, column 3", "not UTF-8")


@pytest.fixture
def coco(tmp_path):
    return _coco(tmp_path)


@pytest.mark.parametrize("edit, parts", [
    (lambda d: d["annotations"][2].pop("category_id"), ["annotations[2] (id 3) lacks the key 'category_id'"]),
    (lambda d: d["annotations"][1].pop("image_id"), ["annotations[1] (id 2) lacks the key 'image_id'"]),
    (lambda d: d["images"][1].pop("file_name"), ["images[1] (id 2) lacks the key 'file_name'"]),
    (lambda d: d["categories"][0].pop("name"), ["categories[0] (id 1) lacks the key 'name'"]),
    (lambda d: d["images"][0].update(id="7"), ["images[0]", "'id' must be an integer", "'7'"]),
    (lambda d: d["annotations"][0].update(category_id=3.5), ["annotations[0] (id 1)", "'category_id'", "3.5"]),
    (lambda d: d["annotations"][0].update(area="big"), ["annotations[0] (id 1)", "'area'"]),
    (lambda d: d["images"].append({"id": 2, "file_name": "x.jpg"}), ["images[3] repeats the id 2 of images[1]"]),
    (lambda d: d["categories"].append({"id": 1, "name": "z"}), ["categories[3] repeats the id 1"]),
    (lambda d: d["categories"].append({"id": 4, "name": "car"}), ["categories[3] repeats the name 'car'"]),
    (lambda d: d["annotations"].append(5), ["annotations[4] must be an object"]),
    (lambda d: d.update(images={}), ["'images' must be a list"]),
])
def test_coco_entries(coco, edit, parts):
    from kit.data import load_coco

    root, data = coco
    edit(data)
    path = root / "annotations" / "instances_val2017.json"
    path.write_text(json.dumps(data))
    _raises(DataError, lambda: load_coco(root, "val"), "instances_val2017.json: ", *parts)


def test_coco_file_not_utf8_or_not_an_object(coco):
    from kit.data import load_coco

    root, data = coco
    path = root / "annotations" / "instances_val2017.json"
    path.write_bytes(b'{"images": [],\n "x": "\xff"}')
    _raises(DataError, lambda: load_coco(root, "val"), "instances_val2017.json, line 2", "not UTF-8")
    path.write_text("[1, 2]")
    _raises(DataError, lambda: load_coco(root, "val"), "instances_val2017.json: a COCO annotation file holds one")


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory):
    from kit.data import render_toy_syncoco, render_toy_syncub

    root = tmp_path_factory.mktemp("bench")
    return (render_toy_syncub(root / "cub", n_pairs=6, n_images=4, seed=2, workers=1),
            render_toy_syncoco(root / "coco", n_pairs=6, n_images=4, seed=2, workers=1))


@pytest.fixture
def syncub(benchmarks, tmp_path):
    return shutil.copytree(benchmarks[0], tmp_path / "cub")


def _metadata_lines(folder, fn):
    p = folder / "metadata.csv"
    p.write_bytes(fn(p.read_bytes().split(b"\n")))


@pytest.mark.parametrize("edit, parts", [
    (lambda ls: b"\n".join(ls[:3] + [ls[3] + b",extra"] + ls[4:]), ["metadata.csv, line 4", "12 fields",
                                                                      "header has 11"]),
    (lambda ls: b"\n".join(ls[:3] + [ls[3].split(b",", 1)[1]] + ls[4:]), ["metadata.csv, line 4", "10 fields"]),
    (lambda ls: b"\n".join(ls[:5] + [ls[5][:4] + b"\xff" + ls[5][4:]] + ls[6:]), ["metadata.csv, line 6",
                                                                                  "not UTF-8"]),
    (lambda ls: b"\n".join([ls[0] + b",pair_id"] + [x + b",1" if x else x for x in ls[1:]]),
     ["metadata.csv, line 1", "'pair_id' appears twice"]),
    (lambda ls: b"\n".join(ls[:2] + [b'"' + ls[2]] + ls[3:]), ["metadata.csv, line"]),
    (lambda ls: b"\n".join(ls[:-1] + [ls[3], b""]),
     ["metadata.csv, line 8", "pair_id '2' (row 6) appears more than once", "first at line 4"]),
])
def test_metadata_csv(syncub, edit, parts):
    from kit.data import load_paired

    _metadata_lines(syncub, edit)
    _raises(DataError, lambda: load_paired(syncub), *parts)


def test_metadata_non_integer_index_names_its_line(syncub):
    from kit.data import load_paired

    df = pd.read_csv(syncub / "metadata.csv", dtype=str, keep_default_na=False)
    for bad in ("inf", "x", "2.5"):
        df.loc[3, "old_attr_idx"] = bad
        df.to_csv(syncub / "metadata.csv", index=False)
        _raises(DataError, lambda: load_paired(syncub), "metadata.csv, line 5", "'old_attr_idx'",
                "is not an integer")


def test_unpaired_csv_and_names_files(syncub):
    from kit.data import load_toy_images

    p = syncub / "unpaired.csv"
    lines = p.read_text().splitlines(keepends=True)
    p.write_text("".join(lines[:2] + ["a,b,c,d\n"] + lines[3:]))
    _raises(DataError, lambda: load_toy_images(syncub), "unpaired.csv, line 3", "4 fields")
    p.write_text("".join(lines))
    names = syncub / "attributes.txt"
    names.write_bytes(names.read_bytes().replace(b"\n", b"\xc3\n", 1))
    _raises(DataError, lambda: load_toy_images(syncub), "attributes.txt, line 1", "not UTF-8")


@pytest.mark.parametrize("content, parts", [
    (b"parameters: {seed: 1}\nparameters: {seed: 2}\n", ["p.yaml", "line 2", "'parameters' appears twice"]),
    (b"parameters:\n  seed: 1\n  seed: 2\n", ["p.yaml", "line 3", "'seed' appears twice"]),
    (b"description: caf\xe9\n", ["p.yaml, line 1, column 17", "not UTF-8"]),
])
def test_yaml_files(tmp_path, content, parts):
    from kit.runner import load_params
    from kit.sweep import load_grid

    p = tmp_path / "p.yaml"
    p.write_bytes(content)
    _raises(ConfigError, lambda: load_params(p), *parts)
    _raises(ConfigError, lambda: load_grid(p), *parts)


def test_json_reader_names_file_line_and_key(tmp_path):
    from kit.io import read_json

    p = tmp_path / "c.json"
    p.write_text('{"a": 1,\n "b": [1, 2,]}')
    _raises(DataError, lambda: read_json(p), "c.json, line 2, column", "not valid JSON")
    p.write_text('{"a": 1, "a": 2}')
    _raises(ConfigError, lambda: read_json(p, "config", ConfigError), "c.json", "'a' appears twice")
    _raises(DataError, lambda: read_json(tmp_path / "none.json"), "none.json: JSON file not found")


# ---- 2. every artefact the kit reads back -----------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    from kit.sae import save, untrained

    sae = untrained("batchtopk", 6, 12, k=2)
    path = tmp_path / "sae"
    save(sae, path)
    return path


@pytest.mark.parametrize("key, value", [("W_dec", float("nan")), ("b_enc", float("inf")),
                                        ("threshold", float("-inf"))])
def test_non_finite_weights_are_refused(saved, key, value):
    from safetensors.torch import load_file, save_file

    from kit.sae import load

    assert torch.isnan(load(saved).threshold)  # NaN: a BatchTopK threshold not learned yet, allowed
    state = load_file(str(saved / "weights.safetensors"))
    state[key].view(-1)[-1] = value
    save_file(state, str(saved / "weights.safetensors"))
    _raises(CheckpointError, lambda: load(saved), "weights.safetensors", f"weight {key!r}", "non-finite",
            f"delete {saved}")


def test_damaged_weights_and_config(saved):
    from kit.sae import load

    w = saved / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    _raises(CheckpointError, lambda: load(saved), "weights.safetensors", "truncated or damaged")
    w.unlink()
    _raises(CheckpointError, lambda: load(saved), "weights.safetensors", "missing")
    (saved / "config.json").write_bytes(b'{"format": "kit.sae/1",\n "config": \xff}')
    _raises(CheckpointError, lambda: load(saved), "config.json, line 2", "not UTF-8")
    (saved / "config.json").write_text('{"format": "kit.sae/1", "config": [1]}')
    _raises(CheckpointError, lambda: load(saved), "config.json", "must be JSON objects")


class Stop(Exception):
    pass


def _stop_at(n):
    def callback(step, saes):
        if step == n:
            raise Stop

    return callback


def test_training_histories(tmp_path):
    from kit.sae import load, train

    X = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)
    # a checkpoint written before the first logged step (the run stopped at step 1, logging every 100): loads
    with pytest.raises(Stop):
        train(X, "topk", dict_size=8, k=2, max_steps=4, log_every=100, batch_size=32, checkpoint_dir=tmp_path / "c",
              checkpoint_every=1, progress=False, val_fraction=0.0, callback=_stop_at(1))
    folder = next((tmp_path / "c").iterdir())
    h = load(folder).history
    assert len(h) == 0 and list(h.columns[:2]) == ["step", "loss"]
    hist = folder / "history.csv"
    hist.write_text("")  # as written by kit versions before this one
    assert len(load(folder).history) == 0 and "loss" in load(folder).history.columns
    hist.write_text("step,loss\n1,0.5\n2,0.4,9,9\n")
    _raises(CheckpointError, lambda: load(folder), "history.csv", "damaged", f"delete {hist}")
    hist.write_text("step,loss\n1,0.5\n2,oops\n")
    _raises(CheckpointError, lambda: load(folder), "history.csv, line 3", "'loss'", "'oops'")
    hist.write_text("loss\n0.5\n")
    _raises(CheckpointError, lambda: load(folder), "history.csv", "'step' column")


@pytest.mark.parametrize("damage, parts", [
    (lambda f: (f / "train_state.safetensors").write_bytes((f / "train_state.safetensors").read_bytes()[:300]),
     ["train_state.safetensors", "truncated or damaged"]),
    (lambda f: (f / "train_state.json").write_text("{\"step\": 3"), ["train_state.json, line 1", "not valid JSON"]),
    (lambda f: (f / "train_state.json").write_text("{\"step\": 3}"), ["train_state.json", "lacks", "'norm'"]),
    (lambda f: (f / "train_state.safetensors").unlink(), ["train_state.safetensors", "missing"]),
])
def test_damaged_training_state_on_resume(tmp_path, damage, parts):
    from kit.sae import train

    X = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)
    kw = dict(dict_size=8, k=2, max_steps=4, batch_size=32, checkpoint_dir=tmp_path / "c", progress=False,
              val_fraction=0.0, checkpoint_every=2)
    with pytest.raises(Stop):
        train(X, "topk", **kw, callback=_stop_at(2))
    folder = next((tmp_path / "c").iterdir())
    damage(folder)
    _raises(CheckpointError, lambda: train(X, "topk", **kw), *parts, "to train this SAE from the start")
    shutil.rmtree(folder)  # what the message says to do
    assert train(X, "topk", **kw).history["step"].max() == 4


@pytest.mark.parametrize("content, parts", [
    ("{\"a\": {\"state\": \"do", ["status.json, line 1", "not valid JSON"]),
    ("[1]", ["status.json", "one JSON object"]),
    ("{\"a\": {\"state\": \"maybe\"}}", ["status.json", "cell 'a'"]),
])
def test_damaged_sweep_status(tmp_path, content, parts):
    from kit.sweep import read_status

    p = tmp_path / "status.json"
    p.write_text(content)
    _raises(CheckpointError, lambda: read_status(p), *parts, f"delete {p}")


@pytest.fixture
def entry(tmp_path):
    from kit.embed.cache import open_entry

    e = open_entry(tmp_path, {"encoder": "x"}, 10, 4, 5)
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    e.write_shard(0, X[:5])
    e.write_shard(1, X[5:])
    assert (e.load() == X).all()
    return e


def _arrow(path):
    return next(path.glob("*.arrow"))


@pytest.mark.parametrize("damage", [
    lambda p: _arrow(p).write_bytes(_arrow(p).read_bytes()[:-150]),  # truncated
    lambda p: _arrow(p).write_bytes(b""),  # empty
    lambda p: _arrow(p).unlink(),  # early: the folder before its data
    lambda p: (p / "state.json").write_text("{"),  # damaged
    lambda p: [f.unlink() for f in list(p.iterdir())],  # an empty folder
    lambda p: (shutil.rmtree(p), p.write_text("x")),  # a file in its place
])
def test_damaged_embedding_shards(entry, damage):
    path = entry.shard_path(1)
    damage(path)
    _raises(CheckpointError, entry.load, str(path), "delete it and run the extraction again")
    shutil.rmtree(path) if path.is_dir() else path.unlink()  # what the message says to do
    assert entry.missing() == [1]


def test_damaged_cache_provenance(entry):
    from kit.embed.cache import open_entry

    (entry.folder / "provenance.json").write_text('{"encoder": ')
    _raises(CheckpointError, lambda: open_entry(entry.folder.parent, {"encoder": "x"}, 10, 4, 5),
            "provenance.json, line 1", f"delete {entry.folder}")


# ---- 3. numbers in ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sae():
    from kit.sae import untrained

    return untrained("topk", 4, 8, k=2)


@pytest.mark.parametrize("X, parts", [
    (np.array([[0, 1, np.nan, 2]] * 3, np.float32), ["encode_array: X", "non-finite", "row 0, column 2"]),
    (torch.tensor([[0, 1, 2, 3], [0, float("inf"), 0, 0]]), ["encode_array: X", "inf", "row 1, column 1"]),
    (np.zeros((3, 5), np.float32), ["encode_array: X has 5 columns", "d=4"]),
    (np.zeros(4, np.float32), ["encode_array: X must be 2-D"]),
    (np.array([["a"] * 4]), ["encode_array: X must hold real numbers"]),
])
def test_encode_array_refuses_bad_inputs(sae, X, parts):
    from kit.sae import encode_array

    _raises(DataError, lambda: encode_array(sae, X), *parts)


def test_encode_and_decode_array_parameters(sae):
    from kit.sae.model import decode_array, encode_array

    _raises(ConfigError, lambda: encode_array(sae, np.zeros((2, 4)), batch_size=0), "batch_size")
    _raises(ConfigError, lambda: encode_array(sae, np.zeros((2, 4)), batch_size=1.5), "batch_size")
    _raises(DataError, lambda: decode_array(sae, np.full((2, 8), np.nan)), "decode_array: Z", "non-finite")
    _raises(DataError, lambda: decode_array(sae, np.zeros((2, 4))), "decode_array: Z has 4 columns", "D=8")
    assert encode_array(sae, np.ones((3, 4), np.float64)).dtype == np.float32


def test_matching_and_tapascore_refuse_non_finite_inputs():
    from kit.matching import binarize, fbmp, nnomp, one_to_one
    from kit.tapas import tapascore

    rng = np.random.default_rng(0)
    Y = rng.random((6, 3)) < 0.5
    Z = rng.random((6, 5))
    bad = Z.copy()
    bad[4, 2] = np.nan
    for fn in (lambda: binarize(bad), lambda: fbmp(Y, bad), lambda: one_to_one(Y, bad), lambda: nnomp(Y, bad)):
        _raises(DataError, fn, "non-finite", "row 4, column 2")
    _raises(ConfigError, lambda: binarize(Z, float("nan")), "threshold")
    _raises(ConfigError, lambda: nnomp(Y, Z, tol=float("nan")), "nnomp: tol")
    _raises(DataError, lambda: fbmp(Y[:5], Z > 0.5), "annotations Y", "rows")
    m = fbmp(Y, Z > 0.5)
    old, new = np.array([0, 1, 2, 0, 1, 2]), np.full(6, -1)
    _raises(DataError, lambda: tapascore(bad, Z, old, new, m), "Z_orig", "non-finite", "row 4, column 2")
    _raises(DataError, lambda: tapascore(Z, Z, old.astype(float), new, m), "old", "integer")


def test_all_errors_are_kit_errors():
    assert issubclass(DataError, KitError) and issubclass(CheckpointError, KitError)


def test_a_damaged_results_file_of_a_done_cell_is_said_and_its_cell_redone(tmp_path, monkeypatch, caplog):
    import logging
    from pathlib import Path

    import jupytext

    from kit import sweep
    from kit.results import ResultRow, save_results

    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: x\n")
    (tmp_path / "notebooks").mkdir()
    nb = jupytext.reads('# %% tags=["parameters"]\nx = 1\nout_dir = "."\n', fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, tmp_path / "notebooks" / "00_square.ipynb")
    ran = []

    def fake_cell(root, notebook, cell, out, cache, kernel):  # what a cell's notebook writes
        ran.append(cell.id)
        folder = Path(out) / "cells" / cell.id / notebook
        folder.mkdir(parents=True)
        x = cell.parameters["x"]
        save_results(folder / "r.json", [ResultRow("d", "e", "s", "mse", float(x), dict_size=8, seed=0)], {})
        return cell.id, None

    monkeypatch.setattr(sweep, "_run_cell", fake_cell)
    doc = {"notebook": "00_square", "grid": {"x": [1, 2]}, "source": "grid.yaml"}
    out = tmp_path / "sweep"
    assert len(sweep.run_sweep(doc, tmp_path, out, tmp_path / "cache")) == 2 and ran == ["x=1", "x=2"]
    damaged = out / "cells" / "x=2" / "00_square" / "r.json"
    damaged.write_bytes(damaged.read_bytes()[:40])
    with caplog.at_level(logging.WARNING, logger="kit"):
        table = sweep.run_sweep(doc, tmp_path, out, tmp_path / "cache")
    assert len(table) == 1 and ran == ["x=1", "x=2"]  # nothing run again, the damage said
    assert any(str(damaged) in r.getMessage() and "delete" in r.getMessage() for r in caplog.records)
    shutil.rmtree(out / "cells" / "x=2")  # what the warning says to do
    assert len(sweep.run_sweep(doc, tmp_path, out, tmp_path / "cache")) == 2 and ran[-1] == "x=2" and len(ran) == 3
