"""Speed and memory of kit.matching, and how much same-split matching inflates MATCHScore.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_matching.py`` (``--quick`` for smaller sizes).
Prints figures only; nothing is asserted.

1. FBMP at CUB test-split scale (N=5,794, C=312, D=4,096, 32 active latents per sample, ~10% label density)
   against the time of the dense matrix products the algorithm needs (steps × one C×N×D product).
2. Time and peak memory at D=16,384 (each run in a fresh process so the peak RSS is its own).
3. Same-split vs held-out MATCHScore(3) on planted data as D grows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np


def realistic(n: int, c: int, d: int, active: int = 32, owners: int = 8, seed: int = 0):
    """Labels ``bool[N, C]`` (~10% density) and firing ``bool[N, D]`` with exactly ``active`` latents per sample;
    each concept owns ``owners`` latents, one of which fires (with probability 1/2) where the concept is present."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.02, 0.18, size=c)
    Y = rng.random((n, c)) < rates
    own = rng.permutation(d)[: c * owners % d or d]
    own = np.resize(own, (c, owners))
    shown = Y & (rng.random((n, c)) < 0.5)
    B = np.zeros((n, d), dtype=bool)
    for r0 in range(0, n, 512):  # row blocks keep the generator's own memory small
        score = rng.random((min(512, n - r0), d), dtype=np.float32)
        i, k = np.nonzero(shown[r0:r0 + 512])
        score[i, own[k, rng.integers(owners, size=i.size)]] += 1.0 + rng.random(i.size, dtype=np.float32)
        top = np.argpartition(-score, active - 1, axis=1)[:, :active]
        B[r0 + np.arange(score.shape[0])[:, None], top] = True
    return Y, B


def dense_product_time(c: int, n: int, d: int, repeat: int = 5) -> float:
    """Seconds of one float32 product [C, N] × [N, D] (best of ``repeat``)."""
    import torch

    R = (torch.rand(c, n) < 0.1).float()
    Bf = (torch.rand(n, d) < 0.01).float()
    R @ Bf  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        R @ Bf
        best = min(best, time.perf_counter() - t)
    return best


def _status_kib(key: str) -> float:
    with open("/proc/self/status") as f:
        return float(next(line.split()[1] for line in f if line.startswith(key + ":")))


def run_fbmp(n: int, c: int, d: int, backend: str) -> dict:
    import torch  # noqa: F401  (imported before timing: a one-off cost of seconds, not FBMP's)

    from kit.matching import fbmp, match_score

    Y, B = realistic(n, c, d)
    rss0 = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # Linux: reset the peak (VmHWM) to the current RSS
        f.write("5")
    t = time.perf_counter()
    m = fbmp(Y, B, device="cpu", backend=backend)
    dt = time.perf_counter() - t
    peak = _status_kib("VmHWM")
    lengths = [len(x) for x in m.coalitions]
    return {"seconds": dt, "steps": min(max(lengths) + 1, 20), "mean_coalition": float(np.mean(lengths)),
            "matchscore3": match_score(m, 3), "peak_rss_mib": peak / 1024, "rss_before_mib": rss0 / 1024,
            "B_mib": B.nbytes / 2**20}


def in_subprocess(n: int, c: int, d: int, backend: str) -> dict:
    code = (f"import json, sys; sys.path.insert(0, 'benchmarks'); import bench_matching as b; "
            f"print(json.dumps(b.run_fbmp({n}, {c}, {d}, {backend!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def inflation(dims, n: int = 2000, label_noise: float = 0.05, seed: int = 0):
    """Planted world where only half of the concepts keep their true atoms, plus irrelevant latents (firing
    rates 1–30%) up to D in all: MATCHScore(3) selected and scored on one half vs scored on the other half."""
    from kit.matching import binarize, fbmp, held_out, match_score
    from kit.planted import make_world

    w = make_world(n_samples=n, seed=seed)
    rng = np.random.default_rng(seed)
    Y = w.Y ^ (rng.random(w.Y.shape) < label_noise)
    kept = sorted(a for c, atoms in enumerate(w.concept_atoms) if c % 2 == 0 for a in atoms)
    truth = binarize(w.codes[:, kept])
    half = np.arange(n) < n // 2
    rows = []
    for d in dims:
        extra = rng.random((n, max(d - truth.shape[1], 0))) < rng.uniform(0.01, 0.3, size=max(d - truth.shape[1], 0))
        B = np.concatenate([truth, extra], axis=1)
        same = match_score(fbmp(Y[half], B[half]), 3)
        held = match_score(held_out(Y, B, half, ~half), 3)
        rows.append((B.shape[1], same, held))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = ap.parse_args()
    n, c, d = (1000, 64, 1024) if args.quick else (5794, 312, 4096)

    print(f"== FBMP at N={n}, C={c}, D={d}, 32 active latents/sample, beta=0.5, max_size=20")
    for backend in ("auto", "dense"):
        r = in_subprocess(n, c, d, backend)
        prod = dense_product_time(c, n, d)
        print(f"backend={backend:5s}: {r['seconds']:.3f} s; steps={r['steps']}, mean coalition {r['mean_coalition']:.2f}, "
              f"MATCHScore(3)={r['matchscore3']:.3f}")
        print(f"   one dense C×N×D float32 product: {prod:.3f} s; steps × product = {r['steps'] * prod:.3f} s; "
              f"FBMP / products = {r['seconds'] / (r['steps'] * prod):.2f}×")

    from kit.matching import nnomp

    Y, B = realistic(n, c, d)
    Z = np.where(B, np.random.default_rng(1).uniform(0.5, 1.5, B.shape).astype(np.float32), 0)
    t = time.perf_counter()
    m = nnomp(Y, Z)
    print(f"nnOMP baseline on continuous codes of the same size: {time.perf_counter() - t:.2f} s "
          f"(mean coalition {np.mean([len(x) for x in m.coalitions]):.1f} latents)")

    d2 = 4096 if args.quick else 16384
    print(f"\n== memory and time at D={d2} (N={n}, C={c}; each in a fresh process)")
    for backend in ("auto", "dense"):
        r = in_subprocess(n, c, d2, backend)
        print(f"backend={backend:5s}: {r['seconds']:.3f} s; peak RSS during FBMP {r['peak_rss_mib']:.0f} MiB "
              f"(resident before FBMP: {r['rss_before_mib']:.0f} MiB; B alone {r['B_mib']:.0f} MiB; "
              f"a dense float64[N, D] would be {n * d2 * 8 / 2**20:.0f} MiB)")

    dims = (64, 256, 1024) if args.quick else (64, 256, 1024, 4096, 16384)
    print("\n== same-split vs held-out MATCHScore(3): planted world, 20 concepts of which 10 keep their true atoms, "
          "5% label noise, the rest of D irrelevant latents (firing 1-30%); selected on one half")
    print(f"{'D':>6} {'same split':>11} {'held out':>9} {'inflation':>10}")
    for dd, same, held in inflation(dims, n=1000 if args.quick else 2000):
        print(f"{dd:>6} {same:>11.4f} {held:>9.4f} {same - held:>+10.4f}")


if __name__ == "__main__":
    main()
