"""Baseline metrics of SAE interpretability, one function per metric.

Each metric is ``metric(..., config=None) -> result``; the config is a frozen dataclass whose defaults are
its source's settings, and every result has ``headline()`` and ``units()`` (the per-unit values whose mean is
the headline). :func:`kit.evaluate.evaluate` runs them on an SAE and its baselines and gives the rows.
Arrays: embeddings ``X: float[N, d]``, codes ``Z: float[N, D]``, labels ``Y: bool[N, C]``; an SAE follows
the kit's protocol (``encode``, ``decode``, ``W_dec: [D, d]``, ``b_dec``).
"""

from kit.metrics.absorption import AbsorptionConfig, AbsorptionResult, absorption
from kit.metrics.cknna import CKNNAConfig, CKNNAResult, cknna
from kit.metrics.erasure import ErasureConfig, SCRResult, TPPResult, choose_scr_pairs, scr, tpp
from kit.metrics.fms import FMSConfig, FMSResult, fms
from kit.metrics.monosemanticity import MSConfig, MSResult, monosemanticity
from kit.metrics.proxies import ProxiesConfig, ProxiesResult, proxies
from kit.metrics.sparse_probing import SparseProbingConfig, SparseProbingResult, sparse_probing
from kit.metrics.steerability import SteerabilityConfig, SteerabilityResult, steerability

__all__ = [
    "AbsorptionConfig", "AbsorptionResult", "absorption",
    "CKNNAConfig", "CKNNAResult", "cknna",
    "ErasureConfig", "SCRResult", "TPPResult", "choose_scr_pairs", "scr", "tpp",
    "FMSConfig", "FMSResult", "fms",
    "MSConfig", "MSResult", "monosemanticity",
    "ProxiesConfig", "ProxiesResult", "proxies",
    "SparseProbingConfig", "SparseProbingResult", "sparse_probing",
    "SteerabilityConfig", "SteerabilityResult", "steerability",
]
