"""Concept matching: which latents of an SAE stand for which annotated concepts, and how well.

- :func:`binarize` — codes → firing patterns ``B: bool[N, D]``;
- :func:`fbmp` (F-beta matching pursuit), :func:`one_to_one`, :func:`nnomp` (continuous baseline),
  :func:`probe_upper_bound` (supervised linear read-out) — each returns a :class:`kit.types.Matching`;
- :func:`match_score` (MATCHScore at budget k), :func:`delta_match_score` (trained − baseline),
  :func:`held_out` / :func:`rescore` (select on one split, score on another), :func:`match_score_ci`
  (bootstrap over concepts or samples), :func:`score_sweep`, :func:`score_rows` (a results table).

:class:`MatchingConfig` holds the paper's settings; :func:`match_codes` applies them to codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.errors import ConfigError
from kit.matching._binary import binarize
from kit.matching.fbmp import beta_fraction, fbmp, one_to_one
from kit.matching.nnomp import nnomp
from kit.matching.probe import ProbeConfig, probe_predictions, probe_upper_bound
from kit.matching.scores import (
    DeltaMatchScore,
    concept_scores,
    delta_match_score,
    held_out,
    match_score,
    match_score_ci,
    random_projection_codes,
    rescore,
    score_rows,
    score_sweep,
)
from kit.types import Matching

METHODS = ("fbmp", "one_to_one", "nnomp")


@dataclass(frozen=True)
class MatchingConfig:
    """Settings of the matching stage (defaults: the paper's).

    method: ``"fbmp"``, ``"one_to_one"`` or ``"nnomp"``; beta: FBMP's β; max_size: most latents per concept;
    threshold: codes above it fire; k: the MATCHScore budget (3 for FBMP; one-to-one is k = 1);
    ks: budgets of the sweep; held_out: select and score on different splits (the paper: same split);
    baseline: ``"untrained"`` (an untrained SAE of the same family and size) or ``"random_projection"``.
    """

    method: str = "fbmp"
    beta: float = 0.5
    max_size: int = 20
    threshold: float = 1e-8
    k: int = 3
    ks: tuple[int, ...] = (1, 3, 5, 10)
    held_out: bool = False
    baseline: str = "untrained"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"MatchingConfig.method must be one of {METHODS}, got {self.method!r}")
        beta_fraction(self.beta)
        if self.max_size < 1:
            raise ConfigError(f"MatchingConfig.max_size must be ≥ 1, got {self.max_size}")
        if self.k < 1 or any(k < 1 for k in self.ks):
            raise ConfigError(f"MatchingConfig budgets must be ≥ 1, got k={self.k}, ks={self.ks}")
        if self.held_out and self.method == "nnomp":
            raise ConfigError("MatchingConfig.held_out applies to the binary methods 'fbmp' and 'one_to_one'")
        if self.baseline not in ("untrained", "random_projection"):
            raise ConfigError(f"MatchingConfig.baseline must be 'untrained' or 'random_projection', got {self.baseline!r}")


def match_codes(Y: Any, Z: Any, method: str = "fbmp", beta: float = 0.5, max_size: int = 20,
                threshold: float = 1e-8, device: str = "auto") -> Matching:
    """Match concepts ``Y: bool[N, C]`` to codes ``Z: float[N, D]`` with ``method`` (binarising at ``threshold``
    for the binary methods)."""
    if method == "nnomp":
        return nnomp(Y, Z, max_size=max_size)
    if method == "fbmp":
        return fbmp(Y, binarize(Z, threshold), beta=beta, max_size=max_size, device=device)
    if method == "one_to_one":
        return one_to_one(Y, binarize(Z, threshold), device=device)
    raise ConfigError(f"method must be one of {METHODS}, got {method!r}")


def match(Y: Any, Z: Any, config: MatchingConfig = MatchingConfig(), select: Any = None, evaluate: Any = None,
          device: str = "auto") -> Matching:
    """Match with the settings of a :class:`MatchingConfig`. With ``config.held_out`` the coalitions are selected
    on rows ``select`` and scored on rows ``evaluate`` (masks or indices); otherwise on all rows."""
    if not config.held_out:
        return match_codes(Y, Z, config.method, config.beta, config.max_size, config.threshold, device)
    if select is None or evaluate is None:
        raise ConfigError("MatchingConfig.held_out needs the select and evaluate rows")
    options = {"device": device} if config.method == "one_to_one" else {
        "beta": config.beta, "max_size": config.max_size, "device": device}
    return held_out(Y, binarize(Z, config.threshold), select, evaluate, config.method, **options)


__all__ = [
    "METHODS", "MatchingConfig", "ProbeConfig", "DeltaMatchScore", "binarize", "fbmp", "one_to_one", "nnomp",
    "probe_upper_bound", "probe_predictions", "match", "match_codes", "match_score", "concept_scores",
    "score_sweep", "match_score_ci", "delta_match_score", "random_projection_codes", "rescore", "held_out",
    "score_rows", "beta_fraction",
]
