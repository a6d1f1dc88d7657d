"""Speed and memory of kit.matching, and how much same-split matching inflates MATCHScore.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_matching.py`` (``--quick`` for smaller sizes,
``--repeats`` for the best-of-N, ``--dims``/``--concepts`` for other sizes, ``--cpu`` for CPU seconds instead of
wall-clock ones on a machine shared with other work, ``--floor-only`` for part 1 alone). Prints figures only;
nothing is asserted.

1. FBMP against the time of its own sparse products, from D = 512 to 65,536 latents and C = 10 to 1,000
   concepts at CUB test-split scale (N = 5,794, 32 active latents per sample, ~10% label density): the
   products are the seconds spent inside scipy's sparse-times-dense kernels during that very run (FBMP's
   floor: everything else is overhead). Best of N, the sizes of one D interleaved. One read of B (a
   ``count_nonzero`` pass) is printed beside it: any method reads B once, and at C = 10 that read alone
   is of the order of all the products. So is FBMP's set-up (B's nonzeros located and sorted into the
   CSR, timed on its own), which any sparse method pays once whatever C is (``kit.evaluate`` pays it once per
   model for all its criteria: ``fbmp`` and ``one_to_one`` take the prepared ``LatentCounts``). The same run
   from the sparse patterns (a ``csr_array``, as ``binarize(Z, sparse=True)`` returns them) has no such pass.
2. Time and peak memory at D = 65,536 from dense and from sparse patterns (and the dense backend at 16,384),
   each in a fresh process, so that the peak RSS is FBMP's own (against the size of a dense B).
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


class ProductClock:
    """Adds up the seconds spent inside scipy's CSR-times-dense kernels (``csr_matvecs``, and ``csr_matvec`` for a
    single column) while it is installed: the time of FBMP's own sparse products, whatever FBMP does around them.
    ``clock``: ``time.perf_counter`` (wall) or ``time.process_time`` (CPU)."""

    KERNELS = ("csr_matvecs", "csr_matvec")

    def __init__(self, clock=time.perf_counter) -> None:
        self.clock = clock

    def __enter__(self):
        import scipy.sparse._sparsetools as tools

        self.seconds, self._tools = 0.0, tools
        self._kernels = {name: getattr(tools, name) for name in self.KERNELS}
        for name, kernel in self._kernels.items():
            setattr(tools, name, self._timed(kernel))
        return self

    def _timed(self, kernel):
        def timed(*args):
            t = self.clock()
            try:
                return kernel(*args)
            finally:
                self.seconds += self.clock() - t

        return timed

    def __exit__(self, *exc):
        for name, kernel in self._kernels.items():
            setattr(self._tools, name, kernel)


def floor_grid(n: int, dims, concepts, repeats: int, clock=time.perf_counter) -> list[dict]:
    """Per (D, C): best-of-``repeats`` seconds of FBMP from a dense B and of its sparse products (in FBMP's best
    run), of one read of B, of FBMP's set-up alone (``LatentCounts``: B's nonzeros into the sorted CSR), and
    the same three for FBMP from the sparse patterns (``binarize(..., sparse=True)``, made before the clock)."""
    import scipy.sparse as sp
    import torch  # noqa: F401  (imported before timing)

    from kit.matching import fbmp
    from kit.matching._binary import LatentCounts

    keys = ("fbmp", "products", "read", "setup", "fbmp_sparse", "products_sparse", "setup_sparse")
    rows = []
    for d in dims:
        problems = {c: realistic(n, c, d) for c in concepts}
        sparse = {c: sp.csr_array(B) for c, (Y, B) in problems.items()}
        best = {c: dict.fromkeys(keys, float("inf")) for c in concepts}
        for _ in range(repeats):  # interleaved: every size of this D once per round
            for c, (Y, B) in problems.items():
                for given, name in ((B, "fbmp"), (sparse[c], "fbmp_sparse")):
                    with ProductClock(clock) as products:
                        t = clock()
                        m = fbmp(Y, given, device="cpu")
                        dt = clock() - t
                    if dt < best[c][name]:
                        best[c][name] = dt
                        best[c][name.replace("fbmp", "products")] = products.seconds
                t = clock()
                np.count_nonzero(B)
                read = clock() - t
                best[c]["read"] = min(best[c]["read"], read)
                for given, name in ((B, "setup"), (sparse[c], "setup_sparse")):
                    t = clock()
                    LatentCounts(given, device="cpu")
                    best[c][name] = min(best[c][name], clock() - t)
                best[c]["steps"] = min(max(len(x) for x in m.coalitions) + 1, 20)
        rows += [{"D": d, "C": c, **v} for c, v in best.items()]
        del problems, sparse
    return rows


def _status_kib(key: str) -> float:
    with open("/proc/self/status") as f:
        return float(next(line.split()[1] for line in f if line.startswith(key + ":")))


def run_fbmp(n: int, c: int, d: int, backend: str, sparse: bool = False) -> dict:
    """FBMP's seconds and peak memory in this process; ``sparse``: from the csr_array of B (dense B freed first)."""
    import scipy.sparse as sp
    import torch  # noqa: F401  (imported before timing: a one-off cost of seconds, not FBMP's)

    from kit.matching import fbmp, match_score

    Y, B = realistic(n, c, d)
    B_mib = B.nbytes / 2**20
    if sparse:
        B = sp.csr_array(B)  # the dense array is freed: the process holds only the sparse patterns
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
            "B_mib": B_mib}


def in_subprocess(n: int, c: int, d: int, backend: str, sparse: bool = False) -> dict:
    code = (f"import json, sys; sys.path.insert(0, 'benchmarks'); import bench_matching as b; "
            f"print(json.dumps(b.run_fbmp({n}, {c}, {d}, {backend!r}, {sparse!r})))")
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
    ap.add_argument("--repeats", type=int, default=5, help="best of this many runs per size (default 5)")
    ap.add_argument("--dims", type=int, nargs="+", help="the D of part 1 (default 512 4096 16384 65536)")
    ap.add_argument("--concepts", type=int, nargs="+", help="the C of part 1 (default 10 312 1000)")
    ap.add_argument("--cpu", action="store_true", help="part 1 in CPU seconds of this process (time.process_time)")
    ap.add_argument("--floor-only", action="store_true", help="part 1 only")
    args = ap.parse_args()
    n = 1000 if args.quick else 5794
    dims_f = args.dims or ((512, 4096) if args.quick else (512, 4096, 16384, 65536))
    concepts = args.concepts or ((10, 64) if args.quick else (10, 312, 1000))
    clock = time.process_time if args.cpu else time.perf_counter

    print(f"== FBMP against its own sparse products: N={n}, 32 active latents/sample, beta=0.5, max_size=20; "
          f"best of {args.repeats}, {'CPU' if args.cpu else 'wall-clock'} seconds")
    print("dense B: FBMP from bool[N, D]; sparse B: from its csr_array (an SAE's patterns never held dense)")
    print(f"{'':>12} {'--- dense B ' + '-' * 58:<70} {'--- sparse B ' + '-' * 24:<37}")
    print(f"{'D':>6} {'C':>5} {'FBMP s':>8} {'products s':>11} {'ratio':>6} {'read B s':>9} "
          f"{'FBMP/(products+read)':>21} {'set-up s':>9} {'FBMP s':>8} {'products s':>11} {'ratio':>6} "
          f"{'set-up s':>9} {'steps':>6}")
    for r in floor_grid(n, dims_f, concepts, args.repeats, clock):
        print(f"{r['D']:>6} {r['C']:>5} {r['fbmp']:>8.3f} {r['products']:>11.3f} {r['fbmp'] / r['products']:>6.2f} "
              f"{r['read']:>9.3f} {r['fbmp'] / (r['products'] + r['read']):>21.2f} {r['setup']:>9.3f} "
              f"{r['fbmp_sparse']:>8.3f} {r['products_sparse']:>11.3f} "
              f"{r['fbmp_sparse'] / r['products_sparse']:>6.2f} {r['setup_sparse']:>9.3f} {r['steps']:>6}")
    if args.floor_only:
        return

    from kit.matching import nnomp

    d, c = (1024, 64) if args.quick else (4096, 312)
    Y, B = realistic(n, c, d)
    Z = np.where(B, np.random.default_rng(1).uniform(0.5, 1.5, B.shape).astype(np.float32), 0)
    t = time.perf_counter()
    m = nnomp(Y, Z)
    print(f"\nnnOMP baseline on continuous codes (N={n}, C={c}, D={d}): {time.perf_counter() - t:.2f} s "
          f"(mean coalition {np.mean([len(x) for x in m.coalitions]):.1f} latents)")

    big, mid, c2 = (4096, 1024, 64) if args.quick else (65536, 16384, 312)
    print(f"\n== memory and time (N={n}, C={c2}; each in a fresh process)")
    for d2, backend, sparse in ((big, "auto", False), (big, "auto", True), (mid, "dense", False)):
        r = in_subprocess(n, c2, d2, backend, sparse)
        print(f"D={d2}, {'sparse' if sparse else 'dense'} B:", end=" ")
        print(f"backend={backend:5s}: {r['seconds']:.3f} s; peak RSS during FBMP {r['peak_rss_mib']:.0f} MiB "
              f"(resident before FBMP: {r['rss_before_mib']:.0f} MiB, so FBMP's own peak "
              f"{r['peak_rss_mib'] - r['rss_before_mib']:.1f} MiB = "
              f"{(r['peak_rss_mib'] - r['rss_before_mib']) / r['B_mib']:.2f}× B; B alone {r['B_mib']:.0f} MiB)")

    dims = (64, 256, 1024) if args.quick else (64, 256, 1024, 4096, 16384)
    print("\n== same-split vs held-out MATCHScore(3): planted world, 20 concepts of which 10 keep their true atoms, "
          "5% label noise, the rest of D irrelevant latents (firing 1-30%); selected on one half")
    print(f"{'D':>6} {'same split':>11} {'held out':>9} {'inflation':>10}")
    for dd, same, held in inflation(dims, n=1000 if args.quick else 2000):
        print(f"{dd:>6} {same:>11.4f} {held:>9.4f} {same - held:>+10.4f}")


if __name__ == "__main__":
    main()
