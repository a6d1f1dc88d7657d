"""The encoder registry and the real open_clip / transformers code paths on small random-weight models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import kit.embed as ke
from kit.embed.clip import open_clip_spec
from kit.errors import ConfigError

TINY_CLIP = {"embed_dim": 24, "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
             "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A tiny open_clip config registered with open_clip, built by the real loader with random weights."""
    import open_clip

    path = tmp_path_factory.mktemp("clipcfg") / "kit-test-tiny-clip.json"
    path.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(path)
    return ke.load_encoder("open_clip:kit-test-tiny-clip/random", device="cpu")


def tiny_dinov2(seed: int = 0):
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    cfg = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=28, patch_size=14)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Dinov2Model(cfg)
    proc = BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 28, "width": 28},
                             image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    return model, proc


def _images(n: int, size: int = 40) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (size, size + 7, 3), dtype=np.uint8)) for _ in range(n)]


def test_unknown_names_raise_config_error():
    with pytest.raises(ConfigError, match="unknown encoder 'clip:ViT'"):
        ke.load_encoder("clip:ViT")
    with pytest.raises(ConfigError, match="PRETRAINED"):
        ke.load_encoder("open_clip:ViT-L-14")
    with pytest.raises(ConfigError, match="no model config"):
        open_clip_spec("ViT-Nope/openai")
    with pytest.raises(ConfigError, match="no pretrained weights 'nope'"):
        open_clip_spec("ViT-L-14/nope")
    assert {"toy", "open_clip", "dinov2"} <= set(ke.known_prefixes())


def test_openai_weights_get_quick_gelu_and_others_do_not():
    assert open_clip_spec("ViT-L-14/openai") == {"model_name": "ViT-L-14", "pretrained": "openai",
                                                 "force_quick_gelu": True}
    assert open_clip_spec("ViT-L-14/laion2b_s32b_b82k")["force_quick_gelu"] is False
    assert open_clip_spec("ViT-L-14/random")["pretrained"] is None


def test_open_clip_encoder_matches_the_model_and_embeds_text(tiny_clip):
    enc = tiny_clip
    assert isinstance(enc, ke.Encoder) and enc.dim == 24 and enc.supports_text
    x = torch.stack([enc.preprocess(im) for im in _images(3)])
    assert x.shape == (3, 3, 32, 32)
    out = enc.encode_images(x)
    assert out.dtype == torch.float32 and out.shape == (3, 24)
    with torch.no_grad():
        assert torch.allclose(out, enc.module.encode_image(x), atol=1e-6)
    t = ke.embed_texts(["a red bird", "a blue bird", "a red bird"], enc, device="cpu")
    assert t.shape == (3, 24) and t.dtype == np.float32
    assert np.allclose(t[0], t[2]) and not np.allclose(t[0], t[1])
    assert enc.provenance["checkpoint"]["pretrained"] is None
    assert "Normalize" in enc.provenance["preprocessing"]


def test_dinov2_encoder_is_the_cls_token_after_the_final_layernorm():
    model, proc = tiny_dinov2()
    enc = ke.load_encoder("dinov2:facebook/dinov2-small", device="cpu", model=model, processor=proc)
    assert enc.dim == 32 and not enc.supports_text
    x = torch.stack([enc.preprocess(im) for im in _images(2)])
    assert x.shape == (2, 3, 28, 28)
    with torch.no_grad():
        h = model.encoder(model.embeddings(x)).last_hidden_state
        expected = model.layernorm(h)[:, 0]
    assert torch.allclose(enc.encode_images(x), expected, atol=1e-5)
    with pytest.raises(ConfigError, match="no text tower"):
        ke.embed_texts(["a bird"], enc, device="cpu")


def test_dinov2_preprocessing_follows_the_processor():
    model, proc = tiny_dinov2()
    enc = ke.load_encoder("dinov2:facebook/dinov2-small", device="cpu", model=model, processor=proc)
    im = _images(1, size=50)[0]
    ours = enc.preprocess(im).numpy()
    theirs = proc(images=im, return_tensors="np")["pixel_values"][0]
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 0.02  # same steps; resampling kernels differ slightly


def test_injected_weights_are_fingerprinted_and_wrong_models_refused():
    (m0, proc), (m1, _) = tiny_dinov2(0), tiny_dinov2(1)
    e0 = ke.load_encoder("dinov2:facebook/dinov2-small", device="cpu", model=m0, processor=proc)
    e1 = ke.load_encoder("dinov2:facebook/dinov2-small", device="cpu", model=m1, processor=proc)
    assert e0.provenance != e1.provenance
    with pytest.raises(ConfigError, match="Dinov2Model"):
        ke.load_encoder("dinov2:facebook/dinov2-small", device="cpu", model=torch.nn.Linear(2, 2), processor=proc)

