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
# # Score your own SAE
#
# You trained an SAE elsewhere — with SAELens, dictionary_learning, overcomplete or this kit — on CLIP or DINOv2
# embeddings, and you want its {term}`MATCHScore`, {term}`ΔMATCHScore`, {term}`TAPAScore` and baseline metrics next to the paper's
# {cite}`klotz2026evaluating`. That is one command:
#
# ```bash
# kit score path/to/your_sae --benchmark syncub --encoder open_clip:ViT-L-14/openai \
#     --concepts-dir data/CUB_200_2011
# ```
#
# {mod}`kit score <kit.score>` recognises the folder's format ({func}`kit.sae.load_any`: a kit folder, SAELens' `cfg.json` +
# `sae_weights.safetensors`, dictionary_learning's `ae.pt` + `config.json`), embeds the benchmark through the
# cache, checks that the SAE's input width is the encoder's, builds the SAE's baselines — its {term}`untrained twin` (same
# family, size, $k$ and input preprocessing) and {term}`random codes <random codes baseline>` — and scores all three with {func}`kit.evaluate.evaluate`,
# the same call every chapter of this book makes. It writes `results.json` (every number as a row, with the full
# configuration) and a scorecard.
#
# Offline there is no SAE of yours to download, so this chapter makes one: it trains the book's standard {term}`TopK` SAE,
# hands its weights to **SAELens** and lets SAELens save it in its own format — then scores that folder as a
# stranger's SAE. Set `sae_path` to your own folder to score yours instead.
#
# **What you will learn**
#
# - how `kit score` reads another library's SAE folder and checks that it computes what the original computed;
# - what the scorecard and `results.json` hold, and how to read the SAE against its baselines.
#
# **What you need**
#
# - an SAE folder (kit, SAELens or dictionary_learning), or nothing: the chapter makes one;
# - the metrics and baselines of chapters [5](05_matching.ipynb), [6](06_tapascore.ipynb) and
#   [8](08_sanity_checks.ipynb);
# - the [glossary](../book/glossary.md) for the words of the method and the [API reference](../book/api.md) for the kit's functions.

# %% tags=["parameters"]
smoke = False
seed = 0
cache_dir = ".cache"
out_dir = ""           # where the SAE folder and the scorecard go (empty: a temporary folder)
sae_path = ""          # your SAE folder; empty: a kit-trained SAE saved by SAELens in this chapter
sae_format = "auto"    # auto, kit, saelens, dictionary_learning
benchmark = "toy-syncub"
encoder = "toy"
concepts_dir = ""
device = "auto"
n_pairs = 2000
n_images = 3000
family = "topk"        # the SAE this chapter trains when sae_path is empty
dict_size = 256
k = 8
epochs = 20
batch_size = 128       # the offline profile's; the paper: 1,024 (params/paper.yaml)
standardize = True     # per-sample standardisation of the embeddings (the paper's input_unit_norm)
lr = 5e-4
metrics = "all"        # all, paper, or a comma-separated list of metric names
n_boot = 1000

# %%
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from kit.pipeline import PipelineConfig, prepare, train_cached
from kit.results import load_results
from kit.runner import param_path
from kit.sae import encode_array, load_any

if smoke:
    n_pairs, n_images, dict_size, epochs, n_boot = 120, 300, 64, 3, 100
# path parameters from the project folder (kit.runner.param_path); an empty one is None
cache_dir, out_dir, sae_path, concepts_dir = (param_path(p) for p in (cache_dir, out_dir, sae_path, concepts_dir))
work = out_dir or Path(tempfile.mkdtemp(prefix="score-your-sae-"))
work.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## An SAE in another library's format
#
# The kit trains a TopK SAE on the train split's embeddings (the same one the other chapters use, from the
# cache). SAELens' `TopKSAE` has the same architecture — $z = \mathrm{TopK}(\mathrm{ReLU}((x - b_\text{dec})
# W_\text{enc} + b_\text{enc}))$, $\hat x = z W_\text{dec} + b_\text{dec}$, on inputs standardised per sample
# (SAELens' `layer_norm`) when the kit SAE standardises them — so its four tensors carry over as they are;
# SAELens' `save_model` writes the folder.

# %%
data = prepare(PipelineConfig(benchmark=benchmark, encoder=encoder, n_pairs=n_pairs, n_images=n_images,
                              concepts_dir=concepts_dir or None, seed=seed, device=device), cache_dir)
if not sae_path:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sae_lens import TopKSAE, TopKSAEConfig

    X_train, _ = data.split("train")
    [ours] = train_cached(X_train, [dict(family=family, dict_size=dict_size, k=k, seed=seed)], cache_dir,
                          epochs=epochs, batch_size=batch_size, standardize=standardize, lr=lr, progress=False)
    # SAELens' layer_norm is the kit's per-sample standardisation, (x − mean) / (std + 1e-5)
    norm = "layer_norm" if ours.config.standardize else "none"
    theirs = TopKSAE(TopKSAEConfig(d_in=ours.config.d, d_sae=dict_size, k=k, apply_b_dec_to_input=True,
                                   normalize_activations=norm))
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(theirs, name).copy_(getattr(ours, name))
    sae_path = work / "my_saelens_sae"
    theirs.save_model(sae_path)
    print(f"SAELens wrote {Path(sae_path).name}/:", ", ".join(sorted(p.name for p in Path(sae_path).iterdir())))
    saved_cfg = json.loads((Path(sae_path) / "cfg.json").read_text())
    display(pd.Series({key: saved_cfg.get(key) for key in ("architecture", "d_in", "d_sae", "k",
                                                             "normalize_activations", "apply_b_dec_to_input")},
                      name="cfg.json").to_frame())

# %% [markdown]
# `kit.sae.load_any` reads the folder without importing SAELens (the format is two files: a JSON config and
# safetensors weights). For the SAE this chapter made, the loaded model must give the {term}`codes <code>` of the SAE it came
# from — exactly, not approximately — or the scores below would be someone else's:

# %%
loaded = load_any(sae_path, format=sae_format)
print(f"loaded: {type(loaded).__name__}, family {loaded.config.family}, D = {loaded.config.dict_size}, "
      f"k = {loaded.config.k}, input width {loaded.config.d}")
if sae_path == work / "my_saelens_sae":
    X_test, _ = data.split("test")
    same = np.array_equal(encode_array(loaded, X_test), encode_array(ours, X_test))
    print("codes identical to the kit SAE it was made from:", same)

# %% [markdown]
# ## One command
#
# This is the command a user types, run here as a user would run it (a fresh process):

# %%
out = work / "score"
command = [sys.executable, "-m", "kit.cli", "-q", "score", str(sae_path), "--format", sae_format,
           "--benchmark", benchmark, "--encoder", encoder, "--metrics", metrics, "--out", str(out),
           "--cache-dir", str(cache_dir), "-p", f"n_pairs={n_pairs}", "-p", f"n_images={n_images}",
           "-p", f"seed={seed}", "-p", f"device={device}", "-p", f"n_boot={n_boot}"]
if concepts_dir:
    command += ["--concepts-dir", str(concepts_dir)]
shown = " ".join(command[5:]).replace(f"{work}/", "").replace(str(cache_dir), "<cache_dir>")
print("kit score " + shown)  # paths shown relative to the chapter's working folder
done = subprocess.run(command, capture_output=True, text=True)
if done.returncode != 0:
    raise RuntimeError(done.stderr.strip())
print("wrote", ", ".join(sorted(p.name for p in out.iterdir())))

# %% [markdown]
# ## The scorecard
#
# `scorecard.md` (and the same as `scorecard.html`): the facts of the run, the paper's metrics for the SAE and its
# two baselines with 95% bootstrap intervals, every further metric, and the paper's published numbers for the same
# dataset — for the same family and {term}`dictionary size` where the paper has them — labelled as published.

# %%
display(Markdown((out / "scorecard.md").read_text().split("\n", 1)[1]))

# %% [markdown]
# ## Reading it
#
# `results.json` holds every number of the scorecard as a row (the columns of {data}`kit.results.COLUMNS`), so a
# comparison across SAEs is a concatenation and a pivot. What this run says, written from those rows:

# %% tags=["remove-input"]
rows, config = load_results(out / "results.json")


def cell(metric: str, role: str, criterion: str = "fbmp_b0.5") -> pd.Series:
    return rows[(rows.metric == metric) & (rows.role == role) & (rows.criterion == criterion)].iloc[0]


t, t0, tr = (cell("tapascore", role) for role in ("trained", "untrained", "random"))
delta = cell("delta_match_score", "trained")
apart = t.ci_low > max(t0.ci_high, tr.ci_high)
text = [
    f"With FBMP (β = 0.5, {int(t.budget)} latents per concept) the SAE's TAPAScore is {t.value:.3f} "
    f"[{t.ci_low:.3f}, {t.ci_high:.3f}], its untrained twin's {t0.value:.3f} [{t0.ci_low:.3f}, {t0.ci_high:.3f}] "
    f"and the random codes' {tr.value:.3f} [{tr.ci_low:.3f}, {tr.ci_high:.3f}]: "
    + ("the SAE's interval lies above both baselines'." if apart else
       "the untrained twin scores at least as high as the SAE, so this run does not show that training made its "
       "matched latents follow the edits better than an untrained SAE's do." if t0.value >= t.value else
       "the SAE's interval overlaps a baseline's, so this run does not show that training made its matched "
       "latents follow the edits more than an untrained SAE's or random codes do."),
    f"ΔMATCHScore is {delta.value:+.3f} [{delta.ci_low:+.3f}, {delta.ci_high:+.3f}]"
    + (" — the interval excludes 0." if delta.ci_low > 0 or delta.ci_high < 0 else " — the interval includes 0."),
]
display(Markdown(" ".join(text)))

# %% [markdown]
# The same in Python, without the command line: `kit.score.score(path, benchmark=…, encoder=…, out=…)`, or, for
# an SAE object you already hold, `kit.evaluate.evaluate(load_any(obj), kit.pipeline.prepare(…))`.
#
# ## Exercises
#
# **1.** Score the same SAE with `--metrics paper`. Which rows remain, and how much faster is it?
#
# ```{admonition} Solution
# :class: dropdown
# Only MATCHScore, ΔMATCHScore, TAPAScore and Δ_stay remain, for each criterion and role
# ({data}`kit.results.PAPER_METRICS`); the baseline metrics (probes, CKNNA, absorption, …) are what takes most of the
# time of `--metrics all`. `benchmarks/bench_score.py` times both: on the project's 2-core CPU machine, with the
# offline benchmark's embeddings cached and a TopK SAE of 4,096 {term}`latents <latent>`, 11 s with the paper's metrics against
# 27 s with all of them (the measurement quoted in the README).
# ```
#
# **2.** Point `--encoder` at an encoder whose embeddings have another width than the SAE's input (for example
# a DINOv2 model for a CLIP SAE). What happens?
#
# ```{admonition} Solution
# :class: dropdown
# `kit score` stops before evaluating and writes nothing, with one line: "the SAE … takes inputs of width 16, but
# the encoder 'toy' gives 128-d embeddings: score it with the encoder it was trained on" (for an SAE of width 16
# and the toy encoder). An SAE only means something on the embedding space it was trained in.
# ```
