"""The sanity check: does a metric tell a trained SAE from an untrained and a random one?

One call runs every metric (and MATCHScore, TAPAScore) on each SAE, takes a bootstrap interval of each
number over its units (samples, latents, concepts, pairs; CKNNA over rows of its kernels), and calls a
metric "separates" when the reference SAE's interval is disjoint from every other SAE's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from kit.errors import ConfigError
from kit.metrics._common import bools, floats
from kit.metrics.absorption import AbsorptionConfig, absorption
from kit.metrics.cknna import CKNNAConfig, cknna
from kit.metrics.erasure import ErasureConfig, choose_scr_pairs, scr, tpp
from kit.metrics.fms import FMSConfig, fms
from kit.metrics.monosemanticity import MSConfig, monosemanticity
from kit.metrics.proxies import ProxiesConfig, proxies
from kit.metrics.sparse_probing import SparseProbingConfig, sparse_probing
from kit.metrics.steerability import SteerabilityConfig, steerability
from kit.stats import bootstrap_mean_ci

COLUMNS = ["metric", "sae", "value", "ci_low", "ci_high", "n_units", "verdict", "direction"]


@dataclass(frozen=True)
class SanityConfig:
    """reference: the SAE the others are compared with; match_k / tapas_k: coalition budgets (the paper's 3);
    n_boot, alpha, seed: the bootstrap; the metric configs: each metric's own settings."""

    reference: str = "trained"
    match_k: int = 3
    tapas_k: int = 3
    n_boot: int = 1000
    alpha: float = 0.05
    seed: int = 0
    batch_size: int = 4096
    device: str = "auto"
    proxies: ProxiesConfig = field(default_factory=ProxiesConfig)
    cknna: CKNNAConfig = field(default_factory=CKNNAConfig)
    ms: MSConfig = field(default_factory=MSConfig)
    fms: FMSConfig = field(default_factory=FMSConfig)
    sparse_probing: SparseProbingConfig = field(default_factory=SparseProbingConfig)
    erasure: ErasureConfig = field(default_factory=ErasureConfig)
    absorption: AbsorptionConfig = field(default_factory=AbsorptionConfig)
    steerability: SteerabilityConfig = field(default_factory=SteerabilityConfig)


@dataclass(frozen=True, eq=False)
class Pairs:
    """Embedded one-edit pairs: X_orig, X_edit: float[P, d]; old, new: int[P]; labels_orig: bool[P, C].
    A :class:`kit.planted.PlantedPairs` has the same fields."""

    X_orig: np.ndarray
    X_edit: np.ndarray
    old: np.ndarray
    new: np.ndarray
    labels_orig: np.ndarray

    @classmethod
    def from_benchmark(cls, benchmark: Any, emb_orig: Any, emb_edit: Any) -> "Pairs":
        """From a :class:`kit.types.PairedBenchmark` and the embeddings of its original and edited images."""
        return cls(X_orig=getattr(emb_orig, "X", emb_orig), X_edit=getattr(emb_edit, "X", emb_edit),
                   old=benchmark.old, new=benchmark.new, labels_orig=benchmark.labels_orig)


def _families(groups: Sequence[str]) -> list[list[int]]:
    fam: dict[str, list[int]] = {}
    for c, g in enumerate(groups):
        fam.setdefault(str(g), []).append(c)
    return [m for m in fam.values() if len(m) >= 2]


def _units(X, Y, pairs, sae, groups, E, text_embed, vocabulary, cfg: SanityConfig,
           cfg_pairs: list[tuple[int, int]]) -> dict[str, Any]:
    """Metric name → per-unit values (float[U]) or a CKNNA result (bootstrapped over kernel rows)."""
    from kit.matching import binarize, fbmp, one_to_one
    from kit.matching.scores import concept_scores
    from kit.sae import encode_array
    from kit.tapas import tapascore

    Z = encode_array(sae, X, cfg.batch_size, cfg.device)
    out: dict[str, Any] = {}
    out.update(proxies(X, sae, cfg.proxies).units())
    out["cknna"] = cknna(X, Z, cfg.cknna)
    out.update(monosemanticity(X if E is None else E, Z, cfg.ms).units())
    out.update(fms(Z, Y, cfg.fms).units())
    out.update(sparse_probing(Z, Y, cfg.sparse_probing).units())
    fams = _families(groups) if groups is not None else None
    out.update(tpp(X, Y, sae, fams or None, Z=Z, config=cfg.erasure).units())
    scr_pairs = cfg_pairs
    if scr_pairs:  # SCR applies only where some concept pair populates all four cells
        out.update(scr(X, Y, sae, scr_pairs, Z=Z, config=cfg.erasure).units())
    if fams:
        out.update(absorption(X, Y, sae, groups, Z=Z, config=cfg.absorption).units())
    if text_embed is not None:
        out.update(steerability(X, sae, text_embed, vocabulary, Z=Z, config=cfg.steerability).units())
    B = binarize(Z)
    matching = fbmp(Y, B)
    out["match_score"] = concept_scores(matching, cfg.match_k)
    out["match_score_one_to_one"] = concept_scores(one_to_one(Y, B), 1)
    Zo = encode_array(sae, floats("pairs.X_orig", pairs.X_orig), cfg.batch_size, cfg.device)
    Ze = encode_array(sae, floats("pairs.X_edit", pairs.X_edit), cfg.batch_size, cfg.device)
    tap = tapascore(Zo, Ze, pairs.old, pairs.new, matching, k=cfg.tapas_k, labels_orig=pairs.labels_orig,
                    n_boot=cfg.n_boot, alpha=cfg.alpha, seed=cfg.seed)
    out["tapascore"] = np.asarray(tap.pairs["score"], dtype=np.float64)
    return out


def sanity_check(X: np.ndarray, Y: np.ndarray, pairs: Any, saes: Mapping[str, Any],
                 groups: Sequence[str] | None = None, E: np.ndarray | None = None,
                 text_embed: Callable[[list[str]], np.ndarray] | None = None,
                 vocabulary: Sequence[str] | None = None, config: SanityConfig | None = None):
    """Every metric for each SAE in ``saes`` (e.g. ``{"trained": …, "untrained": …, "random": …}``).

    X: float[N, d] embeddings; Y: bool[N, C] concepts; pairs: embedded one-edit pairs (:class:`Pairs` or a
    ``PlantedPairs``); groups: the C family names (enables TPP per family and absorption); E: reference
    embeddings for MS (default X); text_embed + vocabulary: enable steerability.
    Returns a DataFrame with one row per metric × SAE: value, bootstrap CI, unit count, the verdict
    ("separates" when the reference SAE's CI is disjoint from every other SAE's, else "does not") and its
    direction ("reference higher" / "reference lower" than every other SAE, "mixed", or "overlap"): a metric
    that separates with the reference *lower* ranks a learned dictionary below noise. MATCHScore is given for
    FBMP (``match_score``, budget ``match_k``) and one-to-one (``match_score_one_to_one``).
    """
    import pandas as pd

    cfg = config or SanityConfig()
    X, Y = floats("X", X), bools("Y", Y)
    if cfg.reference not in saes:
        raise ConfigError(f"SanityConfig.reference={cfg.reference!r} is not among the SAEs {list(saes)}")
    if len(saes) < 2:
        raise ConfigError("sanity_check needs at least two SAEs to compare")
    if text_embed is not None and vocabulary is None:
        raise ConfigError("sanity_check: text_embed needs a vocabulary")
    scr_pairs = choose_scr_pairs(Y, groups)  # depends on the labels only: chosen once for every SAE
    if text_embed is not None:  # the vocabulary's text embeddings are the same for every SAE
        T = text_embed(list(vocabulary))
        text_embed = lambda texts: T  # noqa: E731
    rows = []
    for name, sae in tqdm(saes.items(), desc="sanity check", unit="SAE"):
        for metric, u in _units(X, Y, pairs, sae, groups, E, text_embed, vocabulary, cfg, scr_pairs).items():
            if hasattr(u, "bootstrap_ci"):
                value, (lo, hi), n = u.value, u.bootstrap_ci(cfg.n_boot, cfg.alpha, cfg.seed), u.terms.shape[1]
            else:
                u = np.asarray(u, dtype=np.float64)
                u = u[np.isfinite(u)]
                n = u.size
                value = float(u.mean()) if n else np.nan
                lo, hi = bootstrap_mean_ci(u, cfg.n_boot, cfg.alpha, cfg.seed) if n else (np.nan, np.nan)
            rows.append({"metric": metric, "sae": name, "value": value, "ci_low": lo, "ci_high": hi, "n_units": n})
    df = pd.DataFrame(rows)
    ref = df[df.sae == cfg.reference].set_index("metric")
    verdict, direction = {}, {}
    for metric, g in df.groupby("metric", sort=False):
        others = g[g.sae != cfg.reference]
        r = ref.loc[metric]
        below, above = others.ci_high < r.ci_low, others.ci_low > r.ci_high
        complete = len(others) == len(saes) - 1
        verdict[metric] = "separates" if complete and (below | above).all() else "does not"
        direction[metric] = ("reference higher" if complete and below.all() else
                             "reference lower" if complete and above.all() else
                             "mixed" if verdict[metric] == "separates" else "overlap")
    df["verdict"] = df.metric.map(verdict)
    df["direction"] = df.metric.map(direction)
    return df[COLUMNS]


def sanity_figure(df, col_wrap: int = 5):
    """A seaborn grid: per metric, each SAE's value with its bootstrap CI, titled with the verdict."""
    import seaborn as sns

    grid = sns.FacetGrid(df, col="metric", col_wrap=min(col_wrap, df.metric.nunique()), sharey=False,
                         height=2.4)
    order = list(dict.fromkeys(df.sae))
    grid.map_dataframe(sns.pointplot, x="sae", y="value", order=order, linestyle="none", errorbar=None)
    for ax, (metric, g) in zip(grid.axes.flat, df.groupby("metric", sort=False)):
        g = g.set_index("sae").loc[order]
        ax.errorbar(range(len(order)), g.value, yerr=[g.value - g.ci_low, g.ci_high - g.value], fmt="none",
                    ecolor="black", capsize=3)
        ax.set_title(f"{metric}\n{g.verdict.iloc[0]}", fontsize=9)
        ax.set_xlabel("")
    grid.figure.tight_layout()
    return grid.figure
