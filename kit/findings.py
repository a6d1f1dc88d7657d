"""The paper's headline findings as numbers and checks, computed the same way from its rows and from the kit's.

:func:`findings` reads a table in the results vocabulary (the kit's dictionary-size study, or
:func:`kit.reference.paper_results`) and returns the numbers the paper's claims rest on; :data:`CHECKS` states
each claim as a test on those numbers, so :func:`compare` can say, claim by claim, whether a run agrees with the
published table.
"""

from __future__ import annotations

from typing import Callable

from kit.errors import DataError

HEADLINE = "fbmp_b0.5"


def findings(rows, criterion: str = HEADLINE) -> dict[str, float]:
    """The numbers behind the paper's findings from trained-SAE rows over families × sizes (× seeds).

    rows: a DataFrame with the columns of :data:`kit.results.COLUMNS`; only ``role == "trained"`` rows of
    per-family grids count (the paper's sanity-table means, family ``"mean"``, are left out).
    """
    grid = rows[(rows.role == "trained") & (rows.family != "mean")]
    tapas = grid[grid.metric == "tapascore"]
    if tapas.empty:
        raise DataError("findings: the rows hold no TAPAScore of trained SAEs")
    by_criterion = tapas.groupby("criterion").value.mean()
    by_size = tapas[tapas.criterion == criterion].groupby("dict_size").value.mean()
    if by_size.empty:
        raise DataError(f"findings: no TAPAScore rows with criterion {criterion!r}")
    delta = grid[(grid.metric == "delta_match_score") & (grid.criterion == criterion)].value
    best = int(by_size.idxmax())
    return {
        f"mean TAPAScore, {criterion}": float(by_criterion.get(criterion, float("nan"))),
        "mean TAPAScore, one_to_one": float(by_criterion.get("one_to_one", float("nan"))),
        f"size with the best mean TAPAScore ({criterion})": best,
        "smallest size studied": int(by_size.index.min()),
        "largest size studied": int(by_size.index.max()),
        f"best mean TAPAScore over sizes ({criterion})": float(by_size.max()),
        f"mean TAPAScore at the largest size ({criterion})": float(by_size.loc[by_size.index.max()]),
        f"mean ΔMATCHScore ({criterion})": float(delta.mean()) if len(delta) else float("nan"),
    }


def _checks(criterion: str) -> dict[str, Callable[[dict], bool]]:
    return {
        f"coalitions ({criterion}) score a higher TAPAScore than one-to-one matching":
            lambda f: f[f"mean TAPAScore, {criterion}"] > f["mean TAPAScore, one_to_one"],
        f"trained SAEs match concepts better than their untrained twins (ΔMATCHScore {criterion} > 0)":
            lambda f: f[f"mean ΔMATCHScore ({criterion})"] > 0,
        "TAPAScore peaks inside the grid of dictionary sizes (not at its smallest or largest size)":
            lambda f: f["smallest size studied"] < f[f"size with the best mean TAPAScore ({criterion})"]
            < f["largest size studied"],
    }


CHECKS = _checks(HEADLINE)


def compare(paper: dict, kit: dict, criterion: str = HEADLINE):
    """One row per claim: whether it holds in the paper's numbers, in the kit's, and whether they agree."""
    import pandas as pd

    rows = [{"finding": name, "paper": bool(test(paper)), "kit": bool(test(kit))}
            for name, test in _checks(criterion).items()]
    table = pd.DataFrame(rows)
    table["agree"] = table.paper == table.kit
    return table
