"""Sparse autoencoders: families, one training loop, sweeps, checkpoints, baselines, bring-your-own.

    sae = kit.sae.train(X, "topk", dict_size=4096, k=32)      # X: float[N, d]
    Z = kit.sae.encode_array(sae, X)                          # float32[N, D], non-negative
    sae.save("runs/sae"); sae = kit.sae.load("runs/sae")

Families: ``relu`` (L1), ``topk``, ``batchtopk``, ``matryoshka``, ``jumprelu``.
"""

from kit.sae.baselines import RandomCodes, paper_untrained, random_codes, untrained
from kit.sae.checkpoint import load
from kit.sae.external import ExternalSAE, from_overcomplete, from_tensors
from kit.sae.families import FAMILIES
from kit.sae.formats import load_any
from kit.sae.formats import read_saelens as from_saelens
from kit.sae.model import SAE, SAEConfig, decode_array, encode_array
from kit.sae.sweep import grid, train_many
from kit.sae.train import TrainConfig, stopped_early, train

__all__ = [
    "FAMILIES",
    "SAE",
    "SAEConfig",
    "TrainConfig",
    "train",
    "stopped_early",
    "train_many",
    "grid",
    "encode_array",
    "decode_array",
    "untrained",
    "paper_untrained",
    "random_codes",
    "RandomCodes",
    "load",
    "load_any",
    "from_saelens",
    "from_overcomplete",
    "from_tensors",
    "ExternalSAE",
]
