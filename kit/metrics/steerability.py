"""Steerability of latents for CLIP-like encoders (clamp-and-decode, in the manner of Joseph et al.,
"Steering CLIP's vision transformer with sparse autoencoders").

For latent j and strength s, every probe image's code is clamped at z_j = s·scale and decoded with the
SAE's error term added back, i.e. ``x' = x + (s·scale − z_j) · W_dec[j]`` (``scale`` = the mean embedding
norm, so strengths are comparable across SAEs). Zero-shot probabilities over a vocabulary are
``softmax(temperature · cos(x', t_v))``. At the largest strength, the latent's target word v* is the one
whose mean probability grows most;

- power_j = mean gain of p(v*) (how far the latent can push the output towards one word);
- steerability_j = power_j / mean total-variation change (the share of the moved probability that lands
  on v*: 1 for a latent that steers towards one word only).

Cosines of the edited embeddings come from ``X·T``, ``W_dec·T`` and ``X·W_dec`` products, chunked over
latents; nothing of size [images, latents, d] is formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from kit.arrays import resolve_device
from kit.errors import ConfigError, DataError
from kit.metrics._common import ResultMixin, check_dims, codes_for, decoder, floats, nanmean


@dataclass(frozen=True)
class SteerabilityConfig:
    """strengths: clamp values in units of the mean embedding norm; n_images: probe images (seeded sample);
    temperature: CLIP's logit scale 100; steerable_power: a latent with at least this power counts as
    steerable; chunk_size: latents per block."""

    strengths: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    n_images: int = 64
    temperature: float = 100.0
    steerable_power: float = 0.1
    seed: int = 0
    chunk_size: int = 256
    batch_size: int = 4096
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.strengths:
            raise ConfigError("SteerabilityConfig.strengths is empty")
        for name in ("n_images", "chunk_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SteerabilityConfig.{name} must be ≥ 1, got {getattr(self, name)}")


@dataclass(frozen=True, eq=False)
class SteerabilityResult(ResultMixin):
    """Per latent: power, steerability: float[D] (at the largest strength); target: int[D] the word index;
    power_curve: float[S, D] the target's mean probability gain at each strength; vocabulary: the words."""

    power: np.ndarray
    steerability: np.ndarray
    target: np.ndarray
    power_curve: np.ndarray
    vocabulary: list[str]
    config: SteerabilityConfig

    def units(self) -> dict[str, np.ndarray]:
        return {"steer_power": self.power, "steerability": self.steerability[np.isfinite(self.steerability)],
                "steerable_fraction": (self.power >= self.config.steerable_power).astype(float)}

    def headline(self) -> dict[str, float]:
        return {k: nanmean(v) for k, v in self.units().items()}


def steerability(X: np.ndarray, sae: Any, text_embed: Callable[[list[str]], np.ndarray],
                 vocabulary: Sequence[str], Z: np.ndarray | None = None,
                 config: SteerabilityConfig | None = None) -> SteerabilityResult:
    """Power and steerability of every latent of an SAE on image embeddings ``X: float[N, d]``.

    text_embed: texts → float[V, d] in the same space as X (e.g. a CLIP text tower);
    vocabulary: the V words or prompts; Z: the codes of X when known."""
    import torch

    cfg = config or SteerabilityConfig()
    X = floats("X", X)
    vocabulary = [str(v) for v in vocabulary]
    if len(vocabulary) < 2:
        raise DataError(f"steerability: the vocabulary needs ≥ 2 entries, got {len(vocabulary)}")
    T = floats("text_embed(vocabulary)", text_embed(vocabulary))
    if T.shape != (len(vocabulary), X.shape[1]):
        raise DataError(f"steerability: text_embed returned shape {T.shape}, "
                        f"expected ({len(vocabulary)}, {X.shape[1]})")
    W_dec = decoder(sae)
    check_dims(X, W_dec)
    rows = np.sort(np.random.default_rng(cfg.seed).choice(X.shape[0], min(cfg.n_images, X.shape[0]), replace=False))
    Zs = codes_for(sae, X[rows], None if Z is None else floats("Z", Z)[rows], cfg.batch_size, cfg.device)
    dev = resolve_device(cfg.device)
    x = torch.as_tensor(X[rows], device=dev, dtype=torch.float32)
    t = torch.nn.functional.normalize(torch.as_tensor(T, device=dev, dtype=torch.float32), dim=1)
    W = torch.as_tensor(W_dec, device=dev, dtype=torch.float32)
    z = torch.as_tensor(Zs, device=dev, dtype=torch.float32)
    scale = float(np.linalg.norm(X, axis=1).mean())
    xt = x @ t.T  # [M, V]
    xx = x.square().sum(1)  # [M]
    p0 = torch.softmax(cfg.temperature * xt / xx.sqrt()[:, None], dim=1)  # [M, V]
    S, D = len(cfg.strengths), W.shape[0]
    gain_curve = torch.zeros(S, D, dtype=torch.float32, device=dev)
    power = torch.zeros(D, dtype=torch.float32, device=dev)
    tv = torch.zeros(D, dtype=torch.float32, device=dev)
    target = torch.zeros(D, dtype=torch.int64, device=dev)
    order = np.argsort(cfg.strengths)
    for s0 in range(0, D, cfg.chunk_size):
        w = W[s0:s0 + cfg.chunk_size]
        wt, xw, ww = w @ t.T, x @ w.T, w.square().sum(1)  # [L, V], [M, L], [L]
        gains = []
        for si in order:
            delta = cfg.strengths[si] * scale - z[:, s0:s0 + cfg.chunk_size]  # [M, L]
            norm = (xx[:, None] + 2 * delta * xw + delta.square() * ww[None]).clamp_min(1e-24).sqrt()
            cos = (xt[:, None, :] + delta[:, :, None] * wt[None]) / norm[:, :, None]  # [M, L, V]
            change = torch.softmax(cfg.temperature * cos, dim=2) - p0[:, None, :]
            gains.append(change.mean(0))  # [L, V]
        last = gains[-1]
        tgt = last.argmax(1)
        target[s0:s0 + cfg.chunk_size] = tgt
        power[s0:s0 + cfg.chunk_size] = last.gather(1, tgt[:, None])[:, 0]
        tv[s0:s0 + cfg.chunk_size] = 0.5 * change.abs().sum(2).mean(0)
        for si, g in zip(order, gains):
            gain_curve[si, s0:s0 + cfg.chunk_size] = g.gather(1, tgt[:, None])[:, 0]
    steer = torch.where(tv > 1e-12, power / tv.clamp_min(1e-12), torch.full_like(tv, float("nan")))
    return SteerabilityResult(power=power.cpu().numpy(), steerability=steer.cpu().numpy(),
                              target=target.cpu().numpy(), power_curve=gain_curve.cpu().numpy(),
                              vocabulary=vocabulary, config=cfg)
