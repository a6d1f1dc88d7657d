"""Training speed of kit.sae: one TopK SAE, and a sweep of several sizes in one pass vs one by one.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_sae.py --steps 100 --sweep-steps 20 --repeats 2

Random Gaussian data (speed does not depend on content); early stopping is off so every run takes the
same number of steps. Prints samples/s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import kit.sae as S


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--dict-size", type=int, default=4096)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--steps", type=int, default=100, help="steps of the single-SAE run")
    p.add_argument("--sweep-sizes", type=int, nargs="+", default=[512, 1024, 2048, 3072, 4096, 6144])
    p.add_argument("--sweep-steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=2, help="timings of each sweep mode (best is kept)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    rows = a.batch_size * max(a.steps, a.sweep_steps)
    X = np.random.default_rng(a.seed).standard_normal((rows, a.d), dtype=np.float32)
    common = dict(batch_size=a.batch_size, val_fraction=0.0, progress=False, device=a.device, log_every=50)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {a.device}, X {X.shape}")

    S.train(X[: a.batch_size * 2], dict_size=a.dict_size, k=a.k, max_steps=2, **common)  # warm-up
    t = _timed(lambda: S.train(X, dict_size=a.dict_size, k=a.k, max_steps=a.steps, **common))
    print(f"one TopK SAE d={a.d} D={a.dict_size} k={a.k} batch={a.batch_size}: {a.steps} steps in {t:.1f}s "
          f"= {a.steps * a.batch_size / t:,.0f} samples/s ({t / a.steps * 1e3:.0f} ms/step)")

    configs = [dict(common, dict_size=D, k=a.k, max_steps=a.sweep_steps) for D in a.sweep_sizes]
    modes = {"one pass": lambda: S.train_many(X, configs),
             "one by one": lambda: [S.train(X, **c) for c in configs]}
    times: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(a.repeats):  # alternate the order so that a change of machine load hits both
        for m in list(modes) if r % 2 == 0 else list(modes)[::-1]:
            times[m].append(_timed(modes[m]))
    n = a.sweep_steps * a.batch_size
    t_sep = min(times["one by one"])
    print(f"sweep of {len(configs)} sizes {a.sweep_sizes}, {a.sweep_steps} steps each (best of {a.repeats}):")
    for m, ts in times.items():
        t = min(ts)
        print(f"  {m + ':':20s} {t:5.1f}s = {n / t:7,.0f} data samples/s ({len(configs) * n / t:7,.0f} SAE-samples/s)"
              f", {t_sep / t:.2f}x one by one")


if __name__ == "__main__":
    main()
