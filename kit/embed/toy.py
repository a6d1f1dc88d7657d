"""The ``toy`` encoder: the kit's own ToyCLIP, shipped in ``kit/assets/toy_encoder.safetensors``.

``toy`` loads the shipped weights; ``toy:PATH`` loads another file written by ``kit.embed.train_toy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from kit.embed.registry import TorchEncoder, register_encoder, state_dict_hash
from kit.embed.toy_model import ToyCLIP, load_toy_model, toy_preprocess

ASSET = Path(__file__).resolve().parent.parent / "assets" / "toy_encoder.safetensors"


class ToyEncoder(TorchEncoder):
    """ToyCLIP as an Encoder: images and captions → float32[·, embed_dim]."""

    supports_text = True

    def __init__(self, name: str, model: ToyCLIP, checkpoint: dict, device: str = "auto"):
        super().__init__(name, model, model.config.embed_dim, toy_preprocess(model.config.image_size), checkpoint,
                         device)

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.encode_image(x)

    def _texts(self, texts: Sequence[str]) -> torch.Tensor:
        return self.module.encode_text(self.module.tokenize(texts).to(self.device))


def load_toy(spec: str = "", device: str = "auto", model: ToyCLIP | None = None) -> ToyEncoder:
    """``spec`` = "" (the shipped weights) or a safetensors path; ``model`` = an in-memory ToyCLIP."""
    if model is None:
        path = Path(spec) if spec else ASSET
        model = load_toy_model(path)
        source = "kit/assets/toy_encoder.safetensors" if not spec else str(path)
    else:
        source = "in-memory"
    checkpoint = {"library": "kit", "weights": source, "weights_sha256": state_dict_hash(model)}
    return ToyEncoder("toy" if not spec else f"toy:{spec}", model, checkpoint, device)


register_encoder("toy", load_toy)
