"""Building a benchmark with an image editor: edit choice, probe verification, the whole path with a tiny
randomly initialised diffusers InstructPix2Pix pipeline built from configs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from kit.data import load_paired
from kit.data.build import (
    BuildConfig,
    build,
    choose_removals,
    choose_swaps,
    fit_probe,
    instruction,
    load_editor,
    verify,
)
from kit.data.publish import publish
from kit.errors import ConfigError, DataError
from kit.types import ConceptTable

GROUPS = ["has_a"] * 3 + ["has_b"] * 2 + ["has_c"]


@settings(max_examples=40, deadline=None)
@given(arrays(bool, (30, 6)), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3))
def test_choose_swaps_properties(Y, top, targets, per):
    classes = np.arange(30) % 3
    plan = choose_swaps(Y, classes, GROUPS, top, targets, per, seed=0)
    g = np.array(GROUPS)
    for (c, old), sub in plan.groupby([classes[plan["row"]], "old"]):
        rows = np.flatnonzero(classes == c)
        freq = Y[rows].mean(0)
        eligible = [j for j in range(6) if GROUPS.count(GROUPS[j]) > 1 and freq[j] > 0]
        ranked = sorted(eligible, key=lambda j: (-freq[j], j))[:top]
        assert old in ranked
        assert sub["new"].nunique() <= targets
        assert (sub.groupby("new").size() <= per).all()
    r, o, n = plan["row"].to_numpy(), plan["old"].to_numpy(), plan["new"].to_numpy()
    assert (g[o] == g[n]).all() and (o != n).all()
    assert Y[r, o].all() and not Y[r, n].any()
    assert not plan.duplicated().any()


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, (12, 5), elements=st.integers(0, 3)), arrays(np.float64, (12, 5), elements=st.floats(0, 9)))
def test_choose_removals_matches_the_rule(counts, areas):
    plan = choose_removals(counts, areas, min_remaining=1)
    expected = {}
    for i in range(12):
        present = [c for c in range(5) if counts[i, c] > 0]
        if len(present) >= 2:
            expected[i] = min(present, key=lambda c: (counts[i, c], -areas[i, c], c))
    assert dict(zip(plan["row"], plan["old"])) == expected
    assert (plan["new"] == -1).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 3))
def test_verify_matches_a_literal_loop(seed, tol):
    rng = np.random.default_rng(seed)
    P, d, C = 15, 4, 5
    Xo, Xe = rng.normal(size=(P, d)), rng.normal(size=(P, d))
    W, b = rng.normal(size=(d, C)), rng.normal(size=C)
    old = rng.integers(0, C, P)
    new = np.where(rng.random(P) < 0.5, -1, (old + 1 + rng.integers(0, C - 1, P)) % C)
    keep, score, other = verify(Xo, Xe, old, new, W, b, tol)
    for i in range(P):
        so, se = Xo[i] @ W + b, Xe[i] @ W + b
        margins = [so[old[i]], -se[old[i]]] + ([-so[new[i]], se[new[i]]] if new[i] >= 0 else [])
        changed = {old[i], new[i]}
        flips = sum((so[c] > 0) != (se[c] > 0) for c in range(C) if c not in changed)
        assert score[i] == pytest.approx(min(margins))
        assert other[i] == flips and keep[i] == (min(margins) > 0 and flips <= tol)


def test_fit_probe_separates_linear_concepts():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    Y = np.stack([X[:, 0] > 0, X[:, 1] - X[:, 2] > 0.3], axis=1)
    W, b = fit_probe(X, Y, l2=1e-3)
    assert (((X @ W + b) > 0) == Y).mean() > 0.95


def test_instruction_names_the_change_and_what_stays():
    names = ["has_wing_color::blue", "has_wing_color::red", "has_size::small", "has_bill_shape::cone"]
    groups = ["has_wing_color", "has_wing_color", "has_size", "has_bill_shape"]
    text = instruction(names, groups, np.array([1, 0, 1, 1], bool), 0, 1)
    assert "wing color from blue to red" in text and "size" in text and "bill shape" in text
    text = instruction(["person", "dog", "car"], None, np.array([1, 1, 0], bool), 1, -1)
    assert "Remove every dog" in text and "person" in text and "car" not in text


# ----------------------------------------------------------------------- the whole path, tiny pipeline


def _tiny_pix2pix(folder):
    """A randomly initialised InstructPix2Pix pipeline built from configs, saved as safetensors."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    chars = [chr(c) for c in bs] + [chr(256 + n) for n in range(256 - len(bs))]
    vocab = {c: i for i, c in enumerate(chars)} | {c + "</w>": 256 + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": 512, "<|endoftext|>": 513}
    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=32)
    torch.manual_seed(0)
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=514,
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=1,
            max_position_embeddings=32,
            bos_token_id=512,
            eos_token_id=513,
            pad_token_id=513,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=8,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        norm_num_groups=4,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=32,
    )
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tok,
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.save_pretrained(folder / "pipe", safe_serialization=True)
    return folder / "pipe"


def _embed(images):
    """Two features a probe can read: is the image flat (no texture), and its red-minus-blue balance."""
    a = np.stack([np.asarray(im.convert("RGB"), dtype=np.float64) for im in images])
    texture = np.minimum(a.std(axis=(1, 2)).mean(1), 1.0)
    return np.stack([texture, (a[..., 0] - a[..., 2]).mean((1, 2)) / 255], axis=1)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Flat and noisy, red and blue images: has_texture::flat/noisy and has_color::red/blue."""
    root = tmp_path_factory.mktemp("base")
    rng = np.random.default_rng(0)
    paths, Y = [], []
    for i in range(16):
        red, noisy = i % 2 == 0, i % 4 >= 2
        rgb = np.zeros((32, 32, 3)) + ((200, 30, 30) if red else (30, 30, 200))
        if noisy:
            rgb = np.clip(rgb + rng.normal(0, 40, rgb.shape), 0, 255)
        Image.fromarray(rgb.astype(np.uint8)).save(root / f"{i}.png")
        paths.append(str(root / f"{i}.png"))
        Y.append([not noisy, noisy, red, not red])
    names = ["has_texture::flat", "has_texture::noisy", "has_color::red", "has_color::blue"]
    return ConceptTable(names=names, Y=np.array(Y), groups=[n.split("::")[0] for n in names], images=paths)


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    path = _tiny_pix2pix(tmp_path_factory.mktemp("editor") / "tiny")
    pipe = load_editor("instruct-pix2pix", device="cpu", model_id=path)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_build_swaps_with_a_tiny_diffusers_pipeline(base, editor, tmp_path):
    cfg = BuildConfig(
        editor="instruct-pix2pix",
        size=32,
        call={"num_inference_steps": 2},
        max_other_flips=1,
        top_attributes=3,
        max_targets=1,
        images_per_edit=2,
        chunk=3,
    )
    classes = np.arange(16) % 2
    class_names = np.where(classes == 0, "red", "blue")
    out = build(
        base,
        tmp_path / "built",
        embed=_embed,
        kind="swap",
        classes=classes,
        class_names=class_names,
        editor=editor,
        config=cfg,
    )
    bench = load_paired(out, verify_images=True)
    meta = pd.read_csv(out / "metadata.csv")
    # a random editor produces textured images: flat → noisy edits pass, noisy → flat edits cannot
    assert len(meta) >= 1
    assert set(meta["old_attr"]) <= {"has_texture::flat", "has_color::red", "has_color::blue"}
    assert "has_texture::noisy" not in set(meta["old_attr"])
    assert (meta["verification_score"] > 0).all() and (meta["other_flips"] <= 1).all()
    assert meta["instruction"].str.startswith("Change the bird's").all()
    assert (meta["class_name"] == np.where(meta["class_id"] == 0, "red", "blue")).all()
    Xo = _embed([Image.open(p) for p in bench.orig_images])
    Xe = _embed([Image.open(p) for p in bench.edit_images])
    fit = np.flatnonzero(np.ones(16, bool))
    W, b = fit_probe(_embed([Image.open(p) for p in base.images])[fit], base.Y[fit], cfg.probe_l2)
    keep, score, _ = verify(Xo, Xe, bench.old, bench.new, W, b, 1)
    assert keep.all() and np.allclose(score, meta["verification_score"], atol=1e-5)
    config = json.loads((out / "build_config.json").read_text())
    assert config["editor_model"] == "timbrooks/instruct-pix2pix" and config["n_kept"] == len(meta)
    assert config["n_planned"] > len(meta)  # the noisy → flat edits were planned and dropped
    again = build(
        base,
        tmp_path / "again",
        embed=_embed,
        kind="swap",
        classes=classes,
        class_names=class_names,
        editor=editor,
        config=cfg,
    )
    assert (again / "metadata.csv").read_bytes() == (out / "metadata.csv").read_bytes()

    import datasets

    publish(out, "someone/syncub-tiny", revision="v0.1", dry_run_dir=tmp_path / "dry")
    card = (tmp_path / "dry" / "README.md").read_text()
    assert "timbrooks/instruct-pix2pix" in card and f"{len(meta)} of {config['n_planned']} edited pairs" in card
    ds = datasets.load_dataset(str(tmp_path / "dry"), split="test", cache_dir=str(tmp_path / "hf"))
    assert ds["verification_score"] == pytest.approx(meta["verification_score"].tolist())
    assert load_paired(tmp_path / "dry").n_pairs == len(meta)


def test_build_removals_that_all_fail_leave_no_folder(base, editor, tmp_path):
    counts = base.Y.astype(int) * np.array([1, 1, 2, 2])
    cfg = BuildConfig(editor="instruct-pix2pix", size=32, call={"num_inference_steps": 1}, max_other_flips=0)
    noisy = base.select(base.Y[:, 1])
    with pytest.raises(DataError, match="passed verification"):
        build(
            noisy,
            tmp_path / "never",
            embed=_embed,
            kind="removal",
            counts=counts[base.Y[:, 1]],
            areas=np.ones((noisy.n_samples, 4)),
            editor=editor,
            config=cfg,
            X_base=_embed([Image.open(p) for p in noisy.images]),
        )
    assert not (tmp_path / "never").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["never.partial"]  # the edits are kept for another try


class _CountingEditor:
    """Calls the pipeline and counts the calls; raises KeyboardInterrupt on call ``fail_at`` (1-based)."""

    def __init__(self, pipe, fail_at=None):
        self.pipe, self.fail_at, self.calls = pipe, fail_at, 0
        self.device = pipe.device

    def __call__(self, **kwargs):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return self.pipe(**kwargs)


def test_an_interrupted_build_resumes_to_the_same_benchmark(base, editor, tmp_path):
    cfg = BuildConfig(editor="instruct-pix2pix", size=32, call={"num_inference_steps": 1}, top_attributes=3,
                      max_targets=1, images_per_edit=2, chunk=2)
    args = dict(embed=_embed, kind="swap", classes=np.arange(16) % 2, config=cfg)
    whole = _CountingEditor(editor)
    build(base, tmp_path / "whole", editor=whole, **args)
    assert not (tmp_path / "whole.partial").exists()
    interrupted = _CountingEditor(editor, fail_at=4)  # in the second chunk
    with pytest.raises(KeyboardInterrupt):
        build(base, tmp_path / "built", editor=interrupted, **args)
    assert not (tmp_path / "built").exists()
    assert [p.name for p in (tmp_path / "built.partial").glob("chunk-*")] == ["chunk-000000"]
    with pytest.raises(ConfigError, match="other edits"):  # another seed is another set of edits
        build(base, tmp_path / "built", editor=editor, **{**args, "config": dataclasses.replace(cfg, seed=1)})
    resumed = _CountingEditor(editor)
    out = build(base, tmp_path / "built", editor=resumed, **args)
    assert resumed.calls == whole.calls - 2  # the first chunk was not edited again
    assert not (tmp_path / "built.partial").exists()
    assert (out / "metadata.csv").read_bytes() == (tmp_path / "whole" / "metadata.csv").read_bytes()
    for f in sorted((tmp_path / "whole" / "images").rglob("*.png")):
        assert (out / f.relative_to(tmp_path / "whole")).read_bytes() == f.read_bytes()


def test_build_bad_arguments(base, tmp_path):
    with pytest.raises(ConfigError, match="classes"):
        build(base, tmp_path / "x", embed=_embed, kind="swap")
    with pytest.raises(ConfigError, match="kind"):
        build(base, tmp_path / "x", embed=_embed, kind="inpaint")
    with pytest.raises(ConfigError, match="unknown editor"):
        load_editor("dall-e")
    with pytest.raises(ConfigError, match="max_other_flips"):
        BuildConfig(max_other_flips=-1)
