"""The paper's headline findings as numbers and checks, computed the same way from its rows and from the kit's.

:func:`findings` reads a table in the results vocabulary (the kit's dictionary-size study, or
:func:`kit.reference.paper_results`) and returns the numbers the paper's claims rest on. :func:`checks` states
each claim as a test with two parts: its **direction** (does it hold on the means?) and its **separation** (does
it hold beyond chance: a bootstrap over the study's configurations — family × size × seed — whose interval
excludes the opposite; None where the rows carry one value per configuration only for a single seed, as the
published table). :func:`compare` sets the paper's and the kit's side by side: a finding *agrees* only when the
kit's direction is the paper's and the kit's numbers separate; *disagrees* when they separate the other way;
*inconclusive* when they do not separate.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from kit.errors import DataError
from kit.stats import bootstrap_indices, percentile_ci

HEADLINE = "fbmp_b0.5"
UNIT = ["family", "dict_size", "seed"]  # one configuration of the study


def _grid(rows):
    """Trained-SAE rows of per-family grids (the paper's sanity-table means, family "mean", left out)."""
    return rows[(rows.role == "trained") & (rows.family != "mean")]


def findings(rows, criterion: str = HEADLINE) -> dict[str, float]:
    """The numbers behind the paper's findings from trained-SAE rows over families × sizes (× seeds).

    rows: a DataFrame with the columns of :data:`kit.results.COLUMNS`.
    """
    grid = _grid(rows)
    tapas = grid[grid.metric == "tapascore"]
    if tapas.empty:
        raise DataError("findings: the rows hold no TAPAScore of trained SAEs")
    by_criterion = tapas.groupby("criterion").value.mean()
    by_size = tapas[tapas.criterion == criterion].groupby("dict_size").value.mean()
    if by_size.empty:
        raise DataError(f"findings: no TAPAScore rows with criterion {criterion!r}")
    delta = grid[(grid.metric == "delta_match_score") & (grid.criterion == criterion)].value
    untrained = _untrained_tapas(rows, criterion)
    return {
        f"mean TAPAScore, {criterion}": float(by_criterion.get(criterion, np.nan)),
        "mean TAPAScore, one_to_one": float(by_criterion.get("one_to_one", np.nan)),
        f"mean TAPAScore of the untrained baseline, {criterion}": untrained,
        f"size with the best mean TAPAScore ({criterion})": int(by_size.idxmax()),
        "smallest size studied": int(by_size.index.min()),
        "largest size studied": int(by_size.index.max()),
        f"best mean TAPAScore over sizes ({criterion})": float(by_size.max()),
        f"mean TAPAScore at the largest size ({criterion})": float(by_size.loc[by_size.index.max()]),
        f"mean ΔMATCHScore ({criterion})": float(delta.mean()) if len(delta) else np.nan,
    }


def _untrained_tapas(rows, criterion: str) -> float:
    """The untrained baseline's mean TAPAScore: the kit's twin per configuration, or the paper's sanity row."""
    u = rows[(rows.role == "untrained") & (rows.metric == "tapascore") & (rows.criterion == criterion)]
    return float(u.value.mean()) if len(u) else np.nan


def _per_unit(rows, metric: str, criterion: str, role: str = "trained"):
    """metric's value per configuration (family, dict_size, seed) of one role: a Series indexed by UNIT."""
    r = rows[(rows.role == role) & (rows.family != "mean") & (rows.metric == metric) & (rows.criterion == criterion)]
    r = r.assign(seed=r.seed.fillna(-1))
    return r.groupby(UNIT).value.mean()


def _separated(diff: np.ndarray, direction: bool, n_boot: int, alpha: float, seed: int) -> bool | None:
    """Whether the bootstrap interval of the mean of ``diff`` (over configurations) excludes 0 on the side of
    ``direction``; None with fewer than two configurations."""
    diff = diff[np.isfinite(diff)]
    if diff.size < 2:
        return None
    lo, hi = percentile_ci(diff[bootstrap_indices(diff.size, n_boot, seed)].mean(axis=1), alpha)
    return bool(lo > 0) if direction else bool(hi < 0)


def _peak_inside(rows, criterion: str, n_boot: int, alpha: float, seed: int) -> tuple[bool, bool | None]:
    """Direction: the mean TAPAScore over sizes peaks strictly inside the grid. Separation: it does so in at least
    1 − alpha of bootstrap resamples of the (family, seed) curves; None when there is a single curve."""
    t = _per_unit(rows, "tapascore", criterion).unstack("dict_size")
    sizes = np.asarray(t.columns)
    if sizes.size < 3:
        return False, None
    curves = t.to_numpy()
    inside = lambda c: 0 < int(np.nanargmax(np.nanmean(c, axis=0))) < sizes.size - 1  # noqa: E731
    direction = inside(curves)
    if curves.shape[0] < 2:
        return direction, None
    idx = bootstrap_indices(curves.shape[0], n_boot, seed)
    share = np.mean([inside(curves[i]) for i in idx])
    return direction, bool(share >= 1 - alpha) if direction else bool(share <= alpha)


def checks(rows, criterion: str = HEADLINE, n_boot: int = 1000, alpha: float = 0.05,
           seed: int = 0) -> dict[str, tuple[bool, bool | None]]:
    """Each claim of the paper on ``rows``: ``name → (direction, separated)`` (see the module docstring)."""
    out = {}
    coal, o2o = _per_unit(rows, "tapascore", criterion), _per_unit(rows, "tapascore", "one_to_one")
    both = coal.index.intersection(o2o.index)
    diff = (coal[both] - o2o[both]).to_numpy()
    direction = bool(np.nanmean(diff) > 0) if diff.size else False
    out[f"coalitions ({criterion}) score a higher TAPAScore than one-to-one matching"] = (
        direction, _separated(diff, direction, n_boot, alpha, seed))
    delta = _per_unit(rows, "delta_match_score", criterion).to_numpy()
    direction = bool(np.nanmean(delta) > 0) if delta.size else False
    out[f"trained SAEs match concepts better than their untrained twins (ΔMATCHScore {criterion} > 0)"] = (
        direction, _separated(delta, direction, n_boot, alpha, seed))
    trained, twin = coal, _per_unit(rows, "tapascore", criterion, "untrained")
    name = f"trained SAEs score a higher TAPAScore ({criterion}) than the untrained baseline"
    if len(twin):
        both = trained.index.intersection(twin.index)
        diff = (trained[both] - twin[both]).to_numpy()
        direction = bool(np.nanmean(diff) > 0)
        out[name] = (direction, _separated(diff, direction, n_boot, alpha, seed))
    else:  # the paper: its sanity table's means
        paper = rows[(rows.family == "mean") & (rows.metric == "tapascore") & (rows.criterion == criterion)]
        v = paper.set_index("role").value
        if {"trained", "untrained"} <= set(v.index):
            out[name] = (bool(v.trained > v.untrained), None)
    out["TAPAScore peaks inside the grid of dictionary sizes (not at its smallest or largest size)"] = _peak_inside(
        rows, criterion, n_boot, alpha, seed)
    return out


def compare(paper_rows, kit_rows, criterion: str = HEADLINE, n_boot: int = 1000, seed: int = 0):
    """One row per claim: its direction in the paper's numbers and in the kit's, whether the kit's separate, and
    the verdict (``agrees`` / ``disagrees`` / ``inconclusive``)."""
    import pandas as pd

    paper, kit = checks(paper_rows, criterion, n_boot, seed=seed), checks(kit_rows, criterion, n_boot, seed=seed)
    verdict: Callable[[bool, bool, bool | None], str] = lambda p, k, sep: (  # noqa: E731
        "inconclusive" if not sep else "agrees" if p == k else "disagrees")
    rows = [{"finding": name, "paper": paper[name][0], "kit": k, "kit separated": sep,
             "verdict": verdict(paper[name][0], k, sep)}
            for name, (k, sep) in kit.items() if name in paper]
    return pd.DataFrame(rows)
