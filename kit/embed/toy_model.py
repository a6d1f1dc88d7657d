"""The kit's own small CLIP-style encoder (``toy``): a CNN image tower and a word-level text tower.

Image tower: a 4×4 stride-4 "patchify" conv to ``channels[0]``, then per further entry of ``channels`` a
stride-2 3×3 conv and a stride-1 3×3 conv (each → GroupNorm over all channels, which keeps colour ratios,
→ GELU); the flattened final map (``image_size / (4·2^(len(channels)-1))`` square) → linear → ``embed_dim``.
Text tower: word + position embeddings → a small pre-norm Transformer → the mean over the non-padding
tokens → linear → ``embed_dim``. Words are lower-case ``[a-z0-9]+`` tokens of a fixed vocabulary (built
from the training captions). Weights live in one safetensors file whose metadata holds the config.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torchvision import transforms as T

from kit.errors import CheckpointError, ConfigError
from kit.io import atomic_path

PAD, UNK, CLS = 0, 1, 2
SPECIAL = ("<pad>", "<unk>", "<cls>")
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class ToyConfig:
    """Architecture of the toy encoder; ``vocab`` lists the words after the special tokens."""

    image_size: int = 96
    channels: tuple[int, ...] = (32, 64, 128)
    embed_dim: int = 128
    text_width: int = 96
    text_layers: int = 1
    text_heads: int = 4
    context_length: int = 48
    vocab: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.image_size % self.downsampling:
            raise ConfigError(f"ToyConfig.image_size={self.image_size} must be divisible by {self.downsampling} "
                              f"(4 · 2^(len(channels) - 1))")
        if self.text_width % self.text_heads:
            raise ConfigError(f"ToyConfig.text_width={self.text_width} must be divisible by "
                              f"text_heads={self.text_heads}")

    @property
    def downsampling(self) -> int:
        return 4 * 2 ** (len(self.channels) - 1)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ToyConfig":
        d = json.loads(text)
        return cls(**{**d, "channels": tuple(d["channels"]), "vocab": tuple(d["vocab"])})


def toy_preprocess(image_size: int) -> T.Compose:
    """RGB PIL image → float[3, S, S] in [-1, 1] (short side to S, centre crop)."""
    return T.Compose([T.Resize(image_size, interpolation=T.InterpolationMode.BILINEAR, antialias=True),
                      T.CenterCrop(image_size), T.PILToTensor(), T.ConvertImageDtype(torch.float32),
                      T.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])])


def _conv(c_in: int, c_out: int, kernel: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=1 if kernel == 3 else 0),
            nn.GroupNorm(1, c_out), nn.GELU()]


class ToyCLIP(nn.Module):
    """encode_image: float[B, 3, S, S] → float[B, embed_dim];
    encode_text: int[B, L] tokens → float[B, embed_dim]."""

    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        c = config.channels
        layers = _conv(3, c[0], 4, 4)
        for c_in, c_out in zip(c[:-1], c[1:]):
            layers += _conv(c_in, c_out, 3, 2) + _conv(c_out, c_out, 3, 1)
        self.convs = nn.Sequential(*layers)
        side = config.image_size // config.downsampling
        self.image_proj = nn.Linear(c[-1] * side * side, config.embed_dim)
        self.token_emb = nn.Embedding(len(SPECIAL) + len(config.vocab), config.text_width, padding_idx=PAD)
        self.pos_emb = nn.Parameter(torch.zeros(config.context_length, config.text_width))
        layer = nn.TransformerEncoderLayer(config.text_width, config.text_heads, 2 * config.text_width,
                                           dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.text = nn.TransformerEncoder(layer, config.text_layers, enable_nested_tensor=False)
        self.text_norm = nn.LayerNorm(config.text_width)
        self.text_proj = nn.Linear(config.text_width, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1 / 0.07), as CLIP
        self._index = {w: i + len(SPECIAL) for i, w in enumerate(config.vocab)}

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """T texts → int64[T, L]: [CLS] then word ids (unknown → <unk>), truncated to ``context_length``
        and padded to the longest text (L ≤ context_length)."""
        rows = [([CLS] + [self._index.get(w, UNK) for w in words(t)])[: self.config.context_length] for t in texts]
        out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.long)
        for i, ids in enumerate(rows):
            out[i, : len(ids)] = torch.tensor(ids)
        return out

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        return self.image_proj(self.convs(x).flatten(1))

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.token_emb(tokens) + self.pos_emb[: tokens.shape[1]]
        pad = tokens == PAD
        h = self.text(h, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        return self.text_proj(self.text_norm((h * keep).sum(1) / keep.sum(1)))

    def save(self, path: str | Path) -> None:
        """Write the weights and config to a safetensors file (atomically; the same weights give the same bytes,
        so the header holds a single metadata entry — safetensors does not keep the order of several)."""
        meta = {"config": self.config.to_json()}
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata=meta)


def load_toy_model(path: str | Path) -> ToyCLIP:
    """Read a ToyCLIP from a safetensors file written by :meth:`ToyCLIP.save`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"toy encoder weights {path} not found; retrain with `python -m kit.embed.train_toy`")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        config = ToyConfig.from_json(meta["config"])
        state = load_file(str(path))
    except (OSError, KeyError, ValueError, TypeError, SafetensorError) as e:
        raise CheckpointError(f"{path}: not a toy encoder checkpoint ({type(e).__name__}: {e})") from None
    model = ToyCLIP(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the stored config ({e})") from None
    return model.eval()
