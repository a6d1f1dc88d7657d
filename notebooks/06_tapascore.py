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
# # TAPAScore: do the matched latents follow an edit?
#
# Matching ([chapter 1](01_matching_by_hand.ipynb) and [chapter 5](05_matching.ipynb)) asks a *correlational*
# question: over many annotated images, does a {term}`coalition` of {term}`latents <latent>` {term}`fire <firing>` where the {term}`concept` is? A latent can pass
# that test for the wrong reason — "blue wing" may be matched to a latent that really tracks the blue sky behind
# blue-winged birds. The paper's second measure
# {cite}`klotz2026evaluating`, the **{term}`TAPAScore`**, asks an *interventional* question instead: take an image,
# change exactly **one** attribute (swap the blue wing for a red one, or remove one object), and check that the
# latents matched to the removed concept switch **off** and the latents matched to the added concept switch
# **on**. The sky did not change, so a sky latent will not move.
#
# The definition, for {term}`pair` $p$ that removes concept $o$ ("old") and adds concept $n$ ("new"; none for a removal),
# with $M(c)$ the coalition matched to concept $c$ (cut to the {term}`budget` $k = 3$), $z$ / $\tilde z$ the {term}`codes <code>` of the
# original / edited image and $b = \mathbb 1[z > 0]$ "the latent fires":
#
# - $I_\text{rem} = M(o) \setminus M(n)$ — latents that should switch **off**;
# - $I_\text{add} = M(n) \setminus M(o)$ — latents that should switch **on** (empty for a removal);
# - $\text{add}_p = \max_{j \in I_\text{add}} \tilde b_j - \max_{j \in I_\text{add}} b_j$ and
#   $\text{rem}_p = \max_{j \in I_\text{rem}} \tilde b_j - \max_{j \in I_\text{rem}} b_j$ (0 on an empty set):
#   did *some* latent of the set go from silent to firing (+1), or from firing to silent (−1)?
# - $\text{TAPAScore} = \frac1P \sum_p (\text{add}_p - \text{rem}_p)$.
#
# A perfect swap scores $1 - (-1) = 2$, the worst $-2$, so swaps live in $[-2, 2]$; a removal has no added
# concept, $\text{add}_p = 0$, and lives in $[-1, 1]$. Codes that ignore the {term}`edit` score 0.
#
# **Why are shared latents dropped?** A latent in both coalitions — say one that fires on every coloured wing,
# matched to both "blue wing" and "red wing" — should *stay on* in a blue → red swap. If it were kept in
# $I_\text{rem}$, the maximum over the set would stay 1 whatever the specific "blue" latent did, and the pair
# would score 0 although the SAE behaved perfectly. A shared latent carries no evidence about *which* of the two
# concepts is present, so it is left out of both sets.
#
# This chapter computes the score by hand on one pair, then for the whole offline toy-synCUB benchmark,
# broken down by attribute, with its selectivity Δ_stay, its continuous and normalised variants, and the pairs
# where it succeeds and fails. Every number comes from {func}`kit.evaluate.evaluate`, which scores the SAE and its
# baselines in one call; the variants (another aggregation, another benchmark) are variants of one {class}`~kit.evaluate.EvalConfig`.
#
# **What you will learn**
#
# - how TAPAScore scores one edited pair (the sets $I_\text{rem}$, $I_\text{add}$, and why shared latents are
#   dropped), checked by hand against the kit;
# - what the score of the book's standard SAE is worth beside its {term}`untrained twin` and {term}`random codes <random codes baseline>`;
# - which attribute families it follows, and what Δ_stay, the continuous, normalised and macro variants add.
#
# **What you need**
#
# - coalitions from {term}`FBMP` ([chapter 5](05_matching.ipynb)) and the paired benchmarks
#   ([chapter 2](02_benchmarks.ipynb));
# - the untrained twin and random codes as baselines (introduced in the [quickstart](00_quickstart.ipynb));
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
family = "topk"        # the standard offline SAE: TopK with 256 latents, 8 active, 20 epochs
dict_size = 256
k = 8
epochs = 20
batch_size = 128       # the offline profile's; the paper: 1,024 (params/paper.yaml)
standardize = True     # per-sample standardisation of the embeddings (the paper's input_unit_norm)
lr = 5e-4
beta = 0.5             # FBMP's F-beta
budget = 3             # coalition budget k of TAPAScore
n_boot = 1000          # bootstrap resamples over pairs
removal_benchmark = "toy-syncoco"  # a removal benchmark scored in the last section (empty: skip it)
removal_concepts_dir = ""          # its base dataset folder when it is a Hub benchmark
reference_dir = ""     # folder of the paper's published numbers; empty: the copy shipped with the kit
out_dir = ""           # when set, every evaluate row of the chapter is written to out_dir/tapascore.json

# %%
import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display
from PIL import Image

from kit import tapas
from kit.evaluate import EvalConfig, evaluate
from kit.pipeline import PipelineConfig, prepare, train_cached
from kit.reference import paper_dataset, paper_results
from kit.results import save_results
from kit.runner import param_path
from kit.sae import encode_array

if smoke:
    n_pairs, n_images, dict_size, epochs, n_boot = 120, 300, 64, 3, 200
sns.set_theme(style="whitegrid")
# path parameters from the project folder (kit.runner.param_path); an empty one is None
cache_dir, out_dir, reference_dir, concepts_dir, removal_concepts_dir = (
    param_path(p) for p in (cache_dir, out_dir, reference_dir, concepts_dir, removal_concepts_dir))

# %% [markdown]
# ## The benchmark, the SAE and its baselines
#
# As in the [quickstart](00_quickstart.ipynb): {func}`~kit.pipeline.prepare` renders and embeds the benchmark (cached),
# {func}`~kit.pipeline.train_cached` trains the standard {term}`TopK` SAE on the *train* split (cached and shared with the other chapters),
# and `evaluate` does the rest. It
# builds the **untrained twin** — same family, size, sparsity and preprocessing, random weights — and **random
# codes** ($k$ latents per image that ignore what it shows), matches each model's latents to the concepts with
# FBMP on the *test* split (each on its own codes), encodes the pairs and scores them. The baselines tell us what
# the score is worth when the latents mean nothing.

# %%
config = PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                        concepts_dir=concepts_dir or None, seed=seed, device=device)
data = prepare(config, cache_dir)
pairs = data.pairs
if pairs.concepts != data.concepts.names:
    raise ValueError("the pairs and the annotated images must list the same concepts in the same order")
X_train, _ = data.split("train")
sae_settings = dict(family=family, dict_size=dict_size, k=k, seed=seed)
[sae] = train_cached(X_train, [sae_settings], cache_dir, epochs=epochs, batch_size=batch_size,
                     standardize=standardize, lr=lr, progress=False)

crit = f"fbmp_b{beta:g}"
TAPAS = ("tapascore", "tapas_add", "tapas_rem", "tapascore_normalised", "tapascore_macro", "delta_stay")
base = EvalConfig(criteria=(crit,), budget=budget, metrics=TAPAS, n_boot=n_boot, seed=seed, device=device)
studies = {benchmark: evaluate(sae, data, base)}  # name → Results, written to out_dir at the end
results = studies[benchmark]
result = results.tapas["trained", crit]  # the per-pair detail behind the trained SAE's rows
table = result.pairs
P = pairs.n_pairs
print(f"{P} pairs ({(pairs.new >= 0).sum()} swaps, {(pairs.new < 0).sum()} removals) over "
      f"{pairs.n_concepts} concepts; models scored: {', '.join(dict.fromkeys(results.rows.role))}")

# %% [markdown]
# ## One pair, by hand
#
# We pick a swap whose two coalitions both keep at least one latent after the shared ones are dropped, and look
# at the latents of $M(o) \cup M(n)$ before and after the edit. The coalitions are those `evaluate` matched
# (`results.matchings`), and the right-hand column is its per-pair table (`results.tapas`).

# %%
def short(name: str) -> str:
    """'has_wing_color::blue' → 'wing color: blue' (names without '::' are kept)."""
    family_name, _, value = name.partition("::")
    return f"{family_name.removeprefix('has_')}: {value}".replace("_", " ") if value else name


def fires(z: np.ndarray, latents: list[int]) -> float:
    """max over a set of latents of 1[z > 0]; 0 on the empty set."""
    return float((z[latents] > 0).any()) if latents else 0.0


coalitions = results.matchings["trained", crit].budgeted(budget)
Zo, Ze = encode_array(sae, data.X_orig.X), encode_array(sae, data.X_edit.X)
candidates = table[(table.kind == "swap") & (table.n_add > 0) & (table.n_rem > 0)]
p = int(candidates.sort_values(["score", "pair_id"], ascending=[False, True]).index[0]) \
    if len(candidates) else int(table.score.idxmax())
o, n = int(pairs.old[p]), int(pairs.new[p])
I_rem = [j for j in coalitions[o] if n < 0 or j not in coalitions[n]]
I_add = [j for j in coalitions[n] if j not in coalitions[o]] if n >= 0 else []
shared = [j for j in coalitions[o] if n >= 0 and j in coalitions[n]]

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), gridspec_kw={"width_ratios": [1, 1, 2.2]})
for ax, path, title in [(axes[0], pairs.orig_images[p], f"original: {short(pairs.concepts[o])}"),
                        (axes[1], pairs.edit_images[p], f"edit: {short(pairs.concepts[n]) if n >= 0 else '(removed)'}")]:
    ax.imshow(Image.open(path))
    ax.set_title(title, fontsize=9)
    ax.axis("off")
role = {**{j: "I_rem" for j in I_rem}, **{j: "I_add" for j in I_add}, **{j: "shared" for j in shared}}
bars = pd.DataFrame([{"latent": f"{j}\n({r})", "image": which, "code": float(z[j])}
                     for j, r in role.items() for which, z in (("original", Zo[p]), ("edit", Ze[p]))])
sns.barplot(data=bars, x="latent", y="code", hue="image", ax=axes[2])
axes[2].set_title("codes of the coalition latents")
plt.tight_layout()

add_p = fires(Ze[p], I_add) - fires(Zo[p], I_add)
rem_p = fires(Ze[p], I_rem) - fires(Zo[p], I_rem)
assert (add_p, rem_p) == (table["add"][p], table["rem"][p]), "the hand computation disagrees with evaluate"
pd.DataFrame({
    "by hand": [str(coalitions[o]), str(coalitions[n] if n >= 0 else []), str(I_rem), str(I_add), add_p, rem_p,
                add_p - rem_p],
    "evaluate (results.tapas)": ["", "", "", "", table["add"][p], table["rem"][p], table["score"][p]],
}, index=["M(old)", "M(new)", "I_rem", "I_add", "add_p", "rem_p", "score_p"])

# %% tags=["remove-input"]
Markdown(f"In the pair shown, $\\text{{rem}}_p = {rem_p:+.0f}$ and $\\text{{add}}_p = {add_p:+.0f}$, a score of "
         f"{add_p - rem_p:+.0f}"
         + (": some latent of $I_\\text{rem}$ fires on the original and none does on the edit, the reverse holds "
            "for $I_\\text{add}$ — the best a swap can score." if add_p - rem_p == 2 else "."))

# %% [markdown]
# The kit computes the same numbers for all pairs at once: the coalitions become a padded index matrix, and the
# codes of every pair's two sets are gathered in one indexing operation — no loop over pairs.
#
# ## The score on the whole benchmark: trained SAE, untrained twin, random codes
#
# The interval is a percentile bootstrap over pairs (`n_boot` resamples).
# `add` is the mean $\text{add}_p$ (how often the added concept's latents switch on, net), `rem` the mean
# $\text{rem}_p$ (negative is good: they switch off); the score is `add − rem`.

# %%
ROLE = {"trained": "trained", "untrained": "untrained twin", "random": "random codes"}
METRIC = {"tapascore": "TAPAScore", "tapas_add": "add (mean add_p)", "tapas_rem": "rem (mean rem_p)",
          "tapascore_normalised": "normalised", "tapascore_macro": "macro (per edited concept)",
          "delta_stay": "Δ_stay"}


def with_ci(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with a column ``shown``: 'value [ci_low, ci_high]'."""
    return rows.assign(shown=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in zip(rows.value, rows.ci_low,
                                                                                  rows.ci_high)])


def pivot(res, metrics, roles=ROLE) -> pd.DataFrame:
    """metric × role table of 'value [interval]' from one Results."""
    r = with_ci(res.rows[res.rows.metric.isin(metrics)])
    return r.pivot(index="metric", columns="role", values="shown").loc[list(metrics), list(roles)].rename(
        index=METRIC, columns=ROLE)


pivot(results, METRIC)

# %% tags=["remove-input"]
tr, un, rn = (results.select("tapascore", role, crit).iloc[0] for role in ROLE)
add, rem = results.value("tapas_add", criterion=crit), results.value("tapas_rem", criterion=crit)
overlap = tr.ci_low <= un.ci_high and un.ci_low <= tr.ci_high
share = un.value / tr.value if tr.value > 0 else np.nan
twin_keeps_most = overlap or share > 0.5
paper_ds = paper_dataset(benchmark)
paper = paper_results(reference_dir or None)
paper = paper[(paper.dataset == paper_ds) & (paper.metric == "tapascore") & (paper.family == "mean")]
ref = paper.set_index("role").value if paper_ds else None


def fmt(r) -> str:
    return f"{r.value:.3f} ({r.ci_low:.3f} to {r.ci_high:.3f})"


Markdown(
    f"The trained SAE's TAPAScore is {fmt(tr)}"
    + (", above 0: its matched latents do follow the edits" if tr.ci_low > 0 else
       ", an interval that reaches 0: its matched latents do not clearly follow the edits")
    + (", mostly by switching *off* when their concept is removed (`rem` is larger in size than `add`). "
       if abs(rem) > add else ". ")
    + f"The untrained twin scores {fmt(un)}"
    + (": the two intervals overlap and the twin is even ahead, so on this benchmark TAPAScore does not tell a "
       "trained SAE from an untrained one. " if overlap and un.value >= tr.value else
       ": the two intervals overlap, so on this benchmark TAPAScore barely tells a trained SAE from an untrained "
       "one. " if overlap else
       f": the intervals do not overlap, and the twin is ahead ({share:.0%} of the trained SAE's score). "
       if un.value > tr.value else
       f": the intervals do not overlap, yet the twin keeps {share:.0%} of the trained SAE's score. "
       if share > 0.5 else
       f": the intervals do not overlap, and the twin keeps only {share:.0%} of the trained SAE's score. ")
    + f"Random codes, whose latents ignore the image, score {fmt(rn)}"
    + (", an interval around 0, as codes that ignore the edit should. " if rn.ci_low <= 0 <= rn.ci_high else
       ", an interval that excludes 0. ")
    + (f"The paper, with CLIP ViT-L/14 on syn{paper_ds} (`kit.reference.paper_results()`; "
       f"[chapter 8](08_sanity_checks.ipynb) puts them side by side), reports {ref['trained']:.3f} for the trained SAE, {ref['untrained']:.3f} "
       f"for its untrained baseline and {ref['random']:.3f} for random codes"
       + (": there the untrained baseline scores like random codes. "
          if abs(ref["untrained"] - ref["random"]) < abs(ref["trained"] - ref["untrained"]) else ". ")
       + ("Not so here. Why does the twin score so high?" if twin_keeps_most else
          "Here too the twin stays well below the trained SAE.")
       if ref is not None and len(ref) else "")
)

# %% [markdown]
# An untrained SAE's latents are random directions. FBMP still picks, for each concept, the random latents that
# correlate best with it on the annotated images — and a random direction correlates with a concept only
# because the concept's embedding direction has a component along it. An edit moves the embedding along that
# concept direction, so the latent moves too: the twin's matched latents follow the edits of their concepts to
# the degree that they correlate with them, which is what TAPAScore measures. Random codes do not: their
# latents are drawn from a hash of the embedding, not from a direction in it, so no edit moves them
# systematically. A TAPAScore is therefore only meaningful *beside* its untrained twin's. The paper's untrained
# baseline is a different one (dense codes, and a different random encoder for the pairs than for the
# matching); [chapter 8](08_sanity_checks.ipynb) builds both and measures what each shows, and
# [chapter 3](03_embeddings.ipynb) measures how the embeddings' variance is spread over directions.
#
# The remaining rows of the table are explained below.
#
# ## Per attribute: which edits does the SAE follow?
#
# `TapasResult.breakdown(by)` groups the pairs by the attribute family of the edited concept (`"group"`), by
# the edited concept (`"old"`), the added one (`"new"`), or the transition `old → new`, with a bootstrap
# interval per group; `plot_breakdown` draws it. The `TapasResult` is the one behind the trained SAE's rows
# (`results.tapas["trained", criterion]`).

# %%
by_family = result.breakdown("group")
by_family.round(3)

# %%
ax = tapas.plot_breakdown(result, by="group")
ax.set_title("TAPAScore per attribute family (trained SAE)")
plt.tight_layout()

# %% tags=["remove-input"]
def family_list(rows: pd.DataFrame) -> str:
    return ", ".join(f"{g.removeprefix('has_').replace('_', ' ')} ({v:.2f})" for g, v in zip(rows.group, rows.score))


ranked_families = by_family.sort_values("score", ascending=False)
first, last = ranked_families.iloc[0], ranked_families.iloc[-1]
small_parts = [g.removeprefix("has_").split("_")[0] for g in ranked_families.tail(3).group
               if g.startswith(("has_bill", "has_eye"))]
Markdown(
    ("Families differ a lot" if first.ci_low > last.ci_high else "Families differ, within wide intervals")
    + f": the most followed edits are {family_list(ranked_families.head(3))}; the least followed "
    f"{family_list(ranked_families.tail(3))}. "
    + (f"Edits of the whole bird or of large regions change many pixels; edits of small parts such as the "
       f"{' and the '.join(dict.fromkeys(small_parts))} change only a few"
       + (" at the toy encoder's 96-pixel input. " if encoder == "toy" else ". ") if small_parts else "")
    + f"The families hold {by_family.n_pairs.min()} to {by_family.n_pairs.max()} pairs here; compare the "
    "`n_pairs` column before reading a ranking on another benchmark: a small group has a wide interval."
)

# %% [markdown]

# ## Selectivity: Δ_stay
#
# A latent that fires on *every* edit would switch on and off with many pairs and still say nothing specific.
# Δ_stay measures the collateral damage: for each pair, the mean $|f(M(a))|$ over every **other** concept $a$
# present in the original (neither $o$ nor $n$) — how much the latents of concepts that were *not* edited
# moved. 0 is perfectly selective; it is reported beside the score, not subtracted from it.

# %%
pivot(results, ("tapascore", "delta_stay")).T

# %% tags=["remove-input"]
st, su, sr = (results.select("delta_stay", role, crit).iloc[0] for role in ROLE)
stay_apart = st.ci_high < su.ci_low or su.ci_high < st.ci_low
Markdown(
    f"Here the trained SAE's Δ_stay is {st.value:.3f} and its twin's {su.value:.3f}"
    + ((": the trained SAE is more selective, with intervals that do not overlap. "
        + ("So even where the two follow the edits about as often, the" if overlap else "The")
        + " trained SAE's latents move less for the concepts that were left alone. ")
       if stay_apart and st.value < su.value else ": the twin is more selective, with intervals that do not overlap. " if stay_apart else
       ", with overlapping intervals: no difference in selectivity shows. ")
    + f"Random codes have a Δ_stay of {sr.value:.3f} ({sr.ci_low:.3f} to {sr.ci_high:.3f}), "
    + ("lower than" if sr.ci_high < st.ci_low else "higher than" if sr.ci_low > st.ci_high else "about the same as")
    + " the trained SAE's: an edit changes the embedding's hash and redraws all their latents, so any coalition "
    "may flip, and how often it does depends mostly on how often it fires at all. A low Δ_stay is therefore "
    "selectivity only beside a TAPAScore above chance"
    + (", which the trained SAE has here (its TAPAScore interval lies above that of random codes)."
       if tr.ci_low > rn.ci_high else ", which the trained SAE does not clearly have here.")
)

# %% [markdown]
# ## Continuous variants
#
# The binary score only sees latents crossing zero. Three continuous aggregations use the code magnitudes:
# `max_then_delta` ($\max_I \tilde z - \max_I z$), `delta_then_max` ($\max_I (\tilde z - z)$) and
# `delta_then_mean` ($\operatorname{mean}_I (\tilde z - z)$). Their scale is that of the codes, so they compare
# SAEs only when the codes have similar scales — the binary score is the paper's headline for that reason. Each
# aggregation is one variant of the configuration (`dataclasses.replace(base, aggregation=...)`), scoring the
# trained SAE and its untrained twin.

# %%
for how in tapas.AGGREGATIONS:
    studies[f"aggregation {how}"] = evaluate(sae, data, dataclasses.replace(
        base, aggregation=how, metrics=("tapascore",), baselines=("untrained",)))
variants = pd.concat([studies[f"aggregation {how}"].rows.assign(aggregation=how) for how in tapas.AGGREGATIONS],
                     ignore_index=True)
variants.pivot(index="aggregation", columns="role", values=["value", "ci_low", "ci_high"]).loc[
    list(tapas.AGGREGATIONS)].round(3)

# %% tags=["remove-input"]
v = variants.set_index(["aggregation", "role"])
continuous = [how for how in tapas.AGGREGATIONS if how != "binary"]
above = [how for how in continuous if v.loc[(how, "trained"), "value"] > v.loc[(how, "untrained"), "value"]]
apart = [how for how in above if v.loc[(how, "trained"), "ci_low"] > v.loc[(how, "untrained"), "ci_high"]]
Markdown(
    f"{len(above)} of the {len(continuous)} continuous variants put the trained SAE above its twin"
    + (f", and for {len(apart)} of them ({', '.join(f'`{h}`' for h in apart)}) the intervals do not overlap"
       if apart else ", with overlapping intervals" if above else "")
    + ". Since the twin's codes have another scale than the trained SAE's, that comparison is weak evidence on "
    "its own."
)

# %% [markdown]
# ## Where it succeeds and where it fails
#
# The pairs with the highest and the lowest score, with the edited concepts. A failure is informative: either
# the encoder does not see the attribute, or the SAE spreads it over latents FBMP did not collect, or the
# matched latents track something correlated with the concept on the annotated images but untouched by the edit.
# A negative score means a matched latent moved the *wrong* way.

# %%
def show_pairs(rows: pd.DataFrame, title: str) -> None:
    """Originals (top) and edits (bottom) of the given rows of the per-pair table."""
    fig, axes = plt.subplots(2, len(rows), figsize=(2.3 * len(rows), 5.2), squeeze=False)
    for col, (i, row) in enumerate(rows.iterrows()):
        for r, path in enumerate((pairs.orig_images[i], pairs.edit_images[i])):
            axes[r, col].imshow(Image.open(path))
            axes[r, col].axis("off")
        added = short(row["new_name"]) if row["new"] >= 0 else "(removed)"
        axes[0, col].set_title(f"score {row['score']:+.0f}\n− {short(row['old_name'])}", fontsize=8)
        axes[1, col].set_title(f"+ {added}", fontsize=8)
    fig.suptitle(title)
    plt.tight_layout()


n_show = 5
ranked = table.sort_values(["score", "pair_id"], ascending=[False, True])
best = ranked.drop_duplicates("old").head(n_show)   # one pair per edited concept, for variety
worst = ranked[::-1].drop_duplicates("old").head(n_show)
show_pairs(best, "Best pairs (trained SAE)")
show_pairs(worst, "Worst pairs (trained SAE)")

# %% tags=["remove-input"]
def edited(rows: pd.DataFrame) -> str:
    lo, hi = rows.score.min(), rows.score.max()
    scores_ = f"score {lo:+.0f}" if lo == hi else f"scores {lo:+.0f} to {hi:+.0f}"
    return f"({scores_}) edit " + ", ".join(short(name) for name in rows.old_name)


Markdown(f"The best pairs shown {edited(best)}; the worst {edited(worst)}.")

# %% [markdown]
# Which concepts fail most often? The edited concepts with the lowest mean score:

# %%
result.breakdown("old").tail(8).round(3)

# %% [markdown]
# ## A removal benchmark, and the normalised and macro variants
#
# The synCOCO-like benchmark removes one object from a scene: $I_\text{add}$ is empty, $\text{add}_p = 0$ and a
# pair scores 1 when the object's latents switch off. Same SAE recipe, trained on that benchmark's own images,
# and the same configuration `base`, evaluated on that benchmark.
#
# A swap can score 2, a removal only 1, so the raw TAPAScores of a swap benchmark and a removal benchmark are
# not on one scale. The **normalised** TAPAScore divides each pair's score by the most a pair of its kind can
# score (2 for a swap, 1 for a removal), giving $[-1, 1]$ for both: 1 means every added concept switched on and
# every removed one off. The **macro** TAPAScore averages per edited concept first, so that frequent concepts
# do not dominate the mean.

# %%
if removal_benchmark:
    rdata = prepare(PipelineConfig(benchmark=removal_benchmark, encoder=encoder, n_pairs=n_pairs,
                                   n_images=n_images, concepts_dir=removal_concepts_dir or None, seed=seed,
                                   device=device), cache_dir)
    rX_train, _ = rdata.split("train")
    [rsae] = train_cached(rX_train, [sae_settings], cache_dir, epochs=epochs, batch_size=batch_size,
                          standardize=standardize, lr=lr, progress=False)
    studies[removal_benchmark] = evaluate(rsae, rdata, base)
benches = [b for b in (benchmark, removal_benchmark) if b]
side = pd.concat({b: pivot(studies[b], ("tapascore", "tapascore_normalised", "tapascore_macro", "delta_stay")).T
                  for b in benches}, names=["benchmark", "model"])
kinds = pd.DataFrame({(b, ROLE[r]): studies[b].tapas[r, crit].pairs.kind.value_counts()
                      for b in benches for r in ROLE}).T.reindex(columns=["swap", "removal"]).fillna(0).astype(int)
kinds.index.names = side.index.names
kinds.rename(columns={"swap": "swaps", "removal": "removals"}).join(side)

# %% [markdown]
# On the normalised scale the two benchmarks can be read side by side: the share of the best achievable score
# the SAE reaches, for swaps and for removals.

# %% tags=["remove-input"]
if removal_benchmark:
    rs, rt = (studies[removal_benchmark].select("tapascore_normalised", role, crit).iloc[0]
              for role in ("trained", "untrained"))
    swap_norm = results.value("tapascore_normalised", criterion=crit)
    display(Markdown(
        f"The trained SAE reaches {rs.value:.3f} of the best achievable score on the removals of "
        f"{removal_benchmark} against {swap_norm:.3f} on the swaps of {benchmark}, so the removals are "
        + ("followed more often. " if rs.value > swap_norm else "followed less often. ")
        + f"There the untrained twin reaches {rt.value:.3f}, "
        + ("below" if rt.value < rs.value else "at or above") + " the trained SAE "
        + ("(intervals overlapping)." if rt.ci_high >= rs.ci_low and rs.ci_high >= rt.ci_low else
           "(intervals not overlapping)." + (" On the removals TAPAScore does tell the trained SAE from its twin."
                                            if rt.ci_high < rs.ci_low else ""))
    ))

# %% tags=["hide-input"]
if out_dir:
    rows = pd.concat([res.rows.assign(study=name) for name, res in studies.items()], ignore_index=True)
    path = save_results(Path(out_dir) / "tapascore.json", rows.to_dict("records"),
                        {"pipeline": config, "sae": {**sae_settings, "epochs": epochs}, "beta": beta,
                         "budget": budget, "n_boot": n_boot, "removal_benchmark": removal_benchmark,
                         "studies": {name: res.config for name, res in studies.items()}})
    print(f"wrote {path.name} to out_dir")

# %% [markdown]
# ## Exercises
#
# **1.** A pair swaps "wing color: blue" for "wing color: red". $M(\text{blue}) = \{3, 7\}$,
# $M(\text{red}) = \{7, 9\}$. Before the edit latents 3 and 7 fire; after it 7 and 9 fire. Compute $I_\text{rem}$,
# $I_\text{add}$, $\text{add}_p$, $\text{rem}_p$ and the pair's score — and the score you would get if the
# shared latent 7 were kept in both sets.
#
# ```{admonition} Solution
# :class: dropdown
# $I_\text{rem} = \{3\}$, $I_\text{add} = \{9\}$. $\text{add}_p = 1 - 0 = 1$, $\text{rem}_p = 0 - 1 = -1$, score
# $= 2$. Keeping 7 in both sets: $\max$ over $\{3, 7\}$ is 1 before and 1 after (7 stays on), so
# $\text{rem}_p = 0$; $\max$ over $\{7, 9\}$ is 1 before and after, so $\text{add}_p = 0$: the score drops to 0
# although the SAE did exactly the right thing.
# ```
#
# **2.** Take one concept direction $u$ (unit vector) in a $d$-dimensional embedding and a random latent
# direction $w$. How large is $\cos(u, w)$ typically, and why does that make an untrained twin more dangerous for
# a small encoder than for CLIP ViT-L/14?
#
# ```{admonition} Solution
# :class: dropdown
# For a random direction, $\cos(u, w)$ has mean 0 and standard deviation $1/\sqrt d$: 0.088 for the toy
# encoder's $d = 128$, 0.036 for the 768-d CLIP embedding. Among 256 random latents the largest $|\cos|$ is
# about three standard deviations (0.26 at $d = 128$, 0.11 at $d = 768$), and FBMP picks exactly such latents.
# So at $d = 128$ an untrained twin's best latent for a concept reads about a quarter of an edit along $u$,
# against a ninth at CLIP's width. More importantly, when the embeddings' variance sits in a few directions
# (`top10_variance_share` in [chapter 3](03_embeddings.ipynb)'s world statistics), the latents' responses are
# dominated by those directions, so a random latent behaves like a blurred attribute detector. In a
# high-dimensional embedding with many independent factors a random latent mixes many of them, and its response
# to one edit drowns.
# ```
#
# **3.** A benchmark holds 300 swaps and 100 removals. On every swap only the added concept's latents switch on
# (the removed one's stay on); on every removal the object's latents switch off. Compute the TAPAScore and the
# normalised TAPAScore.
#
# ```{admonition} Solution
# :class: dropdown
# Swaps: $\text{add}_p = 1$, $\text{rem}_p = 0$, score 1, normalised $1/2$. Removals: $\text{add}_p = 0$,
# $\text{rem}_p = -1$, score 1, normalised $1/1 = 1$. TAPAScore $= (300 + 100)/400 = 1$; normalised
# $= (300 \cdot 0.5 + 100 \cdot 1)/400 = 0.625$. The raw score hides that the swaps only did half their job;
# the normalised one counts each pair against the most it could have scored.
# ```
#
# **4.** Compute the TAPAScore of the trained SAE with the *untrained* SAE's matching
# (`results.matchings["untrained", crit]` with the trained codes `Zo, Ze`). What does the result say about the role of the matching here?
#
# The solution below is computed in this run.

# %% tags=["remove-input"]
cross = tapas.tapascore(Zo, Ze, pairs.old, pairs.new, results.matchings["untrained", crit], k=budget,
                        n_boot=n_boot, seed=seed)
own = results.select("tapascore", "trained", crit).iloc[0]
Markdown(
    "```{admonition} Solution\n:class: dropdown\n"
    "`tapas.tapascore(Zo, Ze, pairs.old, pairs.new, results.matchings[\"untrained\", crit], k=budget).score`. The "
    "coalitions are then latent indices chosen on another dictionary — arbitrary latents of the trained SAE. "
    f"In this run the trained SAE scores {cross.score:.3f} [{cross.ci[0]:.3f}, {cross.ci[1]:.3f}] with the twin's "
    f"matching against {own.value:.3f} [{own.ci_low:.3f}, {own.ci_high:.3f}] with its own"
    + (": the intervals do not overlap, so the trained SAE's own matching found latents that follow the edits "
       "far better than arbitrary ones. " if cross.ci[1] < own.ci_low else
       ": the intervals overlap, so here the choice of latents matters less than it should. ")
    + ("Arbitrary latents still score above 0: many latents move with many edits. " if cross.ci[0] > 0 else
       "Arbitrary latents score about 0, as latents unrelated to the edited concepts should. ")
    + "[Chapter 8](08_sanity_checks.ipynb) measures the same situation for an untrained encoder: matched on one "
    "random encoder, scored on another (the reference code's protocol).\n```")
