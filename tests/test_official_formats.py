"""What the dress rehearsal found, pinned by fast tests: the Hub cache's links, COCO's release split names and the
paper's train+val protocol, concept names checked between a benchmark and its base dataset, and ``-p`` winning
over a profile's per-notebook values."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fixtures_official import (CUB_ATTRIBUTES, hub_put, syncoco_files, syncub_files, write_coco, write_cub)
from kit.data import load_coco, load_cub, read_paired_folder
from kit.data.layout import inside
from kit.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("base")
    cub, Y = write_cub(root, n_per_species=6, n_species=2)
    coco = write_coco(root, n_train=8, n_val=6)
    return {"root": root, "cub": cub, "Y": Y, "coco": coco}


def test_the_official_cub_layout_loads(base):
    t = load_cub(base["cub"])
    assert t.names == CUB_ATTRIBUTES and (t.Y == base["Y"]).all() and set(t.split) == {"train", "val", "test"}


def test_coco_release_split_names_and_the_papers_protocol(base):
    assert (load_coco(base["coco"], "val2017").ids == load_coco(base["coco"], "val").ids).all()
    t = load_coco(base["coco"], "train+val")
    assert len(t.names) == 80 and t.n_samples == 14 and t.groups == t.names  # each category its own family
    assert (t.split[:8] == "train").all() and sorted(t.split[8:]) == ["test"] * 3 + ["val"] * 3
    assert (load_coco(base["coco"], "train+val").split == t.split).all()  # seeded
    with pytest.raises(ConfigError, match="COCO split must be one of"):
        load_coco(base["coco"], "test2017")


def test_a_hub_snapshot_whose_files_link_into_blobs_loads_and_nothing_else_does(base, tmp_path):
    files = syncub_files(base["cub"], base["Y"], n_pairs=5)
    snap = hub_put(tmp_path / "hub", "jokl/syncub", files, "dataset", ("v1.0",))
    blobs = snap.parent.parent / "blobs"
    assert (snap / "metadata.csv").is_symlink()
    with pytest.raises(DataError, match="leads outside the dataset folder"):
        read_paired_folder(snap)  # without knowing the blobs, a link out of the folder is refused
    bench = read_paired_folder(snap, links_to=blobs)
    assert bench.n_pairs == 5 and bench.orig_images[0].endswith("images/000000_orig.jpg")
    what = lambda i: f"row {i}"  # noqa: E731
    # the path itself must stay inside the snapshot; a link elsewhere than the blobs is still refused
    blob = next(blobs.iterdir()).name
    with pytest.raises(DataError, match="leads outside"):
        inside(snap, [f"../../blobs/{blob}"], what, blobs)
    os.symlink(base["cub"] / "images.txt", snap / "images" / "elsewhere.jpg")
    with pytest.raises(DataError, match="leads outside"):
        inside(snap, ["images/elsewhere.jpg"], what, blobs)
    coco = hub_put(tmp_path / "hub", "jokl/syncoco", syncoco_files(base["coco"], n_pairs=4), "dataset", ("v1.0",))
    assert read_paired_folder(coco, links_to=coco.parent.parent / "blobs").is_removal.all()


def test_a_benchmark_and_another_base_dataset_are_refused(base, tmp_path, monkeypatch):
    from kit.pipeline import PipelineConfig, prepare

    cache = tmp_path / "hub"
    hub_put(cache, "jokl/syncub", syncub_files(base["cub"], base["Y"], n_pairs=4), "dataset", ("v1.0",))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    other = write_cub(tmp_path / "other", n_per_species=3, n_species=1)[0]
    names = (other.parent / "attributes.txt").read_text().splitlines()
    names[5] = "6 has_bill_shape::made_up"
    (other.parent / "attributes.txt").write_text("\n".join(names) + "\n")
    with pytest.raises(DataError, match=r"differ from concept 5 on \('has_bill_shape::spatulate' vs "
                                        r"'has_bill_shape::made_up'\)"):
        prepare(PipelineConfig(benchmark="syncub", encoder="toy", concepts_dir=str(other), device="cpu"),
                tmp_path / "c")


def test_command_line_values_win_over_a_profiles_notebook_parameters():
    from kit.runner import load_params, plan

    doc = load_params(ROOT / "params" / "paper.yaml")
    steps = {s.name: s for s in plan(doc, ROOT, only=["09_dictionary_size"], overrides={"sizes": [64]})}
    assert steps["09_dictionary_size"].parameters["sizes"] == [64]
    steps = {s.name: s for s in plan(doc, ROOT, only=["09_dictionary_size"])}
    assert steps["09_dictionary_size"].parameters["sizes"] == doc["notebook_parameters"]["09_dictionary_size"]["sizes"]
    # --notebooks with one chapter: the profile's parameters for the others are not an error, a -p typo is
    [step] = plan(doc, ROOT, only=["01_matching_by_hand"])
    assert step.parameters == {"smoke": False}
    with pytest.raises(ConfigError, match=r"no chosen notebook declares the parameter\(s\) \['sizez'\]"):
        plan(doc, ROOT, only=["09_dictionary_size"], overrides={"sizez": [64]})


def test_the_default_revisions_are_the_papers():
    from kit.data import hub

    assert {n: v[1] for n, v in hub.BENCHMARKS.items()} == {"syncub": "v1.0", "syncoco": "v1.0"}
    assert np.all([not any(p.endswith(".py") for p in hub.DATA_PATTERNS)])


@pytest.mark.parametrize("which", ["syncub", "syncoco"])
def test_a_benchmark_in_the_official_layout_stages_for_datasets(base, tmp_path, monkeypatch, which):
    """synCUB's and synCOCO's own layout (JPEG originals, PNG edits, no categories.txt: COCO's 80 names) staged by
    `kit publish --dry-run` loads with `datasets` offline, the concept columns named by the 312 CUB attributes or
    the 80 COCO categories, and no unpaired config."""
    import datasets
    from PIL import Image

    from kit.data.publish import publish

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    files = syncub_files(base["cub"], base["Y"], n_pairs=4) if which == "syncub" else syncoco_files(base["coco"], 4)
    src = tmp_path / which
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    publish(src, f"someone/{which}", dry_run_dir=tmp_path / "staged")
    bench = read_paired_folder(src)
    names = "attributes" if which == "syncub" else "categories"
    staged = str(tmp_path / "staged")
    assert sorted(datasets.get_dataset_config_names(staged)) == sorted(["default", names])
    pairs = datasets.load_dataset(staged, split="test", cache_dir=str(tmp_path / "hf"))
    col = "old_attr_idx" if which == "syncub" else "removed_cls_idx"
    assert pairs.features[col].names == bench.concepts and len(bench.concepts) == (312 if which == "syncub" else 80)
    assert [pairs.features[col].int2str(v) for v in pairs[col]] == [bench.concepts[o] for o in bench.old]
    assert isinstance(pairs[0]["orig_image"], Image.Image) and pairs[0]["orig_image"].format == "JPEG"
    assert (np.asarray(pairs[3]["syn_image"]) == np.asarray(Image.open(bench.edit_images[3]))).all()
    assert list(src.glob("*.py")) and not list((tmp_path / "staged").glob("*.py"))  # the loader script stays behind
