"""Time every metric of kit.metrics at N = 6,000 samples and D = 4,096 latents (d = 768).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_metrics.py [--n 6000] [--dict-size 4096]``.
Prints one line per metric with its wall time in seconds (the target is ≤ 30 s each on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import kit.metrics as M
from kit.sae import encode_array as sae_codes
from kit.planted import make_world


class TopKSAE(torch.nn.Module):
    """A TopK SAE with a random unit-norm decoder and its transpose as encoder (the kit's SAE protocol)."""

    def __init__(self, d: int, dict_size: int, k: int, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        W = torch.nn.functional.normalize(torch.randn(dict_size, d, generator=g), dim=1)
        self.W_dec = torch.nn.Parameter(W)
        self.W_enc = torch.nn.Parameter(W.T.clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(dict_size))
        self.b_dec = torch.nn.Parameter(torch.zeros(d))
        self.k = k

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        top = ((x - self.b_dec) @ self.W_enc + self.b_enc).topk(self.k, dim=1)
        return torch.zeros(x.shape[0], self.W_dec.shape[0], dtype=x.dtype).scatter(1, top.indices, top.values.relu())

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W_dec + self.b_dec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--dict-size", type=int, default=4096)
    ap.add_argument("--dim", type=int, default=768)
    args = ap.parse_args()
    w = make_world(n_samples=args.n, dim=args.dim, n_families=4, family_size=6, n_independent=8, seed=0)
    X, Y, groups = w.X, w.Y, w.concepts.groups
    sae = TopKSAE(args.dim, args.dict_size, k=32, seed=0)
    Z = sae_codes(sae, X)
    vocab = [f"word{i}" for i in range(300)]
    T = np.random.default_rng(0).standard_normal((len(vocab), args.dim)).astype(np.float32)
    fams = [m for m in w.concepts.families().values() if len(m) > 1]
    print(f"N={args.n} d={args.dim} D={args.dict_size} C={Y.shape[1]} torch threads={torch.get_num_threads()}")
    runs = {
        "proxies": lambda: M.proxies(X, sae),
        "cknna": lambda: M.cknna(X, Z),
        "monosemanticity": lambda: M.monosemanticity(X, Z),
        "fms": lambda: M.fms(Z, Y),
        "sparse_probing": lambda: M.sparse_probing(Z, Y),
        "tpp": lambda: M.tpp(X, Y, sae, fams, Z=Z),
        "scr": lambda: M.scr(X, Y, sae, groups=groups, Z=Z),
        "absorption": lambda: M.absorption(X, Y, sae, groups, Z=Z),
        "steerability": lambda: M.steerability(X, sae, lambda t: T, vocab, Z=Z),
    }
    for name, run in runs.items():
        t0 = time.perf_counter()
        result = run()
        dt = time.perf_counter() - t0
        head = ", ".join(f"{k}={v:.3f}" for k, v in list(result.headline().items())[:3])
        print(f"{name:16s} {dt:7.2f} s   {head}", flush=True)


if __name__ == "__main__":
    main()
