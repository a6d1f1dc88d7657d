"""Baselines: an untrained SAE (random initialisation), the reference code's dense untrained encoder, and random
codes that ignore the input."""

from __future__ import annotations

import numpy as np
import torch

from kit.errors import ConfigError
from kit.sae.config import SAEConfig
from kit.sae.model import SAE


def untrained(family: str, d: int, dict_size: int, k: int | None = 32, seed: int = 0, **arch) -> SAE:
    """A randomly initialised SAE of a family, with the same sparsification as its trained twin.

    (BatchTopK/Matryoshka have no learned threshold yet, so they keep the top k per sample.)
    ``arch`` are further :class:`SAEConfig` fields (e.g. ``standardize=True``).
    """
    return SAE(SAEConfig(family=family, d=d, dict_size=dict_size, k=k, **arch), seed=seed).eval()


def paper_untrained(d: int, dict_size: int, seed: int = 0) -> SAE:
    """The reference code's untrained SAE (its ``FrozenEncoderSAE``), reproducibly: codes ``relu(x · W_enc)``.

    ``W_enc: [d, D]`` is Kaiming-uniform as in the reference (bound √(6 / D)), drawn from ``seed``; ``b_enc`` and
    ``b_dec`` are 0; the input is used raw (no standardisation, no centring); ``W_dec`` is ``W_enc``ᵀ with unit
    rows. The reference code matches and scores its *dense* pre-activations ``x · W_enc``; binarised (z > 0)
    they fire exactly where these ReLU codes do, so every binary metric (matching, binary TAPAScore) is the
    reference's, while the codes stay non-negative as the kit's protocol requires. Every latent fires on about
    half of the images. The reference draws this encoder anew at every pipeline stage from the global random
    state; :mod:`kit.evaluate` reproduces that with the role ``paper_untrained`` (the TAPAScore stage uses
    ``seed + 1``) and keeps one encoder for both stages with the role ``dense_sign``.
    """
    sae = SAE(SAEConfig(family="relu", d=d, dict_size=dict_size, k=None, subtract_b_dec=False), seed=seed)
    g = torch.Generator().manual_seed(int(seed))
    W = torch.nn.init.kaiming_uniform_(torch.empty(d, dict_size), generator=g)
    with torch.no_grad():
        sae.W_enc.copy_(W)
        sae.b_enc.zero_()
        sae.W_dec.copy_(W.T / W.T.norm(dim=1, keepdim=True))
        sae.b_dec.zero_()
    return sae.eval()


_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 arrays (a fast, well-spread integer hash)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


class RandomCodes(SAE):
    """An SAE-protocol module whose codes are a deterministic pseudo-random function of each row's bytes and
    the seed: they carry no information about what the input means, yet identical rows get identical codes
    and different rows (an image and its edit) different ones, whatever the batching.

    Each row gets k latents drawn uniformly without replacement with magnitudes in (0, 1].
    The weights (a random untrained TopK SAE) exist only so that the module speaks the SAE protocol.
    """

    SCORE_BYTES = 2**26  # bytes of uint64 scores drawn at once

    def __init__(self, d: int, dict_size: int, k: int = 32, seed: int = 0):
        super().__init__(SAEConfig(family="topk", d=d, dict_size=dict_size, k=k), seed=seed)
        self.seed = int(seed)

    def row_keys(self, x: torch.Tensor) -> np.ndarray:
        """uint64[N]: a hash of each row's float32 bytes and the seed."""
        words = np.ascontiguousarray(x.detach().float().cpu().numpy()).view(np.uint32).astype(np.uint64)
        cols = np.arange(words.shape[1], dtype=np.uint64)
        with np.errstate(over="ignore"):
            per_value = _mix(words * _GOLD + cols * _M1 + np.uint64(1))
            return _mix(per_value.sum(1, dtype=np.uint64) ^ _mix(np.uint64(self.seed) * _M2 + np.uint64(2)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``float[N, D]`` of ``x: float[N, d]``, a function of each row's bytes only (the uint64 scores
        are drawn for ``SCORE_BYTES`` of rows at a time, so a large batch does not multiply its memory)."""
        self._check_input(x)
        n, D, k = x.shape[0], self.config.dict_size, self.config.k
        keys, latent = self.row_keys(x), np.arange(D, dtype=np.uint64) * _GOLD
        idx, mags = np.empty((n, min(k, D)), dtype=np.int64), np.empty((n, min(k, D)), dtype=np.float32)
        step = max(1, self.SCORE_BYTES // (8 * D))
        for r0 in range(0, n, step):
            with np.errstate(over="ignore"):
                scores = _mix(keys[r0:r0 + step, None] ^ latent[None, :])
            top = (np.argpartition(scores, k - 1, axis=1)[:, :k] if k < D
                   else np.broadcast_to(np.arange(D), scores.shape))
            m = (_mix(np.take_along_axis(scores, top, axis=1)) >> np.uint64(11)).astype(np.float64)
            idx[r0:r0 + step], mags[r0:r0 + step] = top, ((m + 1.0) / 2.0**53).astype(np.float32)
        z = torch.zeros(n, D, dtype=x.dtype, device=x.device)
        return z.scatter_(1, torch.as_tensor(np.ascontiguousarray(idx), device=x.device),
                          torch.as_tensor(mags, device=x.device, dtype=x.dtype))


def random_codes(d: int, dict_size: int, k: int = 32, seed: int = 0) -> RandomCodes:
    """The random-codes baseline: k active latents per sample, a hash of the row's bytes (no meaning), deterministic."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"random_codes: k must be an integer ≥ 1, got {k!r}")
    return RandomCodes(d, dict_size, k, seed).eval()
