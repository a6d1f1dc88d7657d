# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Matching by hand
#
# Does {term}`latent` $j$ of a sparse autoencoder *mean* the {term}`concept` "blue wing"? The paper's answer
# {cite}`klotz2026evaluating` starts with a question a person can check: **when the latent {term}`fires <firing>`, is the
# concept there — and when the concept is there, does the latent fire?** This chapter computes every quantity
# on twelve hand-made images, small enough to check with a pencil. The later chapters compute the same
# quantities for thousands of images and latents in one matrix product.
#
# **What you will learn**
# - how a latent's firing is compared with a concept's labels: precision, recall, F1 and F-beta;
# - one-to-one matching, and why a concept split over several latents needs a {term}`coalition`;
# - Fully-Binary Matching Pursuit ({term}`FBMP`), step by step, and why it is run with $\beta < 1$;
# - why chance matches grow with the dictionary, and hence {term}`ΔMATCHScore`.
#
# **What you need**
# - nothing but NumPy and a pencil: no data, no model, no earlier chapter (the
#   [quickstart](00_quickstart.ipynb) shows where these numbers come from in a real run);
# - the [glossary](../book/glossary.md) for the words of the method and the [API reference](../book/api.md) for the kit's functions.

# %% tags=["parameters"]
smoke = False          # shrink the chance-matching experiment so the tests run in seconds
seed = 0               # seed of the random latents in the last section
beta = 0.5             # the F-beta of the matching pursuit (the paper's default)
n_random_latents = 4096  # largest dictionary in the chance-matching experiment

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

if smoke:
    n_random_latents = min(n_random_latents, 256)
sns.set_theme(style="whitegrid")

# %% [markdown]
# ## Twelve birds, three concepts, five latents
#
# Each row is an image. The concept annotations $Y$ say which concepts each bird shows; the {term}`codes <code>` $Z$ are what
# an imaginary SAE produced for it (non-negative, mostly zero). Birds 0–5 have blue wings; birds 0–2 face left
# and 3–5 face right.

# %%
images = [f"bird {i}" for i in range(12)]
concepts = ["blue wing", "red crown", "striped breast"]
Y = np.array([
    # blue wing, red crown, striped breast
    [1, 0, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 0, 0], [1, 0, 1],
    [0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 0], [0, 1, 1], [0, 0, 0],
], dtype=bool)
latents = ["L0 blue·left", "L1 blue·right", "L2 colourful wing", "L3 red top", "L4 texture"]
Z = np.array([
    [2.1, 0, 1.3, 0, 0.9], [1.7, 0, 0.8, 1.2, 0], [0.9, 0, 1.1, 0, 0],
    [0, 1.4, 0.7, 0.8, 1.1], [0, 2.2, 1.0, 0, 0], [0, 1.1, 0.6, 0, 0.7],
    [0, 0, 0.9, 1.5, 0], [0, 0, 1.2, 0, 1.3], [0, 0, 0.5, 0.3, 0],
    [0, 0, 0.8, 0, 0], [0, 0, 0, 1.1, 0.2], [0, 0, 0, 0, 0],
])
pd.concat({"Y (concepts)": pd.DataFrame(Y.astype(int), images, concepts),
           "Z (codes)": pd.DataFrame(Z, images, latents)}, axis=1)

# %% [markdown]
# ## Step 1 — binarise
#
# The paper treats a latent as a detector: it *fires* on an image when its code is positive. With a small
# threshold $\tau = 10^{-8}$ (to ignore numerical dust), $B = Z > \tau$ is a boolean matrix, images × latents.

# %%
B = Z > 1e-8
pd.DataFrame(B.astype(int), images, latents)

# %% [markdown]
# ## Step 2 — precision, recall, F1, F-beta
#
# For a concept with labels $y$ and a latent with firing $b$ (both boolean vectors over images):
#
# - **true positives** $|y \wedge b|$: images where both hold;
# - **precision** $|y \wedge b| / |b|$: of the images where the latent fires, the share that show the concept;
# - **recall** $|y \wedge b| / |y|$: of the images that show the concept, the share where the latent fires;
# - **F-beta** combines them, weighting recall $\beta$ times as much as precision:
#
# $$F_\beta(y, b) = \frac{(1+\beta^2)\,|y \wedge b|}{\beta^2 |y| + |b|}, \qquad F_1 = \frac{2\,|y\wedge b|}{|y|+|b|}.$$
#
# All true-positive counts of all concept–latent pairs come out of **one matrix product** $Y^\top B$ — the trick
# that makes the kit fast.

# %%
def f_beta(tp, n_pos, n_fire, beta):
    """F-beta from counts; 0 where the denominator is 0."""
    den = beta**2 * n_pos + n_fire
    return np.where(den > 0, (1 + beta**2) * tp / np.maximum(den, 1e-12), 0.0)


tp = Y.T.astype(int) @ B.astype(int)       # [concepts, latents]: |y ∧ b|
n_pos = Y.sum(0)[:, None]                  # |y| per concept
n_fire = B.sum(0)[None, :]                 # |b| per latent
precision = tp / np.maximum(n_fire, 1)
recall = tp / n_pos
F1 = f_beta(tp, n_pos, n_fire, 1.0)

fig, axes = plt.subplots(1, 3, figsize=(14, 3), sharey=True)
for ax, (title, m) in zip(axes, [("precision", precision), ("recall", recall), ("F1", F1)]):
    sns.heatmap(pd.DataFrame(m, concepts, latents), annot=True, fmt=".2f", vmin=0, vmax=1,
                cmap="viridis", cbar=False, ax=ax)
    ax.set(title=title, xlabel="latent", ylabel="concept" if ax is axes[0] else "")
    ax.tick_params(axis="x", rotation=35)
plt.tight_layout();

# %% [markdown]
# ## Step 3 — one-to-one matching
#
# The simplest matching gives each concept the single latent with the highest F1 (ties go to the lowest
# latent index). Its mean over concepts is the one-to-one **{term}`MATCHScore`**.

# %%
best = F1.argmax(axis=1)
one_to_one = pd.DataFrame({"latent": [latents[j] for j in best], "F1": F1[np.arange(len(concepts)), best]},
                          index=concepts)
print(f"one-to-one MATCHScore = {one_to_one.F1.mean():.3f}")
one_to_one

# %% [markdown]
# "Blue wing" is matched to *L2 colourful wing*, which fires on every blue-winged bird but also on four others
# (precision 0.6). Yet the SAE *does* represent blue wings perfectly — split over two latents, one per pose:
# L0 fires on the left-facing blue birds, L1 on the right-facing ones. Neither alone reaches the concept
# (recall 0.5 each), but their OR does:

# %%
blue = Y[:, 0]
for name, fired in [("L0", B[:, 0]), ("L1", B[:, 1]), ("L0 OR L1", B[:, 0] | B[:, 1]), ("L2", B[:, 2])]:
    t = int((blue & fired).sum())
    print(f"{name:9s} F1 = {float(f_beta(t, blue.sum(), fired.sum(), 1.0)):.3f}")

# %% [markdown]
# A concept split over two latents needs a **coalition**. SAEs split concepts all the time — by pose, by
# context, by {term}`dictionary size` ("feature splitting") — so a one-to-one matching underrates them.
#
# ## Step 4 — Fully-Binary Matching Pursuit (FBMP)
#
# FBMP grows a coalition greedily, one latent at a step, on binary vectors only:
#
# 1. start with the residual $r = y$ (the positives still to explain) and the reconstruction $R = \varnothing$;
# 2. pick the latent $j$ with the highest $F_\beta(r, b_j)$ — how well it explains *what is left*;
# 3. update $r \leftarrow r \wedge \neg b_j$ and $R \leftarrow R \vee b_j$;
# 4. stop, without keeping $j$, as soon as $F_1(y, R)$ stops improving.
#
# With $\beta < 1$ precision counts more than recall, so the pursuit prefers latents that are *mostly inside*
# the concept — pieces of it — over broad latents that also fire elsewhere. Here is the pursuit, literally:

# %%
def fbmp_literal(y, B, beta, max_size=20):
    """FBMP for one concept, exactly as the definition reads: a loop over steps and latents."""
    residual, recon, chosen, f1_curve = y.copy(), np.zeros_like(y), [], []
    for step in range(max_size):
        scores = [float(f_beta((residual & B[:, j]).sum(), residual.sum(), B[:, j].sum(), beta))
                  for j in range(B.shape[1])]
        j = int(np.argmax(scores))                    # ties → lowest index
        new_recon = recon | B[:, j]
        f1 = float(f_beta((y & new_recon).sum(), y.sum(), new_recon.sum(), 1.0))
        if (step == 0 and (y & B[:, j]).sum() == 0) or (step > 0 and f1 <= f1_curve[-1]):
            break
        chosen.append(j)
        f1_curve.append(f1)
        residual, recon = residual & ~B[:, j], new_recon
    return chosen, f1_curve


rows = []
for b in (1.0, beta):
    chosen, curve = fbmp_literal(blue, B, b)
    rows.append({"beta": b, "coalition": " + ".join(latents[j] for j in chosen), "F1 after each step": curve})
pd.DataFrame(rows)

# %% [markdown]
# With $\beta = 1$ the pursuit first takes the broad latent L2 (F1 0.75) and then no latent improves the
# reconstruction: it is stuck. With $\beta = 0.5$ it first takes L0 ($F_{0.5} = 0.83$: precise, half the recall),
# then L1 explains the rest of the residual exactly, and the coalition L0 + L1 reaches F1 = 1. This is why the
# paper uses FBMP with $\beta = 0.5$ and a {term}`budget` of $k = 3$ latents per concept.
#
# **MATCHScore** with FBMP is the mean over concepts of the F1 of each concept's coalition (cut to the budget $k$):

# %%
fbmp_rows = []
for c, name in enumerate(concepts):
    chosen, curve = fbmp_literal(Y[:, c], B, beta)
    k = 3
    fbmp_rows.append({"concept": name, "coalition": [latents[j] for j in chosen[:k]],
                      "F1": curve[min(k, len(curve)) - 1] if curve else 0.0})
fbmp_table = pd.DataFrame(fbmp_rows).set_index("concept")
print(f"FBMP MATCHScore (beta={beta}, k=3) = {fbmp_table.F1.mean():.3f}   "
      f"one-to-one = {one_to_one.F1.mean():.3f}")
fbmp_table

# %% [markdown]
# ## Step 5 — why ΔMATCHScore: chance matches grow with the dictionary
#
# A latent that fires at random on half the images already has some F1 with every concept. The more latents a
# dictionary has, the higher the *best* of them scores by luck alone. The experiment below draws random firing
# patterns for 1,000 images and a concept present on 10% of them, and records the best F1 as the dictionary
# grows. This is why the paper reports **ΔMATCHScore**: the score of the trained SAE minus that of an untrained
# SAE of the same size.

# %%
rng = np.random.default_rng(seed)
n_images, sizes = 1000, [s for s in (16, 64, 256, 1024, 4096, 16384) if s <= n_random_latents]
y_rand = rng.random(n_images) < 0.10
B_rand = rng.random((n_images, max(sizes))) < rng.uniform(0.01, 0.5, size=max(sizes))
tp_r = y_rand.astype(np.int64) @ B_rand
f1_r = f_beta(tp_r, y_rand.sum(), B_rand.sum(0), 1.0)
chance = pd.DataFrame({"dictionary size": sizes, "best F1 by chance": [f1_r[:s].max() for s in sizes]})
ax = sns.lineplot(data=chance, x="dictionary size", y="best F1 by chance", marker="o")
ax.set_xscale("log", base=2)
ax.set_title("Best F1 of random latents against a concept with 10% prevalence");
chance

# %% [markdown]
# ## Exercises
#
# **1.** Compute $F_2$ (recall weighted more) of L0 and of L2 for "blue wing". Which would FBMP with $\beta = 2$
# pick first, and where would it end?
#
# ```{admonition} Solution
# :class: dropdown
# L0: $|y \wedge b| = 3$, $|y| = 6$, $|b| = 3$: $F_2 = 5 \cdot 3 / (4 \cdot 6 + 3) = 0.556$.
# L2: $|y \wedge b| = 6$, $|b| = 10$: $F_2 = 5 \cdot 6 / (24 + 10) = 0.882$. The pursuit picks L2 first, the
# residual is then empty and no latent improves F1: it ends at F1 = 0.75, like $\beta = 1$. Large $\beta$
# favours broad latents; FBMP needs $\beta < 1$ to assemble concepts from precise pieces.
# ```
#
# **2.** Why does FBMP stop *without recording* the latent that fails to improve F1, rather than keep it?
#
# ```{admonition} Solution
# :class: dropdown
# Every recorded latent is part of the coalition used by {term}`TAPAScore` and counted against the budget $k$. A latent
# that does not improve the reconstruction adds only false positives (or nothing); keeping it would make the
# coalition less precise and the F1 curve non-monotone.
# ```
#
# **3.** Add a sixth latent that fires exactly on the blue-winged birds. What do one-to-one matching and FBMP
# return for "blue wing" now, and what does that say about the two methods on a perfectly monosemantic latent?
#
# ```{admonition} Solution
# :class: dropdown
# Both return the new latent alone with F1 = 1: its $F_\beta$ is 1 for every $\beta$, so FBMP picks it first, the
# residual is empty and the next step cannot improve F1. FBMP reduces to one-to-one matching when a single
# latent already captures the concept; coalitions only form where the SAE splits it.
# ```
