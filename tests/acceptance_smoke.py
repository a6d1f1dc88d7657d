"""The acceptance run (in the manner of SAEBench): the smoke benchmark's ``evaluate`` output, every metric.

A fixed, small, offline run — toy-synCUB (120 pairs, 300 images, seed 0), the toy encoder, a TopK SAE
(D = 64, k = 8, 3 epochs of batches of 128, inputs standardised) — scored by :func:`kit.evaluate.evaluate` with every metric and both baselines.
``tests/test_acceptance.py`` compares it with the committed ``tests/expected/evaluate_smoke.json``.
When a definition changes on purpose, regenerate the expected file and say why in the commit:

    .venv/bin/python tests/acceptance_smoke.py          # rewrites tests/expected/evaluate_smoke.json
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from kit.evaluate import EvalConfig, evaluate
from kit.pipeline import PipelineConfig, prepare, train_cached

EXPECTED = Path(__file__).resolve().parent / "expected" / "evaluate_smoke.json"
PIPELINE = PipelineConfig(benchmark="toy-syncub", encoder="toy", n_pairs=120, n_images=300, seed=0, device="cpu")
SAE = dict(family="topk", dict_size=64, k=8, seed=0)
TRAIN = dict(epochs=3, batch_size=128, standardize=True, lr=5e-4, device="cpu")
CONFIG = EvalConfig(metrics="all", n_boot=200, device="cpu")
# Tolerances: values and interval bounds within ATOL; unit counts, roles, metrics, criteria exactly.
ATOL = 0.01


def smoke_results(cache_dir):
    """The acceptance run's :class:`kit.evaluate.Results` (benchmark, embeddings and SAE cached in cache_dir).

    Torch runs on one thread, so the embeddings are bit-identical wherever it runs (the random-codes baseline
    hashes their bytes, so a different summation order would give other codes)."""
    torch.set_num_threads(1)
    data = prepare(PIPELINE, cache_dir)
    X_train, _ = data.split("train")
    [sae] = train_cached(X_train, [SAE], cache_dir, progress=False, **TRAIN)
    return evaluate(sae, data, CONFIG)


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        results = smoke_results(cache)
    results.save(EXPECTED)
    print(f"wrote {EXPECTED} ({len(results.rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
