"""Time TAPAScore at synCUB scale: P pairs × D latents, C concepts with FBMP-sized coalitions.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_tapas.py [--pairs 3000] [--latents 16384]

Prints the median wall time of ``kit.tapas.tapascore`` over a few repeats, for every aggregation, with and
without the original's labels (Δ_stay), including input checks, the per-pair table and 1,000 bootstrap
resamples. The codes are random TopK-like codes (``--active`` non-zero latents per image).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from kit.tapas import AGGREGATIONS, tapascore
from kit.types import Matching


def problem(pairs: int, latents: int, concepts: int, active: int, seed: int):
    rng = np.random.default_rng(seed)

    def codes():
        Z = np.zeros((pairs, latents), dtype=np.float32)
        Z[np.arange(pairs)[:, None], rng.integers(latents, size=(pairs, active))] = rng.exponential(
            size=(pairs, active))
        return Z

    sizes = rng.integers(0, 21, size=concepts)  # FBMP records up to max_size = 20 latents
    coalitions = [rng.choice(latents, size=s, replace=False).tolist() for s in sizes]
    rec = np.sort(rng.random((concepts, 20)), axis=1)
    matching = Matching(coalitions=coalitions, rec_f1=rec, method="random")
    old = rng.integers(concepts, size=pairs)
    new = np.where(rng.random(pairs) < 0.8, (old + rng.integers(1, concepts, size=pairs)) % concepts, -1)
    labels = rng.random((pairs, concepts)) < 0.1
    labels[np.arange(pairs), old] = True
    swap = new >= 0
    labels[np.arange(pairs)[swap], new[swap]] = False
    return codes(), codes(), old, new, matching, labels


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3000)
    ap.add_argument("--latents", type=int, default=16384)
    ap.add_argument("--concepts", type=int, default=312)
    ap.add_argument("--active", type=int, default=32)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    Zo, Ze, old, new, matching, labels = problem(a.pairs, a.latents, a.concepts, a.active, a.seed)
    print(f"P={a.pairs} pairs, D={a.latents} latents, C={a.concepts} concepts, k={a.k}, "
          f"{a.active} active latents per image, 1000 bootstrap resamples; median of {a.repeats} runs")
    for how in AGGREGATIONS:
        for with_labels in (False, True):
            lab = labels if with_labels else None
            s = timed(lambda: tapascore(Zo, Ze, old, new, matching, a.k, lab, aggregation=how), a.repeats)
            print(f"  {how:16s} {'with Δ_stay' if with_labels else 'score only':12s} {s * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
