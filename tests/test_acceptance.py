"""Acceptance: the smoke run's evaluate output equals the committed expected JSON within stated tolerances.

Regenerate (only when a definition changes on purpose): ``.venv/bin/python tests/acceptance_smoke.py``.
"""

import numpy as np
import pytest

from acceptance_smoke import ATOL, EXPECTED, smoke_results
from kit.results import load_results

KEYS = ["role", "metric", "criterion", "budget"]


@pytest.mark.slow
def test_smoke_run_matches_the_expected_results(tmp_path):
    expected, config = load_results(EXPECTED)
    got = smoke_results(tmp_path).rows
    key = lambda df: df.assign(budget=df.budget.fillna(-1).astype(int), criterion=df.criterion.fillna(""))  # noqa
    e, g = key(expected).set_index(KEYS).sort_index(), key(got).set_index(KEYS).sort_index()
    assert list(g.index) == list(e.index), "the rows (roles × metrics × criteria × budgets) changed"
    assert (g.n_units == e.n_units).all(), "unit counts changed"
    for col in ("value", "ci_low", "ci_high"):
        diff = (g[col] - e[col]).abs()
        bad = diff[~(diff <= ATOL) & ~(g[col].isna() & e[col].isna())]
        assert bad.empty, f"{col} differs by more than {ATOL}:\n{bad.to_string()}"
    for col in ("dataset", "encoder", "sae", "family", "dict_size", "sparsity", "seed"):
        assert (g[col].astype(str) == e[col].astype(str)).all(), col
    assert config["evaluate"]["metrics"] == "all"
