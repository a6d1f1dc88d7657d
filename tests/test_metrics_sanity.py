"""kit.metrics.sanity_check on a planted world: a perfect SAE against an untrained-like and a random one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kit.metrics as M
from kit.errors import ConfigError
from kit.planted import make_pairs, make_world
from test_metrics import TinySAE, perfect_sae


class RandomCodes(TinySAE):
    """Codes that ignore the input's content: k random active latents per row, the same on every call."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(0)
        D = self.W_dec.shape[0]
        pre = torch.rand(x.shape[0], D, generator=g)
        top = pre.topk(self.k, dim=1)
        return torch.zeros(x.shape[0], D).scatter(1, top.indices, top.values)


@pytest.fixture(scope="module")
def table():
    w = make_world(n_samples=500, seed=5)
    pairs = make_pairs(w, 120, seed=1)
    K, d = w.atoms.shape
    rng = np.random.default_rng(0)
    saes = {"trained": perfect_sae(w), "untrained": TinySAE(rng.standard_normal((K, d)), k=12),
            "random": RandomCodes(rng.standard_normal((K, d)), k=8)}
    words = {n: w.atoms[a].mean(0) for n, a in zip(w.concepts.names, w.concept_atoms)}
    cfg = M.SanityConfig(n_boot=200, fms=M.FMSConfig(n_global=2),
                         erasure=M.ErasureConfig(n_values=(1, 2), headline_n=1),
                         steerability=M.SteerabilityConfig(n_images=16))
    df = M.sanity_check(w.X, w.Y, pairs, saes, groups=w.concepts.groups,
                        text_embed=lambda t: np.stack([words[x] for x in t]), vocabulary=w.concepts.names,
                        config=cfg)
    return df, saes, w, pairs


def test_sanity_table(table):
    df, saes, _, _ = table
    assert list(df.columns) == M.sanity.COLUMNS
    metrics = set(df.metric)
    for m in ("mse", "fvu", "cosine", "l0", "cknna", "ms", "fms", "sparse_probing_k1", "tpp", "scr",
              "full_absorption", "absorption_fraction", "steer_power", "steerability", "match_score", "tapascore"):
        assert m in metrics
    assert len(df) == 3 * len(metrics)
    assert (df.groupby("metric").sae.apply(sorted) == [sorted(saes)] * len(metrics)).all()
    assert ((df.ci_low <= df.value + 1e-9) & (df.value <= df.ci_high + 1e-9) | df.value.isna()).all()


def test_sanity_verdicts(table):
    df, _, _, _ = table
    for metric, g in df.groupby("metric"):
        ref = g[g.sae == "trained"].iloc[0]
        oth = g[g.sae != "trained"]
        disjoint = ((oth.ci_low > ref.ci_high) | (oth.ci_high < ref.ci_low)).all()
        assert g.verdict.nunique() == 1
        assert (g.verdict.iloc[0] == "separates") == disjoint, metric
    v = df.drop_duplicates("metric").set_index("metric").verdict
    for m in ("cknna", "fvu", "sparse_probing_k1", "match_score", "tapascore"):
        assert v[m] == "separates", m
    value = df.set_index(["metric", "sae"]).value
    assert value["match_score", "trained"] > value["match_score", "random"]
    assert value["tapascore", "trained"] > value["tapascore", "random"]
    d = df.drop_duplicates("metric").set_index("metric").direction
    for m in ("match_score", "match_score_one_to_one", "tapascore"):
        assert d[m] in ("reference higher", "overlap"), m
    assert d["match_score"] == "reference higher"
    for metric, g in df.groupby("metric"):
        ref, oth = g[g.sae == "trained"].iloc[0], g[g.sae != "trained"]
        if (oth.ci_high < ref.ci_low).all():
            assert g.direction.iloc[0] == "reference higher", metric
        elif (oth.ci_low > ref.ci_high).all():
            assert g.direction.iloc[0] == "reference lower", metric


def test_sanity_figure_and_errors(table):
    import matplotlib

    matplotlib.use("Agg")
    df, saes, w, pairs = table
    fig = M.sanity_figure(df)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == df.metric.nunique()
    assert all(ax.get_title().split("\n")[1] in ("separates", "does not") for ax in titled)
    with pytest.raises(ConfigError, match="reference"):
        M.sanity_check(w.X, w.Y, pairs, {"a": saes["trained"], "b": saes["random"]})
    with pytest.raises(ConfigError, match="vocabulary"):
        M.sanity_check(w.X, w.Y, pairs, saes, text_embed=lambda t: None)
