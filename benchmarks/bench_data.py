"""Speed of kit.data: rendering the toy benchmarks and loading paired metadata.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data.py [--pairs 2000] [--load-pairs 3000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

from kit.data import load_paired, load_toy_images, render_toy_syncoco, render_toy_syncub


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--load-pairs", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, render in (("toy-syncub", render_toy_syncub), ("toy-syncoco", render_toy_syncoco)):
            t = time.perf_counter()
            render(tmp / f"{name}-pairs", n_pairs=args.pairs, n_images=1, workers=args.workers)
            dt = time.perf_counter() - t
            _show(name, f"render {args.pairs} pairs ({2 * args.pairs} images)", dt)
            t = time.perf_counter()
            render(tmp / name, n_pairs=args.load_pairs, n_images=3000, workers=args.workers)
            dt = time.perf_counter() - t
            _show(name, f"render {args.load_pairs} pairs + 3000 unpaired images", dt)
            folder = tmp / name
            best = min(_timed(partial(load_paired, folder)) for _ in range(3))
            _show(name, f"load_paired, {args.load_pairs} pairs (best of 3)", best)
            _show(name, "load_paired with verify_images=True", _timed(partial(load_paired, folder, verify_images=True)))
            best = min(_timed(partial(load_toy_images, folder)) for _ in range(3))
            _show(name, "load_toy_images, 3000 images (best of 3)", best)


def _show(name: str, what: str, seconds: float) -> None:
    print(f"{name:12s} {what:48s} {seconds:7.3f} s")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
