"""toy-synCOCO: procedural scenes of objects from COCO-named categories in photograph-like settings, and exact
object-removal pairs.

A scene is a setting — a city street, a park, a beach, a farm field, a living room or a kitchen, with its
textures and unlabelled clutter — holding a few categories, each with one or more instances, placed with
little overlap, larger when nearer, possibly cut by the frame; unlabelled occluders (poles, trunks,
railings, fences, bushes, plants, a table edge) stand in front, and a camera/lighting pass (colour
temperature, exposure, contrast, directional light, vignette, haze, noise) finishes the photograph
(:func:`sample_scene`). Each image's caption words for its setting (:func:`scene_words`) are written to
``unpaired.csv`` (column ``scene``) for the toy encoder's training.

A pair removes every instance of one category — the rarest in the scene (fewest instances), ties broken by
the largest total area (the synCOCO rule) — and re-renders the scene with the setting, occluders, light and
every other object exactly as they were.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from kit.data.layout import SYNCOCO_COLUMNS, format_list
from kit.data.render import (
    Frame,
    RenderPlan,
    apply_light,
    assign_splits,
    blur,
    check_split,
    ellipse,
    gradient,
    light_words,
    sample_light,
    shade,
    texture,
    value_noise,
    write_rendered,
)
from kit.errors import ConfigError

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

# setting: (outdoor, caption phrase); AFFINITY: the settings each category is most often seen in (COCO's
# objects come with their contexts: cars on streets, cups in kitchens); the setting of a scene is drawn with
# weights 1 + 2 · (the number of its categories at home there), so context correlates with content.
SETTINGS = {
    "street": (True, "on a city street"),
    "park": (True, "in a park"),
    "beach": (True, "on a beach"),
    "field": (True, "in a farm field"),
    "room": (False, "in a living room"),
    "kitchen": (False, "in a kitchen"),
}
AFFINITY = {
    "street": {"person", "bicycle", "car", "bus", "truck", "traffic light", "stop sign", "bench", "umbrella"},
    "park": {"person", "bicycle", "bench", "bird", "dog", "kite", "umbrella"},
    "beach": {"person", "umbrella", "kite", "bird", "dog", "bottle"},
    "field": {"horse", "sheep", "cow", "dog", "bird", "truck"},
    "room": {"cat", "dog", "chair", "tv", "clock", "laptop", "cup", "bottle"},
    "kitchen": {"cup", "bottle", "banana", "apple", "orange", "pizza", "donut", "chair", "clock"},
}
AIRBORNE = {"kite", "bird", "clock"}  # the only categories not standing on the ground or floor
OCCLUDER_KINDS = {
    "street": ("pole", "railing"), "park": ("trunk", "bush", "fence"), "beach": ("dune_grass",),
    "field": ("fence", "bush"), "room": ("plant", "table"), "kitchen": ("table", "plant"),
}
OCCLUDER_WORDS = {"pole": "behind a lamp post", "railing": "behind a railing", "trunk": "next to a tree",
                  "bush": "behind a bush", "fence": "behind a fence", "dune_grass": "among dune grass",
                  "plant": "behind a potted plant", "table": "behind a table"}
MAX_COVER = 0.35  # an object's box is at most this much covered by occluders (so every removal shows)


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


def _covered(box, occluders) -> float:
    """The fraction of ``box`` (clipped to the canvas) that the occluders' boxes cover (overlaps summed)."""
    x0, y0, x1, y1 = max(box[0], 0.0), max(box[1], 0.0), min(box[2], 1.0), min(box[3], 1.0)
    area = max(1e-9, (x1 - x0) * (y1 - y0))
    cover = 0.0
    for _, a0, b0, a1, b1, _ in occluders:
        w, h = min(x1, a1) - max(x0, a0), min(y1, b1) - max(y0, b0)
        if w > 0 and h > 0:
            cover += w * h
    return cover / area


def _sample_occluders(rng: np.random.Generator, setting: str, horizon: float) -> list:
    out = []
    for _ in range(int(rng.choice(3, p=[0.4, 0.4, 0.2]))):
        kind = str(rng.choice(OCCLUDER_KINDS[setting]))
        if kind in ("pole", "trunk"):
            w = float(rng.uniform(0.025, 0.05) if kind == "pole" else rng.uniform(0.06, 0.12))
            x = float(rng.uniform(0.0, 1.0))
            box = [x - w / 2, 0.0 if kind == "trunk" else float(rng.uniform(0.0, 0.3)), x + w / 2, 1.0]
        elif kind in ("railing", "fence", "table"):
            h = float(rng.uniform(0.08, 0.16) if kind != "table" else rng.uniform(0.12, 0.22))
            box = [0.0, 1.0 - h, 1.0, 1.0]
        else:  # bush, dune grass, plant: a blob at a bottom corner or side
            r = float(rng.uniform(0.12, 0.22))
            x = float(rng.choice([rng.uniform(-0.05, 0.2), rng.uniform(0.8, 1.05)]))
            box = [x - r, float(rng.uniform(0.75, 0.95)) - r, x + r, 1.02]
        out.append([kind, *box, int(rng.integers(2**31))])
    return out


def sample_scene(rng: np.random.Generator, cfg: ToyScenesConfig) -> dict:
    """A scene spec: the setting and its nuisances, and instances ``(category, cx, cy, scale, mirror, shade)`` in
    unit canvas coordinates; every sampled category keeps at least one instance.

    Nuisances: the setting (street, park, beach, field, living room, kitchen; drawn with weights that favour
    the categories' usual contexts), its horizon, palette tint, textures and background clutter (buildings,
    trees, hills, clouds, windows, cabinets: drawn from ``seed``), a background blur, occluders in front of the
    objects (poles, tree trunks, railings, fences, bushes, plants, a table edge; no object box more than
    ``MAX_COVER`` covered), perspective (objects lower in the frame are larger), framing (objects may be cut by
    the frame's sides and bottom) and the camera and light (:func:`kit.data.render.sample_light`)."""
    p = 1.0 / np.arange(1, len(NAMES) + 1) ** cfg.zipf
    n_cat = int(rng.integers(cfg.min_categories, cfg.max_categories + 1))
    cats = rng.choice(len(NAMES), size=n_cat, replace=False, p=p / p.sum())
    counts = 1 + np.minimum(rng.geometric(0.55, size=n_cat) - 1, cfg.max_instances - 1)
    settings = list(SETTINGS)
    w = np.array([1.0 + 2.0 * sum(NAMES[c] in AFFINITY[s] for c in cats) for s in settings])
    setting = settings[int(rng.choice(len(settings), p=w / w.sum()))]
    outdoor = SETTINGS[setting][0]
    horizon = float(rng.uniform(0.35, 0.62) if outdoor else rng.uniform(0.5, 0.72))
    occluders = _sample_occluders(rng, setting, horizon)
    order = [int(c) for c, n in zip(cats, counts) for _ in range(n)]
    boxes, inst = [], []
    for c in order:
        _, bw, bh = CATEGORIES[NAMES[c]]
        first = c not in [i[0] for i in inst]
        grounded = NAMES[c] not in AIRBORNE
        for _ in range(60 if first else 10):
            base = float(rng.uniform(0.22, 0.34))
            if grounded:  # the object's bottom stands below the horizon; nearer (lower) objects look larger
                bottom = float(rng.uniform(horizon + 0.04, 1.06))
                depth = (bottom - horizon) / (1.06 - horizon)
                s = base * (0.7 + 0.6 * depth)
                cy = bottom - s * bh / 2
            else:
                s = base * float(rng.uniform(0.7, 1.1))
                cy = float(rng.uniform(s * bh / 2 + 0.02, 1 - s * bh / 2))
            cut = 0.15 * s * bw  # up to 15% of the width may leave the frame at either side
            cx = float(rng.uniform(s * bw / 2 - cut, 1 - s * bw / 2 + cut))
            box = (cx - s * bw / 2, cy - s * bh / 2, cx + s * bw / 2, cy + s * bh / 2)
            if box[1] < 0.02 or _overlap(box, boxes) or _covered(box, occluders) > MAX_COVER:
                continue
            boxes.append(box)
            inst.append((c, cx, cy, s, bool(rng.random() < 0.5), float(rng.uniform(0.85, 1.15))))
            break
    evening = outdoor and rng.random() < 0.2
    return {
        "setting": setting,
        "horizon": horizon,
        "evening": bool(evening),
        "tint": rng.uniform(0.88, 1.12, size=3).round(4).tolist(),
        "seed": int(rng.integers(2**31)),
        "blur": float(rng.uniform(0.0, 1.2)),
        "occluders": occluders,
        "light": sample_light(rng, warmth=0.5 if evening else (0.3 if not outdoor else 0.0)),
        "instances": inst,
    }


def scene_words(spec: dict) -> list[str]:
    """Caption phrases for a scene's nuisances: setting, time of day, occluders, light."""
    out = [SETTINGS[spec["setting"]][1]]
    if spec["evening"]:
        out.append("at dusk")
    out += sorted({OCCLUDER_WORDS[o[0]] for o in spec["occluders"]})
    return out + light_words(spec["light"])


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


def _tinted(rgb, tint) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, round(c * t)))) for c, t in zip(rgb, tint))


def _background(spec: dict, S: int) -> Image.Image:
    """The setting behind the objects: sky or wall, ground or floor, textures and clutter (from ``seed``)."""
    rng = np.random.default_rng(spec["seed"])
    st, tint = spec["setting"], spec["tint"]
    T = lambda c: _tinted(c, tint)  # noqa: E731
    u = S / 96
    hz = spec["horizon"] * S
    if SETTINGS[st][0]:
        top, low = ((70, 80, 150), (240, 165, 110)) if spec["evening"] else ((95, 150, 220), (200, 222, 240))
        im = Image.fromarray(gradient(S, T(top), T(low), 0.0, spec["horizon"]).round().clip(0, 255).astype(np.uint8))
    else:
        wall = T(shade([(225, 215, 190), (190, 205, 215), (215, 190, 185), (200, 210, 185)][int(rng.integers(4))],
                       rng.uniform(0.85, 1.1)))
        im = texture(value_noise(rng, S, 3, 2) * 0.4 + 0.6, shade(wall, 0.85), wall)
    d = ImageDraw.Draw(im)
    if st in ("street", "park", "beach", "field"):
        for _ in range(int(rng.integers(0, 5))):  # clouds
            cx, cy, r = rng.uniform(0, S), rng.uniform(0, hz * 0.7), rng.uniform(5, 14) * u
            for _ in range(3):
                ox = rng.uniform(-r, r)
                d.ellipse([cx + ox - r, cy - r / 2, cx + ox + r, cy + r / 2], fill=T((248, 248, 250)))
    if st == "street":
        x = -rng.uniform(0, 10) * u
        while x < S:  # buildings along the horizon, with windows
            bw, bh = rng.uniform(12, 30) * u, rng.uniform(0.15, 0.5) * S
            c = T(shade([(170, 160, 150), (140, 110, 100), (120, 130, 145), (200, 190, 170)][int(rng.integers(4))],
                        rng.uniform(0.8, 1.15)))
            d.rectangle([x, hz - bh, x + bw, hz], fill=c)
            for wy in np.arange(hz - bh + 3 * u, hz - 4 * u, 6 * u):
                for wx in np.arange(x + 2 * u, x + bw - 4 * u, 5 * u):
                    lit = rng.random() >= 0.8
                    d.rectangle([wx, wy, wx + 2.5 * u, wy + 3 * u], fill=(240, 220, 150) if lit else (60, 75, 95))
            x += bw + rng.uniform(0, 4) * u
        ground = texture(value_noise(rng, S, 8, 2), T((85, 85, 90)), T((130, 130, 135)))
        im.paste(ground.crop((0, int(hz), S, S)), (0, int(hz)))
        d.rectangle([0, hz, S, hz + rng.uniform(4, 10) * u], fill=T((170, 165, 160)))  # the sidewalk
        y = hz + (S - hz) * rng.uniform(0.5, 0.7)
        for x in np.arange(rng.uniform(-10, 0) * u, S, 16 * u):
            d.rectangle([x, y, x + 8 * u, y + 1.5 * u], fill=(235, 235, 225))
    elif st in ("park", "field"):
        far = T((60, 105, 55)) if st == "park" else T((110, 140, 80))
        pts = [(0, hz)] + [(x, hz - rng.uniform(0, 0.12) * S) for x in np.linspace(0, S, 7)] + [(S, hz), (S, S), (0, S)]
        d.polygon(pts, fill=far)
        if st == "park":
            for _ in range(int(rng.integers(2, 6))):
                x, r = rng.uniform(0, S), rng.uniform(6, 15) * u
                d.rectangle([x - r / 6, hz - r, x + r / 6, hz], fill=(90, 65, 40))
                d.ellipse([x - r, hz - 2.6 * r, x + r, hz - 0.7 * r],
                          fill=T(shade((50, 110, 50), rng.uniform(0.7, 1.2))))
        c0, c1 = ((70, 125, 50), (130, 175, 80)) if st == "park" else ((150, 140, 70), (200, 185, 110))
        ground = texture(value_noise(rng, S, 6, 3, aspect=0.5), T(c0), T(c1))
        im.paste(ground.crop((0, int(hz), S, S)), (0, int(hz)))
        if st == "field":
            for k in range(1, 8):  # furrows converging to the horizon
                d.line([(S * k / 8, hz), (S * (k / 8 - 0.5) * 3 + S / 2, S)], fill=T(shade(c0, 0.8)),
                       width=max(1, int(u)))
    elif st == "beach":
        sea = rng.uniform(0.06, 0.14) * S
        d.rectangle([0, hz - sea, S, hz], fill=T((50, 110, 160)))
        for _ in range(8):
            y, x = rng.uniform(hz - sea, hz), rng.uniform(0, S)
            d.line([(x, y), (x + rng.uniform(5, 15) * u, y)], fill=(220, 235, 245), width=max(1, int(u)))
        ground = texture(value_noise(rng, S, 8, 2), T((200, 180, 130)), T((240, 225, 180)))
        im.paste(ground.crop((0, int(hz), S, S)), (0, int(hz)))
        for _ in range(int(rng.integers(0, 4))):  # rocks
            x, y, r = rng.uniform(0, S), rng.uniform(hz, S), rng.uniform(2, 6) * u
            d.ellipse([x - r, y - r / 2, x + r, y + r / 2], fill=(120, 115, 110))
    else:  # room, kitchen
        if st == "kitchen":
            t = rng.uniform(6, 10) * u
            for y in np.arange(0, hz, t):
                d.line([(0, y), (S, y)], fill=shade(wall, 0.8), width=max(1, int(u / 2)))
            for x in np.arange(0, S, t):
                d.line([(x, 0), (x, hz)], fill=shade(wall, 0.8), width=max(1, int(u / 2)))
            cab = T(shade((160, 120, 80), rng.uniform(0.7, 1.2)))
            x0 = rng.uniform(0, 0.5) * S
            d.rectangle([x0, 0, x0 + rng.uniform(0.3, 0.5) * S, rng.uniform(0.15, 0.3) * S], fill=cab,
                        outline=shade(cab, 0.7))
        if rng.random() < 0.6:  # a window onto the outside
            wx, wy = rng.uniform(0.05, 0.6) * S, rng.uniform(0.05, 0.2) * S
            ww, wh = rng.uniform(0.2, 0.35) * S, rng.uniform(0.2, 0.3) * S
            d.rectangle([wx, wy, wx + ww, wy + wh], fill=T((170, 205, 235)), outline=(245, 245, 245),
                        width=max(1, int(2 * u)))
            d.line([(wx + ww / 2, wy), (wx + ww / 2, wy + wh)], fill=(245, 245, 245), width=max(1, int(u)))
        if rng.random() < 0.5:  # a picture on the wall
            px, py = rng.uniform(0.1, 0.8) * S, rng.uniform(0.05, 0.25) * S
            d.rectangle([px, py, px + 14 * u, py + 10 * u], fill=T(shade((120, 90, 60), rng.uniform(0.8, 1.3))),
                        outline=(60, 45, 30), width=max(1, int(u)))
        floor = T(shade((150, 110, 70) if st == "room" else (200, 200, 195), rng.uniform(0.8, 1.15)))
        ground = texture(value_noise(rng, S, 10, 2, aspect=0.3), shade(floor, 0.8), floor)
        im.paste(ground.crop((0, int(hz), S, S)), (0, int(hz)))
        d.line([(0, hz), (S, hz)], fill=shade(floor, 0.6), width=max(1, int(u)))
        if st == "room" and rng.random() < 0.5:  # a rug
            rx = rng.uniform(0.1, 0.5) * S
            d.polygon([(rx, hz + 0.1 * S), (rx + 0.45 * S, hz + 0.1 * S), (rx + 0.55 * S, S * 0.95),
                       (rx - 0.1 * S, S * 0.95)],
                      fill=T(shade((150, 50, 60), rng.uniform(0.7, 1.3))))
    return blur(im, spec["blur"] * u)


def _draw_occluders(spec: dict, im: Image.Image, S: int) -> None:
    d = ImageDraw.Draw(im)
    u = S / 96
    for kind, x0, y0, x1, y1, seed in spec["occluders"]:
        rng = np.random.default_rng(seed)
        X0, Y0, X1, Y1 = x0 * S, y0 * S, x1 * S, y1 * S
        if kind == "pole":
            d.rectangle([X0, Y0, X1, Y1], fill=(70, 75, 80))
            d.rectangle([X0 - 2 * u, Y0, X1 + 2 * u, Y0 + 3 * u], fill=(50, 55, 60))
        elif kind == "trunk":
            c = shade((95, 70, 45), rng.uniform(0.7, 1.2))
            d.rectangle([X0, Y0, X1, Y1], fill=c)
            for _ in range(5):
                x = rng.uniform(X0, X1)
                d.line([(x, Y0), (x, Y1)], fill=shade(c, 0.7), width=max(1, int(u)))
        elif kind in ("railing", "fence"):
            c = (60, 60, 65) if kind == "railing" else shade((150, 120, 80), rng.uniform(0.8, 1.2))
            w = max(1, int(1.5 * u))
            for y in (Y0 + 1.5 * u, (Y0 + Y1) / 2):
                d.line([(0, y), (S, y)], fill=c, width=w)
            for x in np.arange(rng.uniform(0, 6) * u, S, (7 if kind == "railing" else 14) * u):
                d.line([(x, Y0), (x, Y1)], fill=c, width=w if kind == "railing" else 2 * w)
        elif kind == "table":
            c = shade([(150, 100, 60), (235, 235, 230), (120, 80, 50)][int(rng.integers(3))], rng.uniform(0.85, 1.1))
            d.rectangle([X0, Y0, X1, Y1], fill=c)
            d.line([(X0, Y0), (X1, Y0)], fill=shade(c, 0.7), width=max(1, int(u)))
        else:  # bush, dune grass, plant
            cx, cy, r = (X0 + X1) / 2, (Y0 + Y1) / 2, (X1 - X0) / 2
            if kind == "plant":
                d.polygon([(cx - 0.4 * r, Y1), (cx - 0.3 * r, cy + 0.3 * r), (cx + 0.3 * r, cy + 0.3 * r),
                           (cx + 0.4 * r, Y1)],
                          fill=(170, 90, 50))
            for _ in range(14 if kind != "dune_grass" else 0):
                lx, ly = cx + rng.uniform(-0.7, 0.7) * r, cy + rng.uniform(-0.7, 0.5) * r
                lr = rng.uniform(0.2, 0.35) * r
                d.ellipse([lx - lr, ly - lr, lx + lr, ly + lr], fill=shade((50, 115, 45), rng.uniform(0.6, 1.3)))
            for _ in range(30 if kind == "dune_grass" else 0):
                x = rng.uniform(X0, X1)
                d.line([(x, Y1), (x + rng.uniform(-0.3, 0.3) * r, rng.uniform(Y0, cy))],
                       fill=shade((160, 150, 80), rng.uniform(0.7, 1.2)), width=max(1, int(u)))


def render_scene(spec: dict, size: int) -> Image.Image:
    """Draw one scene from its spec on a ``size``×``size`` RGB canvas: setting, objects, occluders, then the
    camera and light."""
    im = _background(spec, size)
    d = ImageDraw.Draw(im)
    for c, cx, cy, s, mirror, k in spec["instances"]:
        CATEGORIES[NAMES[c]][0](d, Frame(cx * size, cy * size, s * size, 0.0, mirror), k)
    _draw_occluders(spec, im, size)
    return apply_light(im, spec["light"])


def plan_toy_syncoco(cfg: ToyScenesConfig) -> RenderPlan:
    """The tables and image specs of a toy-synCOCO benchmark (what :func:`render_toy_syncoco` draws)."""
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
            "scene": ["; ".join(scene_words(s)) for s in unpaired_scenes],
        }
    )
    return RenderPlan(meta=meta, unpaired=unpaired, orig=scenes, edit=edited, images=unpaired_scenes)


def render_toy_syncoco(
    folder: str | os.PathLike, n_pairs: int = 2000, n_images: int = 3000, seed: int = 0, *, progress: bool = False,
    **settings
) -> Path:
    """Render toy-synCOCO into ``folder`` (replaced atomically); return the folder.

    Layout: ``images/orig/``, ``images/syn/``, ``images/unpaired/``, ``metadata.csv`` (synCOCO columns),
    ``categories.txt``, ``unpaired.csv`` (image, labels, split, scene: the caption phrases of the image's nuisances
    separated by "; "), ``render_config.json``.
    settings: further :class:`ToyScenesConfig` fields; progress: a bar over the images rendered.
    """
    cfg = ToyScenesConfig(n_pairs=n_pairs, n_images=n_images, seed=seed, **settings)
    return write_rendered(folder, "toy-synCOCO", plan_toy_syncoco(cfg), cfg, render_scene, NAMES, "categories.txt",
                          progress=progress)
