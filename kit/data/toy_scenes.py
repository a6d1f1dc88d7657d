"""toy-synCOCO: procedural scenes of objects from COCO-named categories, and exact object-removal pairs.

A scene is a sky/ground background with a few categories, each with one or more instances, placed
with little overlap. A pair removes every instance of one category — the rarest in the scene (fewest
instances), ties broken by the largest total area (the synCOCO rule) — and re-renders the scene with
the background and every other object exactly as they were.
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
from kit.data.layout import SYNCOCO_COLUMNS, format_list, write_names
from kit.data.render import Frame, assign_splits, check_split, ellipse, render_all, shade
from kit.errors import ConfigError
from kit.io import atomic_path

INK = (25, 25, 25)


def _person(d, f, k):
    d.polygon(f([(-0.12, 0.1), (0.12, 0.1), (0.1, 0.5), (-0.1, 0.5)]), fill=shade((40, 40, 60), k))
    d.polygon(f([(-0.18, -0.22), (0.18, -0.22), (0.14, 0.12), (-0.14, 0.12)]), fill=shade((45, 85, 210), k))
    d.polygon(f(ellipse(0, -0.36, 0.13, 0.13)), fill=shade((230, 185, 145), k), outline=INK)


def _wheels(d, f, xs, y, r):
    for x in xs:
        d.polygon(f(ellipse(x, y, r, r, n=16)), fill=INK)


def _bicycle(d, f, k):
    for x in (-0.3, 0.3):
        d.line(f(ellipse(x, 0.15, 0.2, 0.2, n=20)), fill=INK, width=3)
    d.line(
        f([(-0.3, 0.15), (-0.05, -0.15), (0.3, 0.15), (0.0, 0.15), (-0.3, 0.15)]),
        fill=shade((200, 30, 140), k),
        width=3,
    )


def _car(d, f, k):
    d.polygon(
        f(
            [
                (-0.5, 0.2),
                (-0.5, -0.05),
                (-0.25, -0.1),
                (-0.12, -0.3),
                (0.22, -0.3),
                (0.34, -0.08),
                (0.5, -0.04),
                (0.5, 0.2),
            ]
        ),
        fill=shade((215, 30, 30), k),
        outline=INK,
    )
    d.polygon(f([(-0.08, -0.25), (0.18, -0.25), (0.26, -0.1), (-0.16, -0.1)]), fill=(170, 215, 240))
    _wheels(d, f, (-0.3, 0.3), 0.22, 0.11)


def _bus(d, f, k):
    d.polygon(f([(-0.5, -0.3), (0.5, -0.3), (0.5, 0.22), (-0.5, 0.22)]), fill=shade((245, 200, 20), k), outline=INK)
    for x in (-0.4, -0.2, 0.0, 0.2):
        d.polygon(f([(x, -0.22), (x + 0.14, -0.22), (x + 0.14, -0.05), (x, -0.05)]), fill=(150, 200, 235))
    _wheels(d, f, (-0.3, 0.3), 0.24, 0.1)


def _truck(d, f, k):
    d.polygon(f([(-0.5, -0.35), (0.15, -0.35), (0.15, 0.2), (-0.5, 0.2)]), fill=shade((235, 235, 235), k), outline=INK)
    d.polygon(
        f([(0.17, -0.15), (0.4, -0.15), (0.5, 0.0), (0.5, 0.2), (0.17, 0.2)]), fill=shade((30, 110, 60), k), outline=INK
    )
    _wheels(d, f, (-0.32, 0.0, 0.35), 0.22, 0.1)


def _traffic_light(d, f, k):
    d.line(f([(0, 0.2), (0, 0.5)]), fill=(90, 90, 90), width=3)
    d.polygon(f([(-0.15, -0.5), (0.15, -0.5), (0.15, 0.2), (-0.15, 0.2)]), fill=(30, 30, 30))
    for y, c in ((-0.35, (230, 30, 30)), (-0.15, (245, 200, 20)), (0.05, (40, 200, 60))):
        d.polygon(f(ellipse(0, y, 0.09, 0.09, n=12)), fill=c)


def _stop_sign(d, f, k):
    d.line(f([(0, 0.1), (0, 0.5)]), fill=(120, 120, 120), width=3)
    d.polygon(f(ellipse(0, -0.15, 0.32, 0.32, 22.5, 382.5, 9)), fill=shade((200, 20, 30), k), outline=(250, 250, 250))
    d.line(f([(-0.18, -0.15), (0.18, -0.15)]), fill=(250, 250, 250), width=2)


def _bench(d, f, k):
    c = shade((140, 85, 40), k)
    for y in (-0.15, 0.0):
        d.polygon(f([(-0.5, y), (0.5, y), (0.5, y + 0.08), (-0.5, y + 0.08)]), fill=c, outline=INK)
    for x in (-0.4, 0.4):
        d.line(f([(x, 0.08), (x, 0.3)]), fill=INK, width=3)


def _bird(d, f, k):
    d.polygon(f(ellipse(0, 0.05, 0.35, 0.2)), fill=shade((40, 120, 230), k), outline=INK)
    d.polygon(f(ellipse(0.3, -0.15, 0.14, 0.14)), fill=shade((40, 120, 230), k), outline=INK)
    d.polygon(f([(0.42, -0.19), (0.55, -0.13), (0.42, -0.09)]), fill=(245, 150, 20))


def _quadruped(d, f, body, head, legs=0.28, ears=False, tail=True):
    if tail:
        d.line(f([(-0.45, -0.05), (-0.58, -0.25)]), fill=body, width=3)
    for x in (-0.3, -0.15, 0.15, 0.3):
        d.line(f([(x, 0.0), (x, legs)]), fill=INK, width=3)
    d.polygon(f(ellipse(0, -0.05, 0.45, 0.18)), fill=body, outline=INK)
    d.polygon(f(ellipse(0.45, -0.25, 0.14, 0.12)), fill=head, outline=INK)
    if ears:
        d.polygon(f([(0.36, -0.33), (0.4, -0.45), (0.46, -0.35)]), fill=head, outline=INK)
        d.polygon(f([(0.48, -0.35), (0.54, -0.45), (0.57, -0.32)]), fill=head, outline=INK)


def _cat(d, f, k):
    _quadruped(d, f, shade((240, 140, 40), k), shade((240, 140, 40), k), legs=0.18, ears=True)


def _dog(d, f, k):
    _quadruped(d, f, shade((150, 95, 45), k), shade((120, 70, 30), k), legs=0.25)
    d.polygon(f(ellipse(0.4, -0.2, 0.05, 0.1)), fill=(70, 40, 20))


def _horse(d, f, k):
    _quadruped(d, f, shade((95, 55, 25), k), shade((95, 55, 25), k), legs=0.45)
    d.line(f([(0.32, -0.12), (0.45, -0.3)]), fill=shade((95, 55, 25), k), width=6)


def _sheep(d, f, k):
    for x in (-0.2, 0.2):
        d.line(f([(x, 0.05), (x, 0.3)]), fill=INK, width=3)
    for x, y in ((-0.25, -0.05), (0.0, -0.12), (0.25, -0.05), (-0.1, 0.05), (0.15, 0.05)):
        d.polygon(f(ellipse(x, y, 0.18, 0.15, n=14)), fill=shade((248, 248, 240), k), outline=(150, 150, 150))
    d.polygon(f(ellipse(0.42, -0.12, 0.1, 0.09)), fill=INK)


def _cow(d, f, k):
    _quadruped(d, f, shade((250, 250, 250), k), (30, 30, 30), legs=0.3)
    for x, y in ((-0.2, -0.1), (0.1, 0.0)):
        d.polygon(f(ellipse(x, y, 0.1, 0.07)), fill=INK)


def _umbrella(d, f, k):
    d.line(f([(0, -0.1), (0, 0.45), (0.08, 0.5)]), fill=INK, width=3)
    d.polygon(
        f([(-0.5, 0.0)] + ellipse(0, 0.0, 0.5, 0.45, 180, 360, 16) + [(0.5, 0.0)]),
        fill=shade((200, 40, 200), k),
        outline=INK,
    )


def _bottle(d, f, k):
    d.polygon(
        f(
            [
                (-0.15, -0.1),
                (-0.06, -0.25),
                (-0.06, -0.5),
                (0.06, -0.5),
                (0.06, -0.25),
                (0.15, -0.1),
                (0.15, 0.5),
                (-0.15, 0.5),
            ]
        ),
        fill=shade((30, 140, 60), k),
        outline=INK,
    )


def _cup(d, f, k):
    d.line(f(ellipse(0.28, 0.0, 0.14, 0.16, -90, 90, 10)), fill=INK, width=3)
    d.polygon(f([(-0.3, -0.35), (0.3, -0.35), (0.24, 0.35), (-0.24, 0.35)]), fill=shade((60, 200, 220), k), outline=INK)


def _banana(d, f, k):
    pts = ellipse(0, -0.3, 0.5, 0.55, 20, 160, 14) + ellipse(0, -0.45, 0.45, 0.6, 160, 20, 14)
    d.polygon(f(pts), fill=shade((250, 225, 40), k), outline=(120, 100, 20))


def _apple(d, f, k):
    d.polygon(f(ellipse(0, 0.05, 0.4, 0.4)), fill=shade((200, 20, 40), k), outline=INK)
    d.line(f([(0, -0.3), (0.05, -0.48)]), fill=(90, 60, 20), width=2)
    d.polygon(f(ellipse(0.15, -0.4, 0.1, 0.05)), fill=(40, 160, 40))


def _orange(d, f, k):
    d.polygon(f(ellipse(0, 0, 0.45, 0.45)), fill=shade((250, 140, 0), k), outline=(160, 80, 0))
    d.polygon(f(ellipse(0.05, -0.35, 0.05, 0.04)), fill=(60, 120, 30))


def _pizza(d, f, k):
    d.polygon(f([(-0.5, -0.4), (0.5, -0.4), (0.0, 0.5)]), fill=shade((245, 200, 90), k), outline=(170, 110, 40))
    for x, y in ((-0.2, -0.25), (0.15, -0.2), (0.0, 0.05)):
        d.polygon(f(ellipse(x, y, 0.08, 0.08, n=10)), fill=(190, 30, 30))


def _donut(d, f, k):
    d.polygon(f(ellipse(0, 0, 0.45, 0.4)), fill=shade((240, 130, 180), k), outline=(150, 90, 50))
    d.polygon(f(ellipse(0, 0, 0.15, 0.13)), fill=None, outline=(150, 90, 50))


def _chair(d, f, k):
    c = shade((110, 65, 25), k)
    d.line(f([(-0.25, -0.5), (-0.25, 0.5)]), fill=c, width=4)
    d.line(f([(-0.25, 0.0), (0.3, 0.0), (0.3, 0.5)]), fill=c, width=4)
    d.polygon(f([(-0.25, -0.5), (-0.05, -0.5), (-0.05, -0.05), (-0.25, -0.05)]), fill=c)


def _tv(d, f, k):
    d.line(f([(0, 0.3), (0, 0.45)]), fill=INK, width=3)
    d.line(f([(-0.2, 0.45), (0.2, 0.45)]), fill=INK, width=3)
    d.polygon(f([(-0.5, -0.4), (0.5, -0.4), (0.5, 0.3), (-0.5, 0.3)]), fill=(20, 20, 20))
    d.polygon(f([(-0.42, -0.32), (0.42, -0.32), (0.42, 0.22), (-0.42, 0.22)]), fill=shade((60, 110, 240), k))


def _clock(d, f, k):
    d.polygon(f(ellipse(0, 0, 0.45, 0.45)), fill=shade((250, 250, 235), k), outline=INK, width=2)
    d.line(f([(0, -0.3), (0, 0), (0.22, 0.08)]), fill=INK, width=2)


def _kite(d, f, k):
    d.line(f([(0, 0.45), (-0.1, 0.53), (0.08, 0.6)]), fill=INK, width=2)
    d.polygon(f([(0, -0.5), (0.32, -0.05), (0, 0.45), (-0.32, -0.05)]), fill=shade((255, 90, 40), k), outline=INK)
    d.line(f([(0, -0.5), (0, 0.45)]), fill=INK, width=1)


def _laptop(d, f, k):
    d.polygon(
        f([(-0.38, -0.45), (0.38, -0.45), (0.38, 0.1), (-0.38, 0.1)]), fill=shade((150, 150, 160), k), outline=INK
    )
    d.polygon(f([(-0.31, -0.38), (0.31, -0.38), (0.31, 0.03), (-0.31, 0.03)]), fill=(20, 30, 50))
    d.polygon(f([(-0.38, 0.1), (0.38, 0.1), (0.5, 0.3), (-0.5, 0.3)]), fill=shade((150, 150, 160), k), outline=INK)


# name: (draw function, bbox width, bbox height) in units of the instance scale
CATEGORIES = {
    "person": (_person, 0.4, 1.0),
    "bicycle": (_bicycle, 1.0, 0.7),
    "car": (_car, 1.0, 0.65),
    "bus": (_bus, 1.0, 0.65),
    "truck": (_truck, 1.0, 0.7),
    "traffic light": (_traffic_light, 0.32, 1.0),
    "stop sign": (_stop_sign, 0.65, 1.0),
    "bench": (_bench, 1.0, 0.45),
    "bird": (_bird, 0.9, 0.5),
    "cat": (_cat, 1.0, 0.6),
    "dog": (_dog, 1.0, 0.65),
    "horse": (_horse, 1.0, 0.95),
    "sheep": (_sheep, 0.95, 0.6),
    "cow": (_cow, 1.0, 0.7),
    "umbrella": (_umbrella, 1.0, 0.95),
    "bottle": (_bottle, 0.3, 1.0),
    "cup": (_cup, 0.75, 0.7),
    "banana": (_banana, 1.0, 0.45),
    "apple": (_apple, 0.8, 0.95),
    "orange": (_orange, 0.9, 0.9),
    "pizza": (_pizza, 1.0, 0.9),
    "donut": (_donut, 0.9, 0.8),
    "chair": (_chair, 0.6, 1.0),
    "tv": (_tv, 1.0, 0.9),
    "clock": (_clock, 0.9, 0.9),
    "kite": (_kite, 0.65, 1.25),
    "laptop": (_laptop, 1.0, 0.75),
}
NAMES = list(CATEGORIES)
SKIES = [(190, 215, 240), (215, 225, 235), (240, 220, 200), (200, 200, 215)]
GROUNDS = [(150, 170, 120), (170, 160, 140), (130, 130, 135), (190, 180, 150)]


@dataclass(frozen=True)
class ToyScenesConfig:
    """How a toy-synCOCO benchmark is rendered (defaults: the kit's offline benchmark)."""

    n_pairs: int = 2000
    n_images: int = 3000
    min_categories: int = 2
    max_categories: int = 4
    max_instances: int = 3
    zipf: float = 0.8
    size: int = 96
    seed: int = 0
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    workers: int = 2

    def __post_init__(self) -> None:
        for k in ("n_pairs", "n_images", "min_categories", "max_instances"):
            if getattr(self, k) < 1:
                raise ConfigError(f"ToyScenesConfig.{k} must be ≥ 1, got {getattr(self, k)}")
        if not self.min_categories <= self.max_categories <= len(NAMES):
            raise ConfigError(
                f"ToyScenesConfig needs 1 ≤ min_categories ≤ max_categories ≤ {len(NAMES)}, "
                f"got {self.min_categories}, {self.max_categories}"
            )
        if self.size < 48:
            raise ConfigError(f"ToyScenesConfig.size must be ≥ 48 pixels, got {self.size}")
        check_split("ToyScenesConfig", self.split)


def _overlap(box, boxes) -> bool:
    """True if ``box`` covers more than a quarter of itself or of an earlier box."""
    x0, y0, x1, y1 = box
    for a0, b0, a1, b1 in boxes:
        w = min(x1, a1) - max(x0, a0)
        h = min(y1, b1) - max(y0, b0)
        if w > 0 and h > 0 and w * h > 0.25 * min((x1 - x0) * (y1 - y0), (a1 - a0) * (b1 - b0)):
            return True
    return False


def sample_scene(rng: np.random.Generator, cfg: ToyScenesConfig) -> dict:
    """A scene spec: background and instances ``(category, cx, cy, scale, mirror, shade)`` in unit
    canvas coordinates; every sampled category keeps at least one instance."""
    p = 1.0 / np.arange(1, len(NAMES) + 1) ** cfg.zipf
    n_cat = int(rng.integers(cfg.min_categories, cfg.max_categories + 1))
    cats = rng.choice(len(NAMES), size=n_cat, replace=False, p=p / p.sum())
    counts = 1 + np.minimum(rng.geometric(0.55, size=n_cat) - 1, cfg.max_instances - 1)
    order = [int(c) for c, n in zip(cats, counts) for _ in range(n)]
    boxes, inst = [], []
    for c in order:
        _, bw, bh = CATEGORIES[NAMES[c]]
        first = c not in [i[0] for i in inst]
        for _ in range(40 if first else 10):
            s = float(rng.uniform(0.22, 0.34))
            cx, cy = (
                float(rng.uniform(s * bw / 2, 1 - s * bw / 2)),
                float(rng.uniform(s * bh / 2 + 0.02, 1 - s * bh / 2)),
            )
            box = (cx - s * bw / 2, cy - s * bh / 2, cx + s * bw / 2, cy + s * bh / 2)
            if not _overlap(box, boxes):
                boxes.append(box)
                inst.append((c, cx, cy, s, bool(rng.random() < 0.5), float(rng.uniform(0.9, 1.1))))
                break
    return {
        "sky": int(rng.integers(len(SKIES))),
        "ground": int(rng.integers(len(GROUNDS))),
        "horizon": float(rng.uniform(0.45, 0.7)),
        "instances": inst,
    }


def removal(instances: list[tuple]) -> int:
    """The category to remove: fewest instances in the scene, ties → largest total bbox area, then the
    lowest index."""
    count: dict[int, int] = {}
    area: dict[int, float] = {}
    for c, _, _, s, _, _ in instances:
        _, bw, bh = CATEGORIES[NAMES[c]]
        count[c] = count.get(c, 0) + 1
        area[c] = area.get(c, 0.0) + s * s * bw * bh
    return min(count, key=lambda c: (count[c], -area[c], c))


def render_scene(spec: dict, size: int) -> Image.Image:
    """Draw one scene from its spec on a ``size``×``size`` RGB canvas."""
    im = Image.new("RGB", (size, size), SKIES[spec["sky"]])
    d = ImageDraw.Draw(im)
    d.rectangle([0, spec["horizon"] * size, size, size], fill=GROUNDS[spec["ground"]])
    for c, cx, cy, s, mirror, k in spec["instances"]:
        CATEGORIES[NAMES[c]][0](d, Frame(cx * size, cy * size, s * size, 0.0, mirror), k)
    return im


def render_toy_syncoco(
    folder: str | os.PathLike, n_pairs: int = 2000, n_images: int = 3000, seed: int = 0, *, progress: bool = False,
    **settings
) -> Path:
    """Render toy-synCOCO into ``folder`` (replaced atomically); return the folder.

    Layout: ``images/orig/``, ``images/syn/``, ``images/unpaired/``, ``metadata.csv`` (synCOCO columns),
    ``categories.txt``, ``unpaired.csv`` (image, labels, split), ``render_config.json``.
    settings: further :class:`ToyScenesConfig` fields; progress: a bar over the images rendered.
    """
    cfg = ToyScenesConfig(n_pairs=n_pairs, n_images=n_images, seed=seed, **settings)
    rng = np.random.default_rng(cfg.seed)
    pair_cfg = cfg if cfg.min_categories >= 2 else ToyScenesConfig(**{**asdict(cfg), "min_categories": 2})
    scenes = [sample_scene(rng, pair_cfg) for _ in range(cfg.n_pairs)]
    removed = [removal(s["instances"]) for s in scenes]
    edited = [{**s, "instances": [i for i in s["instances"] if i[0] != r]} for s, r in zip(scenes, removed)]
    unpaired_scenes = [sample_scene(rng, cfg) for _ in range(cfg.n_images)]

    def labels(s):
        return format_list(sorted({i[0] for i in s["instances"]}))

    rows = np.arange(cfg.n_pairs)
    meta = pd.DataFrame(
        {
            "pair_id": rows,
            "orig_image": [f"images/orig/{i:06d}.png" for i in rows],
            "syn_image": [f"images/syn/{i:06d}.png" for i in rows],
            "coco_idx": rows,
            "removed_cls_idx": removed,
            "removed_class": [NAMES[r] for r in removed],
            "orig_labels": [labels(s) for s in scenes],
            "syn_labels": [labels(s) for s in edited],
        }
    )[SYNCOCO_COLUMNS]
    unpaired = pd.DataFrame(
        {
            "image": [f"images/unpaired/{i:06d}.png" for i in range(cfg.n_images)],
            "labels": [labels(s) for s in unpaired_scenes],
            "split": assign_splits(cfg.n_images, cfg.split, rng),
        }
    )
    with atomic_path(folder) as tmp:
        for sub in ("orig", "syn", "unpaired"):
            (tmp / "images" / sub).mkdir(parents=True)
        jobs = [(str(tmp / p), s) for p, s in zip(meta["orig_image"], scenes)]
        jobs += [(str(tmp / p), s) for p, s in zip(meta["syn_image"], edited)]
        jobs += [(str(tmp / p), s) for p, s in zip(unpaired["image"], unpaired_scenes)]
        render_all(render_scene, jobs, cfg.size, workers=cfg.workers, progress=progress, desc='render toy-synCOCO')
        meta.to_csv(tmp / "metadata.csv", index=False)
        unpaired.to_csv(tmp / "unpaired.csv", index=False)
        write_names(tmp / "categories.txt", NAMES)
        (tmp / "render_config.json").write_text(
            json.dumps({"benchmark": "toy-syncoco", "kit_version": __version__, **asdict(cfg)}, indent=2),
            encoding="utf-8",
        )
    return Path(folder)
