"""Tiny data and models in the official formats, for the dress rehearsal of the paper profile.

- :func:`write_cub`: a ``CUB_200_2011`` folder as the archive ``CUB_200_2011.tgz`` extracts (``attributes.txt``
  beside the folder; ``images.txt``, ``classes.txt``, ``image_class_labels.txt``, ``train_test_split.txt``,
  ``bounding_boxes.txt``, ``attributes/image_attribute_labels.txt`` with its five fields and the release's few
  six-field lines, ``attributes/certainties.txt``, ``images/NNN.Species_Name/*.jpg``) with the 312 attributes.
- :func:`write_coco`: a COCO 2017 folder (``annotations/instances_{train,val}2017.json`` with every key of the
  release, the 80 categories under their official, non-contiguous ids; ``train2017/``, ``val2017/`` JPEGs).
- :func:`hub_put`: a repository in a Hugging Face Hub cache exactly as ``huggingface_hub`` lays it out
  (``<type>s--<org>--<name>/blobs/<etag>``, ``snapshots/<commit>/<path>`` relative links to the blobs,
  ``refs/<revision>`` holding the commit), so that names resolve with ``HF_HUB_OFFLINE=1``.
- :func:`syncub_files` / :func:`syncoco_files`: the files of ``jokl/syncub`` / ``jokl/syncoco`` as the reference
  code exports them (``images/000000_orig.jpg``, ``images/000000_syn.png``, ``metadata.csv`` with its columns,
  ``attributes.txt``) plus a README and the loader script the repositories ship, which records any execution in
  a sentinel file and exits: the kit must never run it.
- :func:`tiny_clip_files`, :func:`tiny_dinov2_files`: random weights of small configurations in open_clip's Hub
  format and in transformers' ``save_pretrained`` format.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

COLORS = ["blue", "brown", "iridescent", "purple", "rufous", "grey", "yellow", "olive", "green", "pink", "orange",
          "black", "white", "red", "buff"]
PATTERNS = ["solid", "spotted", "striped", "multi-colored"]
CUB_FAMILIES: list[tuple[str, list[str]]] = [
    ("has_bill_shape", ["curved_(up_or_down)", "dagger", "hooked", "needle", "hooked_seabird", "spatulate",
                        "all-purpose", "cone", "specialized"]),
    ("has_wing_color", COLORS), ("has_upperparts_color", COLORS), ("has_underparts_color", COLORS),
    ("has_breast_pattern", PATTERNS), ("has_back_color", COLORS),
    ("has_tail_shape", ["forked_tail", "rounded_tail", "notched_tail", "fan-shaped_tail", "pointed_tail",
                        "squared_tail"]),
    ("has_upper_tail_color", COLORS),
    ("has_head_pattern", ["spotted", "malar", "crested", "masked", "unique_pattern", "eyebrow", "eyering", "plain",
                          "eyeline", "striped", "capped"]),
    ("has_breast_color", COLORS), ("has_throat_color", COLORS),
    ("has_eye_color", [c for c in COLORS if c != "iridescent"]),
    ("has_bill_length", ["about_the_same_as_head", "longer_than_head", "shorter_than_head"]),
    ("has_forehead_color", COLORS), ("has_under_tail_color", COLORS), ("has_nape_color", COLORS),
    ("has_belly_color", COLORS),
    ("has_wing_shape", ["rounded-wings", "pointed-wings", "broad-wings", "tapered-wings", "long-wings"]),
    ("has_size", ["large_(16_-_32_in)", "small_(5_-_9_in)", "very_large_(32_-_72_in)", "medium_(9_-_16_in)",
                  "very_small_(3_-_5_in)"]),
    ("has_shape", ["upright-perching_water-like", "chicken-like-marsh", "long-legged-like", "duck-like", "owl-like",
                   "gull-like", "hummingbird-like", "pigeon-like", "tree-clinging-like", "hawk-like",
                   "sandpiper-like", "upland-ground-like", "swallow-like", "perching-like"]),
    ("has_back_pattern", PATTERNS), ("has_tail_pattern", PATTERNS), ("has_belly_pattern", PATTERNS),
    ("has_primary_color", COLORS), ("has_leg_color", COLORS), ("has_bill_color", COLORS),
    ("has_crown_color", COLORS), ("has_wing_pattern", PATTERNS),
]
CUB_ATTRIBUTES = [f"{fam}::{v}" for fam, vals in CUB_FAMILIES for v in vals]
assert len(CUB_ATTRIBUTES) == 312
CUB_SPECIES = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross", "004.Groove_billed_Ani"]

# (official id, name, supercategory): the 80 categories of COCO 2017, ids 1..90 with gaps
COCO_2017 = [(i, n, s) for i, n, s in [
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"), (4, "motorcycle", "vehicle"),
    (5, "airplane", "vehicle"), (6, "bus", "vehicle"), (7, "train", "vehicle"), (8, "truck", "vehicle"),
    (9, "boat", "vehicle"), (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"), (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
    (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"),
    (20, "sheep", "animal"), (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
    (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"), (36, "snowboard", "sports"),
    (37, "sports ball", "sports"), (38, "kite", "sports"), (39, "baseball bat", "sports"),
    (40, "baseball glove", "sports"), (41, "skateboard", "sports"), (42, "surfboard", "sports"),
    (43, "tennis racket", "sports"), (44, "bottle", "kitchen"), (46, "wine glass", "kitchen"),
    (47, "cup", "kitchen"), (48, "fork", "kitchen"), (49, "knife", "kitchen"), (50, "spoon", "kitchen"),
    (51, "bowl", "kitchen"), (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"),
    (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"), (58, "hot dog", "food"),
    (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"), (62, "chair", "furniture"),
    (63, "couch", "furniture"), (64, "potted plant", "furniture"), (65, "bed", "furniture"),
    (67, "dining table", "furniture"), (70, "toilet", "furniture"), (72, "tv", "electronic"),
    (73, "laptop", "electronic"), (74, "mouse", "electronic"), (75, "remote", "electronic"),
    (76, "keyboard", "electronic"), (77, "cell phone", "electronic"), (78, "microwave", "appliance"),
    (79, "oven", "appliance"), (80, "toaster", "appliance"), (81, "sink", "appliance"),
    (82, "refrigerator", "appliance"), (84, "book", "indoor"), (85, "clock", "indoor"), (86, "vase", "indoor"),
    (87, "scissors", "indoor"), (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"),
    (90, "toothbrush", "indoor")]]
assert len(COCO_2017) == 80

LOADER_SCRIPT = '''"""The loading script a Hub dataset repository may ship. The kit must never import or run it."""
import os
import pathlib

pathlib.Path(os.environ.get("KIT_REHEARSAL_SENTINEL", "loader-script-ran")).write_text(__file__)
raise SystemExit("this loading script must never run")
'''


def _image(rng: np.random.Generator, size: int, fmt: str, mark: tuple[int, int, int] | None = None) -> bytes:
    """A small picture: a coloured blob on a textured background (and a square of ``mark`` when given)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.integers(40, 216, 3)
    a = np.clip(base + 60 * np.sin(6 * xx + rng.random() * 6)[..., None] * rng.random(3), 0, 255)
    cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
    blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    a[blob] = rng.integers(0, 256, 3)
    if mark is not None:
        a[size // 8: size // 3, size // 8: size // 3] = mark
    buf = io.BytesIO()
    Image.fromarray(a.astype(np.uint8)).save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def write_cub(root: str | os.PathLike, n_per_species: int = 12, n_species: int = 4, seed: int = 0,
              size: int = 48) -> tuple[Path, np.ndarray]:
    """``root/CUB_200_2011`` in the release's layout (``root/attributes.txt`` beside it, as the archive has it);
    returns (the folder, the labels ``bool[N, 312]``). Every third image is a test image."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    cub = root / "CUB_200_2011"
    (cub / "attributes").mkdir(parents=True, exist_ok=True)
    (root / "attributes.txt").write_text("".join(f"{i + 1} {a}\n" for i, a in enumerate(CUB_ATTRIBUTES)))
    species = CUB_SPECIES[:n_species]
    n = n_per_species * n_species
    # each family's values are exclusive-ish, as in CUB: one or two values per family and image
    Y = np.zeros((n, len(CUB_ATTRIBUTES)), dtype=bool)
    start = 0
    for fam, vals in CUB_FAMILIES:
        for i in range(n):
            for j in rng.choice(len(vals), size=1 + int(rng.random() < 0.3), replace=False):
                Y[i, start + j] = True
        start += len(vals)
    images, classes, split, boxes, labels = [], [], [], [], []
    for i in range(n):
        s = species[i // n_per_species]
        rel = f"{s}/{s.split('.', 1)[1]}_{i + 1:04d}_{790000 + i}.jpg"
        (cub / "images" / s).mkdir(parents=True, exist_ok=True)
        (cub / "images" / rel).write_bytes(_image(rng, size, "JPEG"))
        images.append(f"{i + 1} {rel}\n")
        classes.append(f"{i + 1} {i // n_per_species + 1}\n")
        split.append(f"{i + 1} {int(i % 3 != 2)}\n")
        boxes.append(f"{i + 1} 4.0 5.0 {size - 9}.0 {size - 8}.0\n")
        for a in range(len(CUB_ATTRIBUTES)):
            certainty = int(rng.integers(1, 5))
            extra = " 0" if (i, a) in ((2, 7), (5, 40)) else ""  # the release has a few six-field lines
            labels.append(f"{i + 1} {a + 1} {int(Y[i, a])} {certainty} {rng.uniform(1, 30):.4f}{extra}\n")
    (cub / "images.txt").write_text("".join(images))
    (cub / "classes.txt").write_text("".join(f"{k + 1} {s}\n" for k, s in enumerate(species)))
    (cub / "image_class_labels.txt").write_text("".join(classes))
    (cub / "train_test_split.txt").write_text("".join(split))
    (cub / "bounding_boxes.txt").write_text("".join(boxes))
    (cub / "attributes" / "image_attribute_labels.txt").write_text("".join(labels))
    (cub / "attributes" / "certainties.txt").write_text("1 not visible\n2 guessing\n3 probably\n4 definitely\n")
    (cub / "README").write_text("The Caltech-UCSD Birds-200-2011 Dataset (a tiny stand-in for the tests)\n")
    return cub, Y


def write_coco(root: str | os.PathLike, n_train: int = 24, n_val: int = 16, seed: int = 0,
               size: int = 48) -> Path:
    """``root/coco`` with ``annotations/instances_{train,val}2017.json`` and ``train2017/``, ``val2017/``."""
    rng = np.random.default_rng(seed)
    coco = Path(root) / "coco"
    (coco / "annotations").mkdir(parents=True, exist_ok=True)
    common = [0, 2, 15, 16, 56, 62]  # person, car, bird, cat, chair, ... frequent in the tiny world
    ann_id = 1
    for split, n, first in (("train", n_train, 100), ("val", n_val, 900)):
        (coco / f"{split}2017").mkdir(exist_ok=True)
        images, anns = [], []
        for k in range(n):
            image_id = first + 7 * k
            name = f"{image_id:012d}.jpg"
            (coco / f"{split}2017" / name).write_bytes(_image(rng, size, "JPEG"))
            images.append({"license": 1, "file_name": name, "coco_url": f"http://images.cocodataset.org/{split}2017/"
                           f"{name}", "height": size, "width": size, "date_captured": "2013-11-14 11:18:45",
                           "flickr_url": "http://farm4.staticflickr.com/x.jpg", "id": image_id})
            cats = set(rng.choice(common, size=int(rng.integers(1, 4)), replace=False)) | (
                {int(rng.integers(0, 80))} if rng.random() < 0.5 else set())
            for c in sorted(cats):
                for _ in range(int(rng.integers(1, 3))):
                    x, y, w, h = (float(v) for v in rng.uniform(0, size / 2, 4))
                    anns.append({"segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]], "area": w * h,
                                 "iscrowd": 0, "image_id": image_id, "bbox": [x, y, w, h],
                                 "category_id": COCO_2017[c][0], "id": ann_id})
                    ann_id += 1
        doc = {"info": {"description": "COCO 2017 Dataset (a tiny stand-in)", "url": "http://cocodataset.org",
                        "version": "1.0", "year": 2017, "contributor": "COCO Consortium",
                        "date_created": "2017/09/01"},
               "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1,
                             "name": "Attribution-NonCommercial-ShareAlike License"}],
               "images": images, "annotations": anns,
               "categories": [{"supercategory": s, "id": i, "name": nm} for i, nm, s in COCO_2017]}
        (coco / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(doc))
    return coco


def _etag(name: str, data: bytes) -> str:
    """The blob name huggingface_hub gives a file: the SHA-256 for LFS files (binaries), the git blob SHA-1 else."""
    if name.endswith((".jpg", ".jpeg", ".png", ".webp", ".safetensors", ".bin", ".parquet")):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def hub_put(cache: str | os.PathLike, repo_id: str, files: dict[str, bytes], repo_type: str = "model",
            revisions: tuple[str, ...] = ("main",)) -> Path:
    """Put ``files`` (path in the repository → bytes) into the Hub cache ``cache`` as one commit that
    ``revisions`` (branches or tags) point to; return the snapshot folder."""
    storage = Path(cache) / f"{repo_type}s--{repo_id.replace('/', '--')}"
    tags = {path: _etag(path, data) for path, data in files.items()}
    commit = hashlib.sha1(json.dumps(sorted(tags.items())).encode()).hexdigest()
    snapshot = storage / "snapshots" / commit
    for path, data in files.items():
        blob = storage / "blobs" / tags[path]
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / path
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    for rev in revisions:
        (storage / "refs" / rev).write_text(commit)
    return snapshot


def _csv(rows: list[dict]) -> bytes:
    import pandas as pd

    return pd.DataFrame.from_records(rows).to_csv(index=False).encode()


def syncub_files(cub: Path, Y: np.ndarray, n_pairs: int = 24, seed: int = 0) -> dict[str, bytes]:
    """The files of ``jokl/syncub``: originals are CUB images (copied byte for byte), edits swap one attribute
    for another value of its family (as the reference export writes them)."""
    rng = np.random.default_rng(seed)
    image_lines = (cub / "images.txt").read_text().splitlines()
    fam_of = np.array([a.split("::")[0] for a in CUB_ATTRIBUTES])
    files, rows = {}, []
    for p in range(n_pairs):
        i = int(rng.integers(0, len(Y)))
        present = np.flatnonzero(Y[i])
        old = int(rng.choice(present))
        choices = np.flatnonzero((fam_of == fam_of[old]) & ~Y[i])
        new = int(rng.choice(choices))
        syn = Y[i].copy()
        syn[old], syn[new] = False, True
        rel = image_lines[i].split(" ", 1)[1]
        files[f"images/{p:06d}_orig.jpg"] = (cub / "images" / rel).read_bytes()
        files[f"images/{p:06d}_syn.png"] = _image(rng, 48, "PNG", mark=tuple(int(v) for v in rng.integers(0, 256, 3)))
        species = rel.split("/")[0]
        rows.append({"pair_id": p, "orig_image": f"images/{p:06d}_orig.jpg", "syn_image": f"images/{p:06d}_syn.png",
                     "class_id": int(species.split(".")[0]), "class_name": species.split(".", 1)[1],
                     "old_attr": CUB_ATTRIBUTES[old], "new_attr": CUB_ATTRIBUTES[new], "old_attr_idx": old,
                     "new_attr_idx": new, "orig_attr_idx": np.flatnonzero(Y[i]).tolist(),
                     "syn_attr_idx": np.flatnonzero(syn).tolist()})
    files["metadata.csv"] = _csv(rows)
    files["attributes.txt"] = "".join(f"{i + 1} {a}\n" for i, a in enumerate(CUB_ATTRIBUTES)).encode()
    files["README.md"] = b"---\nlicense: other\n---\n# synCUB (a tiny stand-in for the tests)\n"
    files[".gitattributes"] = b"*.jpg filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
    files["syncub.py"] = LOADER_SCRIPT.encode()
    return files


def syncoco_files(coco: Path, n_pairs: int = 16, seed: int = 0) -> dict[str, bytes]:
    """The files of ``jokl/syncoco``: originals are COCO val2017 images, edits remove one present category."""
    rng = np.random.default_rng(seed)
    doc = json.loads((coco / "annotations" / "instances_val2017.json").read_text())
    index = {cid: k for k, (cid, _, _) in enumerate(COCO_2017)}
    labels: dict[int, set] = {}
    for a in doc["annotations"]:
        labels.setdefault(a["image_id"], set()).add(index[a["category_id"]])
    ims = [im for im in doc["images"] if labels.get(im["id"])]
    files, rows = {}, []
    for p in range(n_pairs):
        im = ims[int(rng.integers(0, len(ims)))]
        present = sorted(labels[im["id"]])
        removed = int(rng.choice(present))
        files[f"images/{p:06d}_orig.jpg"] = (coco / "val2017" / im["file_name"]).read_bytes()
        files[f"images/{p:06d}_syn.png"] = _image(rng, 48, "PNG", mark=(128, 128, 128))
        rows.append({"pair_id": p, "orig_image": f"images/{p:06d}_orig.jpg", "syn_image": f"images/{p:06d}_syn.png",
                     "coco_idx": im["id"], "removed_cls_idx": removed, "removed_class": COCO_2017[removed][1],
                     "orig_labels": present, "syn_labels": [c for c in present if c != removed]})
    files["metadata.csv"] = _csv(rows)
    files["README.md"] = b"---\nlicense: other\n---\n# synCOCO (a tiny stand-in for the tests)\n"
    files[".gitattributes"] = b"*.jpg filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
    files["syncoco.py"] = LOADER_SCRIPT.encode()
    return files


TINY_CLIP_CFG = {
    "embed_dim": 48, "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def tiny_clip_files(seed: int = 0) -> dict[str, bytes]:
    """open_clip's Hub format (``open_clip_config.json`` + ``open_clip_model.safetensors``) of a tiny ViT CLIP
    with random weights (the OpenAI preprocessing and QuickGELU, as ViT-L/14 ``openai``)."""
    import open_clip
    import torch
    from safetensors.torch import save

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.CLIP(**json.loads(json.dumps(TINY_CLIP_CFG)))
    state = {k: v.contiguous().clone() for k, v in model.state_dict().items()}
    config = {"model_cfg": TINY_CLIP_CFG, "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                                                             "std": [0.26862954, 0.26130258, 0.27577711]}}
    return {"open_clip_config.json": json.dumps(config, indent=1).encode(), "open_clip_model.safetensors": save(state),
            "README.md": b"---\nlibrary_name: open_clip\n---\n# a tiny random-weight CLIP for the tests\n"}


def tiny_dinov2_files(seed: int = 0, processor: bool = True) -> dict[str, bytes]:
    """transformers' ``save_pretrained`` files of a tiny Dinov2Model with random weights (and its
    ``preprocessor_config.json``, DINOv2's with smaller sizes, unless ``processor`` is False)."""
    import tempfile

    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    cfg = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=28, patch_size=14)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Dinov2Model(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        if processor:
            BitImageProcessor(size={"shortest_edge": 32}, resample=3, crop_size={"height": 28, "width": 28},
                              do_center_crop=True, image_mean=[0.485, 0.456, 0.406],
                              image_std=[0.229, 0.224, 0.225]).save_pretrained(tmp)
        return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}


def write_folder(folder: str | os.PathLike, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path → bytes) under ``folder``; return it."""
    folder = Path(folder)
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def build_world(root: str | os.PathLike) -> dict[str, Path]:
    """Everything the paper profiles read, under ``root``: ``hf_home`` (whose hub cache holds jokl/syncub and
    jokl/syncoco at v1.0 and v2.0, facebook/dinov2-small and the tiny CLIP ``kit-rehearsal/tiny-clip``),
    ``cub`` (the CUB_200_2011 folder), ``coco`` (the COCO 2017 folder) and ``sentinel`` (written if a loader
    script ever runs)."""
    root = Path(root)
    cub, Y = write_cub(root / "data")
    coco = write_coco(root / "data")
    hf_home = root / "hf"
    cache = hf_home / "hub"
    hub_put(cache, "jokl/syncub", syncub_files(cub, Y), "dataset", ("v1.0", "main"))
    hub_put(cache, "jokl/syncoco", syncoco_files(coco), "dataset", ("v1.0", "v2.0", "main"))
    hub_put(cache, "facebook/dinov2-small", tiny_dinov2_files(), "model", ("main",))
    hub_put(cache, "kit-rehearsal/tiny-clip", tiny_clip_files(), "model", ("main",))
    return {"root": root, "hf_home": hf_home, "cub": cub, "coco": coco, "sentinel": root / "loader-script-ran"}


def offline_env(world: dict[str, Path], **extra: str) -> dict[str, str]:
    """The environment of a process that sees only ``world``'s Hub cache, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_HOME=str(world["hf_home"]), HF_HUB_OFFLINE="1", KIT_REHEARSAL_SENTINEL=str(world["sentinel"]),
               HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return env
