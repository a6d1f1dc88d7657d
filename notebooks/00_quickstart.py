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
# 1. **a paired benchmark** — annotated images, and image pairs that differ in exactly one attribute;
# 2. **embeddings** — every image through a vision encoder;
# 3. **an SAE** trained on the embeddings;
# 4. **FBMP matching** of latents to the annotated concepts, scored as MATCHScore and ΔMATCHScore;
# 5. **TAPAScore** — do the matched latents switch when their attribute is edited?
#
# By default everything is offline: the benchmark is the kit's toy-synCUB (birds drawn from parts, with
# CUB-style attribute families), the encoder is the kit's own small CLIP-style model. Change the parameters below
# to run the same page on synCUB with CLIP ViT-L/14.

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

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from kit.evaluate import EvalConfig, evaluate
from kit.matching import concept_scores
from kit.pipeline import PipelineConfig, prepare, train_cached
from kit.sae import encode_array

if smoke:
    n_pairs, n_images, dict_size, epochs = 120, 300, 64, 3

# %% [markdown]
# ## 1–2. The benchmark and its embeddings
#
# `prepare` renders (or downloads) the benchmark once, embeds every image once, and caches both.

# %%
data = prepare(PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                              concepts_dir=concepts_dir or None, seed=seed, device=device), cache_dir)
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
plt.tight_layout()

# %% [markdown]
# ## 3. An SAE
#
# A TopK SAE keeps the $k$ largest of its $D$ latents for every image {cite}`gao2024scaling`. It is trained on
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
# FBMP finds, for each concept, a coalition of up to `budget` latents whose firing best reproduces the concept's
# labels (F1). **MATCHScore** is the mean F1 over concepts; **ΔMATCHScore** subtracts the score of an untrained
# SAE of the same family and size — what random directions already match by chance. **TAPAScore** then asks, for
# each pair, whether the coalition of the removed attribute switches off and that of the added attribute
# switches on: the mean "switched on" minus the mean "switched off" over pairs, 2 is perfect, 0 is chance.
#
# `kit.evaluate.evaluate` does all of it: it builds the baselines that match the SAE (its untrained twin and
# random codes with the same $k$), matches each model's latents on the test images, scores the pairs, and
# returns one tidy row per number with a bootstrap interval — the same rows every chapter and `kit score` use.

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

# %%
from IPython.display import Markdown


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
       "The paper reports an untrained baseline near 0, but it is built differently (chapter *Sanity checks* "
       "measures both, and what the difference shows); chapter *Metric validity* asks, on a world whose truth is "
       "known, which baseline a TAPAScore should be compared with.")
)

# %% [markdown]
# The following chapters open each step: how benchmarks are made, how SAEs are trained, how matching and
# TAPAScore behave, and how the scores change with the dictionary size.
#
# ## Exercises
#
# **1.** Rerun this page with `family = "batchtopk"` (e.g. `kit run --notebooks 00_quickstart -p family=batchtopk`).
# Does the ranking trained > untrained hold?
#
# ```{admonition} Solution
# :class: dropdown
# Not necessarily, and that is the point of the intervals. The run's answer is the comparison printed above
# (`results.wide()`): read whether the trained SAE's TAPAScore interval lies above its twin's. Chapter
# *Dictionary size* compares the families properly, over sizes and seeds.
# ```
#
# **2.** Set `budget = 1`. What happens to MATCHScore and to TAPAScore, and why?
#
# ```{admonition} Solution
# :class: dropdown
# MATCHScore can only drop (each concept keeps only the first latent of its coalition, and FBMP's F1 curve rises
# with every recorded latent). TAPAScore may rise or fall: fewer latents per concept make the "switched on"
# test stricter, but also exclude latents that fire for other reasons.
# ```
