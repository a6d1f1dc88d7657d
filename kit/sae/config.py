"""The configurations of the SAE package: the architecture (:class:`SAEConfig`) and a training run
(:class:`TrainConfig`), with the family names they check against. Plain frozen dataclasses, no torch: every
other module of :mod:`kit.sae` stands on this one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from kit.errors import ConfigError

FAMILIES = ("relu", "topk", "batchtopk", "matryoshka", "jumprelu")
K_FAMILIES = ("topk", "batchtopk", "matryoshka")  # families whose sparsity is set by k


def matryoshka_prefixes(dict_size: int) -> tuple[int, ...]:
    """Nested prefix sizes D/32, D/16, D/8, D/4, D/2, D (rounded down, at least 1, duplicates dropped)."""
    return tuple(sorted({max(1, dict_size // 2**i) for i in range(5, -1, -1)}))


def _plain_fields(config) -> None:
    """Replace numpy scalars in a frozen dataclass by Python numbers (so configs serialise to JSON)."""
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        if isinstance(v, np.generic):
            object.__setattr__(config, f.name, v.item())


@dataclass(frozen=True)
class SAEConfig:
    """Architecture of an SAE.

    family: one of ``relu, topk, batchtopk, matryoshka, jumprelu``; d: input width; dict_size: D latents;
    k: active latents per sample (used by topk/batchtopk/matryoshka); standardize: per-sample standardisation
    of inputs (``(x − mean) / std`` over features) applied by :meth:`SAE.preprocess`; subtract_b_dec: centre
    inputs by ``b_dec`` before encoding; bandwidth: JumpReLU's straight-through kernel width;
    init_threshold: JumpReLU's initial threshold (both in pre-activation units; the trainer sets them
    relative to the data's scale).
    """

    family: str
    d: int
    dict_size: int
    k: int | None = 32
    standardize: bool = False
    subtract_b_dec: bool = True
    bandwidth: float = 1e-3
    init_threshold: float = 1e-3

    def __post_init__(self) -> None:
        _plain_fields(self)
        if self.family not in FAMILIES:
            raise ConfigError(f"SAE family must be one of {FAMILIES}, got {self.family!r}")
        for name in ("d", "dict_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"SAEConfig.{name} must be an integer ≥ 1, got {v!r}")
        if self.family in K_FAMILIES:
            if not isinstance(self.k, (int, np.integer)) or isinstance(self.k, bool) or self.k < 1:
                raise ConfigError(f"SAEConfig.k must be an integer ≥ 1 for family {self.family!r}, got {self.k!r}")
            if self.k > self.dict_size:
                raise ConfigError(f"SAEConfig.k={self.k} exceeds dict_size={self.dict_size}")
        if self.bandwidth <= 0 or self.init_threshold <= 0:
            raise ConfigError("SAEConfig.bandwidth and init_threshold must be > 0")

    @property
    def prefixes(self) -> tuple[int, ...]:
        """Matryoshka's nested prefix sizes (all D for the other families)."""
        return matryoshka_prefixes(self.dict_size) if self.family == "matryoshka" else (self.dict_size,)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run (defaults: the reference code's settings for the paper).

    Architecture: dict_size, family, k, standardize (per-sample standardisation, the reference's
    ``input_unit_norm``); JumpReLU's init_threshold and bandwidth are in units of σ = √(norm / d), the spread
    of the training data's projection on a unit direction (norm = its mean squared distance to its mean, the
    NMSE normaliser) — the scale of the initial pre-activations — so they suit any embedding scale; the trained
    SAE's config holds them in input units. Optimisation: Adam (β = 0.9, 0.999; eps ``adam_eps``) with lr,
    batch_size, at most ``epochs`` epochs (or max_steps), grad_clip (max gradient norm), decoder rows
    renormalised after every step. Dead latents: AuxK with k_aux latents and weight aux_weight on latents that
    did not fire for dead_after batches. Penalties: l1_coefficient (relu), l0_coefficient (jumprelu). Early
    stopping: val_fraction of the rows held out (drawn with data_seed), evaluated every eval_every steps (None:
    once per epoch) on the training objective (NMSE + sparsity penalty, without AuxK); stop after patience
    evaluations without improvement. keep_best: keep the weights of the best evaluation (the kit) rather than
    the last ones (the reference code saves the last). seed: initialisation; data_seed: split and batch order.

    Where the kit differs from the reference code (chapter *Reproducing the paper* lists each difference):
    the validation rows are a seeded random 15 % of the training embeddings, not a class-stratified split of
    the CUB images; the best weights are kept (``keep_best=False`` keeps the last, as the reference).
    """

    dict_size: int
    family: str = "topk"
    k: int | None = 32
    seed: int = 0
    standardize: bool = True
    init_threshold: float = 1.0
    bandwidth: float = 0.1
    lr: float = 5e-4
    adam_eps: float = 6.25e-10
    batch_size: int = 1024
    epochs: int = 50
    max_steps: int | None = None
    grad_clip: float = 1.0
    k_aux: int = 512
    aux_weight: float = 1 / 32
    dead_after: int = 20
    l1_coefficient: float = 0.05
    l0_coefficient: float = 1e-3
    val_fraction: float = 0.15
    eval_every: int | None = None
    patience: int = 3
    keep_best: bool = True
    data_seed: int = 42
    log_every: int = 10
    checkpoint_every: int | None = None
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        _plain_fields(self)
        self.sae_config(1)  # checks family, dict_size, k
        positive = ("lr", "adam_eps", "batch_size", "epochs", "grad_clip", "k_aux", "dead_after", "patience", "log_every")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"TrainConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("max_steps", "eval_every", "checkpoint_every"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"TrainConfig.{name} must be ≥ 1 or None, got {v!r}")
        for name in ("aux_weight", "l1_coefficient", "l0_coefficient"):
            if getattr(self, name) < 0:
                raise ConfigError(f"TrainConfig.{name} must be ≥ 0, got {getattr(self, name)!r}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"TrainConfig.val_fraction must lie in [0, 1), got {self.val_fraction!r}")

    def sae_config(self, d: int, sigma: float = 1.0) -> SAEConfig:
        """The architecture this run trains, for inputs of width ``d`` whose σ (see above) is ``sigma``."""
        return SAEConfig(family=self.family, d=d, dict_size=self.dict_size, k=self.k, standardize=self.standardize,
                         bandwidth=self.bandwidth * sigma, init_threshold=self.init_threshold * sigma)

    @property
    def name(self) -> str:
        """A short folder-friendly name: ``topk-D4096-k32-s0``."""
        k = f"-k{self.k}" if self.family in K_FAMILIES else ""
        return f"{self.family}-D{self.dict_size}{k}-s{self.seed}"


def make_config(config: TrainConfig | dict) -> TrainConfig:
    """A TrainConfig from a TrainConfig or a dict of its fields (ConfigError naming unknown fields)."""
    if isinstance(config, TrainConfig):
        return config
    if not isinstance(config, dict):
        raise ConfigError(f"a training config must be a TrainConfig or a dict, got {type(config).__name__}")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise ConfigError(f"unknown training setting(s) {unknown}; valid: {sorted(names)}")
    if "dict_size" not in config:
        raise ConfigError("a training config needs dict_size")
    return TrainConfig(**config)
