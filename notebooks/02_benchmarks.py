# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Benchmarks: pairs that differ in one concept
#
# Concept annotations tell us *which* images show a blue wing. Matching a {term}`latent` to them
# ([Matching by hand](01_matching_by_hand.ipynb)) measures a **correlation**: the latent {term}`fires <firing>` on the same images as the label. But labels come bundled
# with everything else that co-occurs with them. In CUB-200-2011 {cite}`wah2011cub` blue wings mostly belong to
# a few species, which also share a bill shape, a size and a habitat; a latent that really encodes "blue jay
# species" or "sky in the background" will correlate with "blue wing" too. Correlation cannot tell these apart.
#
# A **paired benchmark** asks a causal question instead {cite}`klotz2026evaluating`. Each {term}`pair` is an image and
# an edited copy that differs in exactly **one** {term}`concept`, with everything else (species, pose, background,
# lighting) held fixed. If a latent encodes "blue wing", it must switch off when the wing turns red — and the
# latents for the bill, the species or the background must not move. That is an intervention, and
# [TAPAScore](06_tapascore.ipynb) scores SAEs on exactly these switches.
#
# The paper publishes two such benchmarks on the Hugging Face Hub:
#
# - **synCUB** — CUB images whose attribute is **swapped within its family** by an image editor:
#   `has_wing_color::blue` → `has_wing_color::red`. One value leaves, another arrives; the bird stays the bird.
# - **synCOCO** — COCO 2017 scenes {cite}`lin2014coco` from which **one object category is removed** (every
#   instance of it), the gap filled with background. One concept leaves, none arrives.
#
# Offline, the kit renders procedural twins of both: **toy-synCUB** (birds drawn from parts, with eleven
# CUB-style attribute families) and **toy-synCOCO** (scenes of simple objects). Rendering from a specification
# makes the pairs exact by construction — the {term}`edit` changes one value of the specification and nothing else. This
# chapter browses both, counts what they contain, shows the on-disk layout they share with the Hub's benchmarks,
# and walks through building and publishing a new benchmark.
#
# **What you will learn**
# - what a paired benchmark is (swaps within a family, removals) and the Hub layout every benchmark shares;
# - how {func}`kit.data.load_paired` checks a benchmark before anything is computed on it;
# - how a new benchmark is built with an image editor, and how a probe verifies its edits — where that works and
#   where it does not;
# - how a benchmark is published with a dataset card.
#
# **What you need**
# - the [quickstart](00_quickstart.ipynb) for where benchmarks enter the method; nothing is downloaded;
# - a few minutes of CPU the first time (rendering and embedding both toy benchmarks), seconds afterwards;
# - the [glossary](../book/glossary.md) for the words of the method and the [API reference](../book/api.md) for the kit's functions.

# %% tags=["parameters"]
smoke = False          # tiny sizes so the tests run this page in seconds
seed = 0               # sampling seed of the rendered benchmarks
cache_dir = ".cache"   # rendered benchmarks and embeddings are cached here, shared by all chapters
benchmark = "toy-syncub"
encoder = "toy"
concepts_dir = ""
device = "auto"
n_pairs = 2000
n_images = 3000
n_show = 6             # pairs per image grid

# %% tags=["hide-input"]
import dataclasses
import json
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown
from PIL import Image
from sklearn.metrics import roc_auc_score
import yaml

from kit import data
from kit.data.build import choose_swaps, fit_probe, instruction, verify
from kit.errors import ConfigError, DataError
from kit.pipeline import TOY, PipelineConfig, benchmark_folder, prepare
from kit.runner import param_path

cache_dir, concepts_dir = param_path(cache_dir), param_path(concepts_dir)  # relative: to the repository root

if smoke:
    n_pairs, n_images, n_show = 120, 300, 4
sns.set_theme(style="whitegrid")
warnings.filterwarnings("ignore", message=".*DataLoader will create.*")  # torch: more workers than cores
config = PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                        concepts_dir=concepts_dir, seed=seed, device=device)

# %% [markdown]
# ## Rendering and loading
#
# {func}`~kit.pipeline.benchmark_folder` renders a toy benchmark once into the cache (keyed by its sizes and seed) and returns the
# folder; `kit.data.load_paired` reads any folder in the Hub layout — or a Hub name — into a validated
# `PairedBenchmark`. Here we render both toy benchmarks with the chapter's sizes.

# %%
t0 = time.perf_counter()
folders = {name: benchmark_folder(PipelineConfig(benchmark=name, n_pairs=n_pairs, n_images=n_images, seed=seed),
                                  cache_dir)
           for name in sorted(TOY)}
benchmarks = {name: data.load_paired(folder) for name, folder in folders.items()}
print(f"rendered (or found in the cache) and loaded in {time.perf_counter() - t0:.1f} s")
pd.DataFrame({name: {"pairs": b.n_pairs, "concepts": b.n_concepts, "removals": int(b.is_removal.sum()),
                     "families": len(set(b.groups)) if b.groups else "—"}
              for name, b in benchmarks.items()})

# %% [markdown]
# ## Browsing pairs
#
# Each column is one pair: the original on top, the edit in the middle, and at the bottom where the two differ
# (the per-pixel colour distance). In toy-synCUB the title names the attribute that left (−) and the one that
# arrived (+).

# %%
def show_pairs(b, rows, title):
    """Originals, edits and their difference for the pairs ``rows`` of benchmark ``b``."""
    fig, axes = plt.subplots(3, len(rows), figsize=(2.1 * len(rows) + 0.8, 6.6), squeeze=False, layout="constrained")
    for col, p in enumerate(rows):
        orig = np.asarray(Image.open(b.orig_images[p]).convert("RGB"), dtype=np.float32)
        edit = np.asarray(Image.open(b.edit_images[p]).convert("RGB"), dtype=np.float32)
        diff = np.sqrt(((orig - edit) ** 2).sum(-1))
        for row, img in enumerate((orig / 255, edit / 255, diff)):
            shown = axes[row, col].imshow(img, **({"cmap": "magma", "vmin": 0, "vmax": 255 * 3 ** 0.5} if row == 2
                                                 else {}))
            axes[row, col].axis("off")
        old, new = b.old[p], b.new[p]
        label = f"− {b.concepts[old]}" + (f"\n+ {b.concepts[new].split('::')[-1]}" if new >= 0 else "")
        axes[0, col].set_title(label.replace("has_", ""), fontsize=7)
    for row, name in enumerate(("original", "edit", "difference")):
        axes[row, 0].text(-0.08, 0.5, name, transform=axes[row, 0].transAxes, rotation=90, va="center", ha="right")
    fig.colorbar(shown, ax=axes[2, :], shrink=0.9, label="colour distance")
    fig.suptitle(title)


show_pairs(benchmarks["toy-syncub"], range(n_show), "toy-synCUB: one attribute swapped within its family")

# %% [markdown]
# The difference maps light up only where the edited part is drawn; everything else — pose, background, the other
# parts — is identical to the pixel. (A swap in the *size* family rescales the whole bird, so its difference covers
# the whole outline.) toy-synCOCO removes every instance of one category:

# %%
show_pairs(benchmarks["toy-syncoco"], range(n_show), "toy-synCOCO: one object category removed")

# %% [markdown]
# ## What the benchmark contains
#
# The rest of the chapter works on the benchmark named by the `benchmark` parameter. A pair's *family* is the
# family of the concept it removes (for synCOCO-like benchmarks each category is its own family). First, how
# many pairs edit each family, and whether a few families dominate:

# %%
pairs = benchmarks[benchmark] if benchmark in benchmarks else data.load_paired(benchmark)
groups = np.array(pairs.groups if pairs.groups is not None else pairs.concepts)
names = np.array(pairs.concepts)
per_pair = pd.DataFrame({"family": groups[pairs.old], "old": names[pairs.old],
                         "new": np.where(pairs.new >= 0, names[np.maximum(pairs.new, 0)], "(removed)")})
counts = per_pair.family.value_counts().rename_axis("family").reset_index(name="pairs")
ax = sns.barplot(data=counts, y="family", x="pairs", color="steelblue")
ax.set(title=f"{pairs.name}: pairs per edited family", xlabel="pairs", ylabel="family")
print(f"{pairs.n_pairs} pairs; per family: min {counts.pairs.min()}, max {counts.pairs.max()}")

# %% [markdown]
# Within one family, a pair swaps one value for another. For the family with most pairs, the swap matrix counts
# the pairs per direction (old → new); the diagonal is empty because a swap always changes the value, and a rare
# direction may have no pair at all:

# %%
if pairs.groups is not None:
    top = counts.family.iloc[0]
    sub = per_pair[per_pair.family == top]
    short = lambda s: s.split("::")[-1]  # noqa: E731
    swaps = pd.crosstab(sub.old.map(short), sub.new.map(short)).rename_axis(index="old value", columns="new value")
    ax = sns.heatmap(swaps, annot=True, fmt="d", cmap="Blues", cbar_kws={"label": "pairs"})
    ax.set_title(f"{top}: swaps old → new")
else:
    swaps = per_pair.old.value_counts().rename("pairs removing it").to_frame()
swaps

# %% [markdown]
# ### Label prevalence
#
# Matching runs on the **annotated images** (the unpaired set, with train/val/test splits), not on the pairs.
# How often each concept appears there matters: a concept on 2% of the images is hard to match by chance and
# easy to miss; one on 80% is matched by almost any broad latent. (For the Hub benchmarks these images come from
# the base dataset in `concepts_dir`; for the toy ones the renderer writes them as `unpaired.csv`.)

# %%
if benchmark in folders:
    table = data.load_toy_images(folders[benchmark])
elif "cub" in benchmark.lower():
    table = data.load_cub(concepts_dir)
else:
    table = data.load_coco(concepts_dir, config.coco_split)
prevalence = pd.DataFrame({"concept": table.names, "family": table.groups or table.names,
                           "prevalence": table.Y.mean(0)})
fig, ax = plt.subplots(figsize=(11, 3.2))
sns.barplot(data=prevalence, x="concept", y="prevalence", hue="family", dodge=False, ax=ax)
ax.set_xticks(range(len(prevalence)), [n.split("::")[-1] for n in prevalence.concept], rotation=90, fontsize=6)
ax.set(title=f"{table.n_samples} annotated images: share showing each concept", xlabel="concept (its value)",
       ylabel="share of the images")
ax.legend(title="family", bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=7, title_fontsize=8,
          ncol=1 + (prevalence.family.nunique() > 14))
plt.tight_layout()
if table.split is not None:
    print("images per split:", ", ".join(f"{k} {v:,}" for k, v in zip(*np.unique(table.split, return_counts=True))))
prevalence.groupby("family").prevalence.agg(["count", "min", "max"]).rename(columns={"count": "values"})

# %% [markdown]
# ## The layout on disk
#
# A benchmark folder — the Hub's synCUB and synCOCO as much as the toy ones — holds `images/`, one row per pair in
# `metadata.csv`, and the concept names in `attributes.txt` (synCUB: `<1-based id> <name>`) or `categories.txt`
# (synCOCO). Label columns are lists of **0-based** concept indices. The synCUB columns:

# %%
folder = Path(pairs.root)
print(sorted(p.name for p in folder.iterdir()))
pd.read_csv(folder / "metadata.csv").head(3)

# %% [markdown]
# - `old_attr_idx` / `old_attr`: the concept present in the original and absent after the edit (index and name
#   must agree); `new_attr_idx` / `new_attr`: absent → present;
# - `orig_attr_idx` / `syn_attr_idx`: all concepts of each image; they must differ in exactly `old` and `new`;
# - `class_id`, `class_name`: the species, kept by the edit.
#
# synCOCO has `removed_cls_idx` / `removed_class` and `orig_labels` / `syn_labels` instead (no `new`):

# %%
pd.read_csv(folders["toy-syncoco"] / "metadata.csv").head(3)

# %%
print((folder / ("attributes.txt" if pairs.groups is not None else "categories.txt")).read_text().splitlines()[:5])

# %% [markdown]
# `load_paired` checks every row before anything is computed on it: columns, indices in range, names agreeing
# with indices, unique pair ids, image paths that exist and stay inside the folder, and label lists that differ
# in exactly the stated concepts. A bad row fails with a message naming the file, the pair and the column. Here we
# copy the metadata and add a second change to the edited labels of the first pair:

# %%
with tempfile.TemporaryDirectory() as tmp:
    bad = pd.read_csv(folders["toy-syncub"] / "metadata.csv", dtype=str, keep_default_na=False)
    labels = json.loads(bad.loc[0, "syn_attr_idx"])
    extra = next(j for j in range(len(benchmarks["toy-syncub"].concepts)) if j not in labels)
    bad.loc[0, "syn_attr_idx"] = json.dumps(sorted(labels + [extra]))
    bad.to_csv(Path(tmp) / "metadata.csv", index=False)
    shutil.copy(folders["toy-syncub"] / "attributes.txt", tmp)
    try:
        data.load_paired(tmp)
    except DataError as e:
        print("DataError:", str(e).replace(tmp, "<the copy>"))

# %% [markdown]
# ## The Hub's synCUB and synCOCO
#
# The same loader reads the published benchmarks: give it the Hub name instead of a folder. It downloads only
# the data files (`metadata.csv`, the names, `images/**`, the card) at a **pinned revision** — the loader
# scripts those repositories also ship are never downloaded or run. Nothing is downloaded on this page; the
# calls would be:
#
# ```python
# pairs = data.load_paired("syncub")                      # the kit's pinned revision
# pairs = data.load_paired("syncoco", revision="v1.0")    # an older release, explicitly
# data_ = prepare(PipelineConfig(benchmark="syncub", encoder="open_clip:ViT-L-14/openai",
#                                concepts_dir="/data/CUB_200_2011"), cache_dir)
# ```
#
# or, for a whole chapter, `papermill ... -p benchmark syncub -p concepts_dir /data/CUB_200_2011`. The pinned
# repositories and revisions:

# %%
from kit.data import hub  # noqa: E402

pd.DataFrame([{"name": k, "repository": r, "default revision": d, "known revisions": ", ".join(v)}
              for k, (r, d, v) in hub.BENCHMARKS.items()]).set_index("name")

# %% [markdown]
# A revision the kit was not checked against is refused before any network access:

# %%
try:
    data.load_paired("syncoco", revision="main")
except ConfigError as e:
    print("ConfigError:", e)

# %% [markdown]
# ## Building a new benchmark with an image editor
#
# synCUB and synCOCO were made by editing real photographs. {func}`kit.data.build` repeats the recipe for any annotated
# image set:
#
# 1. **choose the edits** — for swaps, per class its most frequent attributes (`top_attributes`) and for each
#    up to `max_targets` other values of the same family, the least frequent in the class first; for removals,
#    per image the category with the fewest instances (ties → the largest area), as synCOCO chose them;
# 2. **write a one-change instruction** that also lists what must stay as it is;
# 3. **edit** each base image with a diffusers image-editing pipeline chosen by name (FLUX.2 dev by default;
#    FLUX.1 Kontext and InstructPix2Pix {cite}`brooks2023instructpix2pix` are one parameter away);
# 4. **verify** each pair with a linear probe on embeddings: the changed concepts must flip the right way on
#    the two images, and at most `max_other_flips` other concepts may flip;
# 5. **export** the pairs that pass, in the Hub layout, with each pair's verification score.
#
# Step 1 on the toy annotated images, with the species as classes:

# %%
unpaired = pd.read_csv(folders["toy-syncub"] / "unpaired.csv")
birds = data.load_toy_images(folders["toy-syncub"])
plan = choose_swaps(birds.Y, unpaired.class_id.to_numpy(), birds.groups, top_attributes=3, max_targets=2,
                             seed=seed)
print(f"{len(plan)} edits planned for {unpaired.class_id.nunique()} species")
plan.head(4).assign(old=lambda d: [birds.names[j] for j in d.old], new=lambda d: [birds.names[j] for j in d.new])

# %% [markdown]
# Step 2, the instruction the editor receives for the first planned edit:

# %%
r, o, n = plan.iloc[0][["row", "old", "new"]]
print(instruction(birds.names, birds.groups, birds.Y[r], o, n))

# %% [markdown]
# ### Verification: the probe decides which edits count
#
# An editor may fail to make the change, or make more than one. Step 4 fits one ridge probe per concept on the
# embeddings of the annotated images, then scores each pair: the smallest margin by which the changed concepts
# flip (positive when all flip the right way) and the number of other concepts whose prediction flips. To see
# what this filter does we run it where the right answer is known: on the pairs of both toy benchmarks, whose
# edits are exact, and on two broken editors made from them — one that returns the image unchanged, and one that
# returns another pair's edit. A good filter keeps the exact edits and rejects the broken ones.

# %%
def verification(prep, max_other_flips=1):
    """The three editors on the exact pairs of ``prep``: editor → (keep, score, other_flips) of ``verify``,
    with the probe fitted on the train split."""
    Xtr, Ytr = prep.split("train")
    W, b0 = fit_probe(Xtr, Ytr)
    Xo, Xe = prep.X_orig.X, prep.X_edit.X
    shuffled = np.random.default_rng(seed).permutation(len(Xe))
    editors = {"exact edits": Xe, "no change": Xo, "another pair's edit": Xe[shuffled]}
    return {name: verify(Xo, edited, prep.pairs.old, prep.pairs.new, W, b0, max_other_flips)
            for name, edited in editors.items()}


toy_data = {name: prepare(dataclasses.replace(config, benchmark=name, concepts_dir=None), cache_dir)
            for name in ("toy-syncoco", "toy-syncub")}
checked = {name: verification(d) for name, d in toy_data.items()}
rows, scores = [], []
for bench, by_editor in checked.items():
    for editor, (keep, score, other) in by_editor.items():
        rows.append({"benchmark": bench, "editor": editor, "kept": keep.mean(),
                     "changed concepts flip (score > 0)": (score > 0).mean(), "median score": np.median(score),
                     "mean other flips": other.mean()})
        scores.append(pd.DataFrame({"benchmark": bench, "editor": editor, "verification score": score}))
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
for ax, bench in zip(axes, checked):
    sns.histplot(data=pd.concat(scores).query("benchmark == @bench"), x="verification score", hue="editor",
                 element="step", bins=60, ax=ax)
    ax.axvline(0, color="k", lw=1)
    ax.set(title=f"{bench} ({'removals' if bench == 'toy-syncoco' else 'swaps'})", ylabel="pairs")
fig.suptitle("Verification scores (> 0: the changed concepts flip the right way)")
plt.tight_layout()
verified = pd.DataFrame(rows).set_index(["benchmark", "editor"])
verified.assign(**{c: verified[c].map("{:.1%}".format) for c in ("kept", "changed concepts flip (score > 0)")}).round(2)

# %% [markdown]
# The removals are where the probe can judge: a removal takes a whole object out of the scene (an edit moves a
# toy-synCOCO image about 0.44 spreads, a toy-synCUB swap 0.26: [Embeddings](03_embeddings.ipynb)). Per category,
# the share of exact removals the filter keeps against how well the probe reads the category on held-out images:

# %%
scenes = toy_data["toy-syncoco"]
Xtr, Ytr = scenes.split("train")
Xte, Yte = scenes.split("test")
W, b0 = fit_probe(Xtr, Ytr)
S = Xte @ W + b0
keep = checked["toy-syncoco"]["exact edits"][0]
removed = scenes.pairs.old
per_category = pd.DataFrame({
    "category": scenes.pairs.concepts,
    "probe AUROC (held out)": [roc_auc_score(Yte[:, c], S[:, c]) if 0 < Yte[:, c].sum() < len(Yte) else np.nan
                               for c in range(Yte.shape[1])],
    "exact removals": np.bincount(removed, minlength=Yte.shape[1]),
    "kept": np.bincount(removed, weights=keep, minlength=Yte.shape[1]),
}).query("`exact removals` > 0")
per_category["share kept"] = per_category.kept / per_category["exact removals"]
ax = sns.scatterplot(data=per_category, x="probe AUROC (held out)", y="share kept", size="exact removals",
                     sizes=(15, 150))
for _, r in per_category.nlargest(5, "share kept").iterrows():
    ax.annotate(r.category, (r["probe AUROC (held out)"], r["share kept"]), fontsize=7, xytext=(4, 2),
                textcoords="offset points")
ax.set(title="toy-synCOCO: exact removals kept, per removed category", ylim=(-0.03, 1))
ax.legend(title="removals of it", fontsize=7, title_fontsize=7, loc="upper left");

# %% tags=["remove-input"]
kept_of = verified["kept"]
other_edit = kept_of["toy-syncoco", "another pair's edit"]
other_flip = verified.loc[("toy-syncoco", "another pair's edit"), "changed concepts flip (score > 0)"]
good = per_category[per_category["probe AUROC (held out)"] >= 0.95]
poor = per_category[per_category["probe AUROC (held out)"] < 0.8]
Markdown(
    f"**On removals the filter works.** On toy-synCOCO it keeps {kept_of['toy-syncoco', 'exact edits']:.0%} of the "
    f"exact removals, {kept_of['toy-syncoco', 'no change']:.0%} of the unchanged images (which can never pass: the "
    "removed concept's score is the same on both images) and "
    f"{other_edit:.0%} of the other pairs' images — another scene often lacks the object too "
    f"(in {other_flip:.0%} of these pairs the removed concept flips), and the limit on other flips rejects "
    f"{1 - other_edit / other_flip if other_flip else 0:.0%} of those. What it keeps follows how well the probe reads the "
    f"category: {good.kept.sum() / max(good['exact removals'].sum(), 1):.0%} of the exact removals of the "
    f"{len(good)} categories it reads best (held-out AUROC ≥ 0.95: {', '.join(good.category)}), "
    f"{poor.kept.sum() / max(poor['exact removals'].sum(), 1):.0%} of those of the {len(poor)} it reads worst "
    "(AUROC < 0.8).\n\n"
    f"**A failure mode: single-part swaps.** On toy-synCUB the same filter keeps "
    f"{kept_of['toy-syncub', 'exact edits']:.1%} of the exact edits — the edits are right, the probe is the weak "
    "link. It reads many attributes from cues that usually come with them (the species) rather than from the part "
    "itself, so an edit that changes one part alone rarely moves it across its threshold; "
    "[Embeddings](03_embeddings.ipynb) measures, family by family, how rarely the best linear read-out follows "
    "these edits. Verification is only as good as the probe and the embeddings it reads, which is why a real build "
    "verifies with a strong encoder (CLIP ViT-L/14) and reports each pair's score in the metadata."
)

# %% [markdown]
# ### The whole build, offline
#
# `build` takes the editor as an object: anything called like a diffusers pipeline,
# `editor(prompt=..., image=..., generator=...)` returning `.images`. A real run loads FLUX.2 dev on a GPU:
#
# ```python
# clip = embed.load_encoder("open_clip:ViT-L-14/openai", device="cuda")   # loaded once, used for every chunk
# folder = data.build(table, "my-bench", kind="swap", classes=classes, class_names=class_names,
#                         embed=lambda ims: embed.embed_images(ims, clip, progress=False).X,
#                         config=data.BuildConfig(editor="flux2-dev"), device="cuda")
# ```
#
# Editing is the expensive step (seconds per image on a GPU), so `build` writes each chunk of edited images to
# `my-bench.partial/` as it goes: an interrupted build, run again with the same arguments, edits only the chunks
# that are missing, and a build that fails verification keeps its edits for a second try with other
# verification settings. The finished benchmark appears at once, and the partial folder is then removed.
#
# To run the same path here, we write a deliberately crude editor that parses the instruction and **recolours
# pixels**: every pixel close to the old colour becomes the new colour. It cannot change shapes, and it recolours
# *every* part of that colour, not only the one named. Its edits are bird swaps, verified by the toy encoder's
# probe — the failure mode above, so this run is **shown as a failure on purpose**: it goes through every step
# (plan, instructions, edits in chunks, verification) and ends where a build whose verifier cannot see its edits
# must end, with `build` refusing to write an empty benchmark.

# %%
from kit.data.toy_birds import COLORS, EYE_COLORS  # noqa: E402


class RecolourEditor:
    """A stand-in image editor: 'from OLD to NEW' colours in the prompt → every pixel near OLD becomes NEW."""

    def __call__(self, prompt, image, generator=None, **settings):
        m = re.search(r"(\w+) color from (\w+) to (\w+)\.", prompt)
        a = np.asarray(image, dtype=np.float32)
        if m:
            palette = EYE_COLORS if m.group(1) == "eye" else COLORS
            old, new = (np.array(palette[c], dtype=np.float32) for c in m.groups()[1:])
            near = np.linalg.norm(a - old, axis=-1) < 40
            a[near] = new
        return SimpleNamespace(images=[Image.fromarray(a.astype(np.uint8))])


from kit import embed  # noqa: E402

bird_data = toy_data["toy-syncub"]
toy_encoder = embed.load_encoder(encoder, device=device)
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    try:
        out = data.build(birds, Path(tmp) / "recoloured", kind="swap", classes=unpaired.class_id.to_numpy(),
                         class_names=unpaired.class_name.to_numpy(), X_base=bird_data.X.X, editor=RecolourEditor(),
                         embed=lambda ims: embed.embed_images(ims, toy_encoder, device=device, num_workers=0,
                                                              progress=False).X,
                         config=data.BuildConfig(editor="recolour", top_attributes=11, max_targets=1, size=96,
                                                 seed=seed), progress=False)
    except DataError as e:  # raised when no edited pair passes verification
        out = None
        print("DataError:", str(e).replace(tmp, "<temporary folder>"))
    if out is not None:
        built = data.load_paired(out)
        build_record = json.loads((out / "build_config.json").read_text())
        show_pairs(built, range(min(n_show, built.n_pairs)), "built by the recolouring editor, after verification")
        print(f"built in {time.perf_counter() - t0:.1f} s: {build_record['n_kept']} of {build_record['n_planned']} "
              "planned pairs passed verification")
        kept = pd.crosstab(np.array(built.groups)[built.old], "pairs kept").rename_axis(index="family", columns=None)
        display(kept.T)

# %% tags=["remove-input"]
why = ("this crude editor cannot change shapes and recolours *every* part of the old colour (other concepts flip "
       "with the named one), and the toy encoder's probe keeps only "
       f"{verified.loc[('toy-syncub', 'exact edits'), 'kept']:.1%} even of *exact* swaps (the verification table "
       "above)")
Markdown(
    "**The failure mode, as expected:** none of the recoloured pairs passed verification, so `build` refused to "
    f"write an empty benchmark (the `DataError` above, which says where the edits are kept for another try): {why}."
    if out is None else
    f"Here {build_record['n_kept']} of the {build_record['n_planned']} planned pairs passed verification, although "
    f"{why}. When none passes, `build` refuses to write an empty benchmark."
)

# %% [markdown]
# Whatever the editor, a successful `build` ends the same way: a folder in the Hub layout that `load_paired` reads
# back, with the extra columns `verification_score`, `other_flips`, `instruction` and `base_image`, and a
# `build_config.json` recording the configuration, the editor and how many of the planned pairs were kept.
#
# ## Publishing with a dataset card
#
# A benchmark is published as a Hugging Face dataset repository holding the same layout the loader reads, a
# **dataset card** (`README.md`: YAML front matter for the Hub — licence, size, source datasets, tags, the
# viewer's configurations — then prose), and Parquet files through which the Hub's viewer shows both images of
# each pair. The card is a template from `data_cards/` (one each for synCUB, synCOCO and their toy twins) whose
# `${placeholders}` are filled with the real counts of the folder: pairs, images, concepts, the edits, how it
# was rendered or built.
#
# `kit.data.publish(folder, "owner/name", tag="v1.0")` uploads (with the token of the logged-in user)
# and tags the commit so that loaders can pin it. With `dry_run_dir` it writes exactly the folder it would
# upload, and uploads nothing — here into a temporary directory, for the toy-synCUB benchmark. The folder loads
# with the kit's loader and, as it is, with `datasets.load_dataset` (the concept indices as named `ClassLabel`s;
# configs `unpaired` and `attributes` beside the pairs):

# %%
import datasets  # noqa: E402

datasets.disable_progress_bars()
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    upload = Path(data.publish(folders["toy-syncub"], "your-name/toy-syncub", dry_run_dir=Path(tmp) / "upload"))
    listing = sorted(str(p.relative_to(upload)) for p in upload.rglob("*") if "images" not in p.parts)
    card = (upload / "README.md").read_text(encoding="utf-8")
    reread = data.load_paired(upload)
    pairs = datasets.load_dataset(str(upload), split="test", cache_dir=str(Path(tmp) / "hf"))
print(f"dry run written in {time.perf_counter() - t0:.1f} s; besides images/ it holds:", listing)
print(f"the upload folder loads back: {reread.n_pairs} pairs with the kit's loader, {pairs.num_rows} rows with "
      f"datasets.load_dataset")
old_names = pairs.features["old_attr_idx"].names
print(f"old_attr_idx is a ClassLabel of {len(old_names)} names; the first pair swaps "
      f"{old_names[pairs[0]['old_attr_idx']]!r} for {old_names[pairs[0]['new_attr_idx']]!r}")
_, front_matter, body = card.split("---\n", 2)
meta = yaml.safe_load(front_matter)
print("the card's front matter:", ", ".join(meta), "\nconfigs:", [c["config_name"] for c in meta["configs"]])

# %% [markdown]
# Below the front matter, the card's prose with the filled-in numbers:

# %%
print(body[:900])

# %% [markdown]
# ## Exercises
#
# **1.** The difference maps of toy-synCUB are exactly zero outside the edited part. Would they be for synCUB?
# What does {term}`TAPAScore` have to tolerate as a result?
#
# ```{admonition} Solution
# :class: dropdown
# No. A diffusion editor regenerates the whole image, so every pixel changes a little (texture, noise, lighting),
# and sometimes an unrelated part changes a lot. The verification step removes pairs where the probe sees other
# concepts flip, but small changes remain. TAPAScore therefore asks only whether the matched latents of the
# edited concepts *switch* on or off (binary activity, not the size of the change), its selectivity part Δ_stay
# measures how much the other concepts' latents move rather than requiring them to stay exactly still, and the
# book reads every score next to that of an untrained SAE on the same pairs.
# ```
#
# **2.** Why does synCOCO remove objects instead of swapping them, and what does that mean for the `new` column?
#
# ```{admonition} Solution
# :class: dropdown
# COCO categories are not values of one attribute: there is no natural "other value" of *dog* that the same
# scene would hold in its place, while removing an object and inpainting background is a well-posed edit. So a
# synCOCO pair only switches one concept off; `new` is −1 and TAPAScore's "switched on" part is empty for it.
# ```
#
# **3.** Change the recolouring editor so that it only recolours the *named part* — why is this impossible from
# the pixels alone, and what would a real editor use instead?
#
# ```{admonition} Solution
# :class: dropdown
# The editor only sees the RGB image and the instruction; two parts of the same colour are indistinguishable by
# colour, so it would need to know where the wing is. A diffusion editor knows this implicitly: it has learned
# what a wing looks like and conditions on the instruction. (For the toy birds one could re-render from the
# specification — which is exactly how the toy benchmark makes its exact pairs.)
# ```
#
# **4.** Rerun the verification table with `max_other_flips=0` (`verification(d, max_other_flips=0)` for each
# benchmark). Which editor's share of kept pairs changes most?
#
# ```{admonition} Solution
# :class: dropdown
# *Another pair's edit*. In the offline default run on toy-synCOCO its kept share falls from 13.2% to 3.6%,
# while the exact removals fall from 30.4% to 23.4%: another scene differs in many concepts besides the removed
# one, so forbidding every other flip rejects most of the broken pairs and only the exact removals that move one
# near-threshold concept. *No change* cannot pass at any setting: the old concept's score is the same on both
# images, so it cannot be positive on one and negative on the other. On toy-synCUB the exact swaps fall from
# 0.3% to 0.0%, and the broken editors keep none at either setting.
# ```
