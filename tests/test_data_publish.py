"""Cards, publishing (dry run loaded back with `datasets` and the kit's loader), the Hub download path and
the `publish` subcommand."""

from __future__ import annotations

import argparse
import shutil

import huggingface_hub
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from kit.data import hub, load_paired, load_toy_images, render_toy_syncoco, render_toy_syncub
from kit.data.cards import render_card, size_category
from kit.data_cli import register
from kit.data.publish import publish
from kit.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def toys(tmp_path_factory):
    root = tmp_path_factory.mktemp("pub")
    return (
        render_toy_syncub(root / "cub", n_pairs=10, n_images=10, seed=2, workers=1),
        render_toy_syncoco(root / "coco", n_pairs=10, n_images=10, seed=2, workers=1),
    )


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.mark.parametrize("which,card", [(0, "toy-syncub"), (1, "toy-syncoco")])
def test_dry_run_loads_back_with_datasets_and_the_kit(toys, tmp_path, which, card):
    import datasets

    src = toys[which]
    out = publish(src, "someone/bench", revision="v1.0", dry_run_dir=tmp_path / "dry")
    assert out == str(tmp_path / "dry")
    meta = _front_matter((tmp_path / "dry" / "README.md").read_text())
    for key in (
        "license",
        "pretty_name",
        "task_categories",
        "size_categories",
        "source_datasets",
        "annotations_creators",
        "tags",
        "configs",
    ):
        assert meta[key], key
    assert meta["size_categories"] == ["n<1K"] and meta["license"] == "mit"
    text = (tmp_path / "dry" / "README.md").read_text()
    assert "**10\npairs**" in text and "${" not in text and card in text.lower()

    ds = datasets.load_dataset(str(tmp_path / "dry"), split="test", cache_dir=str(tmp_path / "hf"))
    kit_bench = load_paired(tmp_path / "dry")
    src_bench = load_paired(src)
    assert len(ds) == kit_bench.n_pairs == 10
    assert (kit_bench.labels_edit == src_bench.labels_edit).all() and (kit_bench.old == src_bench.old).all()
    for i in (0, 9):
        row = ds[i]
        assert row["pair_id"] == i
        assert (np.asarray(row["orig_image"]) == np.asarray(Image.open(src_bench.orig_images[i]))).all()
        assert (np.asarray(row["syn_image"]) == np.asarray(Image.open(src_bench.edit_images[i]))).all()
    lists = "orig_attr_idx" if which == 0 else "orig_labels"
    assert ds[3][lists] == np.flatnonzero(src_bench.labels_orig[3]).tolist()
    unpaired = datasets.load_dataset(str(tmp_path / "dry"), "unpaired", cache_dir=str(tmp_path / "hf"))
    table = load_toy_images(tmp_path / "dry")
    assert sum(len(unpaired[s]) for s in unpaired) == table.n_samples == 10
    assert (table.Y == load_toy_images(src).Y).all()


@pytest.mark.parametrize("which", [0, 1])
def test_staged_benchmark_loads_offline_with_named_labels(toys, tmp_path, monkeypatch, which):
    """`datasets.load_dataset(<staged folder>)` offline: decoded images, concept indices as ClassLabel named by
    the concepts, one row per pair; the names and the unpaired images (every column of unpaired.csv, class id
    and name included) in their own configs; the card's dataset_info is what datasets loads."""
    import datasets

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    src = toys[which]
    staged = tmp_path / "staged"
    publish(src, "someone/bench", dry_run_dir=staged)
    bench = load_paired(src)
    cache = str(tmp_path / "hf")
    names_config = "attributes" if which == 0 else "categories"
    assert sorted(datasets.get_dataset_config_names(str(staged))) == sorted(["default", names_config, "unpaired"])

    pairs = datasets.load_dataset(str(staged), split="test", cache_dir=cache)
    assert len(pairs) == bench.n_pairs
    single, lists = (["old_attr_idx", "new_attr_idx"], ["orig_attr_idx", "syn_attr_idx"]) if which == 0 else (
        ["removed_cls_idx"], ["orig_labels", "syn_labels"])
    for col in single:
        assert isinstance(pairs.features[col], datasets.ClassLabel)
        assert pairs.features[col].names == bench.concepts
    for col in lists:
        assert isinstance(pairs.features[col], datasets.List)
        assert isinstance(pairs.features[col].feature, datasets.ClassLabel)
        assert pairs.features[col].feature.names == bench.concepts
    label = pairs.features[single[0]]
    assert [label.int2str(v) for v in pairs[single[0]]] == [bench.concepts[o] for o in bench.old]
    if which == 0:
        assert [label.int2str(v) for v in pairs["new_attr_idx"]] == [bench.concepts[n] for n in bench.new]
    assert [set(v) for v in pairs[lists[1]]] == [set(np.flatnonzero(y)) for y in bench.labels_edit]
    row = pairs[int(bench.n_pairs) - 1]
    for col, path in (("orig_image", bench.orig_images[-1]), ("syn_image", bench.edit_images[-1])):
        assert isinstance(row[col], Image.Image)
        assert (np.asarray(row[col]) == np.asarray(Image.open(path))).all()

    names = datasets.load_dataset(str(staged), names_config, split="train", cache_dir=cache)
    assert names["name"] == bench.concepts and names["index"] == list(range(bench.n_concepts))

    csv = pd.read_csv(src / "unpaired.csv", dtype=str, keep_default_na=False)
    unpaired = datasets.load_dataset(str(staged), "unpaired", cache_dir=cache)
    assert sorted(unpaired) == ["test", "train", "validation"]
    assert sum(len(unpaired[s]) for s in unpaired) == len(csv)
    train = unpaired["train"]
    assert train.column_names == list(csv.columns)
    assert train.features["labels"].feature.names == bench.concepts
    rows = csv[csv["split"] == "train"].reset_index(drop=True)
    assert train["scene"] == rows["scene"].tolist()
    assert [str(v) for v in train["labels"]] == rows["labels"].tolist()
    if which == 0:
        assert {"class_id", "class_name"} <= set(train.column_names)
        assert train["class_id"] == rows["class_id"].astype(int).tolist()
        assert train["class_name"] == rows["class_name"].tolist()
    assert isinstance(train[0]["image"], Image.Image)

    card = _front_matter((staged / "README.md").read_text())
    infos = {i["config_name"]: i for i in card["dataset_info"]}
    for name, ds in (("default", pairs), (names_config, names), ("unpaired", train)):
        assert datasets.Features._from_yaml_list(infos[name]["features"]) == ds.features, name
    assert {s["name"]: s["num_examples"] for s in infos["unpaired"]["splits"]} == {
        s: len(unpaired[s]) for s in unpaired}
    assert {c["config_name"] for c in card["configs"]} == set(infos)


def test_failed_dry_run_leaves_nothing(toys, tmp_path):
    src = shutil.copytree(toys[0], tmp_path / "src")
    p = src / "images" / "syn" / "000004.png"
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(DataError, match="pair_id '4'.*cannot be decoded"):
        publish(src, "someone/bench", dry_run_dir=tmp_path / "dry")
    assert not (tmp_path / "dry").exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["src"]
    with pytest.raises(ConfigError, match="owner/name"):
        publish(toys[0], "no-owner", dry_run_dir=tmp_path / "dry")


def test_upload_calls_the_hub_with_the_dry_run_folder(toys, tmp_path, monkeypatch):
    calls = {}

    def record(name):
        def fn(self, *args, **kwargs):
            if name == "upload_folder":
                from pathlib import Path

                root = Path(kwargs["folder_path"])
                kwargs["files"] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
            calls[name] = kwargs | {"args": args}
            return type("Info", (), {"commit_url": "https://hub/commit/1"})()

        return fn

    for name in ("create_repo", "create_branch", "upload_folder", "create_tag"):
        monkeypatch.setattr(huggingface_hub.HfApi, name, record(name))
    url = publish(toys[1], "someone/toy-syncoco", revision="release", token="t", tag="v1.0")
    assert url == "https://hub/commit/1"
    up = calls["upload_folder"]
    assert up["repo_id"] == "someone/toy-syncoco" and up["repo_type"] == "dataset" and up["revision"] == "release"
    assert calls["create_branch"]["branch"] == "release" and calls["create_tag"]["tag"] == "v1.0"
    publish(toys[1], "someone/toy-syncoco", dry_run_dir=tmp_path / "dry", revision="release")
    dry = sorted(str(p.relative_to(tmp_path / "dry")) for p in (tmp_path / "dry").rglob("*") if p.is_file())
    assert up["files"] == dry and "README.md" in dry and "data/pairs.parquet" in dry


def test_cli_publish_dry_run(toys, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        ["publish", str(toys[0]), "someone/x", "--dry-run", str(tmp_path / "d"), "--card", "toy-syncub"]
    )
    assert args.func(args) == 0
    assert "dry run written to" in capsys.readouterr().out
    assert load_paired(tmp_path / "d").n_pairs == 10


def test_card_template_errors(toys, tmp_path):
    bench = load_paired(toys[0])
    with pytest.raises(ConfigError, match="unknown card"):
        render_card(toys[0], bench, "a/b", card="imagenet")
    (tmp_path / "syncub").mkdir()
    (tmp_path / "syncub" / "README.md").write_text("pairs: ${n_pairs} ${n_unicorns}")
    with pytest.raises(ConfigError, match="unknown placeholder 'n_unicorns'"):
        render_card(toys[0], bench, "a/b", card="syncub", cards_dir=tmp_path)
    assert [size_category(n) for n in (5, 2000, 50_000)] == ["n<1K", "1K<n<10K", "10K<n<100K"]


def test_hub_download_is_pinned_and_never_fetches_code(toys, monkeypatch, tmp_path):
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return str(toys[1] if kwargs["repo_id"] == "jokl/syncoco" else toys[0])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    bench = load_paired("synCUB", cache_dir=tmp_path)
    assert bench.n_pairs == 10 and bench.name == "syncub"
    assert seen["repo_id"] == "jokl/syncub" and seen["revision"] == "v1.0" and seen["repo_type"] == "dataset"
    from fnmatch import fnmatch

    def allowed(path):
        return any(fnmatch(path, p) for p in seen["allow_patterns"])

    assert not allowed("syncub.py") and not allowed("loader/syncub.py")
    assert allowed("images/orig/000001.png") and allowed("metadata.csv") and allowed("attributes.txt")
    assert seen["cache_dir"] == tmp_path
    assert load_paired("syncoco", revision="v1.0").is_removal.all() and seen["revision"] == "v1.0"
    with pytest.raises(ConfigError, match="revision 'main'"):
        load_paired("syncoco", revision="main")

    def offline(**kwargs):
        raise huggingface_hub.errors.LocalEntryNotFoundError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(DataError, match="jokl/syncoco@v1.0 is not in the Hugging Face cache"):  # the paper's release
        load_paired("syncoco")
    assert hub.BENCHMARKS["syncoco"][2] == ("v1.0", "v2.0")
