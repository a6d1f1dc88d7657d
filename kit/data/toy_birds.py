"""toy-synCUB: procedural birds with CUB-style attributes in photograph-like settings, and exact
one-attribute-swap pairs.

Each bird has exactly one value in each attribute family (``has_wing_color::blue``, ``has_bill_shape::cone``
…). A species is a prototype (one value per family); each bird keeps its species' value per family except
with probability ``variation``.

Everything else about the photograph is a nuisance drawn per image (:func:`sample_nuisances`), as in CUB's
photographs: the setting (sky, foliage, water, meadow, forest, marsh, snow, garden wall or fence, each with
its own palette, textures and details, out of focus by a random amount); the perch (branch, twig, wire,
rock, post, the ground, or none: in flight); pose and viewpoint (facing, tilt, head turn, wings raised in
flight, a vertical stretch for a view from above or below); scale and framing (zoom and position, the bird
kept inside the frame); other objects (berries, blossoms, insects, other birds in the distance, fallen
leaves); occluders in front of the bird (leaves, twigs, out-of-focus foliage, grass), which never hide the
centre of any attribute-bearing part; and the camera and light (colour temperature, exposure, contrast, a
directional light, vignette, haze, sensor noise; :func:`kit.data.render.apply_light`). Each image's
caption words for these (:func:`scene_words`) are written to ``unpaired.csv`` (column ``scene``) for the toy
encoder's training.

A pair is the same bird with the same nuisances — same setting, perch, pose, objects, occluders and light —
re-rendered with one family's value swapped for another value of that family.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from kit.data.layout import SYNCUB_COLUMNS, format_list
from kit.data.render import (
    Frame,
    RenderPlan,
    apply_light,
    assign_splits,
    blur,
    check_split,
    contrast,
    ellipse,
    gradient,
    light_words,
    paste_texture,
    rotate,
    sample_light,
    shade,
    texture,
    value_noise,
    write_rendered,
)
from kit.errors import ConfigError

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


# ---- the photograph around the bird ---------------------------------------------------------------------

# setting: (probability, palette variants); a variant names the palette and the caption phrase
SETTINGS: dict[str, tuple[float, dict[str, str]]] = {
    "sky": (0.18, {"clear": "against a clear blue sky", "overcast": "against a grey overcast sky",
                   "evening": "against an evening sky"}),
    "foliage": (0.22, {"summer": "in front of green foliage", "autumn": "in front of autumn leaves",
                       "spring": "among fresh spring leaves"}),
    "water": (0.13, {"lake": "by a lake", "sea": "by the sea"}),
    "meadow": (0.11, {"green": "in a green meadow", "dry": "in a dry grassland"}),
    "forest": (0.12, {"dark": "in a dark forest", "pine": "in a pine forest"}),
    "marsh": (0.08, {"reeds": "in a marsh with reeds"}),
    "snow": (0.07, {"snow": "in the snow"}),
    "garden": (0.09, {"brick": "by a brick wall", "fence": "by a wooden fence"}),
}
# perch options per setting (weights), and their caption phrases
PERCHES = {
    "branch": "perched on a branch", "twig": "perched on a thin twig", "wire": "perched on a wire",
    "rock": "standing on a rock", "post": "perched on a wooden post", "ground": "on the ground",
    "flight": "in flight",
}
PERCH_WEIGHTS = {
    "sky": {"branch": 3, "twig": 2, "wire": 2, "flight": 3},
    "foliage": {"branch": 5, "twig": 4, "flight": 1},
    "water": {"rock": 3, "post": 3, "branch": 1, "flight": 2},
    "meadow": {"ground": 4, "post": 2, "twig": 2, "flight": 1},
    "forest": {"branch": 5, "ground": 2, "twig": 2, "flight": 1},
    "marsh": {"twig": 3, "post": 2, "ground": 1, "flight": 1},
    "snow": {"ground": 3, "branch": 3, "twig": 2, "post": 1},
    "garden": {"post": 3, "ground": 2, "branch": 2, "wire": 1},
}
OBJECTS = {"berries": "with berries", "blossom": "with blossoms", "insect": "with an insect nearby",
           "flock": "other birds in the distance", "fallen_leaves": "among fallen leaves"}
OCCLUDERS = {"leaves": "partly hidden by leaves", "twig": "behind a twig", "foliage": "seen through foliage",
             "grass": "in the grass"}
BERRY_COLORS = [(200, 20, 40), (90, 30, 120), (240, 120, 20), (30, 30, 60)]

# bird geometry in its own frame (unit = body length; body centre at the origin, facing +x, y down)
FOOT = (0.04, 0.33)
NECK = (0.22, -0.1)
WING = [(0.12, -0.08), (0.0, -0.13), (-0.2, -0.1), (-0.36, -0.02), (-0.15, 0.05), (0.06, 0.03)]
SHOULDER = (0.05, -0.08)
BODY_POINTS = [(-0.42, 0.0), (-0.08, -0.1), (0.12, 0.08), (0.0, 0.0)]  # tail, upperparts, breast, body
HEAD_POINTS = [(0.3, -0.22), (0.27, -0.12), (0.38, -0.04), (0.34, -0.155), (0.45, -0.13), (0.54, -0.13)]
# (crown, head, throat, eye, bill base, bill tip)
HULL = [(-0.6, 0.0), (-0.54, -0.13), (-0.54, 0.09), (-0.46, -0.21), (-0.46, 0.19), (0.0, -0.17), (0.0, 0.17),
        (0.3, 0.12), (0.0, 0.33), (0.08, 0.33)]
HEAD_HULL = [(0.3, -0.265), (0.42, -0.2), (0.18, -0.22), (0.43, -0.05), (0.665, -0.13), (0.64, -0.09),
             (0.64, -0.17)]
MARGIN = (0.03, 0.06)  # the bird stays this far (canvas fraction) from the sides, and from the top


def _bird_points(n: dict, pts, head: bool) -> list[tuple[float, float]]:
    """Local points moved by the pose's head turn (head points) or wing raise (wing points)."""
    return rotate(pts, NECK, n["head_turn"]) if head else pts


def _frame(n: dict, length: float, size: float = 1.0) -> Frame:
    """The bird's frame for a body ``length`` (canvas fraction): anchored at the feet (or, in flight, the body
    centre) at ``(fx, fy)``."""
    probe = Frame(0.0, 0.0, length, n["tilt"], n["mirror"], n["aspect"])
    ax, ay = probe([(0.0, 0.0) if n["perch"] == "flight" else FOOT])[0]
    return Frame((n["fx"] - ax) * size, (n["fy"] - ay) * size, length * size, n["tilt"], n["mirror"], n["aspect"])


def _wing_points(n: dict, extra: float = 0.0) -> list[tuple[float, float]]:
    return rotate(WING, SHOULDER, n["wing_up"] + extra) if n["wing_up"] else WING


def keypoints(n: dict, length: float) -> list[tuple[float, float]]:
    """Canvas-fraction points that must stay visible: the centre of every attribute-bearing part."""
    f = _frame(n, length)
    wing = _wing_points(n)
    wing_c = (sum(x for x, _ in wing) / len(wing), sum(y for _, y in wing) / len(wing))
    return f(BODY_POINTS + [wing_c]) + f(_bird_points(n, HEAD_POINTS, True))


def extent(n: dict, length: float) -> tuple[float, float, float, float]:
    """Canvas-fraction bounding box ``(x0, y0, x1, y1)`` of the bird at body ``length`` (any attribute values)."""
    f = _frame(n, length)
    pts = f(HULL + _wing_points(n) + _wing_points(n, 15.0)) + f(_bird_points(n, HEAD_HULL, True))
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def _place(n: dict, rng: np.random.Generator) -> None:
    """Choose zoom and the anchor so that the largest bird of this pose fits inside the frame."""
    big = max(SIZES.values())
    for _ in range(30):
        n["fx"], n["fy"] = 0.5, 0.6
        x0, y0, x1, y1 = extent(n, big * n["zoom"])
        lo_x, hi_x = MARGIN[0] + (0.5 - x0), 1 - MARGIN[0] - (x1 - 0.5)
        lo_y, hi_y = MARGIN[1] + (0.6 - y0), 1 - MARGIN[0] - (y1 - 0.6)
        if lo_x <= hi_x and lo_y <= hi_y:
            n["fx"], n["fy"] = float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y))
            return
        n["zoom"] *= 0.93
    raise AssertionError("toy-synCUB: could not place the bird")  # pragma: no cover (zoom shrinks to fit)


def _clear(n: dict, x: float, y: float, r: float) -> bool:
    """True if a disc at (x, y) of radius r (canvas fractions) keeps off every part's centre, whatever the size."""
    for length in SIZES.values():
        L = length * n["zoom"]
        for px, py in keypoints(n, L):
            if math.hypot(px - x, py - y) < r + 0.09 * L:
                return False
    return True


def _seg_clear(n: dict, a, b, w: float) -> bool:
    """True if the segment a–b of width w keeps off every part's centre, whatever the size."""
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    den = dx * dx + dy * dy or 1e-12
    for length in SIZES.values():
        L = length * n["zoom"]
        for px, py in keypoints(n, L):
            t = min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / den))
            if math.hypot(ax + t * dx - px, ay + t * dy - py) < w / 2 + 0.09 * L:
                return False
    return True


def _occluders(n: dict, rng: np.random.Generator) -> list:
    out = []
    want = rng.choice(3, p=[0.45, 0.35, 0.2])
    kinds = ["leaves", "twig", "foliage"] if n["setting"] != "sky" else ["twig", "leaves"]
    for _ in range(int(want)):
        kind = str(rng.choice(kinds))
        for _ in range(25):
            if kind == "twig":
                x0, y0 = float(rng.uniform(-0.1, 1.1)), float(rng.choice([-0.05, 1.05]))
                ang = float(rng.uniform(0, 2 * math.pi))
                ln = float(rng.uniform(0.3, 0.8))
                x1, y1 = x0 + ln * math.cos(ang), y0 - abs(ln * math.sin(ang)) * (1 if y0 > 0.5 else -1)
                w = float(rng.uniform(0.012, 0.03))
                if _seg_clear(n, (x0, y0), (x1, y1), w):
                    out.append(["twig", x0, y0, x1, y1, w, 0.0])
                    break
            else:
                r = float(rng.uniform(0.05, 0.1) if kind == "leaves" else rng.uniform(0.12, 0.25))
                edge = kind == "foliage"
                x = float(rng.choice([-0.02, 1.02]) if edge else rng.uniform(0.0, 1.0))
                y = float(rng.uniform(0.0, 1.0))
                soft = float(rng.uniform(0.8, 2.0) if edge else rng.uniform(0.0, 0.8))
                if _clear(n, x, y, r + 0.02 * soft):
                    out.append([kind, x, y, r, float(rng.uniform(0, 360)), soft, int(rng.integers(2**31))])
                    break
    if n["perch"] == "ground" and n["setting"] in ("meadow", "marsh", "garden", "forest"):
        out.append(["grass", 0.0, n["fy"], 1.0, float(rng.uniform(0.6, 1.0)), 0.0, int(rng.integers(2**31))])
    return out


def _objects(n: dict, rng: np.random.Generator) -> list:
    out = []
    options = []
    if n["perch"] in ("branch", "twig"):
        options += ["berries", "blossom"]
    if n["setting"] in ("sky", "water", "marsh", "meadow", "snow"):
        options.append("flock")
    if n["perch"] == "ground" or n["setting"] in ("forest",):
        options.append("fallen_leaves")
    options.append("insect")
    for kind in options:
        if rng.random() < (0.3 if kind != "insect" else 0.12):
            out.append([kind, float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.05, 0.9)),
                        float(rng.uniform(0.7, 1.3)), int(rng.integers(len(BERRY_COLORS))), int(rng.integers(2**31))])
    return out


def sample_nuisances(rng: np.random.Generator) -> dict:
    """Everything about one photograph except the bird's attributes (JSON-able values)."""
    names = list(SETTINGS)
    p = np.array([SETTINGS[k][0] for k in names])
    setting = names[int(rng.choice(len(names), p=p / p.sum()))]
    variant = str(rng.choice(list(SETTINGS[setting][1])))
    perches = PERCH_WEIGHTS[setting]
    w = np.array(list(perches.values()), dtype=float)
    perch = list(perches)[int(rng.choice(len(w), p=w / w.sum()))]
    flight = perch == "flight"
    n = {
        "setting": setting,
        "variant": variant,
        "tint": rng.uniform(0.88, 1.12, size=3).round(4).tolist(),
        "seed": int(rng.integers(2**31)),
        "blur": float(rng.uniform(0.0, 2.5)),
        "perch": perch,
        "perch_angle": float(rng.normal(0, 14)),
        "perch_width": float(rng.uniform(0.7, 1.5)),
        "perch_side": bool(rng.random() < 0.5),
        "mirror": bool(rng.random() < 0.5),
        "tilt": float(rng.uniform(-12, 12) if flight else rng.normal(0, 12)),
        "aspect": float(rng.uniform(0.85, 1.12)),
        "head_turn": float(rng.uniform(-22, 22)),
        "wing_up": float(rng.uniform(35, 80)) if flight else 0.0,
        "zoom": float(np.exp(rng.uniform(np.log(0.65), np.log(1.08)))),
        "shades": rng.uniform(0.9, 1.1, size=8).round(4).tolist(),
        "light": sample_light(rng, warmth=0.25 if variant in ("evening", "autumn") else 0.0),
    }
    _place(n, rng)
    n["objects"] = _objects(n, rng)
    n["occluders"] = _occluders(n, rng)
    return n


def scene_words(n: dict) -> list[str]:
    """Caption phrases for a photograph's nuisances: setting, perch, framing, objects, occluders, light."""
    out = [SETTINGS[n["setting"]][1][n["variant"]], PERCHES[n["perch"]]]
    if n["zoom"] > 0.92:
        out.append("close up")
    elif n["zoom"] < 0.75:
        out.append("small in the frame")
    if n["blur"] > 1.7:
        out.append("blurred background")
    out += [OBJECTS[o[0]] for o in n["objects"]]
    out += sorted({OCCLUDERS[o[0]] for o in n["occluders"]})
    return out + light_words(n["light"])


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
    return species, values, [sample_nuisances(rng) for _ in range(n)]


def _spec(values: np.ndarray, nuis: dict) -> dict:
    return {"attrs": {fam: FAMILIES[fam][int(v)] for fam, v in zip(FAMILIES, values)}, **nuis}


# ---- drawing the setting ----------------------------------------------------------------------------------


def _tinted(rgb, tint) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, round(c * t)))) for c, t in zip(rgb, tint))


def _leaf(d, x, y, r, ang, fill, outline=None):
    pts = rotate(ellipse(x, y, r, r * 0.45, n=12), (x, y), ang)
    d.polygon(pts, fill=fill, outline=outline)


def _background(spec: dict, S: int, rng: np.random.Generator) -> Image.Image:
    st, var, tint = spec["setting"], spec["variant"], spec["tint"]
    T = lambda c: _tinted(c, tint)  # noqa: E731
    if st in ("sky", "water", "meadow", "marsh", "snow"):
        top, low = {"clear": ((70, 130, 215), (185, 215, 240)), "overcast": ((150, 155, 165), (205, 208, 212)),
                    "evening": ((60, 70, 140), (245, 170, 110))}.get(var, ((110, 160, 220), (200, 220, 240)))
        if st == "snow":
            top, low = (170, 175, 185), (215, 218, 225)
        arr = gradient(S, T(top), T(low))
        im = Image.fromarray(arr.round().clip(0, 255).astype(np.uint8))
    elif st == "forest":
        base = (40, 55, 35) if var == "dark" else (35, 60, 45)
        im = texture(value_noise(rng, S, 3, 3), T(shade(base, 0.7)), T(shade(base, 1.8)))
    elif st == "garden":
        im = Image.new("RGB", (S, S), T((150, 70, 50) if var == "brick" else (150, 115, 75)))
    else:  # foliage
        base = {"summer": (45, 110, 45), "autumn": (150, 95, 35), "spring": (110, 165, 70)}[var]
        im = texture(value_noise(rng, S, 3, 3), T(shade(base, 0.45)), T(shade(base, 1.35)))
    d = ImageDraw.Draw(im)
    u = S / 96
    if st == "sky":
        for _ in range(int(rng.integers(0, 6))):
            cx, cy, r = rng.uniform(0, S), rng.uniform(0, 0.8 * S), rng.uniform(6, 16) * u
            c = T((250, 250, 252) if var != "evening" else (250, 205, 190))
            for _ in range(4):
                ox, oy = rng.uniform(-r, r), rng.uniform(-r / 3, r / 3)
                d.ellipse([cx + ox - r, cy + oy - r / 2, cx + ox + r, cy + oy + r / 2], fill=c)
        if rng.random() < 0.4:  # a distant treeline
            y = rng.uniform(0.8, 0.95) * S
            pts = [(0, S)] + [(x, y - rng.uniform(0, 8) * u) for x in np.linspace(0, S, 14)] + [(S, S)]
            d.polygon(pts, fill=T((40, 70, 45)))
    elif st == "foliage":
        base = {"summer": (45, 120, 45), "autumn": (190, 110, 30), "spring": (120, 180, 70)}[var]
        for _ in range(int(rng.integers(35, 70))):
            _leaf(d, rng.uniform(0, S), rng.uniform(0, S), rng.uniform(4, 11) * u, rng.uniform(0, 180),
                  T(shade(base, rng.uniform(0.55, 1.5))))
        for _ in range(int(rng.integers(0, 8))):  # bokeh highlights
            x, y, r = rng.uniform(0, S), rng.uniform(0, S), rng.uniform(2, 6) * u
            d.ellipse([x - r, y - r, x + r, y + r], fill=T((235, 240, 200)))
    elif st in ("water", "marsh"):
        hz = rng.uniform(0.25, 0.55) * S
        d.rectangle([0, hz - rng.uniform(3, 10) * u, S, hz], fill=T((55, 80, 55) if var != "sea" else (90, 110, 130)))
        water = gradient(S, T((70, 110, 140)), T((30, 60, 85)), hz / S, 1.0)
        wim = Image.fromarray(water.round().clip(0, 255).astype(np.uint8))
        im.paste(wim.crop((0, int(hz), S, S)), (0, int(hz)))
        for _ in range(int(rng.integers(15, 35))):
            y = rng.uniform(hz, S)
            x = rng.uniform(-10, S)
            ln = rng.uniform(6, 25) * u * (0.4 + (y - hz) / (S - hz + 1))
            d.line([(x, y), (x + ln, y)], fill=T((150, 180, 200) if rng.random() < 0.5 else (25, 45, 65)),
                   width=max(1, int(u)))
        if st == "marsh":
            for _ in range(int(rng.integers(20, 45))):
                x, y0 = rng.uniform(0, S), rng.uniform(0.55, 1.05) * S
                h = rng.uniform(15, 45) * u
                c = T(shade((175, 150, 80), rng.uniform(0.7, 1.2)))
                d.line([(x, y0), (x + rng.uniform(-4, 4) * u, y0 - h)], fill=c, width=max(1, int(1.5 * u)))
    elif st in ("meadow", "snow"):
        hz = rng.uniform(0.3, 0.6) * S
        if st == "meadow":
            c0, c1 = ((60, 120, 40), (140, 180, 70)) if var == "green" else ((140, 120, 60), (210, 190, 120))
        else:
            c0, c1 = (185, 195, 215), (250, 250, 252)
        ground = texture(value_noise(rng, S, 6, 3, aspect=0.5), T(c0), T(c1))
        im.paste(ground.crop((0, int(hz), S, S)), (0, int(hz)))
        for _ in range(int(rng.integers(0, 4))):  # distant trees: round in the meadow, conifers in the snow
            x, r = rng.uniform(0, S), rng.uniform(5, 14) * u
            if st == "meadow":
                d.ellipse([x - r, hz - 1.8 * r, x + r, hz + 0.2 * r], fill=T((35, 70, 40)))
            else:
                d.polygon([(x, hz - 2.5 * r), (x - 0.8 * r, hz + 0.2 * r), (x + 0.8 * r, hz + 0.2 * r)],
                          fill=T((45, 65, 55)))
        if st == "meadow":
            for _ in range(int(rng.integers(20, 50))):
                x, y = rng.uniform(0, S), rng.uniform(hz, S)
                h = rng.uniform(2, 8) * u * (0.3 + (y - hz) / (S - hz + 1))
                d.line([(x, y), (x + rng.uniform(-2, 2) * u, y - h)], fill=T(shade(c0, rng.uniform(0.6, 1.4))),
                       width=max(1, int(u)))
    elif st == "forest":
        for _ in range(int(rng.integers(3, 8))):
            x, w = rng.uniform(0, S), rng.uniform(5, 20) * u
            c = T(shade((70, 55, 40), rng.uniform(0.5, 1.3)))
            d.rectangle([x - w / 2, 0, x + w / 2, S], fill=c)
            for _ in range(6):
                yy = rng.uniform(0, S)
                d.line([(x - w / 2 + 1, yy), (x - w / 2 + 1, yy + rng.uniform(5, 20) * u)],
                       fill=shade(c, 0.7), width=max(1, int(u)))
        if var == "pine":
            for _ in range(int(rng.integers(4, 9))):
                x, y, h = rng.uniform(0, S), rng.uniform(0.2, 0.9) * S, rng.uniform(15, 35) * u
                d.polygon([(x, y - h), (x - h / 3, y), (x + h / 3, y)], fill=T((25, 60, 35)))
    else:  # garden
        if var == "brick":
            bh = rng.uniform(4, 7) * u
            bw = 2.2 * bh
            mortar = T((200, 190, 175))
            for row in range(int(S / bh) + 1):
                off = (row % 2) * bw / 2
                for k in range(-1, int(S / bw) + 2):
                    x = k * bw + off
                    c = T(shade((150, 70, 50), rng.uniform(0.8, 1.15)))
                    d.rectangle([x, row * bh, x + bw - u, (row + 1) * bh - u], fill=c, outline=mortar)
        else:
            pw = rng.uniform(8, 14) * u
            for k in range(int(S / pw) + 1):
                c = T(shade((150, 115, 75), rng.uniform(0.8, 1.15)))
                d.rectangle([k * pw, 0, (k + 1) * pw - u, S], fill=c)
                d.line([(k * pw + pw / 2, 0), (k * pw + pw / 2, S)], fill=shade(c, 0.85), width=max(1, int(u)))
        if rng.random() < 0.6:  # a bush along the bottom
            y = rng.uniform(0.7, 0.9) * S
            for _ in range(12):
                x, r = rng.uniform(0, S), rng.uniform(8, 16) * u
                d.ellipse([x - r, y - r * 0.6, x + r, y + r], fill=T(shade((45, 100, 45), rng.uniform(0.7, 1.2))))
    return blur(im, spec["blur"] * u)


def _perch(spec: dict, im: Image.Image, S: int, rng: np.random.Generator) -> None:
    perch = spec["perch"]
    if perch == "flight":
        return
    d = ImageDraw.Draw(im)
    u, z = S / 96, spec["zoom"]
    fx, fy = spec["fx"] * S, spec["fy"] * S
    ang = math.radians(spec["perch_angle"])
    dx, dy = math.cos(ang), math.sin(ang)
    bark = _tinted(shade((105, 85, 65), rng.uniform(0.7, 1.2)), spec["tint"])
    leaf_c = {"autumn": (200, 120, 30), "spring": (130, 190, 70)}.get(spec["variant"], (55, 125, 50))
    if perch in ("branch", "twig"):
        w = (5.5 if perch == "branch" else 2.2) * u * z * spec["perch_width"]
        side = -1 if spec["perch_side"] else 1
        start = (fx + side * 2 * S * dx, fy + w / 2 + side * 2 * S * dy)
        tip_len = rng.uniform(0.15, 0.4) * S
        end = (fx - side * tip_len * dx, fy + w / 2 - side * tip_len * dy)
        d.line([start, end], fill=bark, width=max(1, int(round(w))))
        d.line([start, end], fill=shade(bark, 0.75), width=max(1, int(round(w / 4))))
        for _ in range(int(rng.integers(1, 5))):  # side twigs with leaves
            t = rng.uniform(-0.2, 1.0)
            bx = fx + side * t * S * 0.6 * dx
            by = fy + w / 2 + side * t * S * 0.6 * dy
            a2 = ang + rng.choice([-1, 1]) * rng.uniform(0.5, 1.2) + (math.pi if rng.random() < 0.5 else 0)
            ln = rng.uniform(8, 22) * u * z
            ex, ey = bx + ln * math.cos(a2), by + ln * math.sin(a2)
            d.line([(bx, by), (ex, ey)], fill=bark, width=max(1, int(round(w / 2.5))))
            if spec["setting"] != "snow":
                for _ in range(int(rng.integers(1, 4))):
                    _leaf(d, ex + rng.uniform(-4, 4) * u * z, ey + rng.uniform(-4, 4) * u * z,
                          rng.uniform(3, 6) * u * z,
                          rng.uniform(0, 180), _tinted(shade(leaf_c, rng.uniform(0.7, 1.3)), spec["tint"]))
        if spec["setting"] == "snow":
            d.line([(start[0], start[1] - w / 2), (end[0], end[1] - w / 2)], fill=(245, 245, 250),
                   width=max(1, int(round(w / 2.5))))
    elif perch == "wire":
        for k, off in enumerate((0.0, rng.uniform(6, 14) * u)):
            if k and rng.random() < 0.5:
                break
            y0 = fy + u + off
            d.line([(0, y0 - fx * dy / max(dx, 1e-3) * 0.3), (S, y0 + (S - fx) * dy / max(dx, 1e-3) * 0.3)],
                   fill=(35, 35, 40), width=max(1, int(u)))
    elif perch == "rock":
        rx, ry = rng.uniform(0.25, 0.45) * S * z, rng.uniform(0.12, 0.25) * S * z
        cx, cy = fx + rng.uniform(-0.3, 0.3) * rx, fy + 0.85 * ry
        pts = [(cx + rx * math.cos(t) * rng.uniform(0.85, 1.05), cy + ry * math.sin(t) * rng.uniform(0.85, 1.1))
               for t in np.linspace(0, 2 * math.pi, 14, endpoint=False)]
        grey = _tinted(shade((130, 125, 118), rng.uniform(0.7, 1.2)), spec["tint"])
        tex = texture(value_noise(rng, S, 6, 2), shade(grey, 0.7), shade(grey, 1.25))
        paste_texture(im, tex, lambda m: m.polygon(pts, fill=255))
    elif perch == "post":
        w = rng.uniform(0.08, 0.14) * S * z * spec["perch_width"]
        wood = _tinted(shade((120, 90, 60), rng.uniform(0.7, 1.2)), spec["tint"])
        d.rectangle([fx - w / 2, fy + u, fx + w / 2, S + 1], fill=wood)
        for k in range(3):
            x = fx - w / 2 + (k + 1) * w / 4
            d.line([(x, fy + 2 * u), (x, S)], fill=shade(wood, 0.8), width=max(1, int(u)))
        d.rectangle([fx - w / 2, fy + u, fx + w / 2, fy + 2.5 * u], fill=shade(wood, 1.15))
    elif perch == "ground":
        c = {"meadow": (95, 130, 55), "snow": (240, 242, 248), "forest": (85, 70, 50), "marsh": (110, 100, 60),
             "garden": (100, 120, 60)}.get(spec["setting"], (120, 110, 90))
        c = _tinted(c, spec["tint"])
        y = fy + 0.5 * u
        tex = texture(value_noise(rng, S, 8, 2, aspect=0.5), shade(c, 0.75), shade(c, 1.15))
        paste_texture(im, tex, lambda m: m.polygon([(0, y + (0 - fx) * dy * 0.4), (S, y + (S - fx) * dy * 0.4),
                                                    (S, S), (0, S)], fill=255))


def _draw_objects(spec: dict, im: Image.Image, S: int) -> None:
    d = ImageDraw.Draw(im)
    u, z = S / 96, spec["zoom"]
    for kind, x, y, sc, ci, seed in spec["objects"]:
        rng = np.random.default_rng(seed)
        x, y = x * S, y * S
        if kind == "berries":
            c = BERRY_COLORS[ci]
            for _ in range(int(rng.integers(3, 8))):
                bx, by = x + rng.uniform(-6, 6) * u * z, y + rng.uniform(-6, 6) * u * z
                r = rng.uniform(1.5, 2.8) * u * z * sc
                d.ellipse([bx - r, by - r, bx + r, by + r], fill=shade(c, rng.uniform(0.8, 1.2)), outline=(30, 20, 20))
        elif kind == "blossom":
            c = [(250, 200, 220), (250, 250, 245), (245, 225, 90), (200, 120, 220)][ci]
            for _ in range(int(rng.integers(2, 5))):
                bx, by = x + rng.uniform(-10, 10) * u * z, y + rng.uniform(-10, 10) * u * z
                r = rng.uniform(2, 3.5) * u * z * sc
                for k in range(5):
                    a = 2 * math.pi * k / 5
                    px, py = bx + r * math.cos(a), by + r * math.sin(a)
                    d.ellipse([px - r * 0.7, py - r * 0.7, px + r * 0.7, py + r * 0.7], fill=c)
                d.ellipse([bx - r * 0.4, by - r * 0.4, bx + r * 0.4, by + r * 0.4], fill=(230, 180, 40))
        elif kind == "insect":
            r = 1.6 * u * sc
            d.ellipse([x - 2 * r, y - r, x + 2 * r, y + r], fill=(30, 30, 25))
            d.ellipse([x - r, y - 2.5 * r, x + r, y - 0.5 * r], fill=(210, 220, 230))
        elif kind == "flock":
            for _ in range(int(rng.integers(2, 6))):
                bx, by = x + rng.uniform(-20, 20) * u, y * 0.5 + rng.uniform(-8, 8) * u
                r = rng.uniform(1.5, 3.5) * u * sc
                d.line([(bx - r, by - r * 0.6), (bx, by), (bx + r, by - r * 0.6)], fill=(40, 40, 45),
                       width=max(1, int(u)))
        elif kind == "fallen_leaves":
            for _ in range(int(rng.integers(4, 10))):
                _leaf(d, rng.uniform(0, S), rng.uniform(spec["fy"] * S, S), rng.uniform(2.5, 5) * u * z,
                      rng.uniform(0, 180), shade([(200, 120, 30), (170, 60, 30), (220, 180, 50)][int(rng.integers(3))],
                                                   rng.uniform(0.7, 1.1)))


def _draw_occluders(spec: dict, im: Image.Image, S: int) -> Image.Image:
    u = S / 96
    leaf_c = {"autumn": (190, 110, 30), "spring": (120, 180, 70)}.get(spec["variant"], (45, 115, 45))
    for occ in spec["occluders"]:
        kind = occ[0]
        layer = Image.new("RGBA", (S, S), leaf_c + (0,))  # transparent pixels in the leaves' colour, for the blur
        d = ImageDraw.Draw(layer)
        if kind == "twig":
            _, x0, y0, x1, y1, w, _ = occ
            d.line([(x0 * S, y0 * S), (x1 * S, y1 * S)], fill=(70, 55, 40, 255), width=max(1, int(round(w * S))))
            blur_r = 0.0
        elif kind == "grass":
            _, _, fy, _, h, _, seed = occ
            rng = np.random.default_rng(seed)
            for _ in range(int(rng.integers(25, 50))):
                x = rng.uniform(0, S)
                y = fy * S + rng.uniform(2, 10) * u
                top = y - rng.uniform(4, 10) * u * h * spec["zoom"]
                c = shade((70, 130, 45), rng.uniform(0.6, 1.3))
                d.line([(x, y), (x + rng.uniform(-3, 3) * u, top)], fill=c + (255,), width=max(1, int(u)))
            blur_r = 0.0
        else:
            _, x, y, r, ang, blur_r, seed = occ
            rng = np.random.default_rng(seed)
            n_leaves = 3 if kind == "leaves" else 9
            for _ in range(n_leaves):
                lx, ly = x + rng.uniform(-0.5, 0.5) * r, y + rng.uniform(-0.5, 0.5) * r
                lr = rng.uniform(0.35, 0.5) * r
                pts = rotate(ellipse(lx * S, ly * S, lr * S, lr * 0.5 * S, n=12), (lx * S, ly * S),
                             ang + rng.uniform(-40, 40))
                d.polygon(pts, fill=shade(leaf_c, rng.uniform(0.6, 1.2)) + (255,))
        layer = blur(layer, blur_r * u)
        im = Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")
    return im


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
    """Draw one photograph from its spec on a ``size``×``size`` RGB canvas: setting, perch, objects, the bird,
    occluders, then the camera and light."""
    rng = np.random.default_rng(spec["seed"])
    im = _background(spec, size, rng)
    _perch(spec, im, size, rng)
    _draw_objects(spec, im, size)
    a, sh = spec["attrs"], spec["shades"]
    d = ImageDraw.Draw(im)
    f = _frame(spec, SIZES[a["has_size"]] * spec["zoom"], size)
    w = max(1, size // 96)
    ink = (30, 26, 22)

    def poly(pts, rgb, factor=1.0, outline=True, head=False):
        pts = _bird_points(spec, pts, head)
        d.polygon(f(pts), fill=shade(rgb, factor), outline=ink if outline else None, width=w if outline else 0)

    flight = spec["perch"] == "flight"
    wing_rgb = COLORS[a["has_wing_color"]]
    if flight:  # the far wing, behind the body, in shadow
        poly(_wing_points(spec, 15.0), wing_rgb, sh[2] * 0.75)
    else:
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
    poly(_wing_points(spec), wing_rgb, sh[2])
    poly(ellipse(0.3, -0.14, 0.12, 0.12), up, sh[0], head=True)
    poly(ellipse(0.36, -0.05, 0.075, 0.06), COLORS[a["has_throat_color"]], sh[3], head=True)
    poly(ellipse(0.3, -0.14, 0.12, 0.12, 195, 345, 14), COLORS[a["has_crown_color"]], sh[4], head=True)
    poly(_bill(a["has_bill_shape"], BILL_LENGTHS[a["has_bill_length"]]), (70, 58, 45), sh[5], head=True)
    eye_px = 0.04 * f.scale  # the eye's radius in pixels: a small eye is drawn without its outline, which would hide it
    poly(ellipse(0.34, -0.155, 0.04, 0.04, n=12), EYE_COLORS[a["has_eye_color"]], outline=eye_px >= 3 * w, head=True)
    im = _draw_occluders(spec, im, size)
    return apply_light(im, spec["light"])


def _labels(values: np.ndarray) -> np.ndarray:
    """bool[n, C] multi-hot of the attribute values int[n, F]."""
    offsets = np.cumsum([0] + [len(v) for v in FAMILIES.values()])[:-1]
    Y = np.zeros((values.shape[0], len(ATTRIBUTES)), dtype=bool)
    Y[np.arange(values.shape[0])[:, None], values + offsets] = True
    return Y


def plan_toy_syncub(cfg: ToyBirdsConfig) -> RenderPlan:
    """The tables and image specs of a toy-synCUB benchmark (what :func:`render_toy_syncub` draws)."""
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
            "scene": ["; ".join(scene_words(n)) for n in u_nuis],
        }
    )
    return RenderPlan(meta=meta, unpaired=unpaired, orig=[_spec(v, n) for v, n in zip(values, nuis)],
                      edit=[_spec(v, n) for v, n in zip(swapped, nuis)],
                      images=[_spec(v, n) for v, n in zip(u_values, u_nuis)])


def render_toy_syncub(
    folder: str | os.PathLike, n_pairs: int = 2000, n_images: int = 3000, seed: int = 0, *, progress: bool = False,
    **settings
) -> Path:
    """Render toy-synCUB into ``folder`` (replaced atomically); return the folder.

    Layout: ``images/orig/``, ``images/syn/``, ``images/unpaired/``, ``metadata.csv`` (synCUB columns),
    ``attributes.txt``, ``unpaired.csv`` (image, labels, split, class_id, class_name, scene: the caption phrases of
    the image's nuisances separated by "; "), ``render_config.json``.
    settings: further :class:`ToyBirdsConfig` fields (n_species, variation, size, split, workers); progress: a bar
    over the images rendered.
    """
    cfg = ToyBirdsConfig(n_pairs=n_pairs, n_images=n_images, seed=seed, **settings)
    return write_rendered(folder, "toy-synCUB", plan_toy_syncub(cfg), cfg, render_bird, ATTRIBUTES, "attributes.txt",
                          progress=progress)
