"""Shared machinery of the procedural benchmarks: polygon drawing and writing a rendered benchmark.

A renderer turns a *spec* (a small dict of picklable values) into a PIL image; the same spec with one
value changed gives the paired image, so pairs are exact by construction. Rendering runs in at most
``workers`` processes, each writing its own PNG files.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

import numpy as np
from PIL import Image

Point = tuple[float, float]


def check_split(what: str, fractions: Sequence[float]) -> None:
    """A split must be three non-negative fractions (train, val, test) summing to 1."""
    from kit.errors import ConfigError

    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"{what}.split must be three fractions summing to 1, got {fractions}")


def assign_splits(n: int, fractions: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """object[n]: "train" / "val" / "test" labels in the given proportions, in a random order."""
    cuts = np.round(np.cumsum(fractions)[:2] * n).astype(int)
    split = np.array(["train"] * n, dtype=object)
    order = rng.permutation(n)
    split[order[cuts[0] : cuts[1]]] = "val"
    split[order[cuts[1] :]] = "test"
    return split


def ellipse(cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = 360.0, n: int = 24) -> list[Point]:
    """Points on an ellipse arc from angle a0 to a1 (degrees; y grows downwards)."""
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip((cx + rx * np.cos(t)).tolist(), (cy + ry * np.sin(t)).tolist()))


class Frame:
    """Maps local shape coordinates (unit ``scale`` pixels, facing +x) to canvas pixels:
    optional mirror, rotation by ``tilt`` degrees, scale, then translation to ``(cx, cy)``."""

    def __init__(self, cx: float, cy: float, scale: float, tilt: float = 0.0, mirror: bool = False):
        self.cx, self.cy, self.scale = cx, cy, scale
        self.m = -1.0 if mirror else 1.0
        self.c, self.s = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))

    def __call__(self, pts: Sequence[Point]) -> list[Point]:
        out = []
        for x, y in pts:
            x = x * self.m
            out.append(
                (self.cx + self.scale * (self.c * x - self.s * y), self.cy + self.scale * (self.s * x + self.c * y))
            )
        return out


def shade(rgb: Sequence[int], factor: float) -> tuple[int, int, int]:
    """``rgb`` scaled by ``factor`` and clipped to 0..255."""
    return tuple(int(min(255, max(0, round(v * factor)))) for v in rgb)


def contrast(rgb: Sequence[int]) -> tuple[int, int, int]:
    """A dark or light colour that stands out on ``rgb``."""
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (25, 25, 25) if lum > 110 else (240, 240, 240)


def _render_chunk(args) -> int:
    render, jobs, size, supersample = args
    for path, spec in jobs:
        im = render(spec, size * supersample)
        if supersample > 1:
            im = im.reduce(supersample)
        im.save(path, compress_level=3)
    return len(jobs)


def render_all(
    render: Callable[[dict, int], Image.Image],
    jobs: list[tuple[str, dict]],
    size: int,
    supersample: int = 2,
    workers: int = 2,
    progress: bool = False,
    desc: str = "render",
) -> None:
    """Render every ``(path, spec)`` job to a PNG of ``size``×``size`` (drawn ``supersample`` times larger
    and reduced, for smooth edges) using up to ``workers`` processes; progress: a bar over the images."""
    from tqdm.auto import tqdm

    workers = max(1, min(workers, len(jobs) // 50 + 1))
    n_chunks = max(workers * 4, len(jobs) // 32) if workers > 1 else max(1, len(jobs) // 32)
    chunks = [c for c in (jobs[i::n_chunks] for i in range(n_chunks)) if c]
    with tqdm(total=len(jobs), desc=desc, unit="image", disable=not progress or not jobs) as bar:
        if workers == 1:
            for c in chunks:
                bar.update(_render_chunk((render, c, size, supersample)))
            return
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as ex:
            for done in ex.map(_render_chunk, [(render, c, size, supersample) for c in chunks]):
                bar.update(done)
