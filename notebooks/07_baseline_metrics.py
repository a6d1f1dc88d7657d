# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   mystnb:
#     render_markdown_format: myst
# ---

# %% [markdown]
# # Baseline metrics: what the field measures today
#
# Before {term}`MATCHScore` and {term}`TAPAScore` {cite}`klotz2026evaluating`, SAEs for vision were judged with metrics borrowed
# from language-model interpretability or proposed alongside vision SAEs. They answer different questions:
#
# - **does the SAE reproduce its input?** — the reconstruction and sparsity proxies;
# - **does the {term}`code` keep the geometry of the embedding?** — CKNNA {cite}`huh2024platonic`;
# - **do the images that activate a {term}`latent` look alike?** — the monosemanticity score MS {cite}`pach2025monosemantic`;
# - **can a few latents classify a {term}`concept`?** — FMS {cite}`harle2025fms`
#   and sparse probing {cite}`karvonen2025saebench`;
# - **does removing a concept's latents remove the concept, and only it?** — TPP and SCR
#   {cite}`karvonen2024erasure`, absorption {cite}`chanin2024absorption` (as implemented by
#   SAEBench {cite}`karvonen2025saebench`);
# - **can a latent steer the encoder's zero-shot output?** — steerability, in the manner of
#   {cite:t}`joseph2025steering`.
#
# This chapter explains each metric in a paragraph — what it computes, what it rewards and what it cannot see —
# and computes all of them for the standard offline SAE of the book ({term}`TopK`, 256 latents, 8 active) on the
# embeddings of the *test* split, as one tidy table and one figure. Every metric in {mod}`kit.metrics` has the same
# shape: `metric(..., config=None) -> result`, where the config's defaults are the source's settings and the
# result has `headline()` (the numbers a paper reports) and `units()` (the per-image, per-latent, per-concept or
# per-{term}`pair` values the headline averages). The sections call these functions to show what each metric computes;
# the table, the figure's headlines, the summary and the results file come from the book's one evaluation core,
# {func}`kit.evaluate.evaluate`, which runs the same functions with the same settings and returns rows in the
# vocabulary every chapter shares. [Chapter 8](08_sanity_checks.ipynb) asks which of these numbers tell a trained
# SAE from noise; [chapter 10](10_metric_validity.ipynb) asks which track the truth in a world where the truth is
# known.
#
# **What you will learn**
#
# - what each of the field's metrics computes, what it rewards and what it cannot see;
# - how to compute all of them for one SAE with one `kit.evaluate.evaluate` call, as rows in the book's vocabulary;
# - how much a headline depends on its settings (TPP's number of ablated latents) and how the units behind it
#   spread.
#
# **What you need**
#
# - the standard offline SAE and the embeddings of the test split ([chapter 4](04_sae_training.ipynb),
#   [chapter 3](03_embeddings.ipynb));
# - linear probes and logistic regression at the level of a first machine-learning course;
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
family = "topk"     # the standard offline SAE: TopK with 256 latents, 8 active, 20 epochs
dict_size = 256
k = 8
epochs = 20
batch_size = 128    # the offline profile's; the paper: 1,024 (params/paper.yaml)
standardize = True  # per-sample standardisation of the embeddings (the paper's input_unit_norm)
lr = 5e-4
out_dir = ""        # when set, the evaluate rows are written to out_dir/baseline_metrics.json

# %%
import dataclasses
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display
from scipy.stats import beta

from kit import metrics
from kit.embed import embed_texts, load_encoder
from kit.embed.train_toy import phrase
from kit.evaluate import EvalConfig, EvalData, evaluate
from kit.pipeline import PipelineConfig, prepare, train_cached
from kit.results import save_results
from kit.runner import param_path
from kit.sae import encode_array

if smoke:
    n_pairs, n_images, dict_size, epochs = 120, 300, 64, 3
sns.set_theme(style="whitegrid")
# path parameters from the project folder (kit.runner.param_path); an empty one is None
cache_dir, out_dir, concepts_dir = (param_path(p) for p in (cache_dir, out_dir, concepts_dir))

# %% [markdown]
# ## The SAE and the data
#
# The SAE is trained on the embeddings of the train split (cached, shared with the other chapters); every metric
# is computed on the embeddings $X$ of the test split, their codes $Z$ and their concept labels $Y$. The settings
# of every metric are the fields of one {class}`~kit.evaluate.EvalConfig` (each metric's config at the source's defaults, on
# `device`); the sections below pass the same config objects to the metric functions.

# %%
config = PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                        concepts_dir=concepts_dir or None, seed=seed, device=device)
data = prepare(config, cache_dir)
X_train, _ = data.split("train")
X, Y = data.split("test")
[sae] = train_cached(X_train, [dict(family=family, dict_size=dict_size, k=k, seed=seed)], cache_dir, epochs=epochs,
                     batch_size=batch_size, standardize=standardize, lr=lr, progress=False)
Z = encode_array(sae, X, device=device)
names, groups = data.concepts.names, data.concepts.groups
print(f"test split: X {X.shape}, Z {Z.shape}, Y {Y.shape} ({len(set(groups))} concept families)")
# the metric names of kit.results.METRICS that each section's function gives
GROUPS = {"proxies": ("mse", "fvu", "cosine", "l0", "dead_fraction", "dense_fraction"), "cknna": ("cknna",),
          "ms": ("ms",), "fms": ("fms",), "sparse probing": ("sparse_probing",), "tpp": ("tpp",), "scr": ("scr",),
          "absorption": ("absorption", "absorption_fraction"),
          "steerability": ("steer_power", "steerability", "steerable_fraction")}
eval_config = EvalConfig(metrics=sum(GROUPS.values(), ()), baselines=(), seed=seed, device=device,
                         proxies=metrics.ProxiesConfig(device=device), cknna=metrics.CKNNAConfig(device=device),
                         ms=metrics.MSConfig(device=device), sparse_probing=metrics.SparseProbingConfig(device=device),
                         erasure=metrics.ErasureConfig(device=device),
                         absorption=metrics.AbsorptionConfig(device=device),
                         steerability=metrics.SteerabilityConfig(device=device))
results = {}


def run(name, fn):
    """Compute one metric for the explanation and remember its result."""
    results[name] = fn()
    return results[name]


def headline(result) -> pd.DataFrame:
    """A metric result's headline numbers as a table (name → value)."""
    return pd.Series(result.headline(), name="value").rename_axis("headline").to_frame().round(3)


# %% [markdown]
# ## Reconstruction and sparsity
#
# The proxies every SAE paper reports, and SAEBench's "core" metrics {cite}`karvonen2025saebench`: the **MSE** and
# the **fraction of variance unexplained** (FVU $= \sum_n \lVert x_n - \hat x_n \rVert^2 / \sum_n \lVert x_n -
# \bar x \rVert^2$, 0 is perfect, 1 is no better than predicting the mean), the **cosine** between $x$ and its
# reconstruction $\hat x$, **L0** (active latents per image), and the share of **dead** (never {term}`firing`) and
# **dense** (firing on more than 10% of images) latents. They reward an SAE that explains its input with few
# latents. They cannot see *what* the latents mean: rotate the dictionary inside its span and every proxy stays
# the same, while every latent's meaning changes.

# %%
prox = run("proxies", lambda: metrics.proxies(X, sae, eval_config.proxies))
headline(prox)

# %% [markdown]
# ## CKNNA: does the code keep the embedding's neighbourhoods?
#
# Centered kernel nearest-neighbour alignment {cite}`huh2024platonic` compares two representations of the same
# images through their similarity kernels, restricted to pairs that are among each other's $k = 10$ nearest
# neighbours in *both* representations; 1 means the two agree on who is close to whom. Between $X$ and $Z$ it
# rewards an SAE whose sparse codes keep the local geometry of the embedding. It cannot see concepts at all: the
# identity map (no SAE) scores perfectly, and so would any dense rotation.

# %%
ck = run("cknna", lambda: metrics.cknna(X, Z, eval_config.cknna))
headline(ck)

# %% [markdown]
# ## MS: do the images that activate a latent look alike?
#
# The monosemanticity score {cite}`pach2025monosemantic` of latent $j$ is the average similarity of pairs of
# images, weighted by how strongly both activate $j$ (activations min–max scaled to $[0, 1]$), with the
# similarity measured by a *separate* reference encoder (the paper uses DINOv2). It rewards latents whose
# activating images resemble each other, and needs no labels. It cannot see recall — a latent that fires on three
# near-identical images is perfectly "monosemantic" — and it inherits the reference encoder's notion of
# similarity. Offline there is no second encoder, so the reference here is the toy encoder itself ($E = X$): a
# latent is then rewarded for agreeing with the very embedding it was trained on; with a real backbone, pass a
# DINOv2 embedding of the same images.

# %%
ms = run("ms", lambda: metrics.monosemanticity(X, Z, eval_config.ms))
headline(ms)

# %% [markdown]
# ## FMS: one latent, one concept?
#
# The feature monosemanticity score {cite}`harle2025fms` asks, per
# concept, on a class-balanced sample: how well does the **best single latent** classify the concept (a decision
# stump: the *capacity*); how much of that is lost when this latent is removed (*local* disentanglement: a
# monosemantic concept drops to chance); and how little deeper trees on further latents add (*global*: the
# concept needs no backups). $\text{FMS} = \text{capacity} \cdot (\text{local} + \text{global}) / 2$. It rewards
# a concept carried by exactly one latent. It cannot see a latent that fires for *several* concepts (it looks
# from the concept to the latents, not back), and it penalises an SAE that splits a concept over two latents —
# the very case {term}`FBMP`'s {term}`coalitions <coalition>` forgive.

# %%
fm = run("fms", lambda: metrics.fms(Z, Y, eval_config.fms))
headline(fm)

# %% [markdown]
# ## Sparse probing: can a few latents classify a concept?
#
# SAEBench's sparse probing {cite}`karvonen2025saebench` builds a balanced probe set per concept (every positive
# and as many randomly drawn negatives), ranks the latents by the absolute difference of their mean activation
# on its positives and negatives, keeps the top $k \in \{1, 2, 5\}$, fits a logistic regression (L2, $C = 1$) on
# their raw values and reports its accuracy on a balanced test set. The kit draws the negatives from every image
# without the concept, since concept labels overlap (SAEBench's classes are exclusive); sae-probes' normalised
# ranking is `SparseProbingConfig(ranking="normalized")`. It rewards an SAE that concentrates a concept's
# information in a few latents. It cannot see specificity: a probe may use a latent that also fires for many
# other concepts, and its weights may *subtract* latents — a reading no person would give the latent alone.

# %%
sp = run("sparse probing", lambda: metrics.sparse_probing(Z, Y, eval_config.sparse_probing))
headline(sp)

# %% [markdown]
# ## TPP and SCR: does ablating a concept's latents remove the concept, and only it?
#
# Targeted concept erasure {cite}`karvonen2024erasure` trains linear probes on the embeddings, picks each
# concept's latents by their effect on its probe — as in SAEBench, only latents more active with the concept
# than without (mean difference clipped at 0, times the projection of the probe on the latent's decoder atom),
# and no more than have a non-zero effect — and ablates them (keeping the SAE's error term, so only
# those latents' contribution leaves the embedding). **TPP** (targeted probe perturbation), over the values of
# each attribute family: ablating concept $i$'s latents should lower probe $i$'s accuracy and leave the other
# probes of the family alone. **SCR** (spurious correlation removal, SHIFT): a probe trained on a set where two
# concepts always co-occur learns the spurious one too; ablating the spurious concept's latents should recover
# the accuracy of an unbiased probe (1 = fully recovered). Both reward latents that are causally *separate* for
# separate concepts. They cannot see whether the latents are interpretable one by one (20 latents may be ablated
# together), and they depend on the probes: a concept the embedding does not linearly encode cannot be tested.

# %%
families = [idx for idx in data.concepts.families().values() if len(idx) >= 2]
tp = run("tpp", lambda: metrics.tpp(X, Y, sae, groups=families, Z=Z, config=eval_config.erasure))
headline(tp)

# %% [markdown]
# SCR's concept pairs are chosen by {func}`~kit.metrics.choose_scr_pairs` with its defaults (the most correlated pairs from
# different families whose four cells each hold at least 20 test images) — the pairs `evaluate` uses. With too
# few test images no pair qualifies, and SCR cannot be computed.

# %%
scr_pairs = metrics.choose_scr_pairs(Y, groups)
print(f"{len(scr_pairs)} SCR pairs (task, spurious) qualify")
if scr_pairs:
    sc = run("scr", lambda: metrics.scr(X, Y, sae, pairs=scr_pairs, Z=Z, config=eval_config.erasure))
    display(headline(sc))
    at = sc.config.n_values.index(sc.config.headline_n)
    scr_table = pd.DataFrame({"task": [names[t] for t, _ in sc.pairs], "spurious": [names[s] for _, s in sc.pairs],
                              "biased probe": sc.base, "unbiased probe": sc.oracle,
                              f"after ablating {sc.config.headline_n} latents": sc.ablated[at], "SCR": sc.scr[at]})
else:
    scr_table = pd.DataFrame()
scr_table.round(3)

# %% [markdown]
# ## Absorption: does a broad latent swallow a specific one?
#
# Feature absorption ({cite:t}`chanin2024absorption`; the SAEBench procedure
# {cite}`karvonen2025saebench`) was found on "starts with the letter L": a latent for that concept stops firing on
# some words because a more specific latent has *absorbed* it. Here each attribute family plays the part of the
# first letter and its values the letters. Per concept: a probe on the embeddings gives the concept's direction,
# sparse probes find its main latents, and an image counts as **fully absorbed** when the main latents are silent
# although the probe detects the concept and the latent projecting most on the concept's direction (cosine of
# its atom ≥ 0.025, at least 40% of the projection) carries it; the absorption fraction counts up to three
# absorbing latents with cosine ≥ 0.1 behind the same 40% gate, as in SAEBench. The main latents come from an
# L1 probe on all latents, as SAEBench's. Lower is better.
# It rewards SAEs whose concept latents fire reliably; it cannot see concepts whose main latents were never found
# (a missing concept is not "absorbed"), and its thresholds come from language models.

# %%
ab = run("absorption", lambda: metrics.absorption(X, Y, sae, groups, Z=Z, config=eval_config.absorption))
headline(ab)

# %% [markdown]
# ## Steerability: can a latent push the encoder's zero-shot output?
#
# For CLIP-like encoders, {cite:t}`joseph2025steering`
# clamp one latent to a large value, decode, and watch CLIP's zero-shot probabilities over a vocabulary move. The
# kit's version: for latent $j$ and probe images, set $z_j$ to a multiple of the mean embedding norm, keep the
# SAE's error term, and compare the softmax over the vocabulary's text embeddings before and after. The word whose
# probability grows most is the latent's **target**; its mean gain is the latent's **power**; **steerability** is
# the share of the moved probability that lands on the target (1: the latent steers towards one word only). It
# rewards latents whose decoder direction *means* a word to the text tower. It needs a text tower (no DINOv2) and
# a vocabulary, and it cannot see when the latent fires: a never-firing latent can steer perfectly. The vocabulary
# here is the attribute names ("wing color blue"), embedded by the toy encoder's text tower.

# %%
text_encoder = load_encoder(encoder, device=device)
vocabulary = [phrase(n) for n in names]
st = run("steerability", lambda: metrics.steerability(X, sae, lambda texts: embed_texts(texts, text_encoder),
                                                      vocabulary, Z=Z, config=eval_config.steerability))
display(headline(st))
top = np.argsort(-st.power)[:8]
pd.DataFrame({"latent": top, "target word": [vocabulary[t] for t in st.target[top]],
              "power": st.power[top], "steerability": st.steerability[top]}).round(3)

# %% [markdown]
# ## All metrics in one table
#
# `kit.evaluate.evaluate` takes the SAE, the test split ({class}`~kit.evaluate.EvalData`, here with the text tower and the vocabulary
# for steerability) and an `EvalConfig` naming the metrics; it encodes the images, runs the metric functions with
# the config's settings and returns one tidy row per number: metric, value, a bootstrap interval over the units
# (images, latents, concepts or concept pairs), how many units, the probe's $k$ as `budget` for sparse probing —
# the same columns as MATCHScore's and TAPAScore's rows, so a whole evaluation is one table. Below it is called
# once per metric family (a loop over `EvalConfig` variants) so that each family can be timed; the untrained
# and random baselines are switched off (`baselines=()`) and left to [chapter 8](08_sanity_checks.ipynb).

# %%
if not scr_pairs:  # evaluate refuses a metric it was asked for by name and cannot compute
    GROUPS.pop("scr")
eval_data = EvalData.from_prepared(data, "test", text_embed=lambda texts: embed_texts(texts, text_encoder),
                                   vocabulary=vocabulary)
parts, seconds = [], {}
for source, wanted in GROUPS.items():
    start = time.perf_counter()
    parts.append(evaluate(sae, eval_data, dataclasses.replace(eval_config, metrics=wanted)).rows)
    seconds[source] = time.perf_counter() - start
rows = pd.concat(parts, ignore_index=True)
source_of = {m: source for source, wanted in GROUPS.items() for m in wanted}
table = rows.assign(source=rows.metric.map(source_of)).assign(seconds=lambda t: t.source.map(seconds))
table[["source", "metric", "budget", "value", "ci_low", "ci_high", "n_units", "seconds"]].astype(
    {"budget": "Int64"}).round(3)

# %% [markdown]
# The sections above printed the same numbers: `evaluate` calls the very functions they called, with the same
# configs, on the same codes. The check below says so (and stops the chapter if it ever stops being true).

# %%
def key(metric, budget) -> str:
    return metric if pd.isna(budget) else f"{metric}_k{int(budget)}"


value = {key(m, b): v for m, b, v in zip(rows.metric, rows.budget, rows.value)}
shown_by_sections = {**prox.headline(), **ck.headline(), "ms": ms.headline()["ms"], "fms": fm.headline()["fms"],
                     **sp.headline(), "tpp": tp.headline()["tpp"], "absorption": ab.headline()["full_absorption"],
                     "absorption_fraction": ab.headline()["absorption_fraction"], **st.headline()}
if scr_pairs:
    shown_by_sections["scr"] = sc.headline()["scr"]
differ = {m: (v, value[m]) for m, v in shown_by_sections.items() if not np.isclose(v, value[m], equal_nan=True)}
assert set(shown_by_sections) == set(value) and not differ, f"sections and evaluate rows disagree: {differ}"
print(f"all {len(value)} headlines of the sections equal the evaluate rows")

# %% [markdown]
# TPP's headline is the value at SAEBench's 20 ablated latents, a setting of `ErasureConfig` (`headline_n`). The
# same evaluation with the other settings — one `EvalConfig` variant each — shows how much it depends on it:

# %%
tpp_rows = pd.concat([evaluate(sae, eval_data, dataclasses.replace(
                          eval_config, metrics=("tpp",), erasure=dataclasses.replace(eval_config.erasure, headline_n=n)))
                      .rows.assign(ablated_latents=n) for n in eval_config.erasure.n_values], ignore_index=True)
tpp_rows[["ablated_latents", "value", "ci_low", "ci_high", "n_units"]].round(3)

# %% [markdown]
# A headline is a mean over units — images, latents, concepts or concept pairs — and the mean hides how the units
# spread. The figure shows the units behind each headline, from the sections' results (`units()`); the dashed
# line is the headline of the evaluate row.

# %%
units = pd.concat([pd.DataFrame({"metric": m, "value": np.asarray(v, dtype=float)})
                   for res in results.values() if hasattr(res, "units") for m, v in res.units().items()
                   if m in ("fvu", "cosine", "ms", "fms", "sparse_probing_k1", "tpp", "scr", "absorption_fraction",
                            "steer_power", "steerability")])
g = sns.FacetGrid(units, col="metric", col_wrap=5, sharex=False, sharey=False, height=2.2, aspect=1.25)
g.map_dataframe(sns.histplot, x="value", bins=20)
for ax, metric in zip(g.axes.flat, units.metric.unique()):
    ax.axvline(value[metric], color="k", ls="--", lw=1)
g.set_titles("{col_name}")
g.set_axis_labels("value of a unit", "units")
plt.show()

# %% [markdown]
# ## Reading the table
#
# The summary below is written from the numbers above, so it describes whatever run you are looking at.

# %% tags=["remove-input"]
def num(v: float) -> str:
    """Three decimals, without a minus sign on a value that rounds to zero."""
    return f"{round(v, 3) + 0.0:.3f}"


def n_units(metric: str) -> int:
    return int(rows.loc[rows.metric == metric, "n_units"].item())


fvu, dead = value["fvu"], value["dead_fraction"]
cap, local = fm.headline()["fms_capacity"], fm.headline()["fms_local"]  # FMS's parts: the section's result
tpp_at = dict(zip(tpp_rows.ablated_latents, tpp_rows.value))
n_peak, n_max = max(tpp_at, key=tpp_at.get), max(tpp_at)
d = X.shape[1]  # chance that a random unit direction in d dimensions passes the alignment threshold
thr = eval_config.absorption.probe_cos_threshold
p_random = beta.sf((1 + thr) / 2, (d - 1) / 2, (d - 1) / 2)
if "scr" in value:
    # SCR runs each chosen pair both ways (task, spurious); a direction whose SCR is undefined (NaN) is no unit
    n_undefined = len(sc.pairs) - n_units("scr")
    scr_pairs_at = sc.scr[at][np.isfinite(sc.scr[at])]
    scr_bullet = (
        f"**SCR** is {num(value['scr'])}, and the per-pair table shows why it should not be read at this size: the "
        "balanced test sets are small, so accuracies move in coarse steps, the gap between the biased and the "
        "unbiased probe is a few of those steps (or none — then SCR is undefined, NaN"
        + (f", as for {n_undefined} of the {len(sc.pairs)} (task, spurious) pairs here" if n_undefined else "")
        + ")"
        + (f", and a ratio over such a gap ranges from {num(scr_pairs_at.min())} to {num(scr_pairs_at.max())} "
           "between pairs" if len(scr_pairs_at) and scr_pairs_at.min() < scr_pairs_at.max() else "")
        + ". SCR needs concept pairs that co-occur often *and* many images of each combination.")
else:
    scr_bullet = ("**SCR** could not be computed: no concept pair from different families has 20 test images in "
                  "each of its four combinations. SCR needs concept pairs that co-occur often *and* many images of "
                  "each combination.")
bullets = [
    f"**Reconstruction**: the SAE leaves {fvu:.0%} of the variance unexplained (FVU {fvu:.3f}) with "
    f"{value['l0']:.0f} of {dict_size} latents active, and {dead:.1%} of its latents never fire on the "
    "test images. The proxies describe the fit and the sparsity, and say nothing about the concepts.",
    f"**CKNNA** ({value['cknna']:.3f}) and **MS** ({value['ms']:.3f}) need no labels. With the toy encoder "
    "as its own reference, MS measures how alike a latent's images are *in the space the SAE was trained on* — "
    "a weaker test than the paper's separate DINOv2 reference.",
    f"**FMS** is {value['fms']:.3f}: the best single latent classifies a concept at {cap:.3f} balanced "
    f"accuracy (capacity), and removing it "
    + (f"costs almost nothing (local {local:.3f}) — for most concepts another latent carries nearly the same "
       "information, so by FMS's definition they are not monosemantic." if local < 0.1 else
       f"costs a local score of {local:.3f}.")
    + f" **Sparse probing** goes from {value['sparse_probing_k1']:.3f} with one latent to "
    f"{value['sparse_probing_k5']:.3f} with five"
    + (": the concepts are spread over several latents, the situation FBMP's coalitions are made for."
       if value['sparse_probing_k5'] > value['sparse_probing_k1'] + 0.05 else "."),
    f"**TPP** is {num(value['tpp'])} at SAEBench's {eval_config.erasure.headline_n} ablated latents. Its value "
    "depends on that choice: " + ", ".join(f"{num(v)} at {n}" for n, v in tpp_at.items())
    + f" (highest at {n_peak})"
    + (f"; at {n_max} every latent with a non-zero effect on the concept's probe is ablated (at most all "
       f"{dict_size})." if n_max >= dict_size else "."),
    scr_bullet,
    f"**Absorption**: on average over concepts, {value['absorption']:.1%} of the images where "
    f"the probe detects the concept are fully absorbed, and the absorption fraction is "
    f"{value['absorption_fraction']:.3f}. The latter depends on how loose SAEBench's alignment "
    f"threshold is here: a cosine of {thr} with the probe direction is exceeded by {p_random:.0%} of random "
    f"directions in {d} dimensions, so many unrelated latents count as \"aligned\".",
    f"**Steerability**: {value['steerable_fraction']:.1%} of the latents move some word's zero-shot "
    f"probability by at least {eval_config.steerability.steerable_power} when clamped — clamping a direction hard "
    f"enough moves a temperature-{eval_config.steerability.temperature:g} softmax — while the mean steerability is "
    f"{value['steerability']:.3f}"
    + (": most of the moved probability does not land on a single word." if value['steerability'] < 0.5
       else ".")
    + " Clamping ignores whether a latent ever fires (exercise 4).",
]
Markdown(f"With these parameters ({benchmark}, the {encoder} encoder, a {family} SAE with {dict_size} latents, "
         f"{X.shape[0]} test images):\n\n" + "\n".join(f"- {b}" for b in bullets))

# %% [markdown]
# None of these numbers says which concept a latent stands for, and only FMS, sparse probing, TPP, SCR and
# absorption use the concept labels at all — each through a probe or a classifier that may combine latents. The
# paper's MATCHScore asks that question directly ([chapter 5](05_matching.ipynb)), and
# [chapter 10](10_metric_validity.ipynb) checks, where the truth is known, which of these metrics rank SAEs the way
# the truth does.

# %% tags=["hide-input"]
if out_dir:
    # the rows of the table, and TPP at the other ablation sizes (a column of their own: ablated_latents)
    erasure_rows = rows.metric.isin(["tpp", "scr"])
    saved = pd.concat([rows.assign(ablated_latents=np.where(erasure_rows, eval_config.erasure.headline_n, np.nan)),
                       tpp_rows[tpp_rows.ablated_latents != eval_config.erasure.headline_n]], ignore_index=True)
    written = save_results(Path(out_dir) / "baseline_metrics.json", saved.to_dict("records"),
                           {"evaluate": dataclasses.replace(eval_config, metrics=tuple(source_of)),
                            "pipeline": config, "sae": sae.train_config, "vocabulary": vocabulary})
    print(f"wrote {written.name} to out_dir")

# %% [markdown]
# ## Exercises
#
# **1.** Use the embeddings themselves as the "codes": what are CKNNA and FVU of the identity map $Z = X$,
# $\hat x = x$? What does that say about what the two metrics reward?
#
# ```{admonition} Solution
# :class: dropdown
# CKNNA compares a kernel with itself: `metrics.cknna(X, X).value` is 1. The reconstruction is perfect, so the
# FVU is 0. The identity map is the best "SAE" under both metrics, yet it is dense and each coordinate mixes
# concepts. Both metrics reward keeping the input; neither rewards finding concepts.
# ```
#
# **2.** Replace MS's reference embeddings by random vectors,
# `metrics.monosemanticity(np.random.default_rng(0).standard_normal(X.shape), Z)`. What happens, and why?
#
# The solution is computed in this run.

# %% tags=["remove-input"]
ms_random = metrics.monosemanticity(np.random.default_rng(0).standard_normal(X.shape), Z, eval_config.ms)
Markdown("```{admonition} Solution\n:class: dropdown\n"
         f"MS falls from {ms.headline()['ms']:.3f} (the toy encoder as reference) to "
         f"{num(ms_random.headline()['ms'])} with random reference vectors. Random vectors are nearly orthogonal to "
         "each other, so every similarity $S_{nm}$ is close to 0 and so is every latent's MS, however good the SAE. "
         "MS is only as meaningful as the reference encoder's notion of similarity — which is why the paper uses a "
         "second, strong encoder.\n```")

# %% [markdown]
# **3.** A concept is split over two latents, each firing on half of its images and nowhere else
# ([chapter 1](01_matching_by_hand.ipynb)). What do FMS's capacity and local score, sparse probing with $k = 1$ and
# $k = 2$, and FBMP make of it? Build it: 2,000 images, 30% of them showing the concept, latents 0 and 1 each
# firing on a random half of those, and 14 further latents firing at random on 20% of all images.
#
# ````{admonition} Solution
# :class: dropdown
# ```python
# rng = np.random.default_rng(0)
# y = rng.random(2000) < 0.3
# half = rng.random(2000) < 0.5
# Zs = np.zeros((2000, 16), np.float32)
# Zs[y & half, 0] = Zs[y & ~half, 1] = 1.0
# Zs[:, 2:] = (rng.random((2000, 14)) < 0.2) * rng.uniform(0.5, 1.5, (2000, 14))
# metrics.fms(Zs, y[:, None]).headline(), metrics.sparse_probing(Zs, y[:, None]).headline()
# kit.matching.fbmp(y[:, None], Zs > 0, beta=0.5).coalitions
# ```
# On a balanced sample the best single latent catches half of the positives and no negatives: FMS's capacity is
# 0.78. Removing it leaves the other half-latent, so the local score is only 0.12, and FMS is 0.37. Sparse probing
# reaches 0.78 with one latent and 1.00 with two. FBMP with β = 0.5 picks latents 0 and 1 and reaches F1 = 1.00.
# FMS calls the concept polysemantic; sparse probing with $k ≥ 2$ and FBMP call it recovered.
# ````
#
# **4.** Which latents are both steerable (power ≥ 0.1) and dead on the test split? Compute it from the results.
#
# The solution is computed in this run.

# %% tags=["remove-input"]
steerable_dead = np.flatnonzero((st.power >= 0.1) & (prox.frequency == 0))
n_dead, n_steer = int((prox.frequency == 0).sum()), int((st.power >= 0.1).sum())
Markdown("```{admonition} Solution\n:class: dropdown\n"
         "`np.flatnonzero((st.power >= 0.1) & (prox.frequency == 0))` gives "
         + (f"{len(steerable_dead)} latents here (of {n_dead} dead and {n_steer} steerable ones)"
            if len(steerable_dead) else
            f"none here: of the {n_dead} dead latents none reaches power 0.1" if n_dead else
            "none here, because no latent is dead on the test split; the question needs an SAE with dead latents")
         + ". Steerability clamps a latent whatever its activation, so a latent that never fires can still steer: "
         "steerability is a property of the decoder direction alone, and says nothing about what the encoder "
         "detects.\n```")
