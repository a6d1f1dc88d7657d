# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Quickstart: the whole method on one page
#
# This chapter runs the paper's method {cite}`klotz2026evaluating` end to end, in under a minute on a laptop CPU:
#
# 1. **a paired benchmark** — annotated images, and image {term}`pairs <pair>` that differ in exactly one attribute;
# 2. **embeddings** — every image through a vision encoder;
# 3. **an SAE** trained on the embeddings;
# 4. **{term}`FBMP` matching** of {term}`latents <latent>` to the annotated {term}`concepts <concept>`, scored as {term}`MATCHScore` and {term}`ΔMATCHScore`;
# 5. **{term}`TAPAScore`** — do the matched latents switch when their attribute is edited?
#
# By default everything is offline: the benchmark is the kit's toy-synCUB (birds drawn from parts, with
# CUB-style attribute families), the encoder is the kit's own small CLIP-style model. Change the parameters below
# to run the same page on synCUB with CLIP ViT-L/14.
#
# **What you will learn**
# - the five steps of the paper's method and the one kit call ({func}`kit.evaluate.evaluate`) that runs the last three;
# - how to read MATCHScore, ΔMATCHScore and TAPAScore, each with a bootstrap interval;
# - why every score is read next to an untrained SAE's.
#
# **What you need**
# - the kit installed ([Installing and rerunning](../book/install.md)); nothing is downloaded;
# - about a minute of a laptop CPU; no prior chapter;
# - the [glossary](../book/glossary.md) for the words of the method and the [API reference](../book/api.md) for the kit's functions.

# %% tags=["parameters"]
smoke = False
seed = 0
cache_dir = ".cache"
benchmark = "toy-syncub"
encoder = "toy"
concepts_dir = ""
device = "auto"
n_pairs = 2000
n_images = 3000
family = "topk"     # SAE family: topk, batchtopk, matryoshka, jumprelu, relu
dict_size = 256     # number of latents D
k = 8               # active latents per image
epochs = 20
batch_size = 128       # the offline profile's; the paper: 1,024 (params/paper.yaml)
standardize = True     # per-sample standardisation of the embeddings (the paper's input_unit_norm)
lr = 5e-4
beta = 0.5          # FBMP's F-beta
budget = 3          # latents per concept

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown
from PIL import Image

from kit.evaluate import EvalConfig, evaluate
from kit.matching import concept_scores
from kit.pipeline import PipelineConfig, prepare, train_cached
from kit.runner import param_path
from kit.sae import encode_array

cache_dir, concepts_dir = param_path(cache_dir), param_path(concepts_dir)  # relative: to the repository root
if smoke:
    n_pairs, n_images, dict_size, epochs = 120, 300, 64, 3

# %% [markdown]
# ## 1–2. The benchmark and its embeddings
#
# {func}`~kit.pipeline.prepare` renders (or downloads) the benchmark once, embeds every image once, and caches both.

# %%
data = prepare(PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                              concepts_dir=concepts_dir, seed=seed, device=device), cache_dir)
print(f"{data.concepts.n_samples} annotated images, {data.concepts.n_concepts} concepts, "
      f"{data.pairs.n_pairs} pairs, embeddings of dimension {data.X.dim}")

# %%
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
for col, p in enumerate(range(4)):
    for row, path in enumerate((data.pairs.orig_images[p], data.pairs.edit_images[p])):
        axes[row, col].imshow(Image.open(path))
        axes[row, col].axis("off")
    old, new = data.pairs.old[p], data.pairs.new[p]
    axes[0, col].set_title(f"− {data.pairs.concepts[old]}", fontsize=8)
    axes[1, col].set_title(f"+ {data.pairs.concepts[new]}" if new >= 0 else "(removed)", fontsize=8)
fig.suptitle("Pairs: original (top) and edit (bottom)")
plt.tight_layout();

# %% [markdown]
# ## 3. An SAE
#
# A {term}`TopK` SAE keeps the $k$ largest of its $D$ latents for every image {cite}`gao2024scaling`. It is trained on
# the embeddings of the *train* split; matching uses the *test* split.

# %%
X_train, _ = data.split("train")
X_test, Y_test = data.split("test")
[sae] = train_cached(X_train, [dict(family=family, dict_size=dict_size, k=k, seed=seed)], cache_dir,
                     epochs=epochs, batch_size=batch_size, standardize=standardize, lr=lr,
                     progress=False)
Z_test = encode_array(sae, X_test)
print(f"codes: {Z_test.shape}, mean active latents per image: {(Z_test > 0).sum(1).mean():.1f}")

# %% [markdown]
# ## 4–5. Matching and TAPAScore, in one call
#
# FBMP finds, for each concept, a {term}`coalition` of up to `budget` latents whose {term}`firing` best reproduces the concept's
# labels (F1). **MATCHScore** is the mean F1 over concepts; **ΔMATCHScore** subtracts the score of an untrained
# SAE of the same family and size — what random directions already match by chance. **TAPAScore** then asks, for
# each pair, whether the coalition of the removed attribute switches off and that of the added attribute
# switches on: the mean "switched on" minus the mean "switched off" over pairs, 2 is perfect, 0 is chance.
#
# `kit.evaluate.evaluate` does all of it: it builds the baselines that match the SAE (its {term}`untrained twin` and
# {term}`random codes <random codes baseline>` with the same $k$), matches each model's latents on the test images, scores the pairs, and
# returns one tidy row per number with a bootstrap interval — the same rows every chapter and {mod}`kit score <kit.score>` use.

# %%
criterion = f"fbmp_b{beta:g}"
results = evaluate(sae, data, EvalConfig(criteria=(criterion,), budget=budget, seed=seed, device=device))
summary = results.wide().loc[["match_score", "delta_match_score", "tapascore"]]
summary.round(3)

# %%
m = results.matchings["trained", criterion]
best = pd.DataFrame({"concept": data.concepts.names, "coalition": m.budgeted(budget),
                     "F1": concept_scores(m, budget)}).sort_values("F1", ascending=False)
best.head(10)

# %% tags=["remove-input"]
def interval(metric: str, role: str) -> str:
    r = results.select(metric, role, criterion).iloc[0]
    return f"{r.value:.3f} (95% interval {r.ci_low:.3f} to {r.ci_high:.3f})"


t, t0 = (results.select("tapascore", role, criterion).iloc[0] for role in ("trained", "untrained"))
delta = results.select("delta_match_score", "trained", criterion).iloc[0]
separated = t.ci_low > t0.ci_high
Markdown(
    f"In this run ΔMATCHScore is {interval('delta_match_score', 'trained')}. The trained SAE's TAPAScore is "
    f"{interval('tapascore', 'trained')}, its untrained twin's {interval('tapascore', 'untrained')} and the "
    f"random codes' {interval('tapascore', 'random')}: the trained and untrained intervals "
    + ("do not overlap — training made the matched latents follow their attributes more often than the "
       "twin's random directions do."
       if separated else
       "overlap — here an untrained SAE's matched latents follow the edits about as often as the trained ones. "
       "The paper reports an untrained baseline near 0, but it is built differently ([Sanity checks]"
       "(08_sanity_checks.ipynb) measures both, and what the difference shows); [Metric validity]"
       "(10_metric_validity.ipynb) asks, on a world whose truth is known, which baseline a TAPAScore should be "
       "compared with.")
)

# %% [markdown]
# The following chapters open each step: how [benchmarks](02_benchmarks.ipynb) are made, how
# [SAEs are trained](04_sae_training.ipynb), how [matching](05_matching.ipynb) and [TAPAScore](06_tapascore.ipynb)
# behave, and how the scores change with the [dictionary size](09_dictionary_size.ipynb).
#
# ## Exercises
#
# **1.** Rerun this page with `family = "batchtopk"` (e.g. `kit run --notebooks 00_quickstart -p family=batchtopk`).
# Does the ranking trained > untrained hold?
#
# ```{admonition} Solution
# :class: dropdown
# Not for TAPAScore. In the offline default run {term}`BatchTopK`'s TAPAScore is 0.137 (95% interval 0.116 to 0.158),
# below its untrained twin's 0.150 (0.130 to 0.170); the intervals overlap, as they do for TopK on this page.
# ΔMATCHScore stays positive (0.016, interval 0.005 to 0.026): the trained latents match the labels a little
# better than the twin's, but they do not follow the {term}`edits <edit>` more often. On this benchmark and encoder the
# untrained twin is a strong baseline; [Sanity checks](08_sanity_checks.ipynb) shows how it is built and
# [Dictionary size](09_dictionary_size.ipynb) compares the families over sizes and seeds.
# ```
#
# **2.** Set `budget = 1`. What happens to MATCHScore and to TAPAScore, and why?
#
# ```{admonition} Solution
# :class: dropdown
# MATCHScore can only drop: each concept keeps only the first latent of its coalition, and FBMP's F1 curve rises
# with every recorded latent. In the offline default run it falls from 0.460 to 0.321. TAPAScore falls too, from
# 0.124 to 0.076, and the untrained twin's from 0.150 to 0.077: a single latent per concept switches with fewer
# edits than a coalition of three, for the trained SAE and its twin alike, so a smaller {term}`budget` does not separate
# the two any better.
# ```
