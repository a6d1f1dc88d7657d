"""Shared machinery of the procedural benchmarks: polygon drawing and writing a rendered benchmark.

A renderer turns a *spec* (a small dict of picklable values) into a PIL image; the same spec with one
value changed gives the paired image, so pairs are exact by construction. Rendering runs in at most
``workers`` processes, each writing its own PNG files.

The photographic nuisances both renderers share live here too: value-noise textures (:func:`value_noise`,
:func:`texture`), sky gradients, and the camera/lighting pass :func:`apply_light` (colour temperature,
exposure, contrast, a directional light, vignette, haze, sensor noise). The lighting pass is a function of
each pixel's value and position only (its noise drawn from a seed in the spec), so two images of a pair stay
identical wherever they were identical before it.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from tqdm.auto import tqdm

from kit._version import __version__
from kit.data.layout import write_benchmark
from kit.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

Point = tuple[float, float]
# The version of the procedural worlds: raised whenever the same seed would draw different images (2: the
# photograph-like settings, pose, framing, occluders and light). Recorded in every render_config.json.
RENDER_VERSION = 2


@dataclass(frozen=True, eq=False)
class RenderPlan:
    """Everything a procedural benchmark will hold, before a pixel is drawn: the pair table (``meta``), the
    unpaired table, and the spec of every image — ``orig[i]`` and ``edit[i]`` for pair i (identical but for the
    one edit), ``images[j]`` for unpaired row j."""

    meta: "pd.DataFrame"
    unpaired: "pd.DataFrame"
    orig: list[dict]
    edit: list[dict]
    images: list[dict]


def check_split(what: str, fractions: Sequence[float]) -> None:
    """A split must be three non-negative fractions (train, val, test) summing to 1."""
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
    optional mirror, vertical stretch by ``aspect`` (a viewpoint from above or below), rotation by ``tilt``
    degrees, scale, then translation to ``(cx, cy)``."""

    def __init__(self, cx: float, cy: float, scale: float, tilt: float = 0.0, mirror: bool = False,
                 aspect: float = 1.0):
        self.cx, self.cy, self.scale, self.aspect = cx, cy, scale, aspect
        self.m = -1.0 if mirror else 1.0
        self.c, self.s = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))

    def __call__(self, pts: Sequence[Point]) -> list[Point]:
        out = []
        for x, y in pts:
            x, y = x * self.m, y * self.aspect
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


def rotate(pts: Sequence[Point], pivot: Point, degrees: float) -> list[Point]:
    """Points rotated by ``degrees`` about ``pivot`` (in the same coordinates)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    px, py = pivot
    return [(px + c * (x - px) - s * (y - py), py + s * (x - px) + c * (y - py)) for x, y in pts]


def mix(a: Sequence[float], b: Sequence[float], t: float) -> tuple[int, int, int]:
    """The colour a fraction ``t`` of the way from ``a`` to ``b``."""
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def value_noise(rng: np.random.Generator, size: int, cells: int = 4, octaves: int = 3,
                aspect: float = 1.0) -> np.ndarray:
    """float32[size, size] smooth noise in [0, 1]: ``octaves`` grids of random values (``cells`` across, doubling
    per octave, ``aspect`` times as many rows), bilinearly upsampled and summed with halving weights."""
    out = np.zeros((size, size), dtype=np.float32)
    total = 0.0
    for o in range(octaves):
        n = cells * 2**o
        grid = rng.random((max(2, int(round(n * aspect))) + 1, n + 1)).astype(np.float32)
        w = 0.5**o
        out += w * np.asarray(Image.fromarray(grid).resize((size, size), Image.BILINEAR))
        total += w
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / (hi - lo) if hi > lo else out


def texture(noise: np.ndarray, dark: Sequence[int], light: Sequence[int]) -> Image.Image:
    """An RGB image that runs from ``dark`` (noise 0) to ``light`` (noise 1)."""
    grey = Image.fromarray((noise * 255 + 0.5).clip(0, 255).astype(np.uint8))
    return ImageOps.colorize(grey, tuple(int(c) for c in dark), tuple(int(c) for c in light))


def gradient(size: int, top: Sequence[int], bottom: Sequence[int], y0: float = 0.0, y1: float = 1.0) -> np.ndarray:
    """float32[size, size, 3]: a vertical gradient from ``top`` (at height fraction y0) to ``bottom`` (at y1)."""
    t = ((np.arange(size, dtype=np.float32) + 0.5) / size - y0) / max(y1 - y0, 1e-6)
    t = t.clip(0, 1)[:, None, None]
    a, b = np.asarray(top, np.float32), np.asarray(bottom, np.float32)
    return np.broadcast_to(a + (b - a) * t, (size, size, 3)).copy()


def paste_texture(im: Image.Image, tex: Image.Image, draw_mask) -> None:
    """Paste ``tex`` into ``im`` through a mask drawn by ``draw_mask(ImageDraw)`` (white = texture)."""
    mask = Image.new("L", im.size, 0)
    draw_mask(ImageDraw.Draw(mask))
    im.paste(tex, (0, 0), mask)


LIGHT_KEYS = ("temperature", "exposure", "contrast", "angle", "strength", "vignette", "haze", "noise")


def sample_light(rng: np.random.Generator, warmth: float = 0.0) -> dict:
    """Camera and lighting of one photograph: colour temperature (−1 cool … +1 warm, centred on ``warmth``),
    exposure, contrast, a directional light (angle in degrees, strength), vignette, haze and sensor noise
    (grey levels), and the seed of the noise."""
    return {
        "temperature": float(np.clip(rng.normal(warmth, 0.45), -1, 1)),
        "exposure": float(np.exp(rng.normal(0.0, 0.17))),
        "contrast": float(rng.uniform(0.7, 1.15)),
        "angle": float(rng.uniform(0, 360)),
        "strength": float(rng.uniform(0.0, 0.45)),
        "vignette": float(rng.uniform(0.0, 0.45)),
        "haze": float(rng.uniform(0.0, 0.3) if rng.random() < 0.35 else 0.0),
        "noise": float(rng.uniform(0.0, 7.0)),
        "seed": int(rng.integers(2**31)),
    }


def light_words(light: dict) -> list[str]:
    """Caption phrases for a lighting (empty for an unremarkable one)."""
    out = []
    if light["temperature"] > 0.45:
        out.append("warm light")
    elif light["temperature"] < -0.45:
        out.append("cool blue light")
    if light["exposure"] < 0.8:
        out.append("dim light")
    elif light["exposure"] > 1.22:
        out.append("bright sunlight")
    if light["haze"] > 0.15:
        out.append("hazy")
    if light["strength"] > 0.35:
        out.append("strong side light")
    return out


@lru_cache(maxsize=8)
def _axes(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres as fractions of the canvas, centred: (y: float32[h, 1], x: float32[1, w])."""
    y = ((np.arange(h, dtype=np.float32) + 0.5) / h - 0.5)[:, None]
    x = ((np.arange(w, dtype=np.float32) + 0.5) / w - 0.5)[None, :]
    return y, x


def apply_light(im: Image.Image, light: dict) -> Image.Image:
    """The camera/lighting pass of :func:`sample_light` on an RGB image, pixel by pixel (see the module)."""
    a = np.asarray(im, dtype=np.float32)
    h, w = a.shape[:2]
    y, x = _axes(h, w)
    ang = math.radians(light["angle"])
    k = light["strength"] * 1.4
    field = (1 + k * math.cos(ang) * x + k * math.sin(ang) * y) * (1 - light["vignette"] * 1.6 * (x * x + y * y))
    t, c, haze = light["temperature"], light["contrast"], light["haze"]
    gains = np.array([1 + 0.16 * t, 1 + 0.02 * t, 1 - 0.2 * t], dtype=np.float32) * (light["exposure"] * c * (1 - haze))
    offset = (0.45 * (1 - c) * (1 - haze) + haze * np.array([0.85, 0.86, 0.88], dtype=np.float32)) * 255 + 0.5
    a *= field[..., None] * gains
    a += offset.astype(np.float32)
    if light["noise"]:  # uniform sensor noise with standard deviation noise grey levels (random bytes: fast)
        raw = np.frombuffer(np.random.default_rng(light["seed"]).bytes(a.size), dtype=np.uint8).reshape(a.shape)
        a += raw * np.float32(light["noise"] / 73.9) - np.float32(127.5 * light["noise"] / 73.9)
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def blur(im: Image.Image, radius: float) -> Image.Image:
    """A Gaussian blur of ``radius`` pixels, computed at half resolution (for out-of-focus backgrounds)."""
    if radius < 0.05:
        return im
    if radius < 1.5 or min(im.size) < 64:
        return im.filter(ImageFilter.GaussianBlur(radius))
    small = im.reduce(2).filter(ImageFilter.GaussianBlur(radius / 2))
    return small.resize(im.size, Image.BILINEAR)


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
    workers = max(1, min(workers, len(jobs) // 50 + 1))
    n_chunks = max(workers * 4, len(jobs) // 32) if workers > 1 else max(1, len(jobs) // 32)
    chunks = [c for c in (jobs[i::n_chunks] for i in range(n_chunks)) if c]
    with tqdm(total=len(jobs), desc=desc, unit="image", disable=not progress or not jobs) as bar:
        if workers == 1:
            for c in chunks:
                bar.update(_render_chunk((render, c, size, supersample)))
            return
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as ex:
            for done in ex.map(_render_chunk, [(render, c, size, supersample) for c in chunks]):
                bar.update(done)


def write_rendered(folder: str | os.PathLike, benchmark: str, plan: RenderPlan, cfg,
                   render: Callable[[dict, int], Image.Image], names: Sequence[str], names_file: str, *,
                   progress: bool = False) -> Path:
    """Render a planned toy benchmark's images (``plan.orig``, ``plan.edit``, ``plan.images`` at the paths of
    ``plan.meta`` and ``plan.unpaired``) and write the folder in the Hub layout (:func:`kit.data.layout.write_benchmark`)
    with ``render_config.json``: the benchmark, kit and render versions and every field of ``cfg`` (a dataclass
    with ``size`` and ``workers``)."""
    meta, unpaired = plan.meta, plan.unpaired

    def draw(root: Path) -> None:
        paths = [*meta["orig_image"], *meta["syn_image"], *unpaired["image"]]
        specs = [*plan.orig, *plan.edit, *plan.images]
        jobs = [(str(root / p), spec) for p, spec in zip(paths, specs, strict=True)]
        render_all(render, jobs, cfg.size, workers=cfg.workers, progress=progress, desc=f"render {benchmark}")

    made = {"benchmark": benchmark.lower(), "kit_version": __version__, "render_version": RENDER_VERSION,
            **asdict(cfg)}
    return write_benchmark(folder, meta, names, names_file, ("render_config.json", made), draw, unpaired)
