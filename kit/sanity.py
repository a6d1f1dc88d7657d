"""The sanity check: does a metric tell a trained SAE from an untrained and a random one?

:func:`sanity_check` evaluates an SAE and its baselines with every metric (:func:`kit.evaluate.evaluate`,
``metrics="all"``) and gives each (metric, criterion, budget) a verdict: it "separates" when the reference
model's bootstrap interval is disjoint from every other model's, and a direction ("reference higher",
"reference lower", "mixed" between them, or "overlap"). :func:`verdicts` does the same on any results rows.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from kit.errors import ConfigError
from kit.evaluate import EvalConfig, evaluate

KEYS = ["metric", "criterion", "budget"]


def verdicts(rows, reference: str = "trained"):
    """``rows`` (results vocabulary) with the columns ``verdict`` and ``direction`` per (metric, criterion, budget).

    verdict: "separates" when the reference role's interval lies apart from every other role's, else "does not";
    direction: "reference higher" / "reference lower" than every other role, "mixed" (separates, between them)
    or "overlap". A metric that separates with the reference *lower* ranks a learned dictionary below noise
    (for metrics where lower is better, :data:`kit.results.LOWER_IS_BETTER`, that is the good direction).
    """
    import pandas as pd

    df = rows.copy()
    if reference not in set(df.role):
        raise ConfigError(f"sanity check: the reference role {reference!r} is not among {sorted(set(df.role))}")
    roles = set(df.role)
    if len(roles) < 2:
        raise ConfigError("sanity check: needs at least two roles to compare")
    key = pd.Series([f"{m}|{c}|{b}" for m, c, b in zip(df.metric, df.criterion, df.budget.fillna(-1))],
                    index=df.index)
    verdict, direction = {}, {}
    for k, g in df.groupby(key, sort=False):
        ref, others = g[g.role == reference], g[g.role != reference]
        complete = len(ref) == 1 and set(others.role) == roles - {reference}
        if not complete:
            verdict[k], direction[k] = "does not", "overlap"
            continue
        r = ref.iloc[0]
        below, above = others.ci_high < r.ci_low, others.ci_low > r.ci_high
        sep = bool((below | above).all())
        verdict[k] = "separates" if sep else "does not"
        direction[k] = ("reference higher" if below.all() else "reference lower" if above.all() else
                        "mixed" if sep else "overlap")
    df["verdict"] = key.map(verdict)
    df["direction"] = key.map(direction)
    return df


def sanity_check(sae: Any, data: Any, config: EvalConfig | None = None, *,
                 baselines: Mapping[str, Any] | None = None, reference: str = "trained", **options):
    """Every metric for an SAE and its baselines (default: its untrained twin and random codes) on ``data``.

    config: an :class:`~kit.evaluate.EvalConfig` (default: every metric, the paper's criteria); baselines, options:
    as for :func:`kit.evaluate.evaluate`. Returns the rows with ``verdict`` and ``direction`` (see :func:`verdicts`).
    """
    cfg = config or EvalConfig(metrics="all")
    return verdicts(evaluate(sae, data, cfg, baselines=baselines, **options).rows, reference)


def panel_name(metric: str, criterion: str, budget) -> str:
    """``"match_score fbmp_b0.5 k=3"``: a metric with its criterion and budget, where it has them."""
    parts = [metric] + ([criterion] if criterion else [])
    if budget is not None and budget == budget:
        parts.append(f"k={int(budget)}")
    return " ".join(parts)


def sanity_figure(df, col_wrap: int = 5):
    """A seaborn grid: per metric (and criterion), each role's value with its bootstrap CI, titled with the verdict."""
    import seaborn as sns

    df = df.assign(panel=[panel_name(m, c, b) for m, c, b in zip(df.metric, df.criterion, df.budget)])
    grid = sns.FacetGrid(df, col="panel", col_wrap=min(col_wrap, df.panel.nunique()), sharey=False,
                         height=2.4)
    order = list(dict.fromkeys(df.role))
    grid.map_dataframe(sns.pointplot, x="role", y="value", order=order, linestyle="none", errorbar=None)
    for ax, (panel, g) in zip(grid.axes.flat, df.groupby("panel", sort=False)):
        g = g.set_index("role").reindex(order)
        ax.errorbar(range(len(order)), g.value, yerr=[np.abs(g.value - g.ci_low), np.abs(g.ci_high - g.value)],
                    fmt="none", ecolor="black", capsize=3)
        ax.set_title(f"{panel}\n{g.verdict.dropna().iloc[0]}", fontsize=9)
        ax.tick_params(labelbottom=True)  # every panel names its roles, not only the bottom row
        ax.set_xlabel("model")
        ax.set_ylabel("value")
    grid.figure.tight_layout()
    return grid.figure

