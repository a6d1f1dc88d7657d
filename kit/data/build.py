"""Build a new paired benchmark with an image editor, as synCUB and synCOCO were built.

1. Choose the edits: swaps per class (each class's top attributes, up to ``max_targets`` other values of
   the same family — synCUB) or removals per image (the rarest category in the image, ties → largest
   area — synCOCO).
2. Write a one-change instruction that also lists what must stay as it is.
3. Edit each base image with a diffusers image-editing pipeline chosen by name.
4. Verify each pair with a linear probe on embeddings: the changed concepts must flip on both images and
   at most ``max_other_flips`` other concepts may flip.
5. Export the kept pairs in the Hub layout, with each pair's verification score, atomically.

The edits go to ``FOLDER.partial`` a chunk at a time, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from kit._version import __version__
from kit.arrays import as_float_matrix, resolve_device
from kit.data import hub
from kit.data.layout import SYNCOCO_COLUMNS, SYNCUB_COLUMNS, families, format_list, write_benchmark
from kit.errors import CheckpointError, ConfigError, DataError
from kit.io import atomic_path, content_hash, read_json, remove_stale, write_text
from kit.types import ConceptTable, check_pairs

# name: (Hub id, diffusers pipeline class, default call settings)
EDITORS: dict[str, tuple[str, str, dict]] = {
    "flux2-dev": ("black-forest-labs/FLUX.2-dev", "Flux2Pipeline", {"num_inference_steps": 50, "guidance_scale": 4.0}),
    "flux-kontext": (
        "black-forest-labs/FLUX.1-Kontext-dev",
        "FluxKontextPipeline",
        {"num_inference_steps": 28, "guidance_scale": 2.5},
    ),
    "instruct-pix2pix": (
        "timbrooks/instruct-pix2pix",
        "StableDiffusionInstructPix2PixPipeline",
        {"num_inference_steps": 20, "guidance_scale": 7.5, "image_guidance_scale": 1.5},
    ),
}


@dataclass(frozen=True)
class BuildConfig:
    """How a benchmark is built (defaults: synCUB/synCOCO's choices with FLUX.2 dev)."""

    editor: str = "flux2-dev"
    revision: str | None = None  # Hub revision of the editor's weights (pin it for a release)
    top_attributes: int = 10  # swaps: per class, the most frequent attributes to swap away
    max_targets: int = 2  # swaps: target values per attribute, from the same family
    images_per_edit: int = 1  # swaps: base images edited per (class, old, new)
    min_remaining: int = 1  # removals: categories that must remain after the removal
    size: int = 512  # base images are resized to size×size before editing
    call: dict = field(default_factory=dict)  # overrides of the editor's call settings
    max_other_flips: int = 1  # verification: other concepts allowed to flip
    probe_l2: float = 1.0  # verification: ridge penalty of the linear probe
    chunk: int = 64  # images edited and embedded at a time (bounds memory)
    seed: int = 0

    def __post_init__(self) -> None:
        for k in ("top_attributes", "max_targets", "images_per_edit", "size", "chunk"):
            if getattr(self, k) < 1:
                raise ConfigError(f"BuildConfig.{k} must be ≥ 1, got {getattr(self, k)}")
        if self.max_other_flips < 0 or self.probe_l2 <= 0:
            raise ConfigError("BuildConfig: max_other_flips must be ≥ 0 and probe_l2 > 0")


# ----------------------------------------------------------------------------------------- choosing edits


def choose_swaps(
    Y: np.ndarray,
    classes: np.ndarray,
    groups: Sequence[str],
    top_attributes: int = 10,
    max_targets: int = 2,
    images_per_edit: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """Swaps as synCUB chose them. Y: bool[N, C]; classes: [N]; groups: family of each concept.

    Per class: its ``top_attributes`` most frequent attributes (in families with ≥ 2 values); for each,
    up to ``max_targets`` other values of the family, the least frequent in the class first; for each
    (old, new), ``images_per_edit`` images of the class showing old and not new.
    Returns a DataFrame (row, old, new) sorted by row.
    """
    Y = np.asarray(Y, dtype=bool)
    classes = np.asarray(classes)
    fam = np.asarray(groups)
    fam_size = pd.Series(fam).map(pd.Series(fam).value_counts()).to_numpy()
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(classes):
        rows = np.flatnonzero(classes == c)
        freq = Y[rows].mean(0)
        eligible = np.flatnonzero((fam_size > 1) & (freq > 0))
        top = eligible[np.lexsort((eligible, -freq[eligible]))][:top_attributes]
        for old in top:
            others = np.flatnonzero((fam == fam[old]) & (np.arange(len(fam)) != old))
            for new in others[np.lexsort((others, freq[others]))][:max_targets]:
                cand = rows[Y[rows, old] & ~Y[rows, new]]
                if cand.size:
                    pick = rng.choice(cand, size=min(images_per_edit, cand.size), replace=False)
                    out += [(int(r), int(old), int(new)) for r in pick]
    return (
        pd.DataFrame(np.array(out, dtype=np.int64).reshape(-1, 3), columns=["row", "old", "new"])
        .sort_values("row", kind="stable")
        .reset_index(drop=True)
    )


def choose_removals(counts: np.ndarray, areas: np.ndarray, min_remaining: int = 1) -> pd.DataFrame:
    """Removals as synCOCO chose them. counts: int[N, C] instances; areas: float[N, C] their total area.

    Per image with at least ``min_remaining + 1`` categories: the category with the fewest instances,
    ties → the largest area, then the lowest index. Returns a DataFrame (row, old, new=-1).
    """
    counts = np.asarray(counts)
    areas = np.asarray(areas, dtype=np.float64)
    present = counts > 0
    keep = present.sum(1) >= min_remaining + 1
    fewest = np.where(present, counts, np.iinfo(np.int64).max).min(1, keepdims=True)
    tied = present & (counts == fewest)
    old = np.argmax(np.where(tied, areas, -np.inf), axis=1)
    rows = np.flatnonzero(keep)
    return pd.DataFrame({"row": rows, "old": old[rows], "new": -1})


def _readable(name: str) -> str:
    return name.replace("has_", "").replace("_", " ").replace("::", ": ")


def instruction(names: Sequence[str], groups: Sequence[str] | None, labels: np.ndarray, old: int, new: int) -> str:
    """The one-change instruction for an edit of an image with ``labels: bool[C]``."""
    if new < 0:
        keep = [names[j] for j in np.flatnonzero(labels) if j != old]
        return (
            f"Remove every {names[old]} from the image and fill its place with the background that would be "
            f"behind it. Change nothing else: keep the {', '.join(keep) or 'rest of the scene'}, the "
            f"background, lighting, framing and image style exactly as they are."
        )
    fam = groups[old] if groups is not None else names[old]
    value = lambda j: names[j].split("::", 1)[-1].replace("_", " ")  # noqa: E731
    others = sorted({groups[j] for j in np.flatnonzero(labels)} - {fam}) if groups is not None else []
    keep = ", ".join(_readable(f) for f in others)
    return (
        f"Change the bird's {_readable(fam)} from {value(old)} to {value(new)}. Change nothing else: keep the "
        f"{keep + ', ' if keep else ''}species, pose, background, lighting and framing exactly as they are."
    )


# ---------------------------------------------------------------------------------------------- editing


def load_editor(
    name: str, device: str = "auto", model_id: str | os.PathLike | None = None, revision: str | None = None
) -> Any:
    """A diffusers image-editing pipeline by name (see ``kit.data.build.EDITORS``); ``model_id`` replaces the Hub id
    (a local folder of the same pipeline). Weights load from safetensors; remote code is never run."""
    if name not in EDITORS:
        raise ConfigError(f"unknown editor {name!r}; known: {sorted(EDITORS)}")
    import diffusers  # here: diffusers (and torch) load only when an editor is
    import torch

    hub_id, cls_name, _ = EDITORS[name]
    device = resolve_device(device)
    dtype = torch.float32 if device == "cpu" else (torch.float16 if name == "instruct-pix2pix" else torch.bfloat16)
    cls = getattr(diffusers, cls_name)
    source = str(model_id or hub_id)
    kw = dict(revision=revision, dtype=dtype, use_safetensors=True)
    try:  # the Hub cache (or the local folder) first: no request, no wait
        pipe = cls.from_pretrained(source, local_files_only=True, **kw)
    except (OSError, ValueError, KeyError, EnvironmentError) as e:
        local = Path(os.path.expanduser(source)).is_dir()
        why = None if local else hub.unreachable()
        alternative = "give a local folder of the same pipeline (model_id=/path/to/folder)"
        provide = "" if local else "; " + hub.how_to_provide(source, "model", revision, None, alternative)
        if local or why:
            raise CheckpointError(f"editor {name}: {source} " + (f"cannot be loaded ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0][:200] if str(e) else ''})" if local else
                                  f"is not in the Hugging Face cache and the Hub cannot be used ({why})")
                                  + provide) from None
        try:
            pipe = cls.from_pretrained(source, **kw)
        except (OSError, ValueError, KeyError) as e2:
            raise CheckpointError(f"editor {name}: could not load {source} from the Hub ({type(e2).__name__}: "
                                  f"{str(e2).splitlines()[0][:200] if str(e2) else ''}){provide}") from None
    return pipe.to(device)


def edit(pipe: Any, images: Sequence[Any], prompts: Sequence[str], settings: dict, seed: int = 0) -> list:
    """Edit each PIL image with its prompt; pair i uses a generator seeded ``seed + i``."""
    import torch

    device = getattr(pipe, "device", torch.device("cpu"))
    out = []
    for i, (im, prompt) in enumerate(zip(images, prompts)):
        g = torch.Generator(device=device).manual_seed(seed + i)
        res = pipe(prompt=prompt, image=im, generator=g, **settings)
        out.append(res.images[0].convert("RGB").resize(im.size))
    return out


# ----------------------------------------------------------------------------------------- verification


def fit_probe(X: np.ndarray, Y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Ridge probe for all concepts at once on ±1 targets. X: float[N, d]; Y: bool[N, C] →
    ``(W: float[d, C], b: float[C])``; concept c is predicted present where ``X @ W[:, c] + b[c] > 0``."""
    X = as_float_matrix("fit_probe X", X, dtype=np.float64)
    T = np.where(np.asarray(Y, dtype=bool), 1.0, -1.0)
    mu, tmu = X.mean(0), T.mean(0)
    Xc = X - mu
    W = np.linalg.solve(Xc.T @ Xc + l2 * np.eye(X.shape[1]), Xc.T @ (T - tmu))
    return W, tmu - mu @ W


def verify(
    X_orig: np.ndarray,
    X_edit: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    max_other_flips: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check pairs with a linear probe. X_*: float[P, d]; old, new: int[P] (new = -1 for a removal).

    score: float[P] — the smallest margin by which the changed concepts flip the right way (old: present →
    absent; new: absent → present), > 0 when they all flip; other_flips: int[P] — other concepts whose
    prediction flips. keep = score > 0 and other_flips ≤ max_other_flips. Returns (keep, score, other_flips).
    """
    So, Se = X_orig @ W + b, X_edit @ W + b
    rows = np.arange(len(old))
    score = np.minimum(So[rows, old], -Se[rows, old])
    swap = new >= 0
    nn = np.where(swap, new, 0)
    score = np.where(swap, np.minimum(score, np.minimum(-So[rows, nn], Se[rows, nn])), score)
    flips = (So > 0) != (Se > 0)
    flips[rows, old] = False
    flips[rows[swap], new[swap]] = False
    other = flips.sum(1)
    return (score > 0) & (other <= max_other_flips), score, other


# ---------------------------------------------------------------------------------------------- the build


def build(
    table: ConceptTable,
    folder: str | os.PathLike,
    *,
    embed: Callable[[list], np.ndarray],
    kind: str = "swap",
    classes: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
    counts: np.ndarray | None = None,
    areas: np.ndarray | None = None,
    editor: Any = None,
    config: BuildConfig | None = None,
    X_base: np.ndarray | None = None,
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Build a paired benchmark from base images and annotations; write the kept pairs to ``folder``.

    table: ConceptTable with ``images``; kind: "swap" (needs ``classes: [N]``, the class of each image, and
    optionally ``class_names: [N]``, its name) or "removal" (needs
    ``counts``/``areas: [N, C]``, e.g. from :func:`kit.data.coco_instances`); embed: images (PIL) →
    float[n, d]; editor: a loaded pipeline, or None to load ``config.editor``; X_base: the base images'
    embeddings if already computed (the probe is fitted on the table's train split, or all rows); progress: a
    bar over the images edited.
    Returns the folder, readable by :func:`kit.data.load_paired`.
    """
    cfg = config or BuildConfig()
    plan = plan_edits(table, kind, cfg, classes, class_names, counts, areas)
    rows, old, new = plan["row"].to_numpy(), plan["old"].to_numpy(), plan["new"].to_numpy()
    labels_o, labels_e = edited_labels(table.Y, rows, old, new)
    prompts = [instruction(table.names, table.groups, labels_o[i], old[i], new[i]) for i in range(len(rows))]
    W, b = _base_probe(table, embed, X_base, cfg)
    settings = {**EDITORS[cfg.editor][2], **cfg.call} if cfg.editor in EDITORS else dict(cfg.call)
    work = _edit_all(table, rows, prompts, folder, cfg, settings, editor, device, progress)
    keep, score, other = _verify_edits(work, len(rows), embed, old, new, W, b, cfg)
    k = np.flatnonzero(keep)
    meta = pair_table(table, kind, rows, old, new, labels_o, labels_e, k, classes, class_names)
    meta["verification_score"] = score[k].round(6)
    meta["other_flips"] = other[k]
    meta["instruction"] = [prompts[i] for i in k]
    meta["base_image"] = [os.path.basename(table.images[r]) for r in rows[k]]
    made = {"kit_version": __version__, "kind": kind, "config": asdict(cfg), "settings": settings,
            "editor_model": EDITORS.get(cfg.editor, ("custom",))[0], "n_planned": int(len(rows)), "n_kept": int(len(k))}

    def link_edits(root: Path) -> None:
        for i, o, e in zip(k, meta["orig_image"], meta["syn_image"]):
            _link_or_copy(_edited(work, i, cfg.chunk, "orig"), root / o)
            _link_or_copy(_edited(work, i, cfg.chunk, "syn"), root / e)

    names_file = "attributes.txt" if kind == "swap" else "categories.txt"
    write_benchmark(folder, meta, table.names, names_file, ("build_config.json", made), link_edits)
    shutil.rmtree(work)
    return Path(folder)


def plan_edits(table: ConceptTable, kind: str, cfg: BuildConfig, classes: Sequence[Any] | None = None,
               class_names: Sequence[str] | None = None, counts: np.ndarray | None = None,
               areas: np.ndarray | None = None) -> pd.DataFrame:
    """Step 1 of :func:`build`: check its inputs and choose the edits (:func:`choose_swaps` for ``kind="swap"``,
    :func:`choose_removals` for ``"removal"``); a DataFrame (row, old, new)."""
    if table.images is None:
        raise DataError("build: the ConceptTable has no images")
    if kind == "swap":
        if classes is None:
            raise ConfigError("build(kind='swap') needs classes: the class of each base image")
        classes = np.asarray(classes)
        if classes.shape != (table.n_samples,):
            raise DataError(f"build: classes has shape {classes.shape}, expected ({table.n_samples},)")
        if class_names is not None and len(class_names) != table.n_samples:
            raise DataError(
                f"build: class_names has {len(class_names)} entries, expected one per image ({table.n_samples})"
            )
        groups = table.groups or families(table.names)
        plan = choose_swaps(
            table.Y, classes, groups, cfg.top_attributes, cfg.max_targets, cfg.images_per_edit, cfg.seed
        )
    elif kind == "removal":
        if counts is None or areas is None:
            raise ConfigError("build(kind='removal') needs counts and areas: instances per image and category")
        plan = choose_removals(counts, areas, cfg.min_remaining)
    else:
        raise ConfigError(f"build: kind must be 'swap' or 'removal', got {kind!r}")
    if plan.empty:
        raise DataError("build: no edit could be chosen from these annotations")
    return plan


def edited_labels(Y: np.ndarray, rows: np.ndarray, old: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labels of the planned pairs, ``(labels_orig, labels_edit): bool[P, C]``: row ``rows[i]`` of ``Y``
    without concept ``old[i]`` and with ``new[i]`` (none where ``new[i] = -1``); checked as pairs."""
    labels_o = np.asarray(Y, dtype=bool)[rows]
    labels_e = labels_o.copy()
    labels_e[np.arange(len(rows)), old] = False
    labels_e[np.flatnonzero(new >= 0), new[new >= 0]] = True
    check_pairs(old, new, labels_o, labels_e, what="build plan")
    return labels_o, labels_e


def _open_rgb(paths) -> list:
    return [Image.open(p).convert("RGB") for p in paths]


def _base_probe(table: ConceptTable, embed, X_base: np.ndarray | None, cfg: BuildConfig) -> tuple:
    """The verification probe ``(W, b)``, fitted on the base images' embeddings (computed ``cfg.chunk`` images
    at a time unless given) of the table's train split, or all rows."""
    if X_base is None:
        X_base = np.concatenate([np.asarray(embed(_open_rgb(table.images[s : s + cfg.chunk])))
                                 for s in range(0, table.n_samples, cfg.chunk)])
    fit_rows = np.flatnonzero(table.split == "train") if table.split is not None else np.arange(table.n_samples)
    return fit_probe(np.asarray(X_base)[fit_rows], table.Y[fit_rows], cfg.probe_l2)


def _edited(work: Path, i: int, chunk: int, side: str) -> Path:
    """Where :func:`_edit_all` wrote side ``orig`` or ``syn`` of planned pair ``i``."""
    return work / f"chunk-{(i // chunk) * chunk:06d}" / side / f"{i:06d}.png"


def _verify_edits(work: Path, n: int, embed, old: np.ndarray, new: np.ndarray, W: np.ndarray, b: np.ndarray,
                  cfg: BuildConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embed the ``n`` edited pairs in ``work`` chunk by chunk and :func:`verify` them; raise if none passes."""
    X = {side: np.concatenate([np.asarray(embed(_open_rgb([_edited(work, i, cfg.chunk, side)
                                                           for i in range(s, min(s + cfg.chunk, n))])))
                               for s in range(0, n, cfg.chunk)])
         for side in ("orig", "syn")}
    keep, score, other = verify(X["orig"], X["syn"], old, new, W, b, cfg.max_other_flips)
    if not keep.any():
        raise DataError(
            f"build: none of the {n} edited pairs passed verification (best score {score.max():.3g}); "
            f"the edited images stay in {work}, and a build of the same edits with other verification "
            "settings (max_other_flips, probe_l2) uses them again"
        )
    return keep, score, other


def pair_table(table: ConceptTable, kind: str, rows: np.ndarray, old: np.ndarray, new: np.ndarray,
               labels_o: np.ndarray, labels_e: np.ndarray, k: np.ndarray, classes: Sequence[Any] | None = None,
               class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """The metadata of the kept pairs ``k`` (indices into the plan) in synCUB's columns (``kind="swap"``) or
    synCOCO's (``"removal"``); pair i's images are ``images/{orig,syn}/{i:06d}.png``."""
    common = {"pair_id": k, "orig_image": [f"images/orig/{i:06d}.png" for i in k],
              "syn_image": [f"images/syn/{i:06d}.png" for i in k]}
    lists_o = [format_list(np.flatnonzero(labels_o[i])) for i in k]
    lists_e = [format_list(np.flatnonzero(labels_e[i])) for i in k]
    if kind == "swap":
        classes = np.asarray(classes)
        cn = [str(class_names[r]) if class_names is not None else str(classes[r]) for r in rows[k]]
        return pd.DataFrame({**common, "class_id": classes[rows[k]], "class_name": cn,
                             "old_attr": [table.names[j] for j in old[k]], "new_attr": [table.names[j] for j in new[k]],
                             "old_attr_idx": old[k], "new_attr_idx": new[k], "orig_attr_idx": lists_o,
                             "syn_attr_idx": lists_e})[SYNCUB_COLUMNS]
    return pd.DataFrame({**common, "coco_idx": table.ids[rows[k]], "removed_cls_idx": old[k],
                         "removed_class": [table.names[j] for j in old[k]], "orig_labels": lists_o,
                         "syn_labels": lists_e})[SYNCOCO_COLUMNS]


def _edit_all(table: ConceptTable, rows: np.ndarray, prompts: list[str], folder, cfg: BuildConfig, settings: dict,
              editor: Any, device: str, progress: bool) -> Path:
    """Edit every planned image, ``cfg.chunk`` at a time, into ``FOLDER.partial/chunk-NNNNNN/{orig,syn}/``;
    return that folder. Each chunk appears atomically and chunks already there are kept, so an interrupted
    build resumes where it stopped (the editor is loaded only if some chunk is missing). ``edits.json`` holds a
    key of everything that decides the edits; a partial folder of other edits is refused, not overwritten."""
    work = Path(f"{os.fspath(folder)}.partial")
    what = {"kit_version": __version__, "editor": cfg.editor, "editor_model": EDITORS.get(cfg.editor, ("custom",))[0],
            "revision": cfg.revision, "settings": settings, "size": cfg.size, "chunk": cfg.chunk, "seed": cfg.seed,
            "images": [os.path.basename(table.images[r]) for r in rows], "prompts": prompts}
    key = content_hash(what)
    record = work / "edits.json"
    if record.is_file():
        stored = read_json(record, "build record", ConfigError, hint=f"; remove {work} to start the build again")
        stored = stored.get("key") if isinstance(stored, dict) else None
        if stored != key:
            raise ConfigError(f"build: {work} holds an unfinished build of other edits; remove it or build into "
                              "another folder")
    else:
        work.mkdir(parents=True, exist_ok=True)
        write_text(record, json.dumps({"key": key, **what}, indent=1, default=str))
    remove_stale(work)  # chunks an interrupted build was writing
    todo = [s for s in range(0, len(rows), cfg.chunk) if not (work / f"chunk-{s:06d}").is_dir()]
    if todo and editor is None:
        editor = load_editor(cfg.editor, device=device, revision=cfg.revision)
    done = len(rows) - sum(min(cfg.chunk, len(rows) - s) for s in todo)
    with tqdm(total=len(rows), initial=done, desc="edit", unit="image", disable=not progress) as bar:
        for s in todo:
            idx = range(s, min(s + cfg.chunk, len(rows)))
            base = [Image.open(table.images[rows[i]]).convert("RGB").resize((cfg.size, cfg.size)) for i in idx]
            edited = edit(editor, base, [prompts[i] for i in idx], settings, seed=cfg.seed + s)
            with atomic_path(work / f"chunk-{s:06d}", replace=False) as tmp:
                (tmp / "orig").mkdir(parents=True)
                (tmp / "syn").mkdir()
                for i, a, z in zip(idx, base, edited):
                    a.save(tmp / "orig" / f"{i:06d}.png")
                    z.save(tmp / "syn" / f"{i:06d}.png")
            bar.update(len(idx))
    return work


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link where the file system allows it (no second copy of the images), a copy otherwise."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
