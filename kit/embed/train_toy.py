"""Train the ``toy`` encoder (ToyCLIP) on the kit's procedural benchmarks.

    python -m kit.embed.train_toy --out kit/assets

Data: the unpaired labelled images of a freshly rendered toy-synCUB and toy-synCOCO, each with a caption
generated from its concepts ("a bird with wing color blue, ..." from ``has_wing_color::blue``; "a scene with
dog, car") followed, as web captions describe the whole photograph, by the phrases of its setting written by
the renderer (``unpaired.csv``, column ``scene``: "in front of autumn leaves", "perched on a twig", "warm
light" …). Each epoch the concepts come in a random order, and a share ``scene_captions`` of the captions
describe the scene, each of its phrases kept with probability ``scene_keep`` (web captions mention some of
what a photograph shows, not all of it).
Loss: CLIP's symmetric cross-entropy over in-batch image/caption similarities (images whose captions hold the
same phrases share the target). Everything random draws from
``seed`` (weights via a forked RNG, batches and flips via a torch Generator), so on the CPU the same seed
and thread count give the same weights. The trainer's held-out split (the benchmark's ``test`` rows) gives the
figures written into the provenance record: linear-probe AUROC and caption top-1 accuracy.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from kit import data
from kit._version import __version__
from kit.embed.images import open_image
from kit.embed.toy_model import ToyCLIP, ToyConfig, toy_preprocess, words
from kit.embed.world import probe_auroc
from kit.errors import ConfigError, DataError
from kit.io import file_sha256, write_text
from kit.types import ConceptTable


@dataclass(frozen=True)
class ToyTrainConfig:
    """How the shipped toy encoder is trained (these defaults made ``kit/assets/toy_encoder.safetensors``)."""

    n_images: int = 6000
    n_scenes: int = 4000
    render_seed: int = 0
    seed: int = 0
    epochs: int = 16
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    flip: bool = True
    scene_captions: float = 0.8
    scene_keep: float = 0.8
    model: ToyConfig = ToyConfig(context_length=96)

    def __post_init__(self) -> None:
        if self.n_scenes < 0:
            raise ConfigError(f"ToyTrainConfig.n_scenes must be ≥ 0, got {self.n_scenes}")
        for k in ("n_images", "epochs", "batch_size"):
            if getattr(self, k) < 1:
                raise ConfigError(f"ToyTrainConfig.{k} must be ≥ 1, got {getattr(self, k)}")
        if self.lr <= 0:
            raise ConfigError(f"ToyTrainConfig.lr must be > 0, got {self.lr}")
        for k in ("scene_captions", "scene_keep"):
            if not 0 <= getattr(self, k) <= 1:
                raise ConfigError(f"ToyTrainConfig.{k} must lie in [0, 1], got {getattr(self, k)}")


def phrase(name: str) -> str:
    """A concept name as caption words: ``has_wing_color::blue`` → "wing color blue", ``dog`` → "dog"."""
    family, sep, value = name.partition("::")
    fam = [w for w in words(family) if w != "has"] if sep else []
    return " ".join(fam + words(value if sep else family))


def caption(names: Sequence[str], subject: str = "a bird with", scene: Sequence[str] = ()) -> str:
    """One caption listing the given concept names (in the given order), then the scene phrases."""
    return f"{subject} " + ", ".join([phrase(n) for n in names] + [str(p) for p in scene])


def split_scene(text) -> list[str]:
    """The phrases of one ``scene`` entry ("in a park; warm light" → ["in a park", "warm light"]; "" → [])."""
    if not isinstance(text, str):  # pandas reads an empty entry as NaN
        return []
    return [p.strip() for p in text.split(";") if p.strip()]


def captions(table: ConceptTable, subject: str | Sequence[str] = "a bird with",
             rng: np.random.Generator | None = None, scenes: Sequence[Sequence[str]] | None = None,
             scene_captions: float = 1.0, scene_keep: float = 1.0) -> list[str]:
    """Per image the caption of its present concepts, followed by its scene phrases (``scenes``: one list of
    phrases per image, or None for captions of the concepts alone).

    Without ``rng``: the concepts in table order, then every scene phrase. With ``rng`` (training): the concepts
    shuffled per image; with probability ``scene_captions`` the caption describes the scene, each phrase kept with
    probability ``scene_keep``, in a random order.
    subject: one opening for all images, or one per image (for tables that mix benchmarks).
    """
    subjects = [subject] * table.n_samples if isinstance(subject, str) else list(subject)
    if len(subjects) != table.n_samples:
        raise DataError(f"captions: {len(subjects)} subjects for {table.n_samples} images")
    if scenes is not None and len(scenes) != table.n_samples:
        raise DataError(f"captions: {len(scenes)} scene descriptions for {table.n_samples} images")
    out = []
    for r, (y, subj) in enumerate(zip(table.Y, subjects)):
        idx = np.flatnonzero(y)
        scene = list(scenes[r]) if scenes is not None else []
        if rng is not None:
            idx = rng.permutation(idx)
            if scene and rng.random() < scene_captions:
                scene = [scene[i] for i in rng.permutation(len(scene)) if rng.random() < scene_keep]
            else:
                scene = []
        out.append(caption([table.names[i] for i in idx], subj, scene))
    return out


def caption_key(text: str, subject: str) -> frozenset:
    """The phrases of a caption, whatever their order (captions with the same key describe the same image)."""
    return frozenset(text[len(subject):].strip().split(", "))


def combine(tables: Sequence[ConceptTable], subjects: Sequence[str]) -> tuple[ConceptTable, list[str]]:
    """Stack benchmarks with disjoint concepts into one table (block-diagonal ``Y``) and per-row subjects."""
    names = [n for t in tables for n in t.names]
    Y = np.zeros((sum(t.n_samples for t in tables), len(names)), dtype=bool)
    r = c = 0
    for t in tables:
        Y[r:r + t.n_samples, c:c + t.n_concepts] = t.Y
        r, c = r + t.n_samples, c + t.n_concepts
    images = None if any(t.images is None for t in tables) else [p for t in tables for p in t.images]
    rows = [s for t, s in zip(tables, subjects) for _ in range(t.n_samples)]
    return ConceptTable(names=names, Y=Y, groups=[g for t in tables for g in (t.groups or t.names)],
                        images=images), rows


def build_vocab(texts: Sequence[str]) -> tuple[str, ...]:
    """The sorted distinct words of ``texts``."""
    return tuple(sorted({w for t in texts for w in words(t)}))


def load_pixels(images: Sequence, image_size: int) -> torch.Tensor:
    """Images (paths or PIL) → float[N, 3, S, S] through the toy preprocessing."""
    pre = toy_preprocess(image_size)
    return torch.stack([pre(open_image(p)) for p in images])


def clip_loss(img: torch.Tensor, txt: torch.Tensor, logit_scale: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over a batch: img, txt float[B, d]; same: bool[B, B], True where image i and caption j
    describe the same attributes (the diagonal and duplicates), which share the target probability."""
    img = F.normalize(img, dim=-1)
    txt = F.normalize(txt, dim=-1)
    logits = logit_scale.clamp(max=math.log(100)).exp() * img @ txt.T
    target = same.float() / same.float().sum(dim=1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def train(table: ConceptTable, config: ToyTrainConfig = ToyTrainConfig(), pixels: torch.Tensor | None = None,
          subject: str | Sequence[str] = "a bird with", log=print,
          scenes: Sequence[Sequence[str]] | None = None) -> ToyCLIP:
    """Train a ToyCLIP on the images of ``table`` (its ``images`` paths, or ``pixels`` float[N, 3, S, S]);
    subject opens the captions (one string, or one per image, see :func:`combine`); scenes: per image the
    phrases of its setting, which follow the concepts in the captions (see :func:`captions`)."""
    if pixels is None:
        if table.images is None:
            raise DataError("train_toy: the ConceptTable has no image paths and no pixels were given")
        pixels = load_pixels(table.images, config.model.image_size)
    if len(pixels) != table.n_samples:
        raise DataError(f"train_toy: {len(pixels)} images for {table.n_samples} label rows")
    subjects = [subject] * table.n_samples if isinstance(subject, str) else list(subject)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    vocab = build_vocab(captions(table, subject, scenes=scenes))
    cfg = replace(config.model, vocab=vocab)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = ToyCLIP(cfg)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "emb" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "emb" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=config.lr)
    n = len(pixels)
    steps_per_epoch = max(1, n // config.batch_size)
    total = config.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / config.warmup_steps)
                                              * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    step, t0 = 0, time.perf_counter()
    for epoch in range(config.epochs):
        texts = captions(table, subject, rng, scenes, config.scene_captions, config.scene_keep)
        ids: dict = {}
        keys = torch.tensor([ids.setdefault(caption_key(t, s), len(ids)) for t, s in zip(texts, subjects)])
        order = torch.randperm(n, generator=gen)
        running = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            x = pixels[idx]
            if config.flip:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            rows = idx.tolist()
            tokens = model.tokenize([texts[i] for i in rows])
            same = keys[idx][:, None] == keys[idx][None, :]
            loss = clip_loss(model.encode_image(x), model.encode_text(tokens), model.logit_scale, same)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item()
            step += 1
        if log:
            log(f"epoch {epoch + 1}/{config.epochs}  loss {running / steps_per_epoch:.3f}  "
                f"{step * config.batch_size / (time.perf_counter() - t0):.0f} img/s")
    return model.eval()


@torch.inference_mode()
def image_embeddings(model: ToyCLIP, pixels: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """float[N, 3, S, S] → float32[N, embed_dim]."""
    return torch.cat([model.encode_image(pixels[i:i + batch_size]) for i in range(0, len(pixels), batch_size)]).numpy()


@torch.inference_mode()
def text_embeddings(model: ToyCLIP, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    return torch.cat([model.encode_text(model.tokenize(texts[i:i + batch_size]))
                      for i in range(0, len(texts), batch_size)]).numpy()


def caption_top1(img: np.ndarray, texts: Sequence[str], txt_of_unique: np.ndarray, unique: Sequence[str]) -> float:
    """Fraction of images whose own caption ranks first among the distinct captions ``unique``."""
    sims = _unit(img) @ _unit(txt_of_unique).T
    best = np.asarray(unique, dtype=object)[sims.argmax(axis=1)]
    return float(np.mean(best == np.asarray(texts, dtype=object)))


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True).clip(1e-12)


def evaluate(model: ToyCLIP, train_px: torch.Tensor, train: ConceptTable, test_px: torch.Tensor,
             test: ConceptTable, subject: str = "a bird with",
             test_scenes: Sequence[Sequence[str]] | None = None) -> dict:
    """Held-out figures: mean and minimum probe AUROC over concepts; caption top-1 accuracy among the distinct
    captions of the test images (with their scene phrases when ``test_scenes`` is given), and
    ``concept_caption_top1``, the same for captions of the concepts alone."""
    A, B = image_embeddings(model, train_px), image_embeddings(model, test_px)
    auroc = probe_auroc(A, train.Y, B, test.Y)
    out = {"probe_auroc_mean": float(np.nanmean(auroc)), "probe_auroc_min": float(np.nanmin(auroc))}
    for key, scenes in (("caption_top1", test_scenes), ("concept_caption_top1", None)):
        if key == "concept_caption_top1" and test_scenes is None:
            continue
        texts = captions(test, subject, scenes=scenes)
        unique = sorted(set(texts))
        out[key] = caption_top1(B, texts, text_embeddings(model, unique), unique)
        out["n_distinct_captions" if key == "caption_top1" else "n_distinct_concept_captions"] = len(unique)
    return {**out, "n_train": train.n_samples, "n_test": test.n_samples}


def read_scenes(folder: str | Path) -> list[list[str]]:
    """Per row of a rendered toy benchmark's ``unpaired.csv``, the phrases of its ``scene`` column (the setting of
    each image; empty lists for a render without that column)."""
    import pandas as pd

    df = pd.read_csv(Path(folder) / "unpaired.csv")
    return [split_scene(t) for t in df["scene"]] if "scene" in df else [[] for _ in range(len(df))]


BENCHMARKS = (("toy-syncub", "render_toy_syncub", "a bird with"), ("toy-syncoco", "render_toy_syncoco", "a scene with"))


def main(argv: Sequence[str] | None = None) -> Path:
    """Render toy-synCUB (and toy-synCOCO), train on their non-test rows, evaluate on each test split, write
    ``toy_encoder.safetensors`` and the provenance record ``toy_encoder.json``."""
    p = argparse.ArgumentParser(prog="python -m kit.embed.train_toy", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="kit/assets", help="folder for toy_encoder.safetensors and toy_encoder.json")
    d = ToyTrainConfig()
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--n-images", type=int, default=d.n_images, help="toy-synCUB birds to render")
    p.add_argument("--n-scenes", type=int, default=d.n_scenes, help="toy-synCOCO scenes to render (0: none)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    cfg = replace(d, seed=args.seed, epochs=args.epochs, n_images=args.n_images, n_scenes=args.n_scenes)
    out = Path(args.out)
    t0 = time.perf_counter()
    parts = []
    with tempfile.TemporaryDirectory(prefix="toy_benchmarks_") as tmp:
        for (name, render, subject), n in zip(BENCHMARKS, (cfg.n_images, cfg.n_scenes)):
            if n == 0:
                continue
            folder = getattr(data, render)(Path(tmp) / name, n_pairs=1, n_images=n, seed=cfg.render_seed)
            table = data.load_toy_images(folder)
            scenes = read_scenes(folder)
            test = table.split == "test"
            fit, held = table.select(~test), table.subset("test")
            parts.append((name, subject, fit, held, load_pixels(fit.images, cfg.model.image_size),
                          load_pixels(held.images, cfg.model.image_size),
                          [scenes[i] for i in np.flatnonzero(~test)], [scenes[i] for i in np.flatnonzero(test)]))
    render_seconds = time.perf_counter() - t0
    table, subjects = combine([q[2] for q in parts], [q[1] for q in parts])
    model = train(table, cfg, pixels=torch.cat([q[4] for q in parts]), subject=subjects,
                  scenes=[s for q in parts for s in q[6]])
    metrics = {name: evaluate(model, fpx, fit, hpx, held, subject, hs)
               for name, subject, fit, held, fpx, hpx, _, hs in parts}
    weights = out / "toy_encoder.safetensors"
    model.save(weights)
    record = {"encoder": "toy", "kit_version": __version__, "torch_version": torch.__version__,
              "torch_threads": torch.get_num_threads(),
              "command": " ".join(["python -m kit.embed.train_toy", *argv]),
              "data": {name: {"render": f"kit.data.{render}", "n_images": n, "render_seed": cfg.render_seed,
                              "caption_subject": subject, "caption_scene": "unpaired.csv column scene",
                              "train_rows": "split != test", "eval_rows": "split == test"}
                       for (name, render, subject), n in zip(BENCHMARKS, (cfg.n_images, cfg.n_scenes)) if n},
              "train_config": json.loads(json.dumps(asdict(cfg))), "heldout": metrics,
              "weights_file": weights.name, "weights_sha256": file_sha256(weights),
              "render_seconds": round(render_seconds, 1),
              "train_seconds": round(time.perf_counter() - t0, 1)}
    write_text(out / "toy_encoder.json", json.dumps(record, indent=1) + "\n")
    print(json.dumps(metrics, indent=1))
    return weights


if __name__ == "__main__":
    main()
