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
# # Dictionary size
#
# How many {term}`latents <latent>` should an SAE have? Reconstruction only ever improves with more latents, so proxy metrics
# reward ever larger dictionaries. The paper's main finding {cite}`klotz2026evaluating` is that
# interpretability does not: with CLIP ViT-L/14 on CUB, {term}`TAPAScore` peaks at a small dictionary (256 latents) and
# falls as the dictionary grows. Two mechanisms push the same way:
#
# - **feature splitting** — a larger dictionary splits one {term}`concept` over several specialised latents (one per
#   pose, per species, per context), so a {term}`coalition` of $k = 3$ latents covers less of it;
# - **absorption** — a broad latent ("blue") is hollowed out by specific ones ("blue wing of a jay"), so the
#   concept's {term}`firing` pattern is spread over latents that also mean other things.
#
# This chapter reruns the study as a sweep over SAE families × {term}`dictionary sizes <dictionary size>` × seeds, with bootstrap
# intervals, on the offline default (toy-synCUB, the toy encoder). The same notebook runs the paper's grid with
# the `paper` profile, or as a `kit sweep` over a grid file (one cell per family, size or seed).
#
# **What you will learn**
#
# - how reconstruction, TAPAScore and {term}`ΔMATCHScore` move with the dictionary size, per SAE family, over seeds;
# - how the {term}`untrained twin` moves with the size, and why TAPAScore and ΔMATCHScore can move in opposite directions;
# - how {term}`FBMP` coalitions compare with one-to-one matching at every size.
#
# **What you need**
#
# - the four SAE families ([chapter 4](04_sae_training.ipynb)), FBMP and ΔMATCHScore
#   ([chapter 5](05_matching.ipynb)), TAPAScore ([chapter 6](06_tapascore.ipynb));
# - a few minutes: the chapter trains and evaluates every SAE of the grid (cached for
#   [chapter 11](11_reproducing_the_paper.ipynb));
# - the [glossary](../book/glossary.md) for the words of the method and the [API reference](../book/api.md) for the kit's functions.

# %% tags=["parameters"]
smoke = False
seed = 0
cache_dir = ".cache"
out_dir = ""
benchmark = "toy-syncub"
encoder = "toy"
concepts_dir = ""
device = "auto"
n_pairs = 2000
n_images = 3000
families = ["topk", "batchtopk", "matryoshka", "jumprelu"]
sizes = [32, 64, 128, 256, 512]
seeds = [0, 1]
k = 8                  # active latents per image (the paper: 32 on 768-d CLIP embeddings)
epochs = 20
batch_size = 128       # the offline profile's; the paper: 1,024 (params/paper.yaml)
standardize = True     # per-sample standardisation of the embeddings (the paper's input_unit_norm)
lr = 5e-4
betas = [1.0, 0.5, 0.25]
budget = 3
held_out = False       # select coalitions on half of the test images and score them on the other half
n_boot = 200

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from kit.evaluate import EvalConfig
from kit.pipeline import PipelineConfig, prepare
from kit.results import PAPER_METRICS, save_results
from kit.runner import param_path
from kit.studies import DISPLAY, StudyConfig, dictionary_size_study
from IPython.display import Markdown, display

if smoke:
    n_pairs, n_images, epochs, n_boot = 120, 300, 3, 100
    families, sizes, seeds = families[:2], [32, 64], [0]
if isinstance(seeds, int):  # a sweep cell passes one seed
    seeds = [seeds]
if isinstance(sizes, int):
    sizes = [sizes]
if isinstance(families, str):
    families = [families]
sns.set_theme(style="whitegrid")
# path parameters from the project folder (kit.runner.param_path); an empty one is None
cache_dir, out_dir, concepts_dir = (param_path(p) for p in (cache_dir, out_dir, concepts_dir))

# %%
data = prepare(PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                              concepts_dir=concepts_dir or None, seed=seed, device=device), cache_dir)
evaluation = EvalConfig(criteria=("one_to_one",) + tuple(f"fbmp_b{b:g}" for b in betas), budget=budget,
                        metrics=PAPER_METRICS + ("fvu",), baselines=("untrained",), held_out=held_out,
                        n_boot=n_boot, seed=seed, device=device)
study = StudyConfig(families=tuple(families), sizes=tuple(sizes), seeds=tuple(seeds), k=k,
                    train={"epochs": epochs, "batch_size": batch_size, "standardize": standardize, "lr": lr}, evaluation=evaluation)
results = dictionary_size_study(data, study, cache_dir, progress=False)
results["SAE"] = results.family.map(DISPLAY)
trained = results[results.role == "trained"]
print(f"{results.family.nunique()} families × {results.dict_size.nunique()} sizes × {results.seed.nunique()} "
      f"seeds, {len(results)} result rows")

# %% [markdown]
# ## Reconstruction
#
# First the proxy: the fraction of variance of the test embeddings that the SAE fails to reconstruct (FVU). With
# enough data and training, FVU falls as the dictionary grows; on the small offline data with a fixed number of
# steps, large dictionaries may not get there (more latents stay dead or undertrained) — the figure shows which.

# %%
fvu = trained[trained.metric == "fvu"]
ax = sns.lineplot(data=fvu, x="dict_size", y="value", hue="SAE", marker="o", errorbar=("pi", 100))
ax.set_xscale("log", base=2)
ax.set_ylabel("FVU")
ax.set_title("Reconstruction error (lower is better)");

# %% [markdown]
# ## Interpretability
#
# TAPAScore with FBMP matching ($\beta = 0.5$, $k = 3$) and ΔMATCHScore, per family, against the dictionary size.
# Lines are means over seeds; bands span the seeds.

# %%
headline = "fbmp_b0.5" if 0.5 in betas else f"fbmp_b{betas[0]:g}"
main = trained[trained.criterion == headline]
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, metric, title in zip(axes, ["tapascore", "delta_match_score"], ["TAPAScore", "ΔMATCHScore"]):
    sns.lineplot(data=main[main.metric == metric], x="dict_size", y="value", hue="SAE", marker="o",
                 errorbar=("pi", 100), ax=ax)
    ax.set_xscale("log", base=2)
    ax.set_title(f"{title} ({headline}, k={budget})")
    ax.set_ylabel(title)
plt.tight_layout()

# %%
by_size = (trained[trained.metric.isin(["tapascore", "delta_match_score"])]
           .groupby(["metric", "criterion", "dict_size"]).value.mean().unstack("dict_size").round(3))
by_size

# %% [markdown]
# The table averages over families and seeds. Reading it row by row shows, for each criterion, where each
# score peaks; compare the FBMP rows with the one-to-one row `one_to_one`.

# %% tags=["remove-input"]
peak = (trained[trained.metric == "tapascore"].groupby(["criterion", "dict_size"]).value.mean()
        .groupby("criterion").idxmax().map(lambda t: t[1]).rename("size with the best mean TAPAScore"))
fvu_best = fvu.groupby("dict_size").value.mean().idxmin()
print(peak.to_string())
print(f"size with the best mean reconstruction: {fvu_best}")
f05 = trained[(trained.metric == "tapascore") & (trained.criterion == headline)].groupby("dict_size").value.mean()
edge = f05.idxmax() in (f05.index.min(), f05.index.max())
Markdown(f"With FBMP (`{headline}`) the mean TAPAScore is highest at {f05.idxmax()} latents ({f05.max():.3f}) and "
         f"{f05.loc[f05.index.max()]:.3f} at the largest size studied, {f05.index.max()}"
         + (" — the peak lies at the edge of the grid, so the grid does not show whether the score would rise "
            "further beyond it" if edge else " — inside the grid")
         + "; the paper found its peak at 256 latents on CLIP ViT-L/14, at a much larger embedding and $k$.")

# %% [markdown]
# ## The untrained twin across sizes
#
# ΔMATCHScore is a difference: the trained SAE's {term}`MATCHScore` minus its untrained twin's. Both move with the
# dictionary size, and so does the twin's TAPAScore. The twin's curves (dashed) beside the trained SAEs' (means
# over families and seeds; bands span them):

# %%
view = results[(results.criterion == headline) & results.metric.isin(["tapascore", "match_score"])]
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, metric, title in zip(axes, ["tapascore", "match_score"], ["TAPAScore", "MATCHScore"]):
    sns.lineplot(data=view[view.metric == metric], x="dict_size", y="value", hue="role", style="role", marker="o",
                 errorbar=("pi", 100), ax=ax, hue_order=["trained", "untrained"], style_order=["trained", "untrained"])
    ax.set_xscale("log", base=2)
    ax.set_title(f"{title} ({headline}, k={budget})")
    ax.set_ylabel(title)
plt.tight_layout()

# %% tags=["hide-input"]
def per_doubling(metric: str, role: str = "trained") -> float:
    """The least-squares slope of the mean score (over families and seeds) against log2 of the size."""
    m = results[(results.metric == metric) & (results.role == role) & (results.criterion == headline)]
    curve = m.groupby("dict_size").value.mean()
    return float(np.polyfit(np.log2(curve.index.to_numpy(float)), curve.to_numpy(), 1)[0]) if len(curve) > 1 else 0.0


slopes = pd.Series({
    "TAPAScore, trained": per_doubling("tapascore"),
    "TAPAScore, untrained twin": per_doubling("tapascore", "untrained"),
    "MATCHScore, trained": per_doubling("match_score"),
    "MATCHScore, untrained twin": per_doubling("match_score", "untrained"),
    "ΔMATCHScore": per_doubling("delta_match_score"),
}, name="change per doubling of D")
display(slopes.round(4).to_frame())


def trend(x: float) -> str:
    return "rises" if x > 0 else "falls" if x < 0 else "stays flat"


t, d = slopes["TAPAScore, trained"], slopes["ΔMATCHScore"]
words = [f"Per doubling of the dictionary, the trained SAEs' TAPAScore {trend(t)} ({t:+.3f}) and ΔMATCHScore "
         f"{trend(d)} ({d:+.3f})."]
if np.sign(t) != np.sign(d) and t != 0 and d != 0:
    mt, mu = slopes["MATCHScore, trained"], slopes["MATCHScore, untrained twin"]
    words.append(f"They move in opposite directions here. ΔMATCHScore's trend is the difference of two trends: the "
                 f"trained SAEs' MATCHScore {trend(mt)} ({mt:+.3f}) and the twin's {trend(mu)} ({mu:+.3f}) per "
                 "doubling. "
                 + ("The twin's rises faster: with more random latents, FBMP finds coalitions that fit a concept by "
                    "chance more often, which raises the bar ΔMATCHScore subtracts. TAPAScore subtracts nothing; it "
                    "asks whether the matched latents follow the edits, whatever the twin does. "
                    if mu > mt else
                    "The trained SAEs' MATCHScore changes faster than the twin's, so the difference follows the "
                    "trained SAEs. ")
                 + "The two metrics answer different questions, so a dictionary size can look better on one and "
                   "worse on the other.")
else:
    words.append("They move in the same direction in this run.")
tap = results[(results.metric == "tapascore") & (results.criterion == headline)]
tap = tap.pivot_table(index="dict_size", columns="role", values="value", aggfunc="mean")
gap = tap["trained"] - tap["untrained"]
words.append("The trained SAEs' mean TAPAScore minus their twins' is "
             + ", ".join(f"{g:+.3f} at D = {D}" for D, g in gap.items())
             + (": the margin over the twin shrinks as the dictionary grows." if gap.iloc[-1] < gap.iloc[0] else
                ": the margin over the twin does not shrink as the dictionary grows."))
Markdown(" ".join(words))

# %% [markdown]
# ## One-to-one versus coalitions
#
# The paper's second finding: FBMP coalitions score higher than one-to-one matching, for both metrics, because
# SAEs split concepts. The difference per dictionary size:

# %%
pivot = (trained[trained.metric == "tapascore"].groupby(["dict_size", "criterion"]).value.mean().unstack())
ax = pivot.plot(marker="o", logx=True, figsize=(7, 4))
ax.set_xscale("log", base=2)
ax.set_ylabel("mean TAPAScore")
ax.set_title("TAPAScore by matching criterion")
ax.legend(title="criterion")
pivot.round(3)

# %% tags=["hide-input"]
if out_dir:
    from pathlib import Path

    written = save_results(Path(out_dir) / "dictionary_size.json", results.to_dict("records"),
                           {"study": study, "benchmark": benchmark, "encoder": encoder, "n_pairs": n_pairs,
                            "n_images": n_images, "seed": seed})
    print(f"wrote {written.name} to out_dir")

# %% [markdown]
# ## Running the paper's grid
#
# The offline default uses smaller dictionaries and $k$ than the paper because the toy encoder's embeddings are
# smaller than CLIP's. On a machine with a GPU and the Hub:
#
# ```bash
# kit run --profile paper --notebooks 09_dictionary_size
# ```
#
# or as a sweep that runs one cell per (family, size) in parallel processes or on Slurm, resumes failed cells and
# gathers one results table:
#
# ```yaml
# # grid.yaml
# notebook: 09_dictionary_size
# parameters: {benchmark: syncub, encoder: "open_clip:ViT-L-14/openai", concepts_dir: data/CUB_200_2011, k: 32}
# grid:
#   families: [topk, batchtopk, matryoshka, jumprelu]
#   sizes: [128, 256, 512, 1024, 2048, 4096]
# executor: local
# workers: 2
# ```
#
# ```bash
# kit sweep grid.yaml
# ```
#
# ## Exercises
#
# The solutions are computed in this run. To keep the chapter's time, exercises 1 and 3 use one family (the
# first of `families`) and one seed (the first of `seeds`); the studies are cached like the main one.
#
# **1.** Train the study with `k = 4` and with `k = 16` (`dataclasses.replace(study, k=4)`). Does the size with
# the best TAPAScore move?

# %% tags=["remove-input"]
def best_size(variant: StudyConfig) -> tuple[int, float]:
    """The size with the highest FBMP TAPAScore of one study variant's trained SAEs, and that score."""
    rows = dictionary_size_study(data, variant, cache_dir, progress=False)
    curve = rows[(rows.role == "trained") & (rows.metric == "tapascore")
                 & (rows.criterion == headline)].groupby("dict_size").value.mean()
    return int(curve.idxmax()), float(curve.max())


one = dataclasses.replace(study, families=tuple(families[:1]), seeds=tuple(seeds[:1]), evaluation=dataclasses.replace(
    evaluation, criteria=(headline,), metrics=("tapascore", "match_score"), baselines=()))
by_k = {kk: best_size(dataclasses.replace(one, k=kk)) for kk in sorted({4, k, 16})}
moved = len({size for size, _ in by_k.values()}) > 1
at_edge = sum(size in (min(sizes), max(sizes)) for size, _ in by_k.values())
Markdown("```{admonition} Solution\n:class: dropdown\n"
         f"For {DISPLAY[families[0]]} (seed {seeds[0]}) the best FBMP TAPAScore lies at "
         + "; ".join(f"D = {size} for k = {kk} ({score:.3f})" for kk, (size, score) in by_k.items())
         + (". The peak moves with $k$" if moved else ". The peak stays where it is")
         + {0: "", len(by_k): " — at the edge of the grid for every k, so the grid cannot show where the peak "
                                "is"}.get(at_edge, " — at the edge of the grid for some k")
         + ". A sparser code (smaller $k$) forces each latent to carry more, which may delay splitting; a denser "
         "code leaves room for specialised latents earlier. With one seed per size a shift of one grid step is no "
         "more than a hint: rerun with several seeds before reading it as a finding.\n```")

# %% [markdown]
# **2.** Why report ΔMATCHScore rather than MATCHScore across dictionary sizes?

# %% tags=["remove-input"]
mu_slope = slopes["MATCHScore, untrained twin"]
Markdown("```{admonition} Solution\n:class: dropdown\n"
         "The best of more random latents can match a concept better by chance "
         "([chapter 1](01_matching_by_hand.ipynb), last section), so the raw MATCHScore of an untrained SAE may "
         f"grow with $D$ — in this run the twin's FBMP MATCHScore {trend(mu_slope)} by {mu_slope:+.4f} per doubling. "
         "Subtracting the untrained twin of the same size removes that trend and leaves what training added.\n```")

# %% [markdown]
# **3.** Run the study with held-out matching (`dataclasses.replace(evaluation, held_out=True)`, or `-p
# held_out=true` for the whole chapter: coalitions are selected on a seeded half of the test images and scored
# on the other half; see [chapter 5](05_matching.ipynb)). Which sizes lose most?

# %% tags=["remove-input"]
def mean_by_size(variant: StudyConfig, metric: str) -> pd.Series:
    rows = dictionary_size_study(data, variant, cache_dir, progress=False)
    return rows[(rows.role == "trained") & (rows.metric == metric)
                & (rows.criterion == headline)].groupby("dict_size").value.mean()


split_of = {False: "same split", True: "held out"}
loss = pd.DataFrame({
    (metric, split_of[h]): mean_by_size(dataclasses.replace(one, evaluation=dataclasses.replace(one.evaluation,
                                                                                                  held_out=h)), metric)
    for metric in ("match_score", "tapascore") for h in (held_out, not held_out)})
drop = {m: loss[m, "same split"] - loss[m, "held out"] for m in ("match_score", "tapascore")}
most = {m: int(d.idxmax()) for m, d in drop.items()}
Markdown("```{admonition} Solution\n:class: dropdown\n"
         f"For {DISPLAY[families[0]]} (seed {seeds[0]}), held-out selection changes the FBMP MATCHScore by "
         + ", ".join(f"{-v:+.3f} at D = {D}" for D, v in drop["match_score"].items())
         + (f" (the largest drop at D = {most['match_score']})" if drop["match_score"].max() > 0 else
            " (no size loses)")
         + " and the TAPAScore by " + ", ".join(f"{-v:+.3f} at D = {D}" for D, v in drop["tapascore"].items())
         + (f" (the largest drop at D = {most['tapascore']}). " if drop["tapascore"].max() > 0 else
            " (no size loses). ")
         + ("The largest dictionary loses most MATCHScore: there same-split selection has the most latents to fit "
            if most["match_score"] == max(sizes) else
            "The largest dictionary is not the one that loses most MATCHScore here, although same-split selection "
            "has the most latents there to fit ")
         + "the noise of the evaluated images with (a latent that happens to fire on the right few images). With one "
         "seed, compare these losses with the seed-to-seed spread of the main study before calling them a "
         "finding.\n```")
