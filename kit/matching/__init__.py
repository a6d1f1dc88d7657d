"""Concept matching: which latents of an SAE stand for which annotated concepts, and how well.

- :func:`binarize` — codes → firing patterns ``B: bool[N, D]`` (dense, or a scipy ``csr_array`` with
  ``sparse=True``: every function that takes firing patterns takes either); :class:`LatentCounts` — B prepared
  once for several binary matchings (:func:`fbmp` and :func:`one_to_one` take it in place of B);
- :func:`fbmp` (F-beta matching pursuit), :func:`one_to_one`, :func:`nnomp` (continuous baseline),
  :func:`probe_upper_bound` (supervised linear read-out) — each returns a :class:`kit.types.Matching`;
- :func:`match_score` (MATCHScore at budget k), :func:`delta_match_score` (trained − baseline),
  :func:`held_out` / :func:`rescore` (select on one split, score on another), :func:`match_score_ci`
  (bootstrap over concepts or samples), :func:`score_sweep`.

:func:`match_codes` binarises codes and matches them with one method; :mod:`kit.evaluate` runs the paper's
criteria on an SAE and its baselines.
"""

from __future__ import annotations

from kit.matching._binary import LatentCounts, binarize
from kit.matching.fbmp import beta_fraction, fbmp, one_to_one
from kit.matching.methods import METHODS, match_codes
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

__all__ = [
    "METHODS", "LatentCounts", "ProbeConfig", "DeltaMatchScore", "binarize", "fbmp", "one_to_one", "nnomp",
    "probe_upper_bound", "probe_predictions", "match_codes", "match_score", "concept_scores",
    "score_sweep", "match_score_ci", "delta_match_score", "random_projection_codes", "rescore", "held_out",
    "beta_fraction",
]
