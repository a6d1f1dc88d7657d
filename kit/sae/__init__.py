"""Sparse autoencoders: families, one training loop, several SAEs in one pass, checkpoints, baselines,
bring-your-own.

    sae = kit.sae.train(X, "topk", dict_size=4096, k=32)      # X: float[N, d]
    Z = kit.sae.encode_array(sae, X)                          # float32[N, D], non-negative
    kit.sae.save(sae, "runs/sae"); sae = kit.sae.load("runs/sae")

The modules stand on one another in one direction, from the bottom: ``config`` (SAEConfig, TrainConfig; no
torch); ``families``, ``losses``, ``sparse`` (activations, loss terms, the sparse training path, each on the one
before); ``model`` (the SAE); ``baselines`` and ``external`` (bring-your-own) on it; ``checkpoint`` (every file
the kit writes for an SAE, training state included) on the model and baselines; ``formats`` (other libraries'
folders) on ``checkpoint`` and ``external``; ``train`` (the loop) on ``checkpoint``; ``batch`` (several SAEs in
one pass) on ``train``.

Families: ``relu`` (L1), ``topk``, ``batchtopk``, ``matryoshka``, ``jumprelu``.
"""

from kit.sae.baselines import RandomCodes, paper_untrained, random_codes, untrained
from kit.sae.batch import grid, train_many
from kit.sae.checkpoint import load, save
from kit.sae.config import FAMILIES, SAEConfig, TrainConfig
from kit.sae.external import ExternalSAE, from_overcomplete, from_tensors
from kit.sae.formats import load_any
from kit.sae.formats import read_saelens as from_saelens
from kit.sae.model import SAE, decode_array, encode_array
from kit.sae.train import stopped_early, train

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
    "save",
    "load_any",
    "from_saelens",
    "from_overcomplete",
    "from_tensors",
    "ExternalSAE",
]
