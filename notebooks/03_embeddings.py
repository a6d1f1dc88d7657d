# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Embeddings: what the SAE is trained on
#
# A sparse autoencoder never sees pixels. It sees the **embeddings** of a frozen vision encoder: one vector
# $x \in \mathbb{R}^d$ per image, and its job is to rewrite that vector as a sparse combination of learned
# directions. Whatever the SAE can find — a "blue wing" latent or none — must already be in these vectors. This
# chapter looks at them before any SAE touches them.
#
# Which vector, exactly, matters. The paper {cite}`klotz2026evaluating` uses:
#
# - **CLIP ViT-L/14** {cite}`radford2021clip` — the **projected image embedding**, the 768-d output of
#   `encode_image` that CLIP aligns with its text embeddings (not L2-normalised here). Because it lives in the same
#   space as text, captions can be ranked against it.
# - **DINOv2** {cite}`oquab2023dinov2` — the **CLS token** after the final layer norm (384-d for ViT-S/14,
#   1024-d for ViT-L/14). Self-supervised, with no text tower.
# - **The kit's toy encoder** (offline default) — a small CNN image tower and a word-level text tower, trained by
#   the kit CLIP-style on captions of toy-synCUB birds ("a bird with wing color blue, bill shape cone, …"),
#   128-d. It ships with the repository, so the whole book runs without a download.
#
# All three are behind one call, `kit.embed.load_encoder(name)`, and one extraction function that batches,
# caches on disk and records how every vector was made. Then we ask two questions of the vectors: do images
# with the same attribute cluster (a 2-D map), and is each attribute **linearly readable** (a probe)? If a
# linear probe can read "wing colour" from $x$, an SAE — a linear encoder with a sparsity constraint — has a
# chance to find it.

# %% tags=["parameters"]
smoke = False          # tiny sizes so the tests run this page in seconds
seed = 0               # seed of the subsamples, t-SNE and the probes
cache_dir = ".cache"   # rendered benchmarks and embeddings are cached here, shared by all chapters
benchmark = "toy-syncub"
encoder = "toy"
concepts_dir = ""
device = "auto"
n_pairs = 2000
n_images = 3000
embed_batch_size = 256  # images per forward pass of the encoder
n_cache_demo = 512     # images embedded twice to show the cache
n_tsne = 1000          # points in the t-SNE map
family = "has_wing_color"  # the concept family that colours the maps

# %%
import json
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kit import embed
from kit.pipeline import PipelineConfig, prepare

if smoke:
    n_pairs, n_images, n_cache_demo, n_tsne = 120, 300, 64, 300
sns.set_theme(style="whitegrid")
warnings.filterwarnings("ignore", message=".*(IProgress not found|DataLoader will create).*")

# %% [markdown]
# ## The encoder
#
# `load_encoder` takes a registry name: `toy`, `open_clip:MODEL/PRETRAINED` (e.g. `open_clip:ViT-L-14/openai`),
# `dinov2:REPO[@REVISION]` (e.g. `dinov2:facebook/dinov2-small`). It returns an object with the embedding
# dimension, the preprocessing (PIL image → tensor), `encode_images`, and, for CLIP-like encoders, `encode_texts`.

# %%
enc = embed.load_encoder(encoder, device=device)
print(enc)
print("families known to the registry:", embed.known_prefixes())
print("dimension d =", enc.dim, "| text tower:", enc.supports_text)
print("preprocessing:", enc.preprocess)

# %% [markdown]
# Every encoder also carries a **provenance** record: what model, which weights (for the toy encoder the SHA-256
# of its parameters), which preprocessing. The extraction adds the image list's hash, the numeric precision and
# the kit version; the record keys the cache, so changing any of these computes new embeddings rather than
# silently reusing old ones.

# %%
print(json.dumps(enc.provenance, indent=1))

# %% [markdown]
# The real backbones are loaded the same way (not run here, they need a download):
#
# ```python
# clip = embed.load_encoder("open_clip:ViT-L-14/openai")       # dim 768: projected image embedding
# dino = embed.load_encoder("dinov2:facebook/dinov2-small")    # dim 384: CLS token after the final norm
# X = embed.embed_images(paths, clip, cache_dir=".cache/embeddings").X
# ```
#
# The toy encoder's weights come with a training record written by `python -m kit.embed.train_toy`: the
# configuration, the data, and held-out figures (mean probe AUROC over concepts, caption top-1 accuracy):

# %%
record_path = Path(embed.registry.__file__).parent.parent / "assets" / "toy_encoder.json"
if encoder == "toy" and record_path.is_file():
    record = json.loads(record_path.read_text())
    print(json.dumps({k: record[k] for k in ("command", "heldout", "train_seconds") if k in record}, indent=1))

# %% [markdown]
# ## Extraction in batches, with a cache
#
# `embed_images(images, encoder, batch_size, cache_dir=...)` decodes the images in DataLoader workers, runs the
# encoder one batch at a time (bf16 autocast on a GPU) and writes the rows into shards under `cache_dir`. A second
# call with the same encoder and the same image list finds the shards and only reads them. We embed a few hundred
# of the benchmark's images into a fresh cache, twice:

# %%
config = PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                        concepts_dir=concepts_dir or None, seed=seed, device=device, batch_size=embed_batch_size)
data = prepare(config, cache_dir)
concepts = data.concepts
images = concepts.images[:n_cache_demo]

with tempfile.TemporaryDirectory() as demo_cache:
    t0 = time.perf_counter()
    first = embed.embed_images(images, enc, batch_size=embed_batch_size, device=device, cache_dir=demo_cache,
                               progress=False)
    t1 = time.perf_counter()
    second = embed.embed_images(images, enc, batch_size=embed_batch_size, device=device, cache_dir=demo_cache,
                                progress=False)
    t2 = time.perf_counter()
    entry = Path(first.provenance["cache"])
    layout = sorted(str(p.relative_to(entry)) for p in entry.rglob("*") if p.parent in (entry, entry / "shards"))
print(f"{len(images)} images: computed in {t1 - t0:.2f} s, read from the cache in {t2 - t1:.2f} s "
      f"({(t1 - t0) / max(t2 - t1, 1e-9):.0f}× faster); identical: {np.array_equal(first.X, second.X)}")
print(f"cache entry {entry.name}/ holds:", layout)

# %% [markdown]
# The result is an `Embeddings`: `X: float32[N, d]`, the sample ids, and the full provenance record — the record
# every later stage (SAE training, results tables) carries along:

# %%
print(first.X.shape, first.X.dtype)
print(json.dumps({k: v for k, v in second.provenance.items() if k != "checkpoint"}, indent=1))

# %% [markdown]
# `prepare` (above) did the same for all the annotated images and both images of every pair, into the shared
# cache under `cache_dir`, so the other chapters read these vectors instead of recomputing them:

# %%
print(f"annotated images: X {data.X.X.shape}; pairs: X_orig {data.X_orig.X.shape}, X_edit {data.X_edit.X.shape}")
norms = np.linalg.norm(data.X.X, axis=1)
print(f"embedding norms: median {np.median(norms):.2f}, 5–95% {np.percentile(norms, 5):.2f}–"
      f"{np.percentile(norms, 95):.2f}")

# %% [markdown]
# ## A map of the embeddings
#
# Two 2-D views of the annotated images, coloured by the value each image has in one concept family: PCA (the
# two directions of largest variance: a linear view) and t-SNE (neighbourhoods preserved: a non-linear view).

# %%
fams = concepts.families()
multi = [f for f, idx in fams.items() if len(idx) > 1]
if family not in fams:
    family = multi[0] if multi else max(fams, key=lambda f: concepts.Y[:, fams[f][0]].mean())
idx = fams[family]
if len(idx) > 1:
    value = np.array([concepts.names[j].split("::")[-1] for j in idx])[concepts.Y[:, idx].argmax(1)]
    value = np.where(concepts.Y[:, idx].any(1), value, "(none)")
else:
    value = np.where(concepts.Y[:, idx[0]], family, f"no {family}")
from kit.data.toy_birds import COLORS  # noqa: E402

palette = {v: np.array(COLORS[v]) / 255 for v in np.unique(value) if v in COLORS} or None

rng = np.random.default_rng(seed)
sub = rng.choice(concepts.n_samples, size=min(n_tsne, concepts.n_samples), replace=False)
X = data.X.X
t0 = time.perf_counter()
pca = PCA(n_components=2, random_state=seed).fit(X)
views = {f"PCA ({pca.explained_variance_ratio_.sum():.0%} of the variance)": pca.transform(X[sub]),
         "t-SNE": TSNE(n_components=2, init="pca", perplexity=30, random_state=seed).fit_transform(X[sub])}
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, (title, P) in zip(axes, views.items()):
    sns.scatterplot(x=P[:, 0], y=P[:, 1], hue=value[sub], palette=palette, s=9, linewidth=0.2, edgecolor="k",
                    ax=ax, legend=ax is axes[-1])
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
axes[-1].legend(title=family, bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
fig.suptitle(f"{len(sub)} images, {enc.name} embeddings, coloured by {family}")
plt.tight_layout()
print(f"maps computed in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# PCA, the linear view, mixes the colours: the two directions of largest variance are not about wing colour
# alone. t-SNE separates them into tight clusters, several per colour — birds that agree in many attributes at
# once (a colour is shared by several species) end up together.
#
# A map shows at most what two dimensions can hold; the embedding has `d` of them and all the families share
# them. The sharper question is whether each family can be *read off* linearly.
#
# ## Linear probes: the attributes are there before any SAE
#
# For each family, a logistic-regression probe predicts the family's value from $x$ (multinomial when one value
# per image, as in toy-synCUB; one binary probe for a single concept such as a COCO category). It is fitted on the
# *train* split and scored on the *test* split. The baseline always predicts the most frequent value.

# %%
X_train, Y_train = data.split("train")
X_test, Y_test = data.split("test")


def target(Y, idx):
    """One label per image: the index of the family's value (or presence of a single concept)."""
    return Y[:, idx].argmax(1) if len(idx) > 1 else Y[:, idx[0]].astype(int)


rows = []
probes = {}
t0 = time.perf_counter()
for fam, idx in fams.items():
    y_tr, y_te = target(Y_train, idx), target(Y_test, idx)
    if len(np.unique(y_tr)) < 2:
        continue
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(X_train, y_tr)
    probes[fam] = probe
    majority = np.bincount(y_tr).argmax()
    rows.append({"family": fam, "values": len(idx), "probe accuracy": probe.score(X_test, y_te),
                 "majority baseline": float(np.mean(y_te == majority))})
probe_table = pd.DataFrame(rows).set_index("family").sort_values("probe accuracy")
print(f"{len(probes)} probes fitted in {time.perf_counter() - t0:.1f} s")
ax = probe_table[["majority baseline", "probe accuracy"]].plot.barh(figsize=(7, 0.35 * len(probe_table) + 1.2))
ax.set_xlim(0, 1)
ax.set_title(f"Held-out accuracy of linear probes on {enc.name} embeddings")
probe_table.round(3)

# %% [markdown]
# ### Do the probes follow the edits?
#
# The pairs give a stricter test: on a pair that swaps a family's value, the probe for that family should read
# the *old* value on the original and the *new* value on the edit. This is the question TAPAScore will ask of
# SAE latents — here asked of the best linear read-out, as a ceiling.

# %%
pairs = data.pairs
if pairs.groups is not None:
    pair_fam = np.array(pairs.groups)[pairs.old]
    flip_rows = []
    for fam, probe in probes.items():
        idx = fams[fam]
        m = (pair_fam == fam) & (pairs.new >= 0)
        if len(idx) < 2 or not m.any():
            continue
        pos = {j: k for k, j in enumerate(idx)}
        old_v = np.array([pos[j] for j in pairs.old[m]])
        new_v = np.array([pos[j] for j in pairs.new[m]])
        p_orig, p_edit = probe.predict(data.X_orig.X[m]), probe.predict(data.X_edit.X[m])
        flip_rows.append({"family": fam, "pairs": int(m.sum()), "right on the original": np.mean(p_orig == old_v),
                          "right on the edit": np.mean(p_edit == new_v),
                          "edit still read as the old value": np.mean(p_edit == old_v),
                          "probe follows the edit": np.mean((p_orig == old_v) & (p_edit == new_v))})
    flips = pd.DataFrame(flip_rows).set_index("family").sort_values("probe follows the edit")
else:
    flips = pd.DataFrame({"note": ["removal pairs: see chapter TAPAScore"]})
flips.round(3)

# %%
from IPython.display import Markdown  # noqa: E402

margin = probe_table["probe accuracy"] - probe_table["majority baseline"]
text = (f"The probes beat the majority baseline on held-out annotated images in {(margin > 0).sum()} of "
        f"{len(margin)} families (by {margin.min():.2f} to {margin.max():.2f} in accuracy).")
if "probe follows the edit" in flips:
    follow = flips["probe follows the edit"]
    short = lambda f: f.removeprefix("has_").replace("_", " ")  # noqa: E731
    listing = lambda s: ", ".join(f"{short(f)} ({v:.0%})" for f, v in s.items())  # noqa: E731
    n_top = min(4, len(follow) // 2)
    text += (f" On the pairs, the probe follows the edit (old value on the original, new value on the edit) less "
             f"often than its held-out accuracy in {(follow < probe_table.loc[follow.index, 'probe accuracy']).sum()} "
             f"of {len(follow)} families. It is right on the original in "
             f"{flips['right on the original'].min():.0%}–{flips['right on the original'].max():.0%} of the pairs, "
             f"but on the edit in {flips['right on the edit'].min():.0%}–{flips['right on the edit'].max():.0%}, "
             f"and in {(flips['edit still read as the old value'] > flips['right on the edit']).sum()} families the "
             f"edit is more often still read as the old value than as the new one. The edits followed most often: "
             f"{listing(follow[::-1][:n_top])}; least often: {listing(follow[:3])}.")
Markdown(text)

# %% [markdown]
# This is the distinction the paired benchmarks were made for. In toy-synCUB every species has a typical value in
# each family, so a probe can get a family right from the other attributes that usually come with it — a bill
# shape from the colours and the size of the bird; the annotations reward that shortcut, while a pair, which
# changes one part alone, exposes it. An SAE trained on these embeddings can only be as faithful to a concept as
# the embeddings themselves: keep this table in mind when reading TAPAScore per family.

# %% [markdown]
# ## The text tower
#
# A CLIP-like encoder embeds text into the same space, so an image's embedding can be compared with captions by
# cosine similarity. Below, one test image against its own caption and against the captions that differ from it
# in one value of the mapped family (only a CLIP-like encoder has a text tower: DINOv2 skips this section).

# %%
from kit.embed.train_toy import caption, caption_top1  # noqa: E402

test = concepts.subset("test")
if enc.supports_text and concepts.groups is not None:
    i = 0
    present = [concepts.names[j] for j in np.flatnonzero(test.Y[i])]
    true_value = next(n for n in present if n.startswith(family + "::"))
    options = [concepts.names[j] for j in fams[family]]
    texts = [caption([o if n == true_value else n for n in present]) for o in options]
    T = embed.embed_texts(texts, enc, device=device)
    x = embed.embed_images([test.images[i]], enc, device=device, num_workers=0, progress=False).X
    unit = lambda A: A / np.linalg.norm(A, axis=1, keepdims=True)  # noqa: E731
    sims = (unit(x) @ unit(T).T)[0]
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1, 3]})
    a0.imshow(Image.open(test.images[i]))
    a0.axis("off")
    a0.set_title("test image 0", fontsize=9)
    order = np.argsort(sims)
    a1.barh([options[k].split("::")[-1] for k in order], sims[order],
            color=["crimson" if options[k] == true_value else "grey" for k in order])
    pad = 0.15 * (sims.max() - sims.min()) + 1e-6
    a1.set_xlim(sims.min() - pad, sims.max() + pad)
    a1.set_xlabel("cosine similarity to the image")
    a1.set_title(f"captions differing in {family} (red: the true value)", fontsize=9)
    plt.tight_layout()
    print("true caption:", caption(present))
else:
    print(f"{enc.name} has no text tower (or the benchmark has no attribute families): skipped")

# %% [markdown]
# And over the whole test split: for each image, does its own caption rank first among all the distinct captions
# of the test images?

# %%
if enc.supports_text and concepts.groups is not None:
    own = [caption([concepts.names[j] for j in np.flatnonzero(y)]) for y in test.Y]
    unique = sorted(set(own))
    test_X = data.X.X[concepts.split == "test"]
    top1 = caption_top1(test_X, own, embed.embed_texts(unique, enc, device=device), unique)
    print(f"{len(own)} test images, {len(unique)} distinct captions: own caption ranked first for {top1:.1%} "
          f"(chance {1 / len(unique):.2%})")

# %% [markdown]
# ## Exercises
#
# **1.** Rerun this page with `family = "has_bill_shape"` (`-p family has_bill_shape`). Does the map separate bill
# shapes as well as wing colours? Compare with the probe table.
#
# ```{admonition} Solution
# :class: dropdown
# Both maps look much like the wing-colour maps: PCA mixes the values, and in the offline default run the t-SNE
# clusters are about as pure in bill shape as in wing colour. That is not evidence that the bill is read: the
# clusters are groups of birds that agree in many attributes at once (mostly one species each), and every species
# has a typical bill shape, so any family looks clustered. The probe table is a better judge: each probe reads its
# family along its own direction, however little of the variance that direction carries, and the bill-shape
# probe is less accurate than the wing-colour one. The pair table is the strictest: it shows whether the probe
# reads the bill itself — and it almost never follows a bill-shape edit, while it follows about half of the
# wing-colour edits.
# ```
#
# **2.** The cache key includes the hash of the image list. What happens if you embed the same images in another
# order — and why is that the right behaviour?
#
# ```{admonition} Solution
# :class: dropdown
# Another order gives another hash, so another cache entry is computed. The cache stores rows by position; if it
# served the old entry, row $i$ would hold the embedding of a different image. Keying by the ordered list makes
# a wrong match impossible, at the cost of recomputing for a reordering.
# ```
#
# **3.** A probe reaches high accuracy for a family. Does that guarantee that an SAE trained on the same
# embeddings has a latent (or a coalition) for each of its values?
#
# ```{admonition} Solution
# :class: dropdown
# No. The probe is supervised: it is told which images have which value and finds the best direction for it.
# The SAE is unsupervised: it chooses directions that reconstruct the embeddings sparsely, and may merge values,
# split them by pose or context, or spend its latents on other structure. The probe shows the information is
# linearly *available*; the matching chapters measure whether the SAE *uses* it.
# ```
