"""Encoders by name: the :class:`Encoder` protocol, a base class for torch models, and the registry.

Names are ``PREFIX`` or ``PREFIX:SPEC``: ``toy``, ``open_clip:ViT-L-14/openai``, ``dinov2:facebook/dinov2-small``,
and local weights ``open_clip:ViT-L-14/openai@/path/to/open_clip_model.safetensors``, ``open_clip:hf-hub:/folder``,
``dinov2:/path/to/save_pretrained_folder``. A new family is one :func:`register_encoder` call.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import torch

from kit.arrays import resolve_device
from kit.errors import ConfigError
from kit.io import content_hash


@runtime_checkable
class Encoder(Protocol):
    """What :func:`kit.embed.embed_images` needs of an image encoder.

    name: the registry name; dim: d; preprocess: RGB PIL image → float[3, H, W];
    encode_images: float[B, 3, H, W] → float32[B, d]; supports_text / encode_texts: list[str] → float32[T, d];
    provenance: a JSON-able dict (encoder, checkpoint, preprocessing, dim) that keys the cache.
    """

    name: str
    dim: int
    preprocess: Callable
    supports_text: bool

    @property
    def provenance(self) -> dict: ...

    @property
    def device(self) -> str: ...

    def to(self, device: str) -> "Encoder": ...

    def encode_images(self, x: torch.Tensor) -> torch.Tensor: ...

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor: ...


class TorchEncoder:
    """Shared plumbing of the torch encoders: device moves, inference mode, bf16/fp16 autocast on GPU.

    Subclasses implement ``_images(x) -> Tensor[B, d]`` and, for CLIP-like models, ``_texts(texts)``.
    """

    supports_text = False

    def __init__(self, name: str, module: torch.nn.Module, dim: int, preprocess: Callable,
                 checkpoint: dict, device: str = "auto", key_name: str | None = None):
        self.name = name
        self.key_name = key_name or name  # the name in the provenance: local weights leave their path out
        self.module = module.eval()
        self.dim = int(dim)
        self.preprocess = preprocess
        self.checkpoint = dict(checkpoint)
        self._device = "cpu"
        self.to(device)

    @property
    def device(self) -> str:
        return self._device

    @property
    def provenance(self) -> dict:
        return {"encoder": self.key_name, "checkpoint": self.checkpoint, "preprocessing": repr(self.preprocess),
                "dim": self.dim}

    def to(self, device: str) -> "TorchEncoder":
        device = resolve_device(device)
        self.module.to(device)
        self._device = device
        return self

    def _autocast(self):
        if torch.device(self._device).type != "cuda":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """x: float[B, 3, H, W] (already preprocessed) → float32[B, d] on the encoder's device."""
        with torch.inference_mode(), self._autocast():
            return self._images(x.to(self._device, non_blocking=True)).float()

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """texts: T strings → float32[T, d] on the encoder's device (CLIP-like encoders only)."""
        if not self.supports_text:
            raise ConfigError(f"encoder {self.name!r} has no text tower; use a CLIP-like encoder "
                              "(toy, open_clip:...) to embed texts")
        with torch.inference_mode(), self._autocast():
            return self._texts(list(texts)).float()

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _texts(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, dim={self.dim}, device={self._device!r})"


def state_dict_hash(module: torch.nn.Module) -> str:
    """:func:`kit.io.content_hash` of a module's parameters and buffers: per tensor, in the order of the names,
    its name, shape and dtype, then its bytes."""
    parts = []
    for key, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        parts += [f"{key}{tuple(t.shape)}{t.dtype}", t.reshape(-1).view(torch.uint8).numpy()]
    return content_hash(*parts)


def is_path(spec: str) -> bool:
    """Whether an encoder spec names a local path (``/…``, ``./…``, ``../…``, ``~…``) rather than a Hub id."""
    return spec.startswith(("/", "./", "../", "~")) or spec in (".", "..") or (os.sep != "/" and os.path.isabs(spec))


_REGISTRY: dict[str, Callable[..., Encoder]] = {}


def register_encoder(prefix: str, factory: Callable[..., Encoder]) -> None:
    """Make ``load_encoder("PREFIX:SPEC")`` call ``factory(spec, device=..., **kwargs)`` (spec may be "")."""
    if not prefix or ":" in prefix:
        raise ConfigError(f"encoder prefix must be a non-empty name without ':', got {prefix!r}")
    _REGISTRY[prefix] = factory


def known_prefixes() -> list[str]:
    return sorted(_REGISTRY)


def load_encoder(name: str, device: str = "auto", **kwargs: Any) -> Encoder:
    """The encoder called ``name`` on ``device`` (``"auto"`` → CUDA when present).

    kwargs go to the family's loader (e.g. an already built ``model=`` for dinov2).
    Unknown names raise :class:`~kit.errors.ConfigError` listing the known families.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"encoder name must be a non-empty string, got {name!r}")
    prefix, _, spec = name.partition(":")
    if prefix not in _REGISTRY:
        raise ConfigError(f"unknown encoder {name!r}: known families are {known_prefixes()} "
                          "(e.g. 'toy', 'open_clip:ViT-L-14/openai', 'dinov2:facebook/dinov2-small')")
    return _REGISTRY[prefix](spec, device=device, **kwargs)
