"""Batched extraction, the sharded resumable cache, simulated multi-process shards, benchmarks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import kit.embed as ke
from kit.embed import extract
from kit.embed.cache import open_entry
from kit.embed.toy_model import ToyCLIP, ToyConfig
from kit.errors import CheckpointError, ConfigError, DataError

N = 10


def small_encoder(seed: int = 0):
    cfg = ToyConfig(image_size=32, channels=(8, 16), embed_dim=12, text_width=16, text_heads=2,
                    vocab=("red", "blue", "bird"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ToyCLIP(cfg)
    return ke.load_encoder("toy", device="cpu", model=model.eval())


@pytest.fixture(scope="module")
def enc():
    return small_encoder()


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(N):
        p = folder / f"{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def direct(enc, paths) -> np.ndarray:
    """The slow literal result: every image preprocessed and encoded on its own."""
    return np.concatenate([enc.encode_images(enc.preprocess(Image.open(p).convert("RGB"))[None]).numpy()
                           for p in paths])


class Counting:
    """An encoder that counts its batches and stops the run (like Ctrl-C) after ``stop_after`` of them."""

    def __init__(self, enc, stop_after: int | None = None):
        self.enc, self.calls, self.stop_after = enc, 0, stop_after

    def __getattr__(self, name):
        return getattr(self.enc, name)

    def encode_images(self, x):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        return self.enc.encode_images(x)


@settings(max_examples=8, deadline=None)
@given(st.integers(1, N + 2))
def test_any_batch_size_gives_the_ordered_literal_result(enc, image_files, batch_size):
    emb = ke.embed_images(image_files, enc, batch_size=batch_size, device="cpu", num_workers=0, progress=False)
    assert emb.X.shape == (N, enc.dim) and emb.X.dtype == np.float32
    assert np.allclose(emb.X, direct(enc, image_files), atol=1e-5)
    assert emb.provenance["encoder"] == "toy" and len(emb.provenance["image_list_hash"]) == 64


def test_pil_images_paths_and_worker_processes_agree(enc, image_files):
    ref = ke.embed_images(image_files, enc, batch_size=4, device="cpu", num_workers=0, progress=False)
    pil = ke.embed_images([Image.open(p) for p in image_files], enc, batch_size=4, device="cpu", num_workers=0,
                          progress=False)
    workers = ke.embed_images(image_files, enc, batch_size=4, device="cpu", num_workers=2, progress=False,
                              ids=[f"im{i}" for i in range(N)])
    assert np.allclose(ref.X, pil.X, atol=1e-6)
    assert np.array_equal(ref.X, workers.X)
    assert list(workers.ids) == [f"im{i}" for i in range(N)]


def test_bad_files_and_bad_arguments_raise_clear_errors(enc, image_files, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(image_files[0].read_bytes()[:60])
    for workers in (0, 1):
        with pytest.raises(DataError, match=r"^image file '.*broken.png' is unreadable or truncated"):
            ke.embed_images([*image_files[:3], bad], enc, device="cpu", num_workers=workers, progress=False)
    with pytest.raises(DataError, match="empty"):
        ke.embed_images([], enc, device="cpu")
    with pytest.raises(DataError, match="image 1"):
        ke.embed_images([image_files[0], 3], enc, device="cpu")
    with pytest.raises(ConfigError, match="batch_size"):
        ke.embed_images(image_files, enc, batch_size=0, device="cpu")


def test_cache_is_reused_without_recomputing(enc, image_files, tmp_path):
    first = ke.embed_images(image_files, enc, batch_size=3, device="cpu", cache_dir=tmp_path, shard_size=4,
                            num_workers=0, progress=False)
    again = Counting(enc)
    second = ke.embed_images(image_files, again, batch_size=3, device="cpu", cache_dir=tmp_path, shard_size=4,
                             num_workers=0, progress=False)
    assert again.calls == 0
    assert np.array_equal(first.X, second.X)
    assert np.allclose(first.X, direct(enc, image_files), atol=1e-5)
    folder = tmp_path / first.provenance["cache"].split("/")[-1]
    stored = json.loads((folder / "provenance.json").read_text())
    assert stored["image_list_hash"] == first.provenance["image_list_hash"] and stored["n_images"] == N


def test_an_interrupted_run_resumes_at_the_missing_shards(enc, image_files, tmp_path):
    kw = dict(batch_size=3, device="cpu", cache_dir=tmp_path, shard_size=4, num_workers=0, progress=False)
    # shards: rows 0-3 (batches of 3+1), 4-7 (3+1), 8-9 (2): stop during the second shard
    with pytest.raises(KeyboardInterrupt):
        ke.embed_images(image_files, Counting(enc, stop_after=3), **kw)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert sorted(p.name for p in (folder / "shards").iterdir()) == ["00000"]  # no half-written shard
    resumed = Counting(enc)
    out = ke.embed_images(image_files, resumed, **kw)
    assert resumed.calls == 3  # shard 1 (3+1 rows) and shard 2 (2 rows), nothing of shard 0
    fresh = ke.embed_images(image_files, enc, batch_size=5, device="cpu", num_workers=0, progress=False)
    assert np.allclose(out.X, fresh.X, atol=1e-6)


def test_two_simulated_processes_merge_to_the_single_process_result(enc, image_files, tmp_path):
    single = ke.embed_images(image_files, enc, batch_size=3, device="cpu", num_workers=0, progress=False)
    prov = {**enc.provenance, "image_list_hash": "h", "compute": "cpu/float32", "kit_version": "test"}
    entry = open_entry(tmp_path, prov, N, enc.dim, shard_size=3)
    done0 = extract.run_shards(list(image_files), enc, entry, batch_size=2, num_workers=0, rank=0, world_size=2,
                               progress=False)
    with pytest.raises(CheckpointError, match=r"shards \[1, 3\] are missing"):
        entry.load()
    done1 = extract.run_shards(list(image_files), enc, entry, batch_size=2, num_workers=0, rank=1, world_size=2,
                               progress=False)
    assert (done0, done1) == ([0, 2], [1, 3])
    assert np.allclose(entry.load(), single.X, atol=1e-6)


def test_a_cache_written_for_something_else_is_refused_or_kept_apart(enc, image_files, tmp_path, monkeypatch):
    kw = dict(batch_size=4, device="cpu", cache_dir=tmp_path, shard_size=4, num_workers=0, progress=False)
    out = ke.embed_images(image_files, enc, **kw)
    folder = tmp_path / out.provenance["cache"].split("/")[-1]
    # another encoder or another kit version → another folder, never the old rows
    other = ke.embed_images(image_files, small_encoder(seed=1), **kw)
    assert other.provenance["cache"] != out.provenance["cache"] and not np.allclose(other.X, out.X)
    monkeypatch.setattr(extract, "__version__", "9.9.9")
    newer = ke.embed_images(image_files, enc, **kw)
    assert newer.provenance["cache"] != out.provenance["cache"]
    monkeypatch.undo()
    # a provenance record that does not match what its folder is keyed by
    record = folder / "provenance.json"
    stored = json.loads(record.read_text())
    record.write_text(json.dumps({**stored, "kit_version": "0.0.1"}))
    with pytest.raises(CheckpointError, match="kit_version"):
        ke.embed_images(image_files, enc, **kw)
    record.write_text(json.dumps(stored))
    # a shard holding the wrong rows
    shutil.rmtree(folder / "shards" / "00001")
    shutil.copytree(folder / "shards" / "00000", folder / "shards" / "00001")
    with pytest.raises(CheckpointError, match="00001"):
        ke.embed_images(image_files, enc, **kw)


def test_embed_texts_and_benchmark(enc, tmp_path):
    from kit.data import load_paired, render_toy_syncub

    t = ke.embed_texts(["red bird", "blue bird"], enc, device="cpu")
    assert t.shape == (2, enc.dim) and not np.allclose(t[0], t[1])
    with pytest.raises(DataError, match="empty"):
        ke.embed_texts([], enc)
    bench = load_paired(render_toy_syncub(tmp_path / "bench", n_pairs=4, n_images=2, seed=3, workers=1))
    orig, edit = ke.embed_benchmark(bench, enc, device="cpu", batch_size=3, num_workers=0, progress=False)
    assert orig.X.shape == edit.X.shape == (4, enc.dim)
    assert list(orig.ids) == list(bench.pair_ids) == list(edit.ids)
    assert np.allclose(orig.X, direct(enc, bench.orig_images), atol=1e-5)
    assert np.allclose(edit.X, direct(enc, bench.edit_images), atol=1e-5)
    assert not np.allclose(orig.X, edit.X)


def test_command_line_fills_the_cache(enc, image_files, tmp_path, capsys):
    from kit.embed import cli

    weights = tmp_path / "w.safetensors"
    enc.module.save(weights)
    listing = tmp_path / "images.txt"
    listing.write_text("\n".join(str(p) for p in image_files) + "\n")
    assert cli.main(["--images", str(listing), "--encoder", f"toy:{weights}", "--cache-dir", str(tmp_path / "c"),
                     "--num-workers", "0", "--device", "cpu", "--shard-size", "4"]) == 0
    folder, shape = capsys.readouterr().out.split()[:2]
    assert shape == str(N) and (tmp_path / "c" / folder.split("/")[-1] / "shards" / "00002").is_dir()
    with pytest.raises(DataError, match="nothing.txt"):
        cli.main(["--images", str(tmp_path / "nothing.txt"), "--cache-dir", str(tmp_path / "c")])
