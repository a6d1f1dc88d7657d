"""SAEs saved by other libraries, and :func:`load_any`, the one loader for every source the kit reads.

Folders are read without importing their library: SAELens (``cfg.json`` + ``sae_weights.safetensors``,
written by ``save_model`` or ``save_inference_model``) with safetensors, dictionary_learning (``ae.pt`` +
``config.json``) with ``torch.load(weights_only=True)``. Each architecture maps exactly onto the kit's
:class:`~kit.sae.model.SAE`:

- SAELens standard → relu; topk → topk (``rescale_acts_by_decoder_norm`` folded into the weights);
  batchtopk / matryoshka_batchtopk → batchtopk / matryoshka with their shared threshold; jumprelu → jumprelu
  (or batchtopk / matryoshka when it is a saved BatchTopK: one threshold for all latents); gated → jumprelu.
- dictionary_learning AutoEncoder, AutoEncoderNew → relu; AutoEncoderTopK → topk; BatchTopKSAE → batchtopk;
  MatryoshkaBatchTopKSAE → matryoshka; JumpReluAutoEncoder, GatedAutoEncoder → jumprelu.

A gated SAE is a JumpReLU SAE: the gate ``a + b_gate > 0`` on ``a = u·W_enc`` is the same event as
``m > b_mag − e^{r_mag}·b_gate`` on the magnitude ``m = e^{r_mag}·a + b_mag``. SAELens' input scaling and
whitening fold into the weights; its per-sample ``layer_norm`` is the kit's own standardisation
(``standardize=True``) and ``constant_norm_rescale`` is kept by :class:`~kit.sae.external.NormalizedSAE`; ``hook_z`` SAEs read the heads flattened, ``[N, n_heads·d_head]``.
Weights are computed in float32 (a bfloat16 file agrees with SAELens to bfloat16's precision). Every returned
module carries ``source`` (format, path, architecture, ``code_scale``: kit codes = the library's codes ×
code_scale, where decoder norms were folded).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from kit.errors import CheckpointError, ConfigError, KitError
from kit.sae.checkpoint import load
from kit.sae.external import NormalizedSAE, assemble, from_overcomplete, from_tensors

FORMATS = ("auto", "kit", "saelens", "dictionary_learning", "overcomplete", "tensors")
SAELENS_FILES = ("cfg.json", "sae_weights.safetensors")
DICTIONARY_LEARNING_FILES = ("ae.pt", "config.json")
KIT_FILES = ("config.json", "weights.safetensors")


def _f32(x) -> torch.Tensor:
    """A float32 CPU copy of a tensor-like (bfloat16 and float64 included)."""
    return torch.as_tensor(x.detach().cpu() if hasattr(x, "detach") else np.asarray(x)).to(torch.float32).clone()


def _read_json(file: Path, what: str) -> dict:
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{file}: not a readable {what} ({e})") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{file}: not a {what} (expected a JSON object)")
    return doc


def _build(where: str, *args, **kwargs):
    """:func:`~kit.sae.external.assemble`, its errors naming ``where``."""
    try:
        return assemble(*args, **kwargs)
    except KitError as e:
        raise type(e)(f"{where}: {e}") from None


# ---- SAELens ---------------------------------------------------------------------------------------------

_SAELENS_SUPPORTED = ("standard", "topk", "batchtopk", "matryoshka_batchtopk", "jumprelu", "gated")
_SAELENS_REFUSED = {
    "abstopk": "keeps the k largest |pre-activations|, so its codes can be negative",
    "transcoder": "maps one activation to another, it is not an autoencoder",
    "skip_transcoder": "maps one activation to another, it is not an autoencoder",
    "jumprelu_transcoder": "maps one activation to another, it is not an autoencoder",
    "jumprelu_skip_transcoder": "maps one activation to another, it is not an autoencoder",
    "temporal": "encodes sequences with attention over positions, not one vector at a time",
    "matching_pursuit": "computes its codes by iterative residual pursuit, not one encoder pass",
}
_SAELENS_WEIGHTS = {
    "standard": ("W_enc", "b_enc", "W_dec", "b_dec"),
    "topk": ("W_enc", "b_enc", "W_dec", "b_dec"),
    "batchtopk": ("W_enc", "b_enc", "W_dec", "b_dec", "topk_threshold"),
    "matryoshka_batchtopk": ("W_enc", "b_enc", "W_dec", "b_dec", "topk_threshold"),
    "jumprelu": ("W_enc", "b_enc", "W_dec", "b_dec", "threshold"),
    "gated": ("W_enc", "b_gate", "b_mag", "r_mag", "W_dec", "b_dec"),
}
_SAELENS_NORMS = ("none", "expected_average_only_in", "covariance_whitening", "layer_norm", "constant_norm_rescale")


def _saelens_config(doc: dict, weights: dict, where: str) -> dict:
    """The settings of a SAELens config dict, legacy (< 6.0) keys included."""
    cfg = dict(doc)
    if "activation_fn" not in cfg and "activation_fn_str" in cfg:
        cfg["activation_fn"] = cfg["activation_fn_str"]
    kwargs = cfg.get("activation_fn_kwargs") or {}
    arch = cfg.get("architecture")
    if arch is None:
        if "threshold" in weights or "log_threshold" in weights:
            arch = "jumprelu"
        elif cfg.get("activation_fn") == "topk" or (cfg.get("k", kwargs.get("k")) is not None
                                                    and cfg.get("activation_fn") in (None, "topk")):
            arch = "topk"
        else:
            arch = "standard"
    arch = {"relu": "standard", "matryoshka": "matryoshka_batchtopk"}.get(arch, arch)
    if arch in _SAELENS_REFUSED:
        raise ConfigError(f"{where}: SAELens architecture {arch!r} is not supported: it "
                          f"{_SAELENS_REFUSED[arch]} (supported: {', '.join(_SAELENS_SUPPORTED)})")
    if arch not in _SAELENS_SUPPORTED:
        raise ConfigError(f"{where}: SAELens architecture {arch!r} is not supported (supported: "
                          f"{', '.join(_SAELENS_SUPPORTED)})")
    act = cfg.get("activation_fn")
    if arch == "standard" and act not in (None, "relu"):
        raise ConfigError(f"{where}: SAELens activation_fn={act!r} is not supported (a standard SAE is read "
                          "with ReLU)")
    norm = cfg.get("normalize_activations")
    norm = {None: "none", False: "none", True: "expected_average_only_in"}.get(norm, norm)
    if norm not in _SAELENS_NORMS:
        raise ConfigError(f"{where}: SAELens normalize_activations={norm!r} is not supported (supported: "
                          f"{', '.join(_SAELENS_NORMS)})")
    reshape = cfg.get("reshape_activations", "none") or "none"
    if reshape not in ("none", "hook_z"):
        raise ConfigError(f"{where}: SAELens reshape_activations={reshape!r} is not supported")
    k = cfg.get("k", kwargs.get("k"))
    meta = cfg.get("metadata") if isinstance(cfg.get("metadata"), dict) else {}
    details = meta.get("training_architecture_details") or {}
    # TopKSAE (inference) defaults to False; the training classes, the only readers of batchtopk, to True
    rescale = cfg.get("rescale_acts_by_decoder_norm", arch in ("batchtopk", "matryoshka_batchtopk"))
    return {"architecture": arch, "k": k, "normalize": norm, "reshape": reshape, "rescale": bool(rescale),
            "subtract_b_dec": bool(cfg.get("apply_b_dec_to_input", True)),
            "training_architecture": meta.get("training_architecture"), "details": details,
            "d_in": cfg.get("d_in"), "d_sae": cfg.get("d_sae"), "dtype": cfg.get("dtype", "float32"),
            "sae_lens_version": meta.get("sae_lens_version", cfg.get("sae_lens_version")),
            "hook_name": meta.get("hook_name", cfg.get("hook_name", cfg.get("hook_point")))}


def _saelens_object(obj) -> tuple[dict, dict, str]:
    """Config dict and weights of a SAELens SAE object (or a duck-typed stand-in)."""
    cfg = getattr(obj, "cfg", None)
    doc: dict = {}
    if callable(getattr(cfg, "to_dict", None)):
        doc = dict(cfg.to_dict())
    elif cfg is not None:
        for key in ("architecture", "activation_fn", "activation_fn_str", "activation_fn_kwargs", "k", "d_in",
                    "d_sae", "apply_b_dec_to_input", "normalize_activations", "rescale_acts_by_decoder_norm",
                    "reshape_activations", "matryoshka_widths"):
            if hasattr(cfg, key):
                v = getattr(cfg, key)
                doc[key] = v() if callable(v) else v
    names = ("W_enc", "b_enc", "W_dec", "b_dec", "threshold", "log_threshold", "topk_threshold", "b_gate",
             "b_mag", "r_mag", "scaling_factor", "finetuning_scaling_factor")
    if callable(getattr(obj, "state_dict", None)):
        weights = dict(obj.state_dict())
    else:
        weights = {n: getattr(obj, n) for n in names if getattr(obj, n, None) is not None}
    return doc, weights, f"SAELens object {type(obj).__name__}"


def _saelens_folder(folder: Path) -> tuple[dict, dict, dict]:
    """Config dict, weights and the activation scaler (``activation_scaler.json``, whitening) of a folder."""
    _require(folder, SAELENS_FILES, "a SAELens folder")
    doc = _read_json(folder / "cfg.json", "SAELens config")
    try:
        weights = load_file(str(folder / "sae_weights.safetensors"))
    except (OSError, SafetensorError) as e:
        raise CheckpointError(f"{folder / 'sae_weights.safetensors'}: cannot read the weights ({e})") from None
    scaler: dict = {}
    if (folder / "activation_scaler.json").is_file():
        scaler = _read_json(folder / "activation_scaler.json", "SAELens activation scaler")
    white = folder / "activation_whitening.safetensors"
    if white.is_file():
        try:
            scaler["whitening"] = load_file(str(white))
        except (OSError, SafetensorError) as e:
            raise CheckpointError(f"{white}: cannot read the whitening statistics ({e})") from None
    return doc, weights, scaler


def read_saelens(source, cfg: dict | None = None, scaling_factor: float | None = None):
    """A kit SAE (or ``NormalizedSAE``) from a SAELens folder or SAE object; codes and reconstructions
    as SAELens computes them (decoder norms of relu/jumprelu/gated SAEs folded into the codes).

    cfg: overrides of config keys. scaling_factor: for ``normalize_activations="expected_average_only_in"``,
    the factor inputs were multiplied by in training (default: ``activation_scaler.json`` in the folder).
    """
    scaler: dict = {}
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        doc, weights, scaler = _saelens_folder(folder)
        where = str(folder)
    else:
        doc, weights, where = _saelens_object(source)
    doc.update(cfg or {})
    if scaling_factor is not None:
        scaler["scaling_factor"] = scaling_factor
    s = _saelens_config(doc, weights, where)
    w = {n: _f32(t) for n, t in weights.items()}
    sae = _saelens_build(s, w, scaler, where)
    sae.source.update({"format": "saelens", "path": where if isinstance(source, (str, os.PathLike)) else None,
                       "object": None if isinstance(source, (str, os.PathLike)) else type(source).__name__,
                       "architecture": s["architecture"], "normalize_activations": s["normalize"],
                       "sae_lens_version": s["sae_lens_version"], "hook_name": s["hook_name"], "k": s["k"],
                       "dtype": s["dtype"], "training_architecture": s["training_architecture"]})
    widths = doc.get("matryoshka_widths") or s["details"].get("matryoshka_widths")
    if widths:  # the kit's matryoshka prefixes are its own; inference does not depend on them
        sae.source["matryoshka_widths"] = [int(v) for v in widths]
    return sae


def _saelens_weights(s: dict, w: dict, where: str) -> dict:
    """Check names and shapes; legacy names (log_threshold, a batchtopk ``threshold``, scaling_factor) mapped."""
    arch = s["architecture"]
    if "log_threshold" in w and "threshold" not in w:
        w["threshold"] = w.pop("log_threshold").exp()
    if arch in ("batchtopk", "matryoshka_batchtopk") and "topk_threshold" not in w and "threshold" in w:
        w["topk_threshold"] = w.pop("threshold")
    for legacy in ("scaling_factor", "finetuning_scaling_factor"):
        if legacy in w:  # SAELens < 6: decode multiplied the codes by it; fold it into the decoder rows
            factor = w.pop(legacy).reshape(-1, 1)
            if "W_dec" in w:
                w["W_dec"] = w["W_dec"] * factor
    need = _SAELENS_WEIGHTS[arch]
    missing = [n for n in need if n not in w]
    if missing:
        raise CheckpointError(f"{where}: SAELens {arch} weights lack {missing} (found {sorted(w)})")
    unknown = sorted(set(w) - set(need))
    if unknown:
        raise CheckpointError(f"{where}: SAELens {arch} weights hold unexpected tensors {unknown}; the kit reads "
                              f"only {list(need)}")
    if w["W_enc"].ndim != 2:
        raise CheckpointError(f"{where}: W_enc must be 2-D [d_in, d_sae], got shape {tuple(w['W_enc'].shape)}")
    d, D = w["W_enc"].shape
    if (s["d_in"], s["d_sae"]) != (None, None) and (s["d_in"], s["d_sae"]) != (d, D):
        raise CheckpointError(f"{where}: W_enc has shape {(d, D)}, the config says d_in={s['d_in']}, "
                              f"d_sae={s['d_sae']}")
    shapes = {"b_enc": (D,), "b_gate": (D,), "b_mag": (D,), "r_mag": (D,), "W_dec": (D, d), "b_dec": (d,),
              "threshold": (D,), "topk_threshold": ()}
    for n in need:
        if n in shapes and tuple(w[n].shape) != shapes[n] and not (n == "threshold" and w[n].numel() == 1):
            raise CheckpointError(f"{where}: {n} has shape {tuple(w[n].shape)}, expected {shapes[n]}")
        if not torch.isfinite(w[n]).all():
            raise CheckpointError(f"{where}: {n} holds non-finite values")
    return w


def _fold_norms(w: dict) -> None:
    """Fold decoder row norms into the encoder (SAELens' ``fold_W_dec_norm``): same pre-activations as
    ``rescale_acts_by_decoder_norm``, and unit decoder rows."""
    n = w["W_dec"].norm(dim=1)
    w["W_enc"], w["b_enc"], w["W_dec"] = w["W_enc"] * n, w["b_enc"] * n, w["W_dec"] / n[:, None]


def _saelens_normalize(s: dict, w: dict, scaler: dict, where: str) -> None:
    """Fold ``expected_average_only_in`` (a scale) or ``covariance_whitening`` (an affine map) into ``w``,
    in SAELens' own order (decoder norms first for rescaled TopK before whitening)."""
    if s["normalize"] == "expected_average_only_in":
        sf = scaler.get("scaling_factor")
        if sf is None:
            raise ConfigError(f"{where}: normalize_activations='expected_average_only_in' scales the inputs by a "
                              "factor that is not in the folder (no activation_scaler.json with a scaling_factor); "
                              "pass scaling_factor= (the release's norm_scaling_factor), or scaling_factor=1.0 to "
                              "use the weights as they are (as SAELens' load_from_disk does)")
        sf = float(sf)
        if not (math.isfinite(sf) and sf > 0):
            raise ConfigError(f"{where}: scaling_factor must be a finite number > 0, got {sf}")
        w["W_enc"], w["W_dec"], w["b_dec"] = w["W_enc"] * sf, w["W_dec"] / sf, w["b_dec"] / sf
        if "topk_threshold" in w and s["rescale"]:
            w["topk_threshold"] = w["topk_threshold"] / sf
    elif s["normalize"] == "covariance_whitening":
        white = scaler.get("whitening")
        if not isinstance(white, dict) or not {"mean", "matrix", "inverse_matrix"} <= set(white):
            raise ConfigError(f"{where}: normalize_activations='covariance_whitening' needs the whitening "
                              "statistics (activation_whitening.safetensors with mean, matrix, inverse_matrix) "
                              "next to cfg.json")
        if s["rescale"] and "b_enc" in w:
            _fold_norms(w)
            s["rescale"] = False
        mean, M, Minv = (white[n].detach().double() for n in ("mean", "matrix", "inverse_matrix"))
        d = w["W_enc"].shape[0]
        if mean.shape != (d,) or M.shape != (d, d) or Minv.shape != (d, d):
            raise CheckpointError(f"{where}: whitening statistics have shapes {tuple(mean.shape)}, "
                                  f"{tuple(M.shape)}, {tuple(Minv.shape)}; expected ({d},), ({d}, {d}), ({d}, {d})")
        W_enc = M @ w["W_enc"].double()
        if not s["subtract_b_dec"]:
            shift = mean @ W_enc
            for b in ("b_enc", "b_gate"):
                if b in w:
                    w[b] = (w[b].double() - shift).float()
            if "b_mag" in w:
                w["b_mag"] = (w["b_mag"].double() - shift * w["r_mag"].double().exp()).float()
        w["W_enc"] = W_enc.float()
        w["W_dec"] = (w["W_dec"].double() @ Minv).float()
        w["b_dec"] = (w["b_dec"].double() @ Minv + mean).float()


def _saelens_build(s: dict, w: dict, scaler: dict, where: str):
    arch = s["architecture"]
    w = _saelens_weights(s, w, where)
    _saelens_normalize(s, w, scaler, where)
    if arch == "gated":
        e = w["r_mag"].exp()
        W_enc, b_enc = w["W_enc"] * e, w["b_mag"]
        family, k, threshold = "jumprelu", None, (w["b_mag"] - e * w["b_gate"]).clamp(min=0)
    else:
        if arch in ("topk", "batchtopk", "matryoshka_batchtopk") and s["rescale"]:
            _fold_norms(w)
        W_enc, b_enc = w["W_enc"], w["b_enc"]
        family = {"standard": "relu", "topk": "topk", "batchtopk": "batchtopk",
                  "matryoshka_batchtopk": "matryoshka", "jumprelu": "jumprelu"}[arch]
        k, threshold = s["k"], w.get("topk_threshold", w.get("threshold"))
        if arch == "jumprelu":
            threshold = threshold.reshape(-1).expand(W_enc.shape[1]).clamp(min=0)  # θ < 0 acts as θ = 0
            saved = s["training_architecture"]
            if saved in ("batchtopk", "matryoshka_batchtopk") and bool((threshold == threshold[0]).all()):
                family, threshold = ("batchtopk" if saved == "batchtopk" else "matryoshka"), threshold[0]
                k = s["details"].get("k", k)
    if family in ("topk", "batchtopk", "matryoshka"):
        if k is None:
            raise ConfigError(f"{where}: SAELens {arch} config has no k")
        k_float = float(k)
        if family == "topk" and k_float != int(k_float):
            raise ConfigError(f"{where}: SAELens topk k={k} is not an integer")
        k = max(1, round(k_float))  # BatchTopK's k is an average over the batch: kept for the untrained twin
    layer_norm = s["normalize"] == "layer_norm"  # the kit's own per-sample standardisation, exactly
    sae = _build(where, W_enc, b_enc, w["W_dec"], w["b_dec"], family, k=k, threshold=threshold,
                 subtract_b_dec=s["subtract_b_dec"], standardize=layer_norm)
    if s["normalize"] == "constant_norm_rescale":
        source = sae.source
        sae = NormalizedSAE(sae, s["normalize"], eps=1e-5).eval()
        sae.source = source
    return sae


# ---- dictionary_learning ---------------------------------------------------------------------------------

_DL_CLASSES = {  # dict_class → (kit family, state-dict keys)
    "AutoEncoder": ("relu", ("bias", "encoder.weight", "encoder.bias", "decoder.weight")),
    "AutoEncoderNew": ("relu", ("encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias")),
    "GatedAutoEncoder": ("jumprelu", ("decoder_bias", "encoder.weight", "r_mag", "gate_bias", "mag_bias",
                                      "decoder.weight")),
    "JumpReluAutoEncoder": ("jumprelu", ("W_enc", "b_enc", "W_dec", "b_dec", "threshold")),
    "AutoEncoderTopK": ("topk", ("k", "threshold", "decoder.weight", "encoder.weight", "encoder.bias", "b_dec")),
    "BatchTopKSAE": ("batchtopk", ("k", "threshold", "decoder.weight", "encoder.weight", "encoder.bias", "b_dec")),
    "MatryoshkaBatchTopKSAE": ("matryoshka", ("k", "threshold", "group_sizes", "W_enc", "b_enc", "W_dec",
                                              "b_dec")),
}
_DL_BIASES = {  # what each class's scale_biases multiplies (a backup taken while activations were normalised)
    "AutoEncoder": ("encoder.bias", "bias"), "GatedAutoEncoder": ("decoder_bias", "mag_bias", "gate_bias"),
    "JumpReluAutoEncoder": ("b_dec", "b_enc", "threshold"), "AutoEncoderTopK": ("encoder.bias", "b_dec"),
    "BatchTopKSAE": ("encoder.bias", "b_dec"), "MatryoshkaBatchTopKSAE": ("b_enc", "b_dec"),
}


def _dl_folder(folder: Path) -> tuple[str, dict, dict, str]:
    """dict_class, state dict, trainer config and a description of a dictionary_learning folder."""
    _require(folder, DICTIONARY_LEARNING_FILES, "a dictionary_learning folder")
    doc = _read_json(folder / "config.json", "dictionary_learning config")
    trainer = doc.get("trainer")
    if not isinstance(trainer, dict) or "dict_class" not in trainer:
        raise CheckpointError(f"{folder / 'config.json'}: not a dictionary_learning config (expected "
                              "{'trainer': {'dict_class': ...}})")
    file = folder / "ae.pt"
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises pickle, zip and runtime errors alike
        raise CheckpointError(f"{file}: cannot read the weights with torch.load(weights_only=True) "
                              f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{file}: expected a state dict, got {type(state).__name__}")
    if "ae" in state and isinstance(state["ae"], dict):  # a backup written while training ran
        norm_factor = state.get("norm_factor")
        state = dict(state["ae"])
        if norm_factor is not None:
            cls = trainer["dict_class"]
            if cls not in _DL_BIASES:
                raise CheckpointError(f"{file}: a {cls} backup taken with normalised activations cannot be "
                                      "rescaled (the class has no scale_biases)")
            for key in _DL_BIASES[cls]:
                if key in state:
                    state[key] = state[key] * float(norm_factor)
            if "threshold" in state and cls != "JumpReluAutoEncoder" and float(state["threshold"]) >= 0:
                state["threshold"] = state["threshold"] * float(norm_factor)
    return str(trainer["dict_class"]), state, trainer, str(folder)


def read_dictionary_learning(source):
    """A kit SAE from a dictionary_learning folder (``ae.pt`` + ``config.json``) or dictionary object.

    Codes and reconstructions are those of the library's ``load_dictionary`` (AutoEncoder's decoder is
    normalised there, as here: its codes carry the decoder norms; so do the other relu/jumprelu classes').
    """
    if isinstance(source, (str, os.PathLike)):
        cls, state, trainer, where = _dl_folder(Path(source))
        apply_b_dec = False
    else:
        cls, state, trainer = type(source).__name__, dict(source.state_dict()), {}
        where = f"dictionary_learning object {cls}"
        apply_b_dec = bool(getattr(source, "apply_b_dec_to_input", False))
    if cls not in _DL_CLASSES:
        raise ConfigError(f"{where}: dictionary_learning dict_class {cls!r} is not supported (supported: "
                          f"{', '.join(_DL_CLASSES)})")
    family, keys = _DL_CLASSES[cls]
    missing = [n for n in keys if n not in state]
    unknown = sorted(set(state) - set(keys))
    if missing or unknown:
        raise CheckpointError(f"{where}: {cls} state dict does not match (missing {missing}, unexpected {unknown})")
    w = {n: _f32(t) for n, t in state.items()}
    k, threshold, notes = None, None, []
    if cls in ("AutoEncoder", "AutoEncoderNew", "GatedAutoEncoder", "AutoEncoderTopK", "BatchTopKSAE"):
        W_enc, W_dec = w["encoder.weight"].T, w["decoder.weight"].T
    else:
        W_enc, W_dec = w["W_enc"], w["W_dec"]
    if cls == "AutoEncoder":
        b_enc, b_dec, subtract = w["encoder.bias"], w["bias"], True
    elif cls == "AutoEncoderNew":
        b_enc, b_dec, subtract = w["encoder.bias"], w["decoder.bias"], False
    elif cls == "GatedAutoEncoder":
        e = w["r_mag"].exp()
        W_enc, b_enc, b_dec, subtract = W_enc * e, w["mag_bias"], w["decoder_bias"], True
        threshold = (w["mag_bias"] - e * w["gate_bias"]).clamp(min=0)
    elif cls == "JumpReluAutoEncoder":
        b_enc, b_dec, subtract = w["b_enc"], w["b_dec"], apply_b_dec
        threshold = w["threshold"].clamp(min=0)  # relu(pre·1[pre > θ]) with θ < 0 is relu(pre)
    else:
        b_enc = w["encoder.bias"] if "encoder.bias" in w else w["b_enc"]
        b_dec, subtract = w["b_dec"], True
        k = int(state["k"])
        if trainer.get("k") is not None and int(trainer["k"]) != k:
            raise CheckpointError(f"{where}: config.json says k={trainer['k']}, ae.pt holds k={k}")
        if family != "topk":
            threshold = float(w["threshold"])
            if threshold < 0:  # never learned: the library's codes are then dense, relu(pre) > −1
                notes.append("threshold was never learned (< 0): codes are the dense ReLU codes the library gives")
                warnings.warn(f"{where}: {cls} threshold was never learned ({threshold}); its codes are dense "
                              "(every positive pre-activation), as the library's", stacklevel=3)
                threshold = 0.0
    if cls == "MatryoshkaBatchTopKSAE" and int(w["group_sizes"].sum()) != W_enc.shape[1]:
        raise CheckpointError(f"{where}: group_sizes sum to {int(w['group_sizes'].sum())}, not dict_size "
                              f"{W_enc.shape[1]}")
    sae = _build(where, W_enc, b_enc, W_dec, b_dec, family, k=k, threshold=threshold, subtract_b_dec=subtract)
    if cls == "AutoEncoder" and trainer:  # load_dictionary normalises its decoder, folding the norms as here
        sae.source["code_scale"] = np.ones_like(sae.source["code_scale"])
    sae.source.update({"format": "dictionary_learning", "path": where if trainer else None, "dict_class": cls,
                       "trainer_class": trainer.get("trainer_class"), "notes": notes})
    if cls == "MatryoshkaBatchTopKSAE":
        sae.source["group_sizes"] = [int(v) for v in w["group_sizes"].tolist()]
    return sae


# ---- load_any --------------------------------------------------------------------------------------------

def _require(folder: Path, files: tuple[str, ...], what: str) -> None:
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such folder (expected {what} with {' + '.join(files)})")
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: not {what}: missing {', '.join(missing)} (expected "
                              f"{' + '.join(files)})")


def detect(path: str | os.PathLike) -> str:
    """The format of an SAE folder: ``kit``, ``saelens`` or ``dictionary_learning`` (CheckpointError if none)."""
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such file or folder")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: not a folder (give the SAE's folder, not one of its files)")
    has = {f.name for f in folder.iterdir() if f.is_file()}
    if "cfg.json" in has or "sae_weights.safetensors" in has:
        return "saelens"
    if "ae.pt" in has:
        return "dictionary_learning"
    if "weights.safetensors" in has:
        return "kit"
    if "config.json" in has:
        doc = _read_json(folder / "config.json", "SAE config")
        return "dictionary_learning" if "trainer" in doc else "kit"
    raise CheckpointError(f"{folder}: not a recognised SAE folder (expected a kit folder: "
                          f"{' + '.join(KIT_FILES)}; SAELens: {' + '.join(SAELENS_FILES)}; "
                          f"dictionary_learning: {' + '.join(DICTIONARY_LEARNING_FILES)}); found "
                          f"{sorted(has) if has else 'no files'}")


def _object_format(obj) -> str:
    module = type(obj).__module__ or ""
    for prefix, fmt in (("sae_lens", "saelens"), ("overcomplete", "overcomplete"),
                        ("dictionary_learning", "dictionary_learning")):
        if module == prefix or module.startswith(prefix + "."):
            return fmt
    if hasattr(obj, "config") and callable(getattr(obj, "encode", None)) and hasattr(obj, "W_dec"):
        return "kit"
    if isinstance(obj, dict):
        return "tensors"
    if getattr(obj, "cfg", None) is not None and hasattr(obj, "W_enc"):
        return "saelens"
    if callable(getattr(obj, "get_dictionary", None)):
        return "overcomplete"
    if type(obj).__name__ in _DL_CLASSES and callable(getattr(obj, "state_dict", None)):
        return "dictionary_learning"
    raise ConfigError(f"load_any: cannot tell the format of a {type(obj).__name__} object (expected a kit SAE, a "
                      "SAELens SAE, an overcomplete SAE, a dictionary_learning dictionary or a dict of tensors "
                      "W_enc, b_enc, W_dec, b_dec); pass format=")


_OPTIONS = {"kit": (), "saelens": ("cfg", "scaling_factor"), "dictionary_learning": (),
            "overcomplete": ("batch_size",),
            "tensors": ("activation", "k", "threshold", "standardize", "subtract_b_dec")}


def load_any(source: Any, format: str = "auto", **options):  # noqa: A002 - the user-facing word
    """An SAE-protocol module from any source the kit reads.

    source: a folder (kit, SAELens, dictionary_learning), an object (kit SAE, SAELens SAE, overcomplete SAE,
    dictionary_learning dictionary) or a dict of raw tensors ``W_enc [d, D], b_enc [D], W_dec [D, d], b_dec [d]``
    (``threshold``). format: ``auto`` (recognised from the folder's files or the object's library) or one of
    ``kit, saelens, dictionary_learning, overcomplete, tensors``. options by format: saelens ``cfg``,
    ``scaling_factor``; overcomplete ``batch_size``; tensors ``activation, k, threshold, standardize,
    subtract_b_dec``. Returns a module with ``encode(x: float[N, d]) → float[N, D] ≥ 0``, ``decode``,
    ``W_dec: [D, d]``, ``b_dec: [d]``, ``config`` (family, d, dict_size, k, standardize, subtract_b_dec: what
    ``kit.sae.untrained`` needs for a twin) and, when not a kit folder, ``source`` (where it came from and
    ``code_scale``). Anything unrecognised or unsupported raises a CheckpointError or ConfigError naming it.
    """
    if format not in FORMATS:
        raise ConfigError(f"load_any: format must be one of {FORMATS}, got {format!r}")
    is_path = isinstance(source, (str, os.PathLike))
    fmt = format
    if fmt == "auto":
        fmt = detect(source) if is_path else _object_format(source)
    unknown = sorted(set(options) - set(_OPTIONS[fmt]))
    if unknown:
        raise ConfigError(f"load_any: option(s) {unknown} do not apply to format {fmt!r} (its options: "
                          f"{list(_OPTIONS[fmt]) or 'none'})")
    if fmt == "kit":
        if not is_path:
            return source
        _require(Path(source), KIT_FILES, "a kit SAE folder")
        return load(source)
    if fmt == "saelens":
        return read_saelens(source, **options)
    if fmt == "dictionary_learning":
        return read_dictionary_learning(source)
    if is_path:
        raise ConfigError(f"load_any: {source}: format {fmt!r} has no folder layout (pass the object itself)")
    if fmt == "overcomplete":
        return from_overcomplete(source, **options)
    if not isinstance(source, dict):
        raise ConfigError(f"load_any: format 'tensors' needs a dict of W_enc, b_enc, W_dec, b_dec, got "
                          f"{type(source).__name__}")
    missing = [n for n in ("W_enc", "b_enc", "W_dec", "b_dec") if n not in source]
    extra = sorted(set(source) - {"W_enc", "b_enc", "W_dec", "b_dec", "threshold"})
    if missing or extra:
        raise ConfigError(f"load_any: a dict of tensors needs W_enc, b_enc, W_dec, b_dec (and threshold); "
                          f"missing {missing}, unexpected {extra}")
    kwargs = dict(options)
    if "threshold" in source:
        kwargs.setdefault("threshold", source["threshold"])
    return from_tensors(source["W_enc"], source["b_enc"], source["W_dec"], source["b_dec"], **kwargs)
