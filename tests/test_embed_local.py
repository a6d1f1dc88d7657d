"""Offline clusters: local weights for open_clip and DINOv2, the cache keyed by their content, and fast, named
failures for what is neither cached nor reachable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import kit.embed as ke
from fixtures_official import (TINY_CLIP_CFG, build_world, hub_put, tiny_clip_files, tiny_dinov2_files,
                               write_folder)
from kit.data import hub
from kit.errors import CheckpointError, DataError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        p = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


@pytest.fixture(scope="module")
def tiny_arch(tmp_path_factory):
    """The tiny CLIP config registered with open_clip under a model name (as a built-in config would be)."""
    import open_clip

    path = tmp_path_factory.mktemp("clipcfg") / "kit-test-local-clip.json"
    path.write_text(json.dumps(TINY_CLIP_CFG))
    open_clip.add_model_config(path)
    return "kit-test-local-clip"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty Hub cache, offline."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hf" / "hub"


def _embed(enc, images, cache=None):
    return ke.embed_images(images, enc, device="cpu", num_workers=0, progress=False, cache_dir=cache)


def test_open_clip_local_file_folder_and_hub_cache_are_one_model(tiny_arch, images, tmp_path, offline):
    files = tiny_clip_files(seed=3)
    folder = write_folder(tmp_path / "clip", files)
    by_file = ke.load_encoder(f"open_clip:{tiny_arch}@{folder / 'open_clip_model.safetensors'}", device="cpu")
    by_folder = ke.load_encoder(f"open_clip:hf-hub:{folder}", device="cpu")
    by_dir = ke.load_encoder(f"open_clip:local-dir:{folder}", device="cpu")
    hub_put(offline, "someone/tiny-clip", files)
    by_hub = ke.load_encoder("open_clip:hf-hub:someone/tiny-clip", device="cpu")
    X = [_embed(e, images).X for e in (by_file, by_folder, by_dir, by_hub)]
    for other in X[1:]:
        np.testing.assert_allclose(other, X[0], atol=1e-6)
    assert by_hub.provenance["checkpoint"]["commit"] == Path(offline).joinpath(
        "models--someone--tiny-clip", "refs", "main").read_text()
    assert by_file.supports_text and ke.embed_texts(["a bird"], by_folder).shape == (1, TINY_CLIP_CFG["embed_dim"])
    assert str(folder) not in json.dumps(by_file.provenance) + json.dumps(by_folder.provenance)


def test_open_clip_tag_settings_with_local_weights(tiny_arch, tmp_path):
    """``MODEL/TAG@FILE``: QuickGELU and the preprocessing of the tag, the weights of the file."""
    import open_clip

    ckpt = write_folder(tmp_path, {"w.safetensors": tiny_clip_files()["open_clip_model.safetensors"]})
    model = "ViT-B-32"  # a built-in config with an OpenAI tag; the tiny weights do not fit it: a named kit error
    assert open_clip.get_pretrained_cfg(model, "openai")["quick_gelu"]
    with pytest.raises(CheckpointError, match=r"open_clip:ViT-B-32/openai@.*could not build the model from .*w\."
                                              r"safetensors"):
        ke.load_encoder(f"open_clip:{model}/openai@{ckpt / 'w.safetensors'}", device="cpu")
    with pytest.raises(CheckpointError, match="checkpoint file .*nope.safetensors not found"):
        ke.load_encoder(f"open_clip:{tiny_arch}@{tmp_path / 'nope.safetensors'}", device="cpu")
    with pytest.raises(CheckpointError, match="open_clip_config.json not found"):
        ke.load_encoder(f"open_clip:hf-hub:{tmp_path}", device="cpu")


def test_dinov2_folder_with_and_without_processor_config(images, tmp_path, offline):
    with_proc = write_folder(tmp_path / "with", tiny_dinov2_files(seed=0))
    without = write_folder(tmp_path / "without", tiny_dinov2_files(seed=0, processor=False))
    assert not (without / "preprocessor_config.json").exists()
    a = ke.load_encoder(f"dinov2:{with_proc}", device="cpu")
    b = ke.load_encoder(f"dinov2:{without}", device="cpu")
    assert "CenterCrop(size=(28, 28))" in a.provenance["preprocessing"]
    assert "CenterCrop(size=(224, 224))" in b.provenance["preprocessing"]  # DINOv2's own preprocessing
    assert a.dim == b.dim == 32
    assert _embed(a, images).X.shape == _embed(b, images).X.shape == (6, 32)
    hub_put(offline, "facebook/dinov2-small", tiny_dinov2_files(seed=0))
    c = ke.load_encoder("dinov2:facebook/dinov2-small", device="cpu")
    np.testing.assert_allclose(_embed(c, images).X, _embed(a, images).X, atol=1e-6)
    assert c.provenance["checkpoint"]["commit"] is not None
    with pytest.raises(CheckpointError, match="no such folder"):
        ke.load_encoder(f"dinov2:{tmp_path / 'nope'}", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="cannot load the folder .*empty"):
        ke.load_encoder(f"dinov2:{tmp_path / 'empty'}", device="cpu")


def test_the_cache_keys_local_weights_by_content_not_path(images, tmp_path):
    folder = write_folder(tmp_path / "model", tiny_dinov2_files(seed=0))
    cache = tmp_path / "cache"
    first = _embed(ke.load_encoder(f"dinov2:{folder}", device="cpu"), images, cache)
    # the same files elsewhere: the same entry (read back, not recomputed)
    moved = shutil.copytree(folder, tmp_path / "elsewhere")
    again = _embed(ke.load_encoder(f"dinov2:{moved}", device="cpu"), images, cache)
    assert again.provenance["cache"] == first.provenance["cache"]
    np.testing.assert_array_equal(again.X, first.X)
    # other weights in the same folder: another entry, other embeddings (before: the old ones came back)
    write_folder(folder, tiny_dinov2_files(seed=1))
    replaced = _embed(ke.load_encoder(f"dinov2:{folder}", device="cpu"), images, cache)
    assert replaced.provenance["cache"] != first.provenance["cache"]
    assert not np.allclose(replaced.X, first.X)
    # the same for open_clip local weights
    clip = write_folder(tmp_path / "clip", tiny_clip_files(seed=0))
    c0 = _embed(ke.load_encoder(f"open_clip:hf-hub:{clip}", device="cpu"), images, cache)
    write_folder(clip, tiny_clip_files(seed=1))
    c1 = _embed(ke.load_encoder(f"open_clip:hf-hub:{clip}", device="cpu"), images, cache)
    assert c0.provenance["cache"] != c1.provenance["cache"] and not np.allclose(c0.X, c1.X)


def test_random_weights_are_the_same_in_every_load(tiny_arch):
    a = ke.load_encoder(f"open_clip:{tiny_arch}/random", device="cpu")
    b = ke.load_encoder(f"open_clip:{tiny_arch}/random", device="cpu")
    for (ka, va), (kb, vb) in zip(a.module.state_dict().items(), b.module.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert a.provenance == b.provenance


@pytest.mark.parametrize("name, repo", [("open_clip:ViT-L-14/openai", "timm/vit_large_patch14_clip_224.openai"),
                                        ("dinov2:facebook/dinov2-small", "facebook/dinov2-small"),
                                        ("open_clip:hf-hub:someone/missing", "someone/missing")])
def test_a_model_neither_cached_nor_reachable_fails_fast_naming_it(name, repo, offline):
    start = time.monotonic()
    with pytest.raises(CheckpointError) as e:
        ke.load_encoder(name, device="cpu")
    assert time.monotonic() - start < 5
    msg = str(e.value)
    assert name in msg and repo in msg and "HF_HUB_OFFLINE is set" in msg
    assert f"hf download {repo}" in msg and str(offline) in msg and "\n" not in msg
    assert ("@/path/to/checkpoint" in msg) or ("/path/to/folder" in msg)


def test_an_unreachable_hub_fails_within_seconds_without_offline_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused at once
    monkeypatch.setattr(hub, "_PROBE", {})
    from kit.data import load_paired

    start = time.monotonic()
    with pytest.raises(DataError, match=r"syncub: jokl/syncub@v1.0 is not in the Hugging Face cache and the Hub "
                                        r"cannot be used \(no answer from http://127.0.0.1:9"):
        load_paired("syncub")
    with pytest.raises(CheckpointError, match="no answer from http://127.0.0.1:9"):
        ke.load_encoder("dinov2:facebook/dinov2-large", device="cpu")
    assert time.monotonic() - start < 15


def test_the_command_line_says_it_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "kit", "embed", "--benchmark", "syncub", "--encoder",
                        "open_clip:ViT-L-14/openai", "--cache-dir", str(tmp_path / "c")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("kit: error: syncub: jokl/syncub@v1.0 is not in the Hugging Face cache")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def test_a_cached_world_loads_offline(tmp_path, monkeypatch):
    """Everything the paper profile reads, from the Hub cache with HF_HUB_OFFLINE=1; the loader scripts cached
    beside the data never run."""
    world = build_world(tmp_path)
    monkeypatch.setenv("HF_HOME", str(world["hf_home"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KIT_REHEARSAL_SENTINEL", str(world["sentinel"]))
    from kit.data import load_paired
    from kit.pipeline import PipelineConfig, prepare

    for name, n in (("syncub", 24), ("syncoco", 16)):
        bench = load_paired(name)
        assert bench.n_pairs == n and Path(bench.root).parent.name == "snapshots"
        assert all(p.endswith((".jpg", ".png")) for p in bench.orig_images + bench.edit_images)
    assert (Path(load_paired("syncub").root) / "syncub.py").is_file()  # cached beside the data, never run
    for bench, concepts, encoder in (("syncub", world["cub"], "dinov2:facebook/dinov2-small"),
                                     ("syncoco", world["coco"], "open_clip:hf-hub:kit-rehearsal/tiny-clip")):
        data = prepare(PipelineConfig(benchmark=bench, encoder=encoder, concepts_dir=str(concepts), device="cpu"),
                       tmp_path / "cache")
        assert data.X.n == data.concepts.n_samples and data.X_orig.n == data.pairs.n_pairs
        assert set(data.concepts.split) == {"train", "val", "test"}
    assert not world["sentinel"].exists()


def test_an_image_editor_neither_cached_nor_reachable_fails_fast(offline):
    pytest.importorskip("diffusers")
    from kit.data.build import EDITORS, load_editor

    name = sorted(EDITORS)[0]
    start = time.monotonic()
    with pytest.raises(CheckpointError, match=f"editor {name}: {EDITORS[name][0]} is not in the Hugging Face cache "
                                              "and the Hub cannot be used .HF_HUB_OFFLINE is set"):
        load_editor(name, device="cpu")
    assert time.monotonic() - start < 10
