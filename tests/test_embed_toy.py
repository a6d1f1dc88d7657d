"""The kit's offline encoder: captions, tokenizer, reproducible training, and the shipped weights' quality."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import kit.embed as ke
from kit.embed import train_toy as tt
from kit.embed.toy import ASSET
from kit.embed.toy_model import CLS, PAD, UNK, ToyCLIP, ToyConfig, load_toy_model
from kit.errors import CheckpointError, ConfigError
from kit.types import ConceptTable

COLORS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (40, 60, 220)}
SHAPES = ("square", "circle")
NAMES = [f"has_color::{c}" for c in COLORS] + [f"has_shape::{s}" for s in SHAPES]
TINY = ToyConfig(image_size=32, channels=(8, 16), embed_dim=16, text_width=16, text_heads=2, context_length=16)


def shapes_table(n: int, seed: int) -> ConceptTable:
    """n trivially rendered 32×32 images: one coloured square or circle at a random place."""
    rng = np.random.default_rng(seed)
    imgs, Y = [], np.zeros((n, len(NAMES)), dtype=bool)
    for i in range(n):
        c, s = rng.integers(len(COLORS)), rng.integers(len(SHAPES))
        im = Image.new("RGB", (32, 32), (235, 235, 235))
        x, y = rng.integers(2, 14, size=2)
        box = (int(x), int(y), int(x) + 16, int(y) + 16)
        color = list(COLORS.values())[c]
        (ImageDraw.Draw(im).rectangle if s == 0 else ImageDraw.Draw(im).ellipse)(box, fill=color)
        imgs.append(im)
        Y[i, c] = Y[i, len(COLORS) + s] = True
    return ConceptTable(names=NAMES, Y=Y, groups=[n.split("::")[0] for n in NAMES]), imgs


def test_captions_come_from_the_attribute_names():
    assert tt.phrase("has_wing_color::blue") == "wing color blue"
    assert tt.phrase("has_size::small_(5_-_9_in)") == "size small 5 9 in"
    assert tt.phrase("traffic light") == "traffic light"
    table, _ = shapes_table(3, seed=0)
    caps = tt.captions(table)
    assert all(c.startswith("a bird with color ") and " shape " in c for c in caps)
    shuffled = tt.captions(table, rng=np.random.default_rng(0))
    prefix = len("a bird with ")
    assert [sorted(c[prefix:].split(", ")) for c in shuffled] == [sorted(c[prefix:].split(", ")) for c in caps]


def test_captions_describe_the_scene_as_web_captions_do():
    assert tt.caption(["has_wing_color::blue"], "a bird with", ["in a park", "warm light"]) == \
        "a bird with wing color blue, in a park, warm light"
    assert tt.split_scene("in a park; warm light") == ["in a park", "warm light"]
    assert tt.split_scene("") == [] and tt.split_scene(float("nan")) == []
    table, _ = shapes_table(40, seed=0)
    scenes = [["on grass", "close up", "warm light"]] * 40
    full = tt.captions(table, scenes=scenes)
    assert all(c.endswith(", on grass, close up, warm light") for c in full)
    none = tt.captions(table, rng=np.random.default_rng(0), scenes=scenes, scene_captions=0.0)
    assert not any("grass" in c for c in none)
    every = tt.captions(table, rng=np.random.default_rng(0), scenes=scenes, scene_captions=1.0, scene_keep=1.0)
    assert [tt.caption_key(c, "a bird with") for c in every] == [tt.caption_key(c, "a bird with") for c in full]
    some = tt.captions(table, rng=np.random.default_rng(0), scenes=scenes, scene_captions=1.0, scene_keep=0.5)
    kept = [len(tt.caption_key(c, "a bird with") & {"on grass", "close up", "warm light"}) for c in some]
    assert 0 < np.mean(kept) < 3  # each phrase kept or dropped per caption
    with pytest.raises(Exception, match="scene descriptions"):
        tt.captions(table, scenes=scenes[:3])


def test_tokenizer_marks_unknown_words_and_truncates():
    model = ToyCLIP(replace(TINY, vocab=("blue", "bird")))
    tok = model.tokenize(["a blue bird", "Blue!", " ".join(["bird"] * 40)])
    assert tok.shape == (3, TINY.context_length)
    assert tok[0, :4].tolist() == [CLS, UNK, 3, 4] and (tok[0, 4:] == PAD).all()
    assert tok[1, :2].tolist() == [CLS, 3]
    assert (tok[2] != PAD).all()
    with pytest.raises(ConfigError, match="divisible"):
        ToyConfig(image_size=30, channels=(8, 16))


@pytest.fixture(scope="module")
def shapes():
    table, imgs = shapes_table(180, seed=1)
    return table, tt.load_pixels(imgs, TINY.image_size)


def test_training_is_reproducible_and_seed_dependent(shapes):
    table, px = shapes
    scenes = [["indoors"] if i % 2 else ["outdoors", "warm light"] for i in range(table.n_samples)]
    cfg = tt.ToyTrainConfig(epochs=1, batch_size=32, model=TINY, warmup_steps=2)
    a = tt.train(table, cfg, pixels=px, log=None, scenes=scenes).state_dict()
    b = tt.train(table, cfg, pixels=px, log=None, scenes=scenes).state_dict()
    c = tt.train(table, replace(cfg, seed=1), pixels=px, log=None, scenes=scenes).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    with pytest.raises(ConfigError, match="scene_keep"):
        tt.ToyTrainConfig(scene_keep=1.5)


def test_training_learns_attributes_of_trivial_images(shapes):
    table, px = shapes
    fit, held = table.select(np.arange(120)), table.select(np.arange(120, 180))
    cfg = tt.ToyTrainConfig(epochs=20, batch_size=24, lr=3e-3, model=TINY, warmup_steps=5)
    untrained = tt.train(fit, replace(cfg, epochs=1, lr=1e-9), pixels=px[:120], log=None)
    model = tt.train(fit, cfg, pixels=px[:120], log=None)
    before = tt.evaluate(untrained, px[:120], fit, px[120:], held)
    after = tt.evaluate(model, px[:120], fit, px[120:], held)
    assert after["n_distinct_captions"] == 6
    assert after["caption_top1"] >= 0.6 > before["caption_top1"] + 0.2  # chance is 1/6
    assert after["probe_auroc_mean"] >= 0.85


def test_save_and_load_round_trip_and_bad_files(tmp_path, shapes):
    model = ToyCLIP(replace(TINY, vocab=("red", "bird"))).eval()
    path = tmp_path / "w.safetensors"
    model.save(path)
    model.save(tmp_path / "w2.safetensors")
    assert path.read_bytes() == (tmp_path / "w2.safetensors").read_bytes()  # same weights, same file
    again = load_toy_model(path)
    x = shapes[1][:4]
    with torch.no_grad():
        assert torch.equal(model.encode_image(x), again.encode_image(x))
    assert again.config == model.config
    (tmp_path / "bad.safetensors").write_bytes(b"nonsense")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_toy_model(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="not found"):
        ke.load_encoder(f"toy:{tmp_path / 'none.safetensors'}")
    enc = ke.load_encoder(f"toy:{path}", device="cpu")
    assert enc.name == f"toy:{path}" and enc.dim == TINY.embed_dim


# ---- the shipped weights -------------------------------------------------------------------------------
# Guards below what the shipped encoder measures on these held-out renders (600 images, render seed 12345;
# probes fitted on 500, captions ranked among those of the other 100): birds AUROC 0.80, caption top-1 0.87
# (0.33 with the captions of the attributes alone, among 89); scenes 0.77, 0.90 (0.56 among 91). The birds
# and scenes vary in setting, pose, framing, occluders and light, so the attributes carry a small part of
# what an image shows, and the encoder reads them less perfectly than in a world of plain backgrounds.
AUROC_BIRDS, TOP1_BIRDS, CONCEPT_TOP1_BIRDS = 0.75, 0.7, 0.2
AUROC_SCENES, TOP1_SCENES, CONCEPT_TOP1_SCENES = 0.7, 0.7, 0.4


def _heldout(render, tmp_path_factory) -> tuple["ConceptTable", list]:
    """A held-out render's annotated images and, per image, its scene phrases."""
    from kit.data import load_toy_images

    folder = render(tmp_path_factory.mktemp("toy") / "b", n_pairs=1, n_images=600, seed=12345, workers=1)
    return load_toy_images(folder), tt.read_scenes(folder)


@pytest.fixture(scope="module")
def birds(tmp_path_factory):
    """Birds the shipped encoder never saw (another render seed than its training data)."""
    from kit.data import render_toy_syncub

    return _heldout(render_toy_syncub, tmp_path_factory)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    from kit.data import render_toy_syncoco

    return _heldout(render_toy_syncoco, tmp_path_factory)


def test_shipped_weights_have_a_matching_provenance_record():
    record = json.loads(ASSET.with_suffix(".json").read_text())
    assert ASSET.stat().st_size <= 20 * 2**20
    assert record["weights_sha256"] == hashlib.sha256(ASSET.read_bytes()).hexdigest()
    assert record["command"].startswith("python -m kit.embed.train_toy")
    enc = ke.load_encoder("toy", device="cpu")
    assert enc.dim == record["train_config"]["model"]["embed_dim"] and enc.supports_text


def _probe_and_captions(heldout, subject):
    """Held-out probe AUROC (mean over concepts) and caption top-1 among the distinct captions of 100 images,
    with the scene phrases (as trained) and of the concepts alone; and the number of distinct captions."""
    table, scene = heldout
    enc = ke.load_encoder("toy", device="cpu")
    X = ke.embed_images(table.images, enc, device="cpu", num_workers=0, progress=False).X
    auroc = float(np.nanmean(tt.probe_auroc(X[:500], table.Y[:500], X[500:], table.Y[500:])))
    test = table.select(np.arange(500, 600))
    out = [auroc]
    for scenes in (scene[500:], None):
        texts = tt.captions(test, subject, scenes=scenes)
        unique = sorted(set(texts))
        out += [tt.caption_top1(X[500:], texts, ke.embed_texts(unique, enc, device="cpu"), unique), len(unique)]
    return tuple(out)


def test_shipped_encoder_detects_bird_attributes_and_ranks_their_captions(birds):
    auroc, top1, n_captions, concept_top1, n_concept = _probe_and_captions(birds, "a bird with")
    assert auroc >= AUROC_BIRDS  # linear probe, mean over the 62 attributes, held-out images
    assert top1 > TOP1_BIRDS and n_captions > 90  # own caption (concepts and scene) first among 100 images
    assert concept_top1 > CONCEPT_TOP1_BIRDS and n_concept > 50  # and with the captions of the concepts alone


def test_shipped_encoder_also_knows_the_toy_scenes(scenes):
    auroc, top1, n_captions, concept_top1, n_concept = _probe_and_captions(scenes, "a scene with")
    assert auroc >= AUROC_SCENES and top1 > TOP1_SCENES and n_captions > 90
    assert concept_top1 > CONCEPT_TOP1_SCENES and n_concept > 50
