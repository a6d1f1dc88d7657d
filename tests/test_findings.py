"""kit.findings: the paper's claims hold on its own published numbers; direction and separation are read right."""

import numpy as np
import pandas as pd
import pytest

from kit.errors import DataError
from kit.findings import checks, compare, findings
from kit.reference import paper_results


def test_the_paper_agrees_with_itself_in_direction():
    paper = paper_results()
    cub = paper[paper.dataset == "CUB"]
    f = findings(cub)
    assert f["mean TAPAScore, fbmp_b0.5"] == pytest.approx(0.455, abs=5e-4)
    assert f["size with the best mean TAPAScore (fbmp_b0.5)"] == 256
    c = checks(cub)
    assert all(direction for direction, _ in c.values()), c
    assert any("untrained baseline" in name for name in c)  # from the sanity table's means


def _grid(curve: dict[int, float], seeds=(0, 1, 2), families=("topk", "jumprelu"), noise=0.0, twin=0.0, seed=0):
    """Study rows: TAPAScore per (family, size, seed) along ``curve`` (one-to-one 0.1 lower), ΔMATCHScore 0.02,
    the untrained twin at ``twin``; ``noise``: Gaussian noise on every value."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in families:
        for s in seeds:
            for size, v in curve.items():
                e = lambda: float(noise * rng.standard_normal())  # noqa: E731
                base = dict(family=f, dict_size=size, seed=s)
                rows += [dict(base, role="trained", metric="tapascore", criterion="fbmp_b0.5", value=v + e()),
                         dict(base, role="trained", metric="tapascore", criterion="one_to_one", value=v - 0.1 + e()),
                         dict(base, role="trained", metric="delta_match_score", criterion="fbmp_b0.5",
                              value=0.02 + e()),
                         dict(base, role="untrained", metric="tapascore", criterion="fbmp_b0.5", value=twin + e())]
    return pd.DataFrame(rows)


def test_clear_results_separate_and_noise_is_inconclusive():
    clear = checks(_grid({32: 0.1, 64: 0.4, 128: 0.3}))
    assert all(d and sep for d, sep in clear.values()), clear
    # two families that disagree: one peaks inside the grid, the other at its edge
    split = pd.concat([_grid({32: 0.1, 64: 0.5, 128: 0.2}, families=("topk",)),
                       _grid({32: 0.1, 64: 0.2, 128: 0.52}, families=("jumprelu",))])
    peak = [v for k, v in checks(split).items() if "peaks" in k][0]
    assert peak[1] is False  # a peak that moves with the resampled curves does not separate
    noisy = checks(_grid({32: 0.3, 64: 0.3, 128: 0.3}, noise=0.5, twin=0.3))
    twin = [v for k, v in noisy.items() if "untrained" in k][0]
    assert twin[1] is False


def test_verdicts():
    paper = _grid({32: 0.1, 64: 0.4, 128: 0.3}, seeds=(0,))
    at_edge = _grid({32: 0.1, 64: 0.2, 128: 0.3})
    t = compare(paper, at_edge).set_index("finding")
    peak = [x for x in t.index if "peaks" in x][0]
    assert t.loc[peak, "paper"] and not t.loc[peak, "kit"] and t.loc[peak, "verdict"] == "disagrees"
    assert (t.drop(index=peak).verdict == "agrees").all()
    noisy = compare(paper, _grid({32: 0.30, 64: 0.31, 128: 0.30}, noise=0.5, twin=0.3))
    assert "inconclusive" in set(noisy.verdict)
    with pytest.raises(DataError, match="no TAPAScore"):
        findings(at_edge.query("role == 'untrained'"))
