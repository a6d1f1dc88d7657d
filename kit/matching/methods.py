"""The matching methods by name: binarise codes and match them with one method."""

from __future__ import annotations

from typing import Any

from kit.errors import ConfigError
from kit.matching._binary import binarize
from kit.matching.fbmp import fbmp, one_to_one
from kit.matching.nnomp import nnomp
from kit.types import Matching

METHODS = ("fbmp", "one_to_one", "nnomp")


def match_codes(Y: Any, Z: Any, method: str = "fbmp", beta: float = 0.5, max_size: int = 20,
                threshold: float = 1e-8, device: str = "auto") -> Matching:
    """Match concepts ``Y: bool[N, C]`` to codes ``Z: float[N, D]`` with ``method`` (binarising at ``threshold``
    into sparse firing patterns for the binary methods)."""
    if method == "nnomp":
        return nnomp(Y, Z, max_size=max_size)
    if method == "fbmp":
        return fbmp(Y, binarize(Z, threshold, sparse=True), beta=beta, max_size=max_size, device=device)
    if method == "one_to_one":
        return one_to_one(Y, binarize(Z, threshold, sparse=True), device=device)
    raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
