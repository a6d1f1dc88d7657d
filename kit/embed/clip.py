"""open_clip encoders: ``open_clip:MODEL/PRETRAINED`` (e.g. ``open_clip:ViT-L-14/openai``, the paper's backbone).

The embedding is the projected image embedding (``model.encode_image``, 768-d for ViT-L/14), not
L2-normalised. OpenAI weights were trained with QuickGELU, so whenever open_clip's pretrained record
says ``quick_gelu`` the model is built with ``force_quick_gelu=True`` (a GELU model with those weights is
silently wrong). ``PRETRAINED = random`` builds the architecture with random weights (tests, timing).
"""

from __future__ import annotations

import torch

from kit.embed.registry import TorchEncoder, register_encoder
from kit.errors import ConfigError

RANDOM = "random"


def open_clip_spec(spec: str) -> dict:
    """``"MODEL/PRETRAINED"`` → keyword arguments of ``open_clip.create_model_and_transforms``."""
    import open_clip

    model, sep, tag = spec.partition("/")
    if not sep or not model or not tag:
        raise ConfigError(f"open_clip encoder needs 'open_clip:MODEL/PRETRAINED' (e.g. 'open_clip:ViT-L-14/openai', "
                          f"or '/{RANDOM}' for random weights), got 'open_clip:{spec}'")
    if model not in open_clip.list_models():
        raise ConfigError(f"open_clip has no model config {model!r} (see open_clip.list_models())")
    if tag == RANDOM:
        return {"model_name": model, "pretrained": None, "force_quick_gelu": False}
    cfg = open_clip.get_pretrained_cfg(model, tag)
    if not cfg:
        raise ConfigError(f"open_clip has no pretrained weights {tag!r} for {model!r}; "
                          f"known tags: {open_clip.list_pretrained_tags_by_model(model)}")
    return {"model_name": model, "pretrained": tag, "force_quick_gelu": bool(cfg.get("quick_gelu", False))}


class OpenClipEncoder(TorchEncoder):
    """An open_clip CLIP model: images → projected embeddings; texts → projected text embeddings."""

    supports_text = True

    def __init__(self, name: str, model: torch.nn.Module, dim: int, preprocess, tokenizer, checkpoint: dict,
                 device: str = "auto"):
        super().__init__(name, model, dim, preprocess, checkpoint, device)
        self.tokenizer = tokenizer

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.encode_image(x)

    def _texts(self, texts: list[str]) -> torch.Tensor:
        return self.module.encode_text(self.tokenizer(texts).to(self.device))


def load_open_clip(spec: str, device: str = "auto", cache_dir: str | None = None) -> OpenClipEncoder:
    """Build (and, unless ``/random``, download into ``cache_dir``) an open_clip model by name."""
    import open_clip

    kw = open_clip_spec(spec)
    model, _, preprocess = open_clip.create_model_and_transforms(**kw, cache_dir=cache_dir, weights_only=True)
    tokenizer = open_clip.get_tokenizer(kw["model_name"])
    checkpoint = {"library": "open_clip", "open_clip_version": open_clip.__version__, **kw}
    dim = open_clip.get_model_config(kw["model_name"])["embed_dim"]  # the shared image/text projection width
    return OpenClipEncoder(f"open_clip:{spec}", model, dim, preprocess, tokenizer, checkpoint, device)


register_encoder("open_clip", load_open_clip)
