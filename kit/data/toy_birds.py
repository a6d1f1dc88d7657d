"""toy-synCUB: procedural birds with CUB-style attributes, and exact one-attribute-swap pairs.

Each bird has exactly one value in each attribute family (``has_wing_color::blue``, ``has_bill_shape::cone``
…). A species is a prototype (one value per family); each bird keeps its species' value per family except
with probability ``variation``. Pose (facing, tilt, position), background and branch, and a slight shade
of every part are nuisances. A pair is the same bird, same nuisances, re-rendered with one family's
value swapped for another value of that family.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from kit._version import __version__
from kit.data.layout import SYNCUB_COLUMNS, format_list, write_names
from kit.data.render import Frame, assign_splits, check_split, contrast, ellipse, render_all, shade
from kit.errors import ConfigError
from kit.io import atomic_path

COLORS = {
    "blue": (40, 90, 225),
    "brown": (125, 72, 30),
    "grey": (140, 140, 140),
    "yellow": (245, 215, 30),
    "green": (40, 165, 60),
    "black": (25, 25, 25),
    "white": (245, 245, 245),
    "red": (215, 30, 30),
}
EYE_COLORS = {"black": (20, 20, 20), "red": (220, 30, 30), "yellow": (245, 215, 30), "white": (250, 250, 250)}
SIZES = {"small_(5_-_9_in)": 0.44, "medium_(9_-_16_in)": 0.57, "large_(16_-_32_in)": 0.70}
BILL_LENGTHS = {"shorter_than_head": 0.09, "about_the_same_as_head": 0.15, "longer_than_head": 0.24}
FAMILIES: dict[str, list[str]] = {
    "has_bill_shape": ["cone", "dagger", "hooked_seabird", "needle"],
    "has_wing_color": list(COLORS),
    "has_upperparts_color": list(COLORS),
    "has_breast_pattern": ["solid", "spotted", "striped", "multi-colored"],
    "has_tail_shape": ["notched_tail", "rounded_tail", "pointed_tail", "fan-shaped_tail"],
    "has_breast_color": list(COLORS),
    "has_throat_color": list(COLORS),
    "has_eye_color": list(EYE_COLORS),
    "has_bill_length": list(BILL_LENGTHS),
    "has_size": list(SIZES),
    "has_crown_color": list(COLORS),
}
ATTRIBUTES = [f"{fam}::{v}" for fam, vals in FAMILIES.items() for v in vals]
BACKGROUNDS = [(195, 222, 245), (214, 234, 204), (236, 226, 201), (226, 216, 236), (230, 230, 230)]
BILL_NOUN = {"cone": "Finch", "dagger": "Tern", "hooked_seabird": "Gull", "needle": "Hummingbird"}
SPECIES_SEED = 20110601  # the species prototypes are one fixed world, whatever the sampling seed


@dataclass(frozen=True)
class ToyBirdsConfig:
    """How a toy-synCUB benchmark is rendered (defaults: the kit's offline benchmark)."""

    n_pairs: int = 2000
    n_images: int = 3000
    n_species: int = 20
    variation: float = 0.15
    size: int = 96
    seed: int = 0
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    workers: int = 2

    def __post_init__(self) -> None:
        for k in ("n_pairs", "n_images", "n_species", "size"):
            if getattr(self, k) < 1:
                raise ConfigError(f"ToyBirdsConfig.{k} must be ≥ 1, got {getattr(self, k)}")
        if self.size < 32:
            raise ConfigError(f"ToyBirdsConfig.size must be ≥ 32 pixels to show the parts, got {self.size}")
        if not 0 <= self.variation <= 1:
            raise ConfigError(f"ToyBirdsConfig.variation must lie in [0, 1], got {self.variation}")
        check_split("ToyBirdsConfig", self.split)


def species_prototypes(n_species: int) -> tuple[np.ndarray, list[str]]:
    """int[S, F] value index per family for each species, and the CUB-style class names."""
    rng = np.random.default_rng(SPECIES_SEED)
    sizes = [len(v) for v in FAMILIES.values()]
    protos = np.stack([rng.integers(0, n, size=n_species) for n in sizes], axis=1)
    fams = list(FAMILIES)
    names = []
    for s in range(n_species):
        wing = FAMILIES["has_wing_color"][protos[s, fams.index("has_wing_color")]].capitalize()
        bill = BILL_NOUN[FAMILIES["has_bill_shape"][protos[s, fams.index("has_bill_shape")]]]
        names.append(f"{s + 1:03d}.{wing}_winged_{bill}")
    return protos, names


def sample_birds(
    n: int, rng: np.random.Generator, n_species: int, variation: float
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """``(species: int[n], values: int[n, F], nuisances)`` for n birds."""
    protos, _ = species_prototypes(n_species)
    species = rng.integers(0, n_species, size=n)
    values = protos[species].copy()
    sizes = np.array([len(v) for v in FAMILIES.values()])
    resample = rng.random(values.shape) < variation
    random_vals = (rng.random(values.shape) * sizes).astype(np.int64)
    values[resample] = random_vals[resample]
    nuis = [
        {
            "mirror": bool(rng.random() < 0.5),
            "tilt": float(rng.uniform(-10, 10)),
            "dx": float(rng.uniform(-0.03, 0.03)),
            "dy": float(rng.uniform(-0.05, 0.05)),
            "scale": float(rng.uniform(0.96, 1.04)),
            "bg": int(rng.integers(len(BACKGROUNDS))),
            "bg_shade": float(rng.uniform(0.95, 1.03)),
            "branch": float(rng.uniform(0.7, 1.1)),
            "shades": rng.uniform(0.92, 1.08, size=8).round(4).tolist(),
        }
        for _ in range(n)
    ]
    return species, values, nuis


def _spec(values: np.ndarray, nuis: dict) -> dict:
    return {"attrs": {fam: FAMILIES[fam][int(v)] for fam, v in zip(FAMILIES, values)}, **nuis}


def _tail(shape: str) -> list[tuple[float, float]]:
    if shape == "notched_tail":
        return [(-0.25, -0.06), (-0.54, -0.13), (-0.43, -0.02), (-0.54, 0.09), (-0.25, 0.04)]
    if shape == "rounded_tail":
        return [(-0.25, -0.05)] + ellipse(-0.33, -0.005, 0.17, 0.09, 110, 250, 12) + [(-0.25, 0.04)]
    if shape == "pointed_tail":
        return [(-0.25, -0.05), (-0.6, -0.005), (-0.25, 0.04)]
    return [(-0.25, -0.03), (-0.46, -0.21), (-0.53, -0.07), (-0.53, 0.06), (-0.46, 0.19), (-0.25, 0.03)]


def _bill(shape: str, length: float) -> list[tuple[float, float]]:
    x0, tip = 0.40, 0.40 + length
    if shape == "cone":
        return [(x0, -0.185), (tip, -0.13), (x0, -0.08)]
    if shape == "dagger":
        return [(x0, -0.155), (tip, -0.13), (x0, -0.105)]
    if shape == "hooked_seabird":
        return [
            (x0, -0.16),
            (tip - 0.02, -0.155),
            (tip + 0.015, -0.13),
            (tip - 0.01, -0.095),
            (tip - 0.02, -0.12),
            (x0, -0.10),
        ]
    return [(x0, -0.14), (tip, -0.13), (x0, -0.12)]


def render_bird(spec: dict, size: int) -> Image.Image:
    """Draw one bird from its spec on a ``size``×``size`` RGB canvas."""
    a, sh = spec["attrs"], spec["shades"]
    bg = shade(BACKGROUNDS[spec["bg"]], spec["bg_shade"])
    im = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    length = SIZES[a["has_size"]] * spec["scale"] * size
    cx = size * (0.5 + spec["dx"]) - (0.04 * length if not spec["mirror"] else -0.04 * length)
    branch_y = size * (0.76 + spec["dy"])
    cy = branch_y - 0.33 * length
    f = Frame(cx, cy, length, spec["tilt"], spec["mirror"])
    w = max(1, size // 96)
    ink = (30, 26, 22)
    d.rectangle([0, branch_y - 0.025 * size, size, branch_y + 0.025 * size], fill=shade((110, 96, 80), spec["branch"]))

    def poly(pts, rgb, factor=1.0, outline=True):
        d.polygon(f(pts), fill=shade(rgb, factor), outline=ink if outline else None, width=w if outline else 0)

    for x in (0.0, 0.08):
        d.line(f([(x, 0.12), (x - 0.02, 0.33)]), fill=ink, width=2 * w)
    up = COLORS[a["has_upperparts_color"]]
    poly(_tail(a["has_tail_shape"]), up, sh[0])
    poly(ellipse(0.0, 0.0, 0.3, 0.17), up, sh[0])
    breast = shade(COLORS[a["has_breast_color"]], sh[1])
    poly(ellipse(0.1, 0.05, 0.2, 0.12), breast, outline=False)
    mark = contrast(breast)
    pattern = a["has_breast_pattern"]
    if pattern == "spotted":
        for px, py in ((0.02, 0.02), (0.1, 0.0), (0.18, 0.03), (0.06, 0.09), (0.15, 0.1)):
            d.polygon(f(ellipse(px, py, 0.022, 0.022, n=10)), fill=mark)
    elif pattern == "striped":
        for py in (-0.01, 0.04, 0.09, 0.135):
            half = 0.2 * np.sqrt(max(0.0, 1 - ((py - 0.05) / 0.12) ** 2)) * 0.9
            d.line(f([(0.1 - half, py), (0.1 + half, py)]), fill=mark, width=2 * w)
    elif pattern == "multi-colored":
        d.polygon(f(ellipse(0.1, 0.05, 0.2, 0.12, 0, 180, 14)), fill=mark)
    poly(
        [(0.12, -0.08), (0.0, -0.13), (-0.2, -0.1), (-0.36, -0.02), (-0.15, 0.05), (0.06, 0.03)],
        COLORS[a["has_wing_color"]],
        sh[2],
    )
    poly(ellipse(0.3, -0.14, 0.12, 0.12), up, sh[0])
    poly(ellipse(0.36, -0.05, 0.075, 0.06), COLORS[a["has_throat_color"]], sh[3])
    poly(ellipse(0.3, -0.14, 0.12, 0.12, 195, 345, 14), COLORS[a["has_crown_color"]], sh[4])
    poly(_bill(a["has_bill_shape"], BILL_LENGTHS[a["has_bill_length"]]), (70, 58, 45), sh[5])
    poly(ellipse(0.34, -0.155, 0.04, 0.04, n=12), EYE_COLORS[a["has_eye_color"]])
    return im


def _labels(values: np.ndarray) -> np.ndarray:
    """bool[n, C] multi-hot of the attribute values int[n, F]."""
    offsets = np.cumsum([0] + [len(v) for v in FAMILIES.values()])[:-1]
    Y = np.zeros((values.shape[0], len(ATTRIBUTES)), dtype=bool)
    Y[np.arange(values.shape[0])[:, None], values + offsets] = True
    return Y


def render_toy_syncub(
    folder: str | os.PathLike, n_pairs: int = 2000, n_images: int = 3000, seed: int = 0, *, progress: bool = False,
    **settings
) -> Path:
    """Render toy-synCUB into ``folder`` (replaced atomically); return the folder.

    Layout: ``images/orig/``, ``images/syn/``, ``images/unpaired/``, ``metadata.csv`` (synCUB columns),
    ``attributes.txt``, ``unpaired.csv`` (image, labels, split, class_id, class_name), ``render_config.json``.
    settings: further :class:`ToyBirdsConfig` fields (n_species, variation, size, split, workers); progress: a bar
    over the images rendered.
    """
    cfg = ToyBirdsConfig(n_pairs=n_pairs, n_images=n_images, seed=seed, **settings)
    rng = np.random.default_rng(cfg.seed)
    _, class_names = species_prototypes(cfg.n_species)
    offsets = np.cumsum([0] + [len(v) for v in FAMILIES.values()])[:-1]
    sizes = np.array([len(v) for v in FAMILIES.values()])

    species, values, nuis = sample_birds(cfg.n_pairs, rng, cfg.n_species, cfg.variation)
    fam = rng.integers(0, len(FAMILIES), size=cfg.n_pairs)
    shift = 1 + (rng.random(cfg.n_pairs) * (sizes[fam] - 1)).astype(np.int64)
    rows = np.arange(cfg.n_pairs)
    swapped = values.copy()
    swapped[rows, fam] = (values[rows, fam] + shift) % sizes[fam]
    old = values[rows, fam] + offsets[fam]
    new = swapped[rows, fam] + offsets[fam]
    Yo, Ys = _labels(values), _labels(swapped)

    u_species, u_values, u_nuis = sample_birds(cfg.n_images, rng, cfg.n_species, cfg.variation)
    u_split = assign_splits(cfg.n_images, cfg.split, rng)
    Yu = _labels(u_values)

    meta = pd.DataFrame(
        {
            "pair_id": rows,
            "orig_image": [f"images/orig/{i:06d}.png" for i in rows],
            "syn_image": [f"images/syn/{i:06d}.png" for i in rows],
            "class_id": species + 1,
            "class_name": [class_names[s] for s in species],
            "old_attr": [ATTRIBUTES[i] for i in old],
            "new_attr": [ATTRIBUTES[i] for i in new],
            "old_attr_idx": old,
            "new_attr_idx": new,
            "orig_attr_idx": [format_list(np.flatnonzero(y)) for y in Yo],
            "syn_attr_idx": [format_list(np.flatnonzero(y)) for y in Ys],
        }
    )[SYNCUB_COLUMNS]
    unpaired = pd.DataFrame(
        {
            "image": [f"images/unpaired/{i:06d}.png" for i in range(cfg.n_images)],
            "labels": [format_list(np.flatnonzero(y)) for y in Yu],
            "split": u_split,
            "class_id": u_species + 1,
            "class_name": [class_names[s] for s in u_species],
        }
    )
    with atomic_path(folder) as tmp:
        for sub in ("orig", "syn", "unpaired"):
            (tmp / "images" / sub).mkdir(parents=True)
        jobs = [(str(tmp / p), _spec(v, n)) for p, v, n in zip(meta["orig_image"], values, nuis)]
        jobs += [(str(tmp / p), _spec(v, n)) for p, v, n in zip(meta["syn_image"], swapped, nuis)]
        jobs += [(str(tmp / p), _spec(v, n)) for p, v, n in zip(unpaired["image"], u_values, u_nuis)]
        render_all(render_bird, jobs, cfg.size, workers=cfg.workers, progress=progress, desc='render toy-synCUB')
        meta.to_csv(tmp / "metadata.csv", index=False)
        unpaired.to_csv(tmp / "unpaired.csv", index=False)
        write_names(tmp / "attributes.txt", ATTRIBUTES)
        (tmp / "render_config.json").write_text(
            json.dumps({"benchmark": "toy-syncub", "kit_version": __version__, **asdict(cfg)}, indent=2),
            encoding="utf-8",
        )
    return Path(folder)
