"""Bring your own SAE: raw tensors, overcomplete modules, and the wrappers for what the kit's SAE cannot express.

No other library needs to be installed: folders are read with safetensors (see :mod:`kit.sae.formats`, which
also holds :func:`~kit.sae.formats.load_any`) and objects are used through the attributes they expose
(duck typing). Every SAE is mapped onto the kit's :class:`~kit.sae.model.SAE` where it can be exactly.
Decoder rows are then rescaled to unit norm with the inverse scale folded into the codes, which leaves
reconstructions unchanged (relu/jumprelu: kit codes = source codes × row norm, recorded as
``source["code_scale"]``); TopK and BatchTopK keep their rows as given (rescaling them would change which
latents are kept). Two wrappers speak the same protocol where the kit's SAE cannot: :class:`ExternalSAE`
(codes from a wrapped module) and :class:`NormalizedSAE` (a per-sample input normalisation).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import torch
from torch import nn

from kit.arrays import to_numpy
from kit.errors import ConfigError, DataError, KitError
from kit.sae.config import SAEConfig
from kit.sae.model import SAE

ACTIVATIONS = ("relu", "topk", "batchtopk", "matryoshka", "jumprelu")
_SHARED_THRESHOLD = ("batchtopk", "matryoshka")


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
    ``batchtopk`` or ``matryoshka`` (need ``k`` and their inference ``threshold``, a scalar). subtract_b_dec:
    whether the encoder sees ``x − b_dec`` (SAELens' ``apply_b_dec_to_input``).
    """
    return assemble(W_enc, b_enc, W_dec, b_dec, activation, k, threshold, standardize, subtract_b_dec, warn=True)


def assemble(W_enc, b_enc, W_dec, b_dec, activation: str, k: int | None = None, threshold=None,
             standardize: bool = False, subtract_b_dec: bool = True, warn: bool = False) -> SAE:
    """:func:`from_tensors`; ``warn=False`` stays quiet about non-unit TopK rows (readers record them instead).

    The SAE carries ``source = {"code_scale": float32[D]}``: its codes are the source's codes times it.
    """
    if activation not in ACTIVATIONS:
        raise ConfigError(f"from_tensors: activation must be one of {ACTIVATIONS}, got {activation!r}")
    W_enc_np = to_numpy(W_enc)
    if W_enc_np.ndim != 2:
        raise DataError(f"from_tensors: W_enc must be 2-D [d, D], got shape {W_enc_np.shape}")
    d, D = W_enc_np.shape
    W_enc, b_enc = _tensor("W_enc", W_enc, (d, D)), _tensor("b_enc", b_enc, (D,))
    W_dec, b_dec = _tensor("W_dec", W_dec, (D, d)), _tensor("b_dec", b_dec, (d,))
    k_family = activation in ("topk",) + _SHARED_THRESHOLD
    if k_family and k is None:
        raise ConfigError(f"from_tensors: activation={activation!r} needs k")
    if activation in ("jumprelu",) + _SHARED_THRESHOLD and threshold is None:
        raise ConfigError(f"from_tensors: activation={activation!r} needs threshold")
    config = SAEConfig(family=activation, d=d, dict_size=D, k=k if k is not None else 32,
                       standardize=standardize, subtract_b_dec=subtract_b_dec)
    sae = SAE(config)
    norms = W_dec.norm(dim=1)
    if (norms == 0).any():
        raise DataError(f"from_tensors: decoder row {int(torch.nonzero(norms == 0)[0])} is zero")
    if k_family:
        if warn and (norms - 1).abs().max() > 1e-3:
            warnings.warn(f"from_tensors: {activation} decoder rows are not unit-norm; kept as given (rescaling "
                          "them would change which latents the top-k or the shared threshold keeps)", stacklevel=3)
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
        elif activation in _SHARED_THRESHOLD:
            th = np.asarray(to_numpy(threshold), dtype=np.float64)
            if th.size != 1:
                raise DataError(f"from_tensors: a {activation} threshold is one number, got shape {th.shape} "
                                "(per-latent thresholds: use activation='jumprelu')")
            th = float(th.reshape(-1)[0])
            if not th >= 0:
                raise DataError(f"from_tensors: threshold must be ≥ 0, got {th}")
            sae.threshold.fill_(th)
    sae.source = {"format": "tensors", "code_scale": norms.numpy().astype(np.float32)}
    return sae.eval()


# ---- wrappers --------------------------------------------------------------------------------------------

class NormalizedSAE(nn.Module):
    """A kit :class:`SAE` behind a per-sample input normalisation it has no setting for (SAELens').

    normalization: ``layer_norm`` (``(x − mean) / (std + eps)`` over each row's features, unbiased std) or
    ``constant_norm_rescale`` (``x · √d / ‖x‖``). ``encode(x: float[N, d])`` normalises, then encodes;
    ``decode(z)`` reconstructs in the normalised space, like the kit's standardising SAEs (``preprocess``
    maps raw inputs there). ``config`` is the inner SAE's, with ``standardize=True`` for layer_norm (the kit's
    own per-sample standardisation, for an untrained twin); ``preprocessing`` names the exact normalisation.
    """

    NORMALIZATIONS = ("layer_norm", "constant_norm_rescale")

    def __init__(self, sae: SAE, normalization: str, eps: float = 1e-5):
        super().__init__()
        if normalization not in self.NORMALIZATIONS:
            raise ConfigError(f"NormalizedSAE: normalization must be one of {self.NORMALIZATIONS}, "
                              f"got {normalization!r}")
        self.sae, self.normalization, self.eps = sae, normalization, float(eps)
        self.config = dataclasses.replace(sae.config, standardize=normalization == "layer_norm")
        self.preprocessing = (f"layer_norm(eps={self.eps:g})" if normalization == "layer_norm"
                              else "constant_norm_rescale")
        self.source: dict = {}

    W_enc = property(lambda self: self.sae.W_enc)
    b_enc = property(lambda self: self.sae.b_enc)
    W_dec = property(lambda self: self.sae.W_dec)
    b_dec = property(lambda self: self.sae.b_dec)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Raw ``x: float[N, d]`` → the SAE's (normalised) input space."""
        if self.normalization == "layer_norm":
            x = x - x.mean(dim=-1, keepdim=True)
            return x / (x.std(dim=-1, keepdim=True) + self.eps)
        return x * (self.config.d ** 0.5 / x.norm(dim=-1, keepdim=True))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``float[N, D] ≥ 0`` of raw inputs ``x: float[N, d]``."""
        self.sae._check_input(x)
        return self.sae.encode(self.preprocess(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``float[N, d]`` (normalised space) of codes ``z: float[N, D]``."""
        return self.sae.decode(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def extra_repr(self) -> str:
        return f"preprocessing={self.preprocessing}"


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
        self.source = {"format": "overcomplete", "object": type(module).__name__, "wrapped": True,
                       "code_scale": norms.numpy().astype(np.float32)}
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


# ---- overcomplete ----------------------------------------------------------------------------------------

def _overcomplete_dictionary(model: nn.Module) -> torch.Tensor:
    """The inference dictionary ``[D, d]`` (overcomplete fuses it when the model switches to eval mode)."""
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
    return dictionary


def _linear_encoder(model: nn.Module, d: int, D: int):
    """``(W_enc [d, D], b_enc [D])`` when the encoder is overcomplete's one-layer MLPEncoder (a Linear, then
    Identity or an eval-mode BatchNorm1d, folded in, then ReLU); None for any other encoder."""
    enc = getattr(model, "encoder", None)
    block = getattr(enc, "final_block", None)
    if (enc is None or len(getattr(enc, "mlp_blocks", [None])) != 0 or not isinstance(block, nn.Sequential)
            or len(block) != 2 or not isinstance(getattr(enc, "final_activation", None), nn.ReLU)):
        return None
    lin, norm = block[0], block[1]
    if not isinstance(lin, nn.Linear) or (lin.in_features, lin.out_features) != (d, D):
        return None
    W = lin.weight.detach().double().T
    b = lin.bias.detach().double() if lin.bias is not None else torch.zeros(D, dtype=torch.float64)
    if isinstance(norm, nn.BatchNorm1d):
        if norm.training or norm.running_mean is None or norm.num_features != D:
            return None
        scale = (norm.running_var.double() + norm.eps).rsqrt()
        if norm.affine:
            scale = scale * norm.weight.detach().double()
        shift = norm.bias.detach().double() if norm.affine else torch.zeros(D, dtype=torch.float64)
        W, b = W * scale, (b - norm.running_mean.double()) * scale + shift
    elif not isinstance(norm, nn.Identity):
        return None
    return W.float(), b.float()


def from_overcomplete(model: nn.Module, batch_size: int | None = None):
    """An overcomplete SAE (``SAE``, ``TopKSAE``, ``BatchTopKSAE``, ``JumpSAE`` and their subclasses), in eval mode.

    With overcomplete's one-layer linear encoder (the default; an eval-mode BatchNorm is folded in) the
    model maps exactly onto a kit :class:`SAE`; any other encoder is wrapped (:class:`ExternalSAE`, codes from
    the module). batch_size: the training batch size of a ``BatchTopKSAE``, whose ``top_k`` counts the codes
    kept in a whole batch (the kit's k is per sample: ``top_k / batch_size``).
    """
    if not callable(getattr(model, "encode", None)):
        raise ConfigError(f"from_overcomplete: {type(model).__name__} has no encode method")
    was_training = bool(getattr(model, "training", False))
    if isinstance(model, nn.Module):
        model.eval()  # overcomplete fuses its dictionary (and BatchNorm uses running statistics) in eval mode
    dictionary = _overcomplete_dictionary(model)
    D, d = dictionary.shape
    name = type(model).__name__.lower()
    top_k = getattr(model, "top_k", None)
    if "batchtopk" in name:
        family = "batchtopk"
        if top_k is None or batch_size is None:
            raise ConfigError(f"from_overcomplete: {type(model).__name__}.top_k={top_k} counts the codes kept in "
                              "a whole training batch; pass batch_size= (the training batch size) so the kit can "
                              "state k per sample")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigError(f"from_overcomplete: batch_size must be an integer ≥ 1, got {batch_size!r}")
        k = min(D, max(1, round(int(top_k) / batch_size)))
    elif "jump" in name:
        family, k = "jumprelu", None
    elif top_k is not None:
        family, k = "topk", int(top_k)
    else:
        family, k = "relu", None
    source = {"format": "overcomplete", "object": type(model).__name__, "top_k": top_k,
              "was_training": was_training}
    linear = _linear_encoder(model, d, D)
    if linear is not None:
        W_enc, b_enc = linear
        threshold = None
        if family == "batchtopk":
            threshold = getattr(model, "running_threshold", None)
            if threshold is None:
                raise ConfigError(f"from_overcomplete: {type(model).__name__} has no running_threshold (it was never "
                                  "run in training mode), so its inference codes are undefined")
        elif family == "jumprelu":
            threshold = torch.as_tensor(to_numpy(model.thresholds), dtype=torch.float32).exp()
        try:
            sae = assemble(W_enc, b_enc, dictionary, torch.zeros(d), family, k=k, threshold=threshold,
                           subtract_b_dec=False)
        except KitError as e:
            raise type(e)(f"from_overcomplete: {type(model).__name__}: {e}") from None
        sae.source = {**source, "wrapped": False, "code_scale": sae.source["code_scale"]}
        return sae
    wrapped = ExternalSAE(model, dictionary, k, family).eval()
    wrapped.source = {**source, **{k_: v for k_, v in wrapped.source.items() if k_ not in source}}
    return wrapped
