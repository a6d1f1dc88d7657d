"""The SAE module: ``z = σ((x − b_dec) W_enc + b_enc)``, ``x̂ = z W_dec + b_dec`` with unit-norm decoder rows.

One :class:`SAE` class serves every family; its :class:`~kit.sae.config.SAEConfig` says which. ``encode`` always
gives the inference codes (batch-independent); the trainer uses :meth:`SAE.training_codes`. Checkpoints are
written and read by :mod:`kit.sae.checkpoint` (``kit.sae.save``, ``kit.sae.load``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from kit.arrays import check_matrix, check_positive_int, resolve_device
from kit.errors import ConfigError, DataError
from kit.sae import families as fam
from kit.sae.config import SAEConfig


def standardize_rows(x: torch.Tensor) -> torch.Tensor:
    """Per-sample standardisation of ``x: float[N, d]``: ``(x − mean) / (std + 1e-5)`` over each row's features
    (unbiased std): the reference code's ``input_unit_norm`` and SAELens' ``layer_norm``, exactly."""
    x = x - x.mean(dim=-1, keepdim=True)
    return x / (x.std(dim=-1, keepdim=True) + 1e-5)


class SAE(nn.Module):
    """A sparse autoencoder. Parameters: ``W_enc: [d, D]``, ``b_enc: [D]``, ``W_dec: [D, d]`` (unit rows),
    ``b_dec: [d]``; JumpReLU adds ``log_threshold: [D]``; BatchTopK/Matryoshka hold the buffer
    ``threshold: []`` (``nan`` until learned: inference then falls back to per-sample top-k).

    ``history`` (a DataFrame of training curves) and ``train_config`` are set by the trainer.
    """

    def __init__(self, config: SAEConfig, seed: int = 0):
        super().__init__()
        self.config = config
        d, D = config.d, config.dict_size
        g = torch.Generator().manual_seed(int(seed))
        W_dec = torch.randn(D, d, generator=g)
        W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
        self.W_enc = nn.Parameter(W_dec.T.clone())  # laid out as [D, d] in memory, like its sparse gradient
        self.b_enc = nn.Parameter(torch.zeros(D))
        self.W_dec = nn.Parameter(W_dec)
        self.b_dec = nn.Parameter(torch.zeros(d))
        if config.family == "jumprelu":
            self.log_threshold = nn.Parameter(torch.full((D,), math.log(config.init_threshold)))
        if config.family in ("batchtopk", "matryoshka"):
            self.register_buffer("threshold", torch.tensor(float("nan")))
        self.history = None
        self.train_config = None

    # ---- the protocol -------------------------------------------------------------------------------
    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """The SAE's input space: ``x`` standardised per sample when ``config.standardize``."""
        return standardize_rows(x) if self.config.standardize else x

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """float[N, D] before sparsification (``x`` raw; preprocessing is applied here)."""
        self._check_input(x)
        return self.project(self.preprocess(x))

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder multiplies: preprocessed ``x`` centred by ``b_dec`` (when ``subtract_b_dec``)."""
        return x - self.b_dec if self.config.subtract_b_dec else x

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activations float[N, D] of already preprocessed inputs ``x: float[N, d]``."""
        return torch.addmm(self.b_enc, self.encoder_input(x), self.W_enc)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Inference codes ``z: float[N, D] ≥ 0`` of raw inputs ``x: float[N, d]`` (independent of the batch)."""
        pre = self.pre_activations(x)
        f = self.config.family
        if f == "relu":
            return torch.relu(pre)
        if f == "topk":
            return fam.topk_codes(pre, self.config.k)
        if f == "jumprelu":
            return fam.threshold_codes(pre, self.log_threshold.exp())
        if torch.isnan(self.threshold):
            return fam.topk_codes(pre, self.config.k)
        return fam.threshold_codes(pre, self.threshold)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``x̂: float[N, d]`` (in the preprocessed input space) of codes ``z: float[N, D]``."""
        if z.ndim != 2 or z.shape[1] != self.config.dict_size:
            raise DataError(f"decode: codes must have shape [N, {self.config.dict_size}], got {tuple(z.shape)}")
        return z @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def training_codes(self, pre: torch.Tensor) -> torch.Tensor:
        """Training-time codes of pre-activations; updates BatchTopK's running threshold (no gradient)."""
        f = self.config.family
        if f == "relu":
            return torch.relu(pre)
        if f == "topk":
            return fam.topk_codes(pre, self.config.k)
        if f == "jumprelu":
            return fam.jumprelu_codes(pre, self.log_threshold, self.config.bandwidth)
        z, min_kept = fam.batchtopk_codes(pre, self.config.k)
        self.update_threshold(min_kept)
        return z

    @torch.no_grad()
    def update_threshold(self, min_kept: torch.Tensor) -> None:
        """BatchTopK's inference threshold: a running mean (0.99) of each batch's smallest kept positive code
        ``min_kept`` (a scalar; ``nan`` when the batch kept none, and then ignored)."""
        if torch.isnan(min_kept):
            return
        if torch.isnan(self.threshold):
            self.threshold.copy_(min_kept)
        else:
            self.threshold.mul_(0.99).add_(0.01 * min_kept)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.config.d:
            raise DataError(f"SAE input must have shape [N, {self.config.d}] (d={self.config.d}), got {tuple(x.shape)}")

    def extra_repr(self) -> str:
        c = self.config
        return f"family={c.family}, d={c.d}, dict_size={c.dict_size}, k={c.k}"


def _apply_array(module: nn.Module, fn, X, width: int, batch_size: int, device: str, what: str,
                 columns: np.ndarray | None = None) -> np.ndarray:
    """Apply ``fn(module, x)`` to ``X`` in chunks of ``batch_size`` rows; float32 numpy out (only ``columns`` of
    each chunk's result, taken where it was computed, when given)."""
    check_positive_int(f"{what}: batch_size", batch_size)
    D, d = (int(n) for n in module.W_dec.shape)
    name, in_width, whose = ("X", d, f"the SAE's input width d={d}") if what == "encode_array" else (
        "Z", D, f"the SAE's dictionary size D={D}")
    X = check_matrix(f"{what}: {name}", X, in_width, whose)
    dev = resolve_device(device)
    param = next(module.parameters(), None)
    orig = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    cols = None if columns is None else _columns(columns, width, what)
    module.to(dev)
    out = np.empty((X.shape[0], width if cols is None else cols.size), dtype=np.float32)
    keep = None if cols is None else torch.as_tensor(cols, device=dev)
    try:
        with torch.no_grad():
            for s in range(0, X.shape[0], batch_size):
                xb = torch.as_tensor(np.ascontiguousarray(X[s:s + batch_size]), dtype=dtype, device=dev)
                yb = fn(module, xb)
                out[s:s + batch_size] = (yb if keep is None else yb[:, keep]).float().cpu().numpy()
    finally:
        module.to(orig)
    return out


def _columns(columns: Any, width: int, what: str) -> np.ndarray:
    """``columns`` as int64[U], each in [0, width); ConfigError naming the parameter otherwise."""
    cols = np.asarray(columns)
    if cols.ndim != 1 or cols.size == 0 or not np.issubdtype(cols.dtype, np.integer):
        raise ConfigError(f"{what}: columns must be a non-empty 1-D array of latent indices, got shape "
                          f"{cols.shape} and dtype {cols.dtype}")
    if cols.min() < 0 or cols.max() >= width:
        raise ConfigError(f"{what}: columns must lie in [0, {width}), got {int(cols.min())}..{int(cols.max())}")
    return cols.astype(np.int64)


def encode_array(sae: nn.Module, X, batch_size: int = 4096, device: str = "auto",
                 columns: Any = None) -> np.ndarray:
    """Codes ``float32[N, D]`` of ``X: float[N, d]`` (numpy or tensor), computed in chunks of ``batch_size`` rows
    (a chunk's codes, ``batch_size × D`` floats, are what encoding holds at once beside the result).

    columns: int[U] — only these latents' codes, ``float32[N, U]``, taken from each chunk on its device (the
    codes of matched latents without the N × D matrix). Any module with ``encode`` and ``W_dec: [D, d]`` works
    (the kit's SAE protocol). ``X`` must be finite: a NaN or inf raises a DataError naming its row and column
    (it would otherwise spread into the codes)."""
    return _apply_array(sae, lambda m, xb: m.encode(xb), X, sae.W_dec.shape[0], batch_size, device, "encode_array",
                        columns)


def decode_array(sae: nn.Module, Z, batch_size: int = 4096, device: str = "auto") -> np.ndarray:
    """Reconstructions ``float32[N, d]`` of codes ``Z: float[N, D]``, computed in chunks."""
    return _apply_array(sae, lambda m, zb: m.decode(zb), Z, sae.W_dec.shape[1], batch_size, device, "decode_array")
