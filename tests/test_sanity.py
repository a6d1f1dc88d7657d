"""kit.sanity on a planted world: a perfect SAE against an untrained-like and a random one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kit.metrics as M
from kit.evaluate import EvalConfig, EvalData
from kit.sanity import sanity_check, sanity_figure, verdicts

DIFFERENCES = ("delta_match_score", "delta_tapascore")  # trained minus twin: one role only
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
    cfg = EvalConfig(metrics="all", criteria=("one_to_one", "fbmp_b0.5"), n_boot=200, fms=M.FMSConfig(n_global=2),
                     erasure=M.ErasureConfig(n_values=(1, 2), headline_n=1),
                     steerability=M.SteerabilityConfig(n_images=16))
    data = EvalData(X=w.X, Y=w.Y, pairs=pairs, groups=w.concepts.groups, vocabulary=w.concepts.names,
                    text_embed=lambda t: np.stack([words[x] for x in t]))
    df = sanity_check(saes["trained"], data, cfg, baselines={k: v for k, v in saes.items() if k != "trained"})
    df["panel"] = [m + (f" {c}" if c else "") + (f" k={int(b)}" if m == "sparse_probing" else "")
                   for m, c, b in zip(df.metric, df.criterion, df.budget)]
    return df, saes, w, pairs


def test_sanity_table(table):
    df, saes, _, _ = table
    assert list(df.columns)[-3:] == ["verdict", "direction", "panel"]
    metrics = set(df.metric)
    for m in ("mse", "fvu", "cosine", "l0", "cknna", "ms", "fms", "sparse_probing", "tpp", "scr",
              "absorption", "absorption_fraction", "steer_power", "steerability", "match_score", "tapascore"):
        assert m in metrics
    body = df[~df.metric.isin(DIFFERENCES)]
    panels = set(body.panel)
    assert len(body) == 3 * len(panels)
    assert (body.groupby("panel").role.apply(sorted) == [sorted(saes)] * len(panels)).all()
    assert ((df.ci_low <= df.value + 1e-9) & (df.value <= df.ci_high + 1e-9) | df.value.isna()).all()


def test_sanity_verdicts(table):
    df, _, _, _ = table
    for metric, g in df[~df.metric.isin(DIFFERENCES)].groupby("panel"):
        ref = g[g.role == "trained"].iloc[0]
        oth = g[g.role != "trained"]
        disjoint = ((oth.ci_low > ref.ci_high) | (oth.ci_high < ref.ci_low)).all()
        assert g.verdict.nunique() == 1
        assert (g.verdict.iloc[0] == "separates") == disjoint, metric
    v = df.drop_duplicates("panel").set_index("panel").verdict
    for m in ("cknna", "fvu", "sparse_probing k=1", "match_score fbmp_b0.5", "tapascore fbmp_b0.5"):
        assert v[m] == "separates", m
    value = df.set_index(["panel", "role"]).value
    assert value["match_score fbmp_b0.5", "trained"] > value["match_score fbmp_b0.5", "random"]
    assert value["tapascore fbmp_b0.5", "trained"] > value["tapascore fbmp_b0.5", "random"]
    d = df.drop_duplicates("panel").set_index("panel").direction
    for m in ("match_score fbmp_b0.5", "match_score one_to_one", "tapascore fbmp_b0.5"):
        assert d[m] in ("reference higher", "overlap"), m
    assert d["match_score fbmp_b0.5"] == "reference higher"
    for metric, g in df[~df.metric.isin(DIFFERENCES)].groupby("panel"):
        ref, oth = g[g.role == "trained"].iloc[0], g[g.role != "trained"]
        if (oth.ci_high < ref.ci_low).all():
            assert g.direction.iloc[0] == "reference higher", metric
        elif (oth.ci_low > ref.ci_high).all():
            assert g.direction.iloc[0] == "reference lower", metric


def test_sanity_figure_and_errors(table):
    import matplotlib

    matplotlib.use("Agg")
    df, saes, w, pairs = table
    fig = sanity_figure(df.drop(columns="panel"))
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == df.panel.nunique()
    assert all(ax.get_title().split("\n")[1] in ("separates", "does not") for ax in titled)
    assert all(ax.get_ylabel() == "value" for ax in titled)
    with pytest.raises(ConfigError, match="reference"):
        verdicts(df[df.role != "trained"])
    with pytest.raises(ConfigError, match="two roles"):
        verdicts(df[df.role == "trained"])
