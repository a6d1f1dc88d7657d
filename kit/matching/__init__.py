"""Concept matching: which latents of an SAE stand for which annotated concepts, and how well.

- :func:`binarize` — codes → firing patterns ``B: bool[N, D]``;
- :func:`fbmp` (F-beta matching pursuit), :func:`one_to_one`, :func:`nnomp` (continuous baseline),
  :func:`probe_upper_bound` (supervised linear read-out) — each returns a :class:`kit.types.Matching`;
- :func:`match_score` (MATCHScore at budget k), :func:`delta_match_score` (trained − baseline),
  :func:`held_out` / :func:`rescore` (select on one split, score on another), :func:`match_score_ci`
  (bootstrap over concepts or samples), :func:`score_sweep`.

:func:`match_codes` binarises codes and matches them with one method; :mod:`kit.evaluate` runs the paper's
criteria on an SAE and its baselines.
"""

from __future__ import annotations

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
    score_sweep,
)
from kit.types import Matching

METHODS = ("fbmp", "one_to_one", "nnomp")


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


__all__ = [
    "METHODS", "ProbeConfig", "DeltaMatchScore", "binarize", "fbmp", "one_to_one", "nnomp",
    "probe_upper_bound", "probe_predictions", "match_codes", "match_score", "concept_scores",
    "score_sweep", "match_score_ci", "delta_match_score", "random_projection_codes", "rescore", "held_out",
    "beta_fraction",
]
