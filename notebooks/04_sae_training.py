# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Training sparse autoencoders
#
# A vision encoder turns an image into a dense vector $x \in \mathbb{R}^d$. A **sparse autoencoder** (SAE)
# rewrites that vector as a non-negative combination of a few directions out of a large dictionary
# {cite}`cunningham2023sparse,bricken2023monosemanticity`:
#
# $$z = \sigma\big(W_{\text{enc}}^\top (x - b_{\text{dec}}) + b_{\text{enc}}\big) \in \mathbb{R}^D_{\ge 0},
# \qquad \hat x = W_{\text{dec}}^\top z + b_{\text{dec}},$$
#
# with $D$ {term}`latents <latent>` (typically $D \gg d$; the offline default uses $D = 256$ for $d = 128$) and unit-norm
# decoder rows. It is trained to reconstruct $x$ while keeping $z$ **sparse** — few latents active per image —
# in the hope that each latent then stands for one thing a person would name. The families of SAEs differ only
# in the sparsifying activation $\sigma$ and in how sparsity is paid for:
#
# | family | activation $\sigma$ | sparsity comes from |
# |---|---|---|
# | {term}`ReLU + L1 <ReLU-L1>` {cite}`cunningham2023sparse` | $\max(0, u)$ | an L1 penalty on $z$ in the loss |
# | {term}`TopK` {cite}`gao2024scaling` | keep the $k$ largest $u_j$ of each image | the architecture: exactly $k$ active |
# | {term}`BatchTopK` {cite}`bussmann2024batchtopk` | keep the $k \cdot B$ largest of a batch of $B$ images | $k$ active *on average*; a learned threshold at inference |
# | {term}`Matryoshka` {cite}`bussmann2025matryoshka` | BatchTopK | plus: nested prefixes of the dictionary must each reconstruct $x$ |
# | {term}`JumpReLU` {cite}`rajamanoharan2024jumprelu` | $u \cdot \mathbb{1}[u > \theta_j]$, a learned threshold per latent | an L0 penalty (straight-through gradients) |
#
# This chapter trains all five on the embeddings of the offline benchmark **in one pass over the data**, looks
# at their training curves and at the usual proxies (reconstruction, sparsity, dead and dense latents), shows
# what the auxiliary loss AuxK does against dead latents, and how to bring an SAE trained elsewhere. The SAEs
# trained here are cached, so the next chapters load them instead of training again.
#
# **What you will learn**
# - the five SAE families the kit trains and how each makes its codes sparse;
# - how to read training curves and the proxies (FVU, L0, dead and dense latents), against an {term}`untrained twin`;
# - what AuxK does against dead latents, and when it matters;
# - how an SAE trained with another library (raw tensors, SAELens) enters the kit.
#
# **What you need**
# - the embeddings of [Embeddings](03_embeddings.ipynb) (computed here if they are not in the cache);
# - a few minutes of CPU to train the SAEs the first time (they are cached for the later chapters);
# - the [glossary](../book/glossary.md) for the words of the method and the [API reference](../book/api.md) for the
#   kit's functions.

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
dict_size = 256     # latents D of every SAE; the standard SAE of the book is TopK with 256 latents, k 8
k = 8               # active latents per image (TopK, BatchTopK, Matryoshka)
epochs = 20
batch_size = 128    # the offline profile's; the paper: 1,024 (params/paper.yaml)
standardize = True  # per-sample standardisation of the embeddings (the paper's input_unit_norm)
lr = 5e-4
aux_dict_size = 2048  # the larger dictionary of the AuxK experiment
aux_k = 4

# %% tags=["hide-input"]
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from IPython.display import Markdown
from safetensors.torch import save_file

from kit.evaluate import EvalConfig, EvalData, evaluate
from kit.metrics import ProxiesConfig
from kit.pipeline import PipelineConfig, prepare, train_cached
from kit.planted import make_world
from kit.runner import param_path
from kit.sae import TrainConfig, encode_array, from_saelens, from_tensors, train
from kit.sae import families as fam

cache_dir, concepts_dir = param_path(cache_dir), param_path(concepts_dir)  # relative: to the repository root
if smoke:
    n_pairs, n_images, dict_size, epochs = 120, 300, 64, 3
    aux_dict_size, aux_k = 256, 4
sns.set_theme(style="whitegrid")

# %% [markdown]
# ## The activations, one picture each
#
# The functions below are the kit's own (`kit.sae.families`), applied to made-up pre-activations $u$. On the
# left, ReLU and JumpReLU as functions of one pre-activation: JumpReLU is zero up to its threshold $\theta$ and
# then *jumps* to the identity, so a latent is either clearly on or off. In the middle, TopK on one image's
# 24 pre-activations: only the $k = 4$ largest survive. On the right, a batch of six images: TopK keeps exactly
# four latents in every row, BatchTopK keeps the $4 \times 6 = 24$ largest values of the whole batch, so an
# image with many strong pre-activations may keep more than four and a dull one fewer. At inference BatchTopK
# (and Matryoshka, which trains with it) replaces the batch rule by a single threshold estimated during
# training, so that an image's code does not depend on the other images of its batch.

# %%
rng = np.random.default_rng(seed)
u = torch.linspace(-1, 2, 301)
theta = torch.tensor(0.5)
pre_row = torch.tensor(rng.normal(0, 1, size=(1, 24)), dtype=torch.float32)
pre_batch = torch.tensor(rng.normal(0, 1, size=(6, 24)) + rng.normal(0, 0.8, size=(6, 1)), dtype=torch.float32)

fig, axes = plt.subplots(1, 4, figsize=(16, 3.4), gridspec_kw={"width_ratios": [1, 1.3, 1.3, 1.3]})
axes[0].plot(u, torch.relu(u), label="ReLU")
axes[0].plot(u, fam.threshold_codes(u, theta), label=f"JumpReLU (θ = {float(theta):g})", ls="--")
axes[0].set(xlabel="pre-activation u", ylabel="code z", title="ReLU and JumpReLU")
axes[0].legend()
kept = fam.topk_codes(pre_row, 4)[0] > 0
axes[1].bar(range(24), pre_row[0], color=np.where(kept, "C3", "0.75"))
axes[1].set(xlabel="latent", ylabel="u", title="TopK, k = 4: red bars survive")
for ax, (name, z) in zip(axes[2:], [("TopK (per image)", fam.topk_codes(pre_batch, 4)),
                                    ("BatchTopK (per batch)", fam.batchtopk_codes(pre_batch, 4)[0])]):
    active = (z > 0).numpy()
    sns.heatmap(active, cbar=False, cmap="Greys", linewidths=0.3, linecolor="0.85", ax=ax,
                yticklabels=[f"{n} kept" for n in active.sum(1)])
    ax.set(xlabel="latent", title=name)
    ax.tick_params(axis="y", rotation=0)
plt.tight_layout();

# %% [markdown]
# Matryoshka SAEs {cite}`bussmann2025matryoshka` use BatchTopK codes but add one reconstruction loss per
# *prefix* of the dictionary: the first $D/32$ latents alone must reconstruct $x$, then the first $D/16$, and so on
# up to all $D$. Early latents are pushed towards general concepts, later ones towards refinements. The
# prefixes of our dictionary:

# %%
print(f"Matryoshka prefixes for D = {dict_size}: {fam.matryoshka_prefixes(dict_size)}")

# %% [markdown]
# ## The data
#
# The SAEs are trained on the embeddings of the *train* split of the annotated images; the *test* split is kept
# for the proxies below and for matching in the next chapters.

# %%
data = prepare(PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                              concepts_dir=concepts_dir, seed=seed, device=device), cache_dir)
X_train, _ = data.split("train")
X_test, _ = data.split("test")
d = X_train.shape[1]
print(f"train {X_train.shape}, test {X_test.shape}")

# %% [markdown]
# ## Five SAEs in one pass
#
# {func}`kit.sae.train_many` trains several SAEs on the **same batches**: each batch is drawn, checked and
# preprocessed once and every SAE takes its own step on it. An SAE trained in such a sweep is identical, bit
# for bit on the CPU, to the one trained alone; the sweep saves the data work, not the SAEs' own arithmetic.
# {func}`kit.pipeline.train_cached` wraps it with a cache keyed by the data and the full training configuration:
# the first chapter to ask for an SAE trains it, the others load it.
#
# The k families (TopK, BatchTopK, Matryoshka) train on their kept codes only. Their pre-activations
# $u = (x - b_\text{dec})W_\text{enc} + b_\text{enc}$ are computed without a gradient, the kept entries are
# selected, and only those are differentiated (`kit.sae.sparse`): the encoder's gradient then costs $k \cdot d$
# operations per sample instead of the $D \cdot d$ of differentiating $u$ as a whole, and the decoder adds up
# $k$ rows of $W_\text{dec}$ instead of multiplying by a mostly-zero $z$. The tests check that loss and
# gradients equal those of the dense computation.
#
# The training settings are the fields of {class}`kit.sae.TrainConfig`; its defaults are the paper's. The chapter's
# parameters set `dict_size`, `k`, `epochs`, `batch_size`, `standardize` and `lr`; the offline profile trains
# with batches of 128 rather than the paper's 1,024 — the offline benchmarks have about 2,000 training images,
# and batches of 1,024 would leave an SAE only a few dozen optimiser steps — and for at most 20 epochs.

# %%
pd.Series(dataclasses.asdict(TrainConfig(dict_size=dict_size)), name="TrainConfig default").to_frame()

# %%
families = ["relu", "topk", "batchtopk", "matryoshka", "jumprelu"]
configs = [dict(family=f, dict_size=dict_size, k=k, seed=seed) for f in families]
t0 = time.perf_counter()
train_settings = dict(epochs=epochs, batch_size=batch_size, standardize=standardize, lr=lr)
saes = dict(zip(families, train_cached(X_train, configs, cache_dir, **train_settings, progress=False)))
print(f"{len(saes)} SAEs trained (or loaded from the cache) in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## Training curves
#
# Every trained SAE carries `sae.history`, a table with one row every `log_every` steps (loss, normalised
# reconstruction error NMSE, active latents L0, fraction of dead latents) and one row per evaluation on the
# held-out `val_fraction` of the training rows (`val_nmse`). NMSE is the squared error divided by the data's variance:
# 0 is a perfect reconstruction, 1 is no better than predicting the mean embedding. Training stops early when
# the validation objective (`val_loss`: NMSE plus the sparsity penalty, if any) has not improved for `patience`
# evaluations, and the best weights are kept.

# %%
long = []
for f, s in saes.items():
    h = s.history
    for column, label in [("nmse", "train NMSE"), ("val_nmse", "validation NMSE"), ("l0", "L0 (active latents)"),
                          ("dead_fraction", "dead fraction")]:
        part = h.dropna(subset=[column])
        long.append(pd.DataFrame({"family": f, "step": part.step, "metric": label, "value": part[column]}))
long = pd.concat(long, ignore_index=True)
g = sns.relplot(data=long, x="step", y="value", hue="family", col="metric", kind="line", marker="o",
                col_wrap=4, height=2.8, facet_kws={"sharey": False})
g.set_titles("{col_name}")
g.axes_dict["L0 (active latents)"].set_yscale("log", base=2)
last = long.groupby(["family", "metric"]).value.last().unstack()
last.round(3)

# %% [markdown]
# ## The proxies
#
# Before asking whether latents mean anything, the field checks that the SAE does its job {cite}`karvonen2025saebench`:
#
# - **FVU** (fraction of variance unexplained) $= \sum_i \lVert x_i - \hat x_i\rVert^2 / \sum_i \lVert x_i - \bar x\rVert^2$;
#   explained variance is $1 - \text{FVU}$;
# - **L0**: active latents per image;
# - **dead latents**: never fire on the evaluation images; **dense latents**: fire on more than 10% of them.
#
# They are metrics of the book's one evaluation core: `kit.evaluate.evaluate` with the proxy metric names
# computes them (through `kit.metrics.proxies`, one pass) on the test split, for the SAE and for the references
# it builds to match it: the **untrained** twin (same family, size, $k$, input preprocessing and seed, at its
# random initialisation: {func}`kit.sae.untrained`) and, for TopK, **random** codes that ignore the image
# ({func}`kit.sae.random_codes`). They are what ΔMATCHScore subtracts in the next chapter,
# [Matching latents to concepts](05_matching.ipynb). Each number is a row
# (`metric`, `role`, `value`, bootstrap interval over the test images); the table below is a pivot of the rows,
# and the explained variance is $1 - \text{FVU}$ of the same row.

# %%
PROXIES = {"fvu": "FVU", "cosine": "cosine", "l0": "L0", "dead_fraction": "dead fraction",
           "dense_fraction": "dense fraction"}
test_data = EvalData.from_prepared(data, "test")
proxy_config = EvalConfig(metrics=tuple(PROXIES), baselines=("untrained",), seed=seed, device=device,
                          proxies=ProxiesConfig(device=device))


def proxy_table_of(rows, index=("family", "role")):
    """evaluate rows of the proxies as a table: one row per ``index``, one column per proxy."""
    t = rows.pivot_table(index=list(index), columns="metric", values="value", aggfunc="first", sort=False)
    t = t[list(PROXIES)].rename(columns=PROXIES)
    t.insert(1, "explained variance", 1 - t["FVU"])
    return t


proxy_results = {f: evaluate(s, test_data, dataclasses.replace(
                     proxy_config, baselines=("untrained", "random") if f == "topk" else ("untrained",)))
                 for f, s in saes.items()}
proxy_rows = pd.concat([r.rows for r in proxy_results.values()], ignore_index=True)
proxy_table = proxy_table_of(proxy_rows)
proxy_table.round(3)

# %% [markdown]
# How the codes are spread is easier to see than to tabulate. Left: how many latents each test image uses.
# Right: how often each latent fires, latents sorted from the most to the least frequent — a latent on the
# right end at zero is dead on the test split, one far above the dashed 10% line is dense.

# %%
codes = {f: encode_array(s, X_test) for f, s in saes.items()}
l0 = pd.concat([pd.DataFrame({"family": f, "active latents per image": (Z > 0).sum(1)}) for f, Z in codes.items()])
freq = pd.concat([pd.DataFrame({"family": f, "latent rank": np.arange(Z.shape[1]),
                                "firing frequency": np.sort((Z > 0).mean(0))[::-1]}) for f, Z in codes.items()])
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
sns.boxplot(data=l0, x="active latents per image", y="family", hue="family", ax=axes[0])
axes[0].set_xscale("log", base=2)
sns.lineplot(data=freq, x="latent rank", y="firing frequency", hue="family", ax=axes[1])
axes[1].axhline(0.1, ls="--", c="0.4")
axes[1].set_yscale("symlog", linthresh=1e-2)
axes[1].set(ylim=(0, 1), xlabel="latent rank (most frequent first)", ylabel="firing frequency (test split)")
plt.tight_layout();

# %% [markdown]
# What the table and the figures say, in words (generated from the numbers above):

# %% tags=["remove-input"]
trained_t = proxy_table.xs("trained", level="role")
untrained_t = proxy_table.xs("untrained", level="role")
k_style, penalised = ["topk", "batchtopk", "matryoshka"], ["relu", "jumprelu"]


def span(col, fs, t=trained_t):
    """The range of column ``col`` over the families ``fs`` of table ``t``, as text."""
    lo, hi = f"{t.loc[fs, col].min():.2f}", f"{t.loc[fs, col].max():.2f}"
    return lo if lo == hi else f"{lo}–{hi}"


steps = max(int(s.history.step.max()) for s in saes.values())
at_best = [f for f, s in saes.items() if s.history.val_nmse.dropna().iloc[-1] <= s.history.val_nmse.dropna().min()]
more_latents = (trained_t.loc[penalised, "L0"] > k).all()
better = trained_t.loc[penalised, "explained variance"].min() > trained_t.loc[k_style, "explained variance"].max()
bullets = [
    f"**The TopK-style SAEs are sparse by construction.** TopK uses exactly $k = {k}$ latents on every image; "
    f"BatchTopK and Matryoshka use {trained_t.loc['batchtopk', 'L0']:.1f} and {trained_t.loc['matryoshka', 'L0']:.1f}"
    " on average on the test split, with a spread between images (left panel). They explain "
    f"{span('explained variance', k_style)} of the variance, and {span('dead fraction', k_style)} of their latents "
    "never fire on the test split.",
    "**The sparsity of ReLU and JumpReLU is an outcome of their penalties, not a setting.** "
    f"ReLU uses {trained_t.loc['relu', 'L0']:.0f} of its {dict_size} latents per image, with "
    f"{trained_t.loc['relu', 'dense fraction']:.0%} of its latents dense; "
    f"JumpReLU {trained_t.loc['jumprelu', 'L0']:.0f}, "
    f"with {trained_t.loc['jumprelu', 'dense fraction']:.0%} dense. Their explained variance is "
    f"{span('explained variance', penalised)}"
    + (", better than the TopK-style SAEs', bought with more active latents. " if more_latents and better else ". ")
    + "Comparing families is only fair at equal sparsity, which is why the paper compares the TopK-style families "
    "at the same $k$.",
    (("**Nothing has converged.** Every SAE's" if len(at_best) == len(saes) else
      f"**Training has not converged for {', '.join(at_best)}:** their")
     + f" validation NMSE is lowest at the last of the {steps} steps: it was still improving when training stopped. "
     if at_best else
     f"**The validation curves have levelled off** within the {steps} steps. ")
    + f"Matryoshka's training NMSE ({last.loc['matryoshka', 'train NMSE']:.3f}) is the mean over its nested "
    f"prefixes; its validation NMSE, computed with the full dictionary, is {last.loc['matryoshka', 'validation NMSE']:.3f}"
    f" against TopK's {last.loc['topk', 'validation NMSE']:.3f}.",
]
fvu_rand = proxy_table.loc[("topk", "random"), "FVU"]
Markdown("\n".join(f"- {b}" for b in bullets) + "\n\n"
         f"The untrained twins have FVU {span('FVU', k_style, untrained_t)} (TopK-style) and "
         f"{span('FVU', penalised, untrained_t)} (ReLU and JumpReLU"
         + (", worse than predicting the mean" if untrained_t.loc[penalised, "FVU"].min() > 1 else "")
         + f"); random codes, which ignore the image, have FVU {fvu_rand:.2f}.")

# %% [markdown]
# ## Dead latents and AuxK
#
# A TopK latent that never makes it into the top $k$ gets no gradient: nothing pulls it towards the data, so
# once dead it stays dead. Large dictionaries with small $k$ lose many latents this way. AuxK
# {cite}`gao2024scaling` gives them a second chance: a latent that has not fired for `dead_after` batches counts
# as dead, and an auxiliary loss asks the top `k_aux` dead latents to reconstruct what the live ones missed (the
# residual $x - \hat x$; the kit shrinks that reconstruction by a fitted factor so that it does not overshoot the
# residual — a deviation from the paper and from SAELens, which compare it to the residual as it is; the tests
# check the rest of the definition against SAELens), weighted by `aux_weight` (1/32). The gradient of that loss
# moves the dead latents towards directions the data needs.
#
# To test it we train a larger dictionary with a small $k$ twice, once with AuxK and once without
# (`aux_weight=0`), with the same training settings (batches, epochs, learning rate) as above.

# %%
aux_configs = [dict(family="topk", dict_size=aux_dict_size, k=aux_k, seed=seed, aux_weight=w)
               for w in (0.0, TrainConfig(dict_size=aux_dict_size).aux_weight)]
aux_saes = train_cached(X_train, aux_configs, cache_dir, **train_settings, progress=False)
dead = []
for c, s in zip(aux_configs, aux_saes):
    h = s.history.dropna(subset=["dead_fraction"])
    label = "AuxK" if c["aux_weight"] > 0 else "no AuxK"
    dead.append(pd.DataFrame({"run": label, "step": h.step, "dead fraction (training)": h.dead_fraction}))
ax = sns.lineplot(data=pd.concat(dead), x="step", y="dead fraction (training)", hue="run")
ax.set_title(f"TopK, D = {aux_dict_size}, k = {aux_k}")
aux_runs = ["AuxK" if c["aux_weight"] > 0 else "no AuxK" for c in aux_configs]
aux_rows = pd.concat([evaluate(s, test_data, dataclasses.replace(proxy_config, baselines=()),
                               sae_id=f"topk-D{aux_dict_size}-k{aux_k} {run}").rows.assign(run=run)
                      for run, s in zip(aux_runs, aux_saes)], ignore_index=True)
aux_table = proxy_table_of(aux_rows, index=("run",))
aux_table.round(3)

# %% [markdown]
# Why AuxK helps or not can be measured in its own terms. Its loss asks the `k_aux` dead latents with the largest
# pre-activations to reconstruct the residual $e = x - \hat x$; their reconstruction $\hat e$ is shrunk by
# $\alpha = \langle e, \hat e\rangle / \lVert \hat e\rVert^2$, clamped to $[0.1, 1]$. The gradient reaches each
# dead latent only through that scaled sum; to be revived, a latent must end up with a pre-activation among the
# top $k$ of the live ones. At the end of training, on the training images, for the run with AuxK: how big
# $\hat e$ is against $e$, how far the dead latents are from the top $k$ (the $k$-th largest live pre-activation
# against the largest dead one), and how much of the residual any one latent could take — a latent is one
# direction shared by all images, and the residual's strongest such direction is its first principal axis
# (the RMS of the residual along it, and the share of images on which it carries more than the $k$-th live
# pre-activation).

# %%
aux_on = aux_saes[aux_runs.index("AuxK")]
with torch.no_grad():
    x = aux_on.preprocess(torch.from_numpy(X_train))
    pre = aux_on.project(x)
    e = x - aux_on.decode(aux_on.encode(torch.from_numpy(X_train)))
    dead_train = torch.from_numpy((encode_array(aux_on, X_train) > 0).sum(0) == 0)
    k_aux = min(aux_on.train_config.k_aux, int(dead_train.sum()))
    vals, idx = pre.masked_fill(~dead_train, -torch.inf).topk(k_aux, dim=1)
    e_hat = torch.einsum("nk,nkd->nd", torch.relu(vals), aux_on.W_dec[idx])
    alpha = float((e * e_hat).sum() / e_hat.pow(2).sum())
    kth_live = pre[:, ~dead_train].topk(aux_k, dim=1).values[:, -1]
    dead_max = pre.masked_fill(~dead_train, -torch.inf).max(1).values
    axis = torch.linalg.svd(e, full_matrices=False).Vh[0]
    along = (e @ axis).abs()
aux_mechanism = {"dead on the training images": float(dead_train.float().mean()), "k_aux": k_aux,
                 "‖ê‖ / ‖e‖ (mean over images)": float(e_hat.norm(dim=1).mean() / e.norm(dim=1).mean()),
                 "α before the clamp": alpha,
                 "k-th live pre-activation (median)": float(kth_live.median()),
                 "largest dead pre-activation (median)": float(dead_max.median()),
                 "images where a dead latent is in the top k": float((dead_max > kth_live).float().mean()),
                 "‖e‖ (median)": float(e.norm(dim=1).median()),
                 "RMS of e along its first principal axis": float(along.pow(2).mean().sqrt()),
                 "images where that axis beats the k-th live": float((along > kth_live).float().mean())}
pd.Series(aux_mechanism).to_frame("AuxK run").round(3)

# %% tags=["remove-input"]
(dead_on, fvu_on), (dead_off, fvu_off) = (aux_table.loc[run, ["dead fraction", "FVU"]]
                                          for run in ("AuxK", "no AuxK"))
aux_steps = max(int(s.history.step.max()) for s in aux_saes)
works = dead_on < dead_off - 0.02
verdict = (
    "AuxK revives latents here: the run with it ends with fewer dead latents than the run without"
    if works else
    "**A failure mode, measured: AuxK does not revive latents in this setting.** The run with it ends with "
    + ("more" if dead_on > dead_off + 0.02 else "about as many") + " dead latents as the run without"
)
ratio = aux_mechanism["‖ê‖ / ‖e‖ (mean over images)"]
Markdown(
    f"{verdict} (training curves above; on the test split {dead_on:.0%} against {dead_off:.0%} of the latents never "
    f"fire), at FVU {fvu_on:.3f} against {fvu_off:.3f}"
    + ("; both runs lose most of their dictionary. " if min(dead_on, dead_off) > 0.5 else ". ")
    + (f"The table says what AuxK works with here: the {aux_mechanism['k_aux']} dead latents it recruits add up to "
       f"{ratio:.1f} times the size of the residual, so their sum is scaled down to α = {alpha:.3f}"
       + (" (the clamp holds it at 0.1)" if alpha < 0.1 else "") + " to fit it; the auxiliary gradient is spread "
       f"over {aux_mechanism['k_aux']} latents at that scale, and after {aux_steps} steps the dead fraction is "
       "where it is without AuxK. "
       if ratio > 2 and not works else "")
    + (f"Why it cannot work here, measured: to fire, a dead latent needs a pre-activation above the k-th "
       f"(k = {aux_k}) largest live one ({aux_mechanism['k-th live pre-activation (median)']:.2f}, median over "
       f"the training images); the largest dead one stays at {aux_mechanism['largest dead pre-activation (median)']:.2f}, and "
       f"on {aux_mechanism['images where a dead latent is in the top k']:.0%} of the images a dead latent would "
       "enter the top k. AuxK can only move a dead latent towards a direction of the residual, and the residual "
       f"has none strong enough: its norm is {aux_mechanism['‖e‖ (median)']:.1f}, but spread over many "
       "directions — along its strongest one, the first principal axis, it has an RMS of "
       f"{aux_mechanism['RMS of e along its first principal axis']:.2f}, and only on "
       f"{aux_mechanism['images where that axis beats the k-th live']:.0%} of the images does that "
       "axis carry more than the k-th live pre-activation. What the live latents miss is not a feature that a "
       "revived latent could encode and win a slot with, so there is nothing for AuxK to revive. "
       if not works and aux_mechanism["images where that axis beats the k-th live"] < 0.1 else "")
    + "AuxK was designed for dictionaries of millions of latents trained on billions of tokens, where a latent "
    f"counts as dead after millions of inputs; this one is {aux_dict_size // d} times the embedding width, trained "
    f"for {aux_steps} steps on about "
    f"{round(len(X_train) * (1 - TrainConfig(dict_size=aux_dict_size).val_fraction), -2):,.0f} embeddings, and "
    f"a latent counts as dead after {TrainConfig(dict_size=aux_dict_size).dead_after} batches."
)

# %% [markdown]
# ### Where AuxK does what it is for
#
# AuxK needs a residual with directions a revived latent could take over: features the live latents leave out.
# The planted world of [Metric validity](10_metric_validity.ipynb) is built that way — every embedding is a sum
# of about seven of 26 known directions in 64 dimensions, plus a little noise — so a TopK SAE with $k = 2$ misses
# whole features on every image. The same comparison there, on 2,000 of its points (a 256-latent TopK, the same settings with and without
# AuxK, a latent counting as dead after 10 batches), over two seeds:

# %%
aux_world_runs = []
for s in (seed, seed + 1):
    world = make_world(n_samples=500 if smoke else 2000, seed=s)
    for w in (TrainConfig(dict_size=256).aux_weight, 0.0):
        m = train(world.X, "topk", dict_size=256, k=2, batch_size=64, max_steps=60 if smoke else 300, lr=3e-3,
                  dead_after=10, val_fraction=0, aux_weight=w, seed=s, progress=False)
        aux_world_runs.append({"seed": s, "run": "AuxK" if w > 0 else "no AuxK",
                               "dead fraction": float(((encode_array(m, world.X) > 0).sum(0) == 0).mean())})
aux_world = pd.DataFrame(aux_world_runs).pivot(index="seed", columns="run", values="dead fraction")
aux_world.round(3)

# %% tags=["remove-input"]
fewer = int((aux_world["AuxK"] < aux_world["no AuxK"] - 0.02).sum())
Markdown(
    f"On the planted world AuxK ends with fewer dead latents in {fewer} of {len(aux_world)} seeds: "
    + ", ".join(f"{r['AuxK']:.0%} against {r['no AuxK']:.0%} (seed {i})" for i, r in aux_world.iterrows())
    + (". There the residual holds the features the live latents miss, and AuxK hands them to dead latents; "
       "on the toy embeddings above it has no such direction to work with."
       if fewer == len(aux_world) else
       ". Even here AuxK does not revive latents in every seed.")
)

# %% [markdown]
# Measure the dead fraction of every SAE you evaluate rather than assume AuxK has fixed it: a dead latent can never
# be matched to a concept — it is capacity the SAE pays for and does not use.
#
# ## Bringing your own SAE
#
# The rest of the book needs only `encode` (and, for a few metrics, `decode` and `W_dec`), so an SAE trained
# with another library enters through a converter:
#
# - `kit.sae.from_tensors(W_enc, b_enc, W_dec, b_dec, activation=..., k=..., threshold=..., standardize=...)`
#   from raw weights (`W_enc: [d, D]`, `W_dec: [D, d]`; `standardize`: whether the SAE standardises each input,
#   as ours do with `standardize=True`);
# - `kit.sae.from_saelens(folder_or_object)` from a SAELens checkpoint (`cfg.json` + `sae_weights.safetensors`)
#   or a loaded SAELens object;
# - `kit.sae.from_overcomplete(model)` for an `overcomplete` SAE.
#
# None of these libraries has to be installed. As a check, we export our TopK SAE as raw tensors and our JumpReLU
# SAE as a SAELens folder, read both back and compare the codes. The input preprocessing travels with the
# weights: SAELens calls the kit's per-sample standardisation `normalize_activations="layer_norm"`.

# %%
topk = saes["topk"]
w = {n: p.detach() for n, p in topk.named_parameters()}
mine = from_tensors(w["W_enc"], w["b_enc"], w["W_dec"], w["b_dec"], activation="topk", k=k,
                    standardize=topk.config.standardize, subtract_b_dec=topk.config.subtract_b_dec)
same_topk = np.array_equal(encode_array(mine, X_test), codes["topk"])

jump = saes["jumprelu"]
with tempfile.TemporaryDirectory() as folder:
    folder = Path(folder)
    (folder / "cfg.json").write_text(json.dumps({
        "architecture": "jumprelu", "d_in": d, "d_sae": dict_size, "apply_b_dec_to_input": jump.config.subtract_b_dec,
        "normalize_activations": "layer_norm" if jump.config.standardize else "none"}))
    state = {n: p.detach().contiguous() for n, p in jump.named_parameters() if n != "log_threshold"}
    save_file({**state, "threshold": jump.log_threshold.detach().exp().contiguous()},
              str(folder / "sae_weights.safetensors"))
    imported = from_saelens(folder)
Z_imported = encode_array(imported, X_test)
print(f"from_tensors (TopK): identical codes: {same_topk}")
print(f"from_saelens (JumpReLU): same active latents: {np.array_equal(Z_imported > 0, codes['jumprelu'] > 0)}, "
      f"largest code difference {np.abs(Z_imported - codes['jumprelu']).max():.2e}")

# %% [markdown]
# With SAELens installed and internet access, a published SAE is two lines:
#
# ```python
# from sae_lens import SAE
# sae = kit.sae.from_saelens(SAE.from_pretrained(release, sae_id)[0])   # SAELens ≥ 4 returns a tuple
# ```
#
# ## Exercises
#
# **1.** The L1 coefficient of the ReLU SAE sets its sparsity only indirectly. Train ReLU SAEs with
# `l1_coefficient` in 0.05, 0.2, 1 and 5 (one `train_cached` call, the coefficient in each dict) and plot FVU
# against L0 on the test split. What do you see, and why did TopK make this knob unnecessary?
#
# ````{admonition} Solution
# :class: dropdown
# ```python
# cfgs = [dict(family="relu", dict_size=dict_size, seed=seed, l1_coefficient=c) for c in (0.05, 0.2, 1, 5)]
# runs = train_cached(X_train, cfgs, cache_dir, **train_settings, progress=False)
# rows = pd.concat([evaluate(s, test_data, dataclasses.replace(proxy_config, baselines=()),
#                            sae_id=f"relu l1={c['l1_coefficient']}").rows for c, s in zip(cfgs, runs)])
# proxy_table_of(rows, index=("sae",))
# ```
# The coefficient trades sparsity for reconstruction, and not gently. In the offline default run L0 falls from
# 106 active latents (coefficient 0.05, FVU 0.084) to 65 (0.2, FVU 0.274), 4.6 (1, FVU 1.010) and 1.3 (5, FVU
# 1.020): past a coefficient of 1 the SAE is no better than predicting the mean embedding. Where a coefficient lands
# depends on the data's scale and on the training length, so comparing ReLU SAEs "at the same sparsity" means
# searching the coefficient for each run. TopK {cite}`gao2024scaling` fixes L0 = k by construction: sparsity
# becomes a setting rather than an outcome, and the loss is reconstruction alone (plus AuxK's auxiliary term).
# ````
#
# **2.** `kit.sae.from_tensors` rescales the decoder rows of an imported ReLU or JumpReLU SAE to unit norm and
# multiplies the codes by the old norms, but it refuses to do so for TopK (it warns and keeps the rows). Why is
# the rescaling harmless for ReLU and not for TopK?
#
# ```{admonition} Solution
# :class: dropdown
# Rescaling row $j$ of $W_{\text{dec}}$ by $1/s_j$ and column $j$ of the encoder by $s_j$ leaves
# $z_j W_{\text{dec},j}$ — and thus $\hat x$ — unchanged, and a positive factor never changes *whether* a ReLU
# (or a thresholded, rescaled JumpReLU) latent is positive. TopK compares pre-activations *across* latents:
# multiplying latent $j$'s pre-activation by $s_j$ can move it into or out of the top $k$, so the same weights
# would give a different set of active latents and a different reconstruction.
# ```
#
# **3.** BatchTopK keeps $k$ latents per image *on average* while training, and uses a single learned threshold at
# inference. Encode the test split with the BatchTopK SAE and count images with fewer than $k/2$ and more than
# $2k$ active latents. Which images use many latents?
#
# ````{admonition} Solution
# :class: dropdown
# ```python
# n_active = (codes["batchtopk"] > 0).sum(1)
# print((n_active < k / 2).sum(), (n_active > 2 * k).sum())
# distance = np.linalg.norm(X_test - X_train.mean(0), axis=1)
# print(np.corrcoef(n_active, distance)[0, 1])
# ```
# The first line counts the images with fewer than $k/2$ and more than $2k$ active latents, the second says
# whether the count follows the image's distance from the mean training embedding. The threshold gives an image
# as many latents as have a pre-activation above it. In the offline default run, which standardises every input,
# no test image has fewer than 4 or more than 16 active latents and the correlation with the distance is 0.136:
# all images arrive with the same norm, and what varies is how an image's direction spreads over the
# dictionary. Trained without standardisation (`-p standardize=false`), 17 images use fewer than 4 latents and
# 3 more than 16, and the correlation is 0.740: an unusual image has large pre-activations and crosses the
# threshold with more latents.
# This adaptive budget is what BatchTopK was designed for {cite}`bussmann2024batchtopk`; it also means that L0
# is no longer a constant and has to be reported as a mean.
# ````
