"""Bring your own SAE: SAELens checkpoints or objects, overcomplete modules, raw tensors.

Neither ``sae_lens`` nor ``overcomplete`` needs to be installed: folders are read with safetensors and
objects are used through the attributes they expose (duck typing). Decoder rows of imported SAEs are
rescaled to unit norm with the inverse scale folded into the codes, which leaves reconstructions unchanged
(exact for relu/jumprelu; TopK and BatchTopK keep their rows as given, see :func:`from_tensors`).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from torch import nn

from kit.arrays import to_numpy
from kit.errors import CheckpointError, ConfigError, DataError
from kit.sae.model import SAE, SAEConfig

ACTIVATIONS = ("relu", "topk", "batchtopk", "jumprelu")


def _tensor(name: str, x, shape: tuple[int, ...]) -> torch.Tensor:
    a = to_numpy(x).astype(np.float32)
    if a.shape != shape:
        raise DataError(f"from_tensors: {name} has shape {a.shape}, expected {shape}")
    if np.isnan(a).any() or np.isposinf(a).any() or (name != "threshold" and np.isinf(a).any()):
        raise DataError(f"from_tensors: {name} holds non-finite values")
    return torch.from_numpy(np.ascontiguousarray(a))


def from_tensors(W_enc, b_enc, W_dec, b_dec, activation: str = "relu", k: int | None = None, threshold=None,
                 standardize: bool = False, subtract_b_dec: bool = True) -> SAE:
    """An SAE from raw weights: ``W_enc: [d, D]``, ``b_enc: [D]``, ``W_dec: [D, d]``, ``b_dec: [d]``.

    activation: ``relu``; ``topk`` (needs ``k``); ``jumprelu`` (needs ``threshold``: a scalar or ``[D]``);
    ``batchtopk`` (needs ``k`` and its inference ``threshold``, a scalar). subtract_b_dec: whether the
    encoder sees ``x − b_dec`` (SAELens' ``apply_b_dec_to_input``).
    """
    if activation not in ACTIVATIONS:
        raise ConfigError(f"from_tensors: activation must be one of {ACTIVATIONS}, got {activation!r}")
    W_enc_np = to_numpy(W_enc)
    if W_enc_np.ndim != 2:
        raise DataError(f"from_tensors: W_enc must be 2-D [d, D], got shape {W_enc_np.shape}")
    d, D = W_enc_np.shape
    W_enc, b_enc = _tensor("W_enc", W_enc, (d, D)), _tensor("b_enc", b_enc, (D,))
    W_dec, b_dec = _tensor("W_dec", W_dec, (D, d)), _tensor("b_dec", b_dec, (d,))
    if activation in ("topk", "batchtopk") and k is None:
        raise ConfigError(f"from_tensors: activation={activation!r} needs k")
    if activation in ("jumprelu", "batchtopk") and threshold is None:
        raise ConfigError(f"from_tensors: activation={activation!r} needs threshold")
    config = SAEConfig(family=activation, d=d, dict_size=D, k=k if k is not None else 32,
                       standardize=standardize, subtract_b_dec=subtract_b_dec)
    sae = SAE(config)
    norms = W_dec.norm(dim=1)
    if (norms == 0).any():
        raise DataError(f"from_tensors: decoder row {int(torch.nonzero(norms == 0)[0])} is zero")
    if activation in ("topk", "batchtopk"):
        if (norms - 1).abs().max() > 1e-3:
            warnings.warn(f"from_tensors: {activation} decoder rows are not unit-norm; kept as given (rescaling "
                          "them would change which latents the top-k or the shared threshold keeps)", stacklevel=2)
        norms = torch.ones_like(norms)
    with torch.no_grad():
        sae.W_enc.copy_(W_enc * norms)
        sae.b_enc.copy_(b_enc * norms)
        sae.W_dec.copy_(W_dec / norms[:, None])
        sae.b_dec.copy_(b_dec)
        if activation == "jumprelu":
            th = _tensor("threshold", np.broadcast_to(to_numpy(threshold), (D,)), (D,))
            if (th < 0).any():
                raise DataError("from_tensors: threshold must be ≥ 0")
            sae.log_threshold.copy_((th * norms).log())
        elif activation == "batchtopk":
            th = np.asarray(to_numpy(threshold), dtype=np.float64)
            if th.size != 1:
                raise DataError(f"from_tensors: a batchtopk threshold is one number, got shape {th.shape} "
                                "(per-latent thresholds: use activation='jumprelu')")
            th = float(th.reshape(-1)[0])
            if not th >= 0:
                raise DataError(f"from_tensors: threshold must be ≥ 0, got {th}")
            sae.threshold.fill_(th)
    return sae.eval()


# ---- SAELens ---------------------------------------------------------------------------------------------

_SAELENS_ARCH = {"standard": "relu", "relu": "relu", "topk": "topk", "jumprelu": "jumprelu",
                 "batchtopk": "batchtopk"}


def _saelens_settings(cfg: dict, where: str) -> dict:
    """Activation, k and input handling from a SAELens config dict."""
    arch = cfg.get("architecture") or cfg.get("activation_fn_str") or cfg.get("activation_fn") or "standard"
    if arch not in _SAELENS_ARCH:
        raise ConfigError(f"{where}: SAELens architecture {arch!r} is not supported (supported: "
                          f"{sorted(_SAELENS_ARCH)})")
    kwargs = cfg.get("activation_fn_kwargs") or {}
    k = cfg.get("k", kwargs.get("k"))
    norm = cfg.get("normalize_activations") or "none"
    if norm not in ("none", "layer_norm"):
        raise ConfigError(f"{where}: SAELens normalize_activations={norm!r} is not supported; fold the scaling "
                          "into the weights and pass them to from_tensors")
    return {"activation": _SAELENS_ARCH[arch], "k": None if k is None else int(k),
            "subtract_b_dec": bool(cfg.get("apply_b_dec_to_input", True)), "standardize": norm == "layer_norm"}


def from_saelens(source, cfg: dict | None = None) -> SAE:
    """An SAE from a SAELens folder (``cfg.json`` + ``sae_weights.safetensors``) or a SAELens SAE object.

    Objects are read through ``W_enc, b_enc, W_dec, b_dec`` (and ``threshold`` or ``log_threshold`` for
    JumpReLU; a per-latent BatchTopK threshold is read as JumpReLU) and their
    ``cfg``; ``cfg`` overrides the settings (a dict with SAELens keys: architecture, k, apply_b_dec_to_input).
    """
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        try:
            doc = json.loads((folder / "cfg.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{folder / 'cfg.json'}: not a readable SAELens config ({e})") from None
        doc.update(cfg or {})
        from safetensors.torch import load_file

        try:
            weights = load_file(str(folder / "sae_weights.safetensors"))
        except (OSError, SafetensorError) as e:
            raise CheckpointError(f"{folder / 'sae_weights.safetensors'}: cannot read the weights ({e})") from None
        where = str(folder)
    else:
        obj_cfg = getattr(source, "cfg", None)
        doc = dict(cfg or {})
        if obj_cfg is not None:
            for key in ("architecture", "activation_fn_str", "activation_fn_kwargs", "k", "apply_b_dec_to_input",
                        "normalize_activations"):
                if key not in doc and hasattr(obj_cfg, key):
                    v = getattr(obj_cfg, key)
                    doc[key] = v() if callable(v) else v
        weights = {n: getattr(source, n) for n in ("W_enc", "b_enc", "W_dec", "b_dec", "threshold", "log_threshold")
                   if getattr(source, n, None) is not None}
        where = f"SAELens object {type(source).__name__}"
        if "architecture" not in doc and ("threshold" in weights or "log_threshold" in weights):
            doc["architecture"] = "jumprelu"
    if "threshold" not in weights and "log_threshold" in weights:
        weights["threshold"] = torch.as_tensor(to_numpy(weights["log_threshold"])).exp()
    s = _saelens_settings(doc, where)
    thresholded = s["activation"] in ("jumprelu", "batchtopk")
    need = ["W_enc", "b_enc", "W_dec", "b_dec"] + (["threshold"] if thresholded else [])
    missing = [n for n in need if n not in weights]
    if missing:
        raise CheckpointError(f"{where}: SAELens weights lack {missing}")
    threshold = weights.get("threshold") if thresholded else None
    if s["activation"] == "batchtopk" and np.size(to_numpy(threshold)) > 1:
        s["activation"] = "jumprelu"  # per-latent inference thresholds
    return from_tensors(weights["W_enc"], weights["b_enc"], weights["W_dec"], weights["b_dec"],
                        activation=s["activation"], k=s["k"], threshold=threshold,
                        standardize=s["standardize"], subtract_b_dec=s["subtract_b_dec"])


# ---- overcomplete ----------------------------------------------------------------------------------------

class ExternalSAE(nn.Module):
    """Wraps a module whose ``encode(x)`` gives codes (or ``(pre_codes, codes)``) and whose dictionary is
    ``[D, d]`` (overcomplete's ``get_dictionary()``). ``W_dec`` holds the unit-norm dictionary, codes are
    scaled by the dictionary's row norms so ``decode(encode(x)) = codes @ dictionary``; ``b_dec`` is zero.
    ``W_enc``/``b_enc`` are the encoder's first linear layer when it has one (else None): informational,
    the codes always come from the wrapped module.
    """

    def __init__(self, module: nn.Module, dictionary: torch.Tensor, k: int | None, family: str):
        super().__init__()
        self.module = module
        D, d = dictionary.shape
        norms = dictionary.norm(dim=1)
        if (norms == 0).any():
            raise DataError(f"from_overcomplete: dictionary row {int(torch.nonzero(norms == 0)[0])} is zero")
        self.config = SAEConfig(family=family, d=d, dict_size=D, k=k)
        self.register_buffer("norms", norms.clone())
        self.W_dec = nn.Parameter(dictionary / norms[:, None], requires_grad=False)
        self.b_dec = nn.Parameter(torch.zeros(d), requires_grad=False)
        self.W_enc = self.b_enc = None
        lin = next((m for m in module.modules() if isinstance(m, nn.Linear)
                    and (m.in_features, m.out_features) == (d, D)), None)
        if lin is not None:
            self.W_enc = nn.Parameter(lin.weight.detach().T.clone(), requires_grad=False)
            b = lin.bias.detach().clone() if lin.bias is not None else torch.zeros(D)
            self.b_enc = nn.Parameter(b, requires_grad=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.config.d:
            raise DataError(f"SAE input must have shape [N, {self.config.d}], got {tuple(x.shape)}")
        out = self.module.encode(x)
        z = out[-1] if isinstance(out, (tuple, list)) else out
        if (z < 0).any():
            raise DataError("from_overcomplete: the wrapped encoder gave negative codes; the kit needs codes ≥ 0")
        return z * self.norms

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def save(self, path) -> None:
        """Not supported (CheckpointError): save the wrapped model with its own library."""
        from kit.sae.checkpoint import save_sae

        save_sae(self, path)


def from_overcomplete(model: nn.Module) -> ExternalSAE:
    """Wrap an overcomplete SAE (any module with ``encode`` and ``get_dictionary()`` or ``dictionary``)."""
    if not callable(getattr(model, "encode", None)):
        raise ConfigError(f"from_overcomplete: {type(model).__name__} has no encode method")
    if callable(getattr(model, "get_dictionary", None)):
        dictionary = model.get_dictionary()
    elif getattr(model, "dictionary", None) is not None:
        dictionary = model.dictionary
        dictionary = getattr(dictionary, "dictionary", dictionary)
    else:
        raise ConfigError(f"from_overcomplete: {type(model).__name__} exposes neither get_dictionary() "
                          "nor dictionary")
    dictionary = torch.as_tensor(to_numpy(dictionary), dtype=torch.float32)
    if dictionary.ndim != 2:
        raise DataError(f"from_overcomplete: the dictionary must be 2-D [D, d], got {tuple(dictionary.shape)}")
    name = type(model).__name__.lower()
    k = getattr(model, "top_k", None)
    k = None if k is None else int(k)
    if "jump" in name:
        family = "jumprelu"
    elif k is not None:
        family = "batchtopk" if "batchtopk" in name else "topk"
    else:
        family = "relu"
    return ExternalSAE(model, dictionary, k, family).eval()
