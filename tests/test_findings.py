"""kit.findings: the paper's claims hold on its own published numbers, and the checks read the numbers right."""

import pandas as pd
import pytest

from kit.errors import DataError
from kit.findings import compare, findings
from kit.reference import paper_results


def test_the_paper_agrees_with_itself():
    paper = paper_results()
    f = findings(paper[paper.dataset == "CUB"])
    assert f["mean TAPAScore, fbmp_b0.5"] == pytest.approx(0.455, abs=5e-4)
    assert f["size with the best mean TAPAScore (fbmp_b0.5)"] == 256
    table = compare(f, f)
    assert table.paper.all() and table.agree.all()


def _grid(values: dict[int, float]) -> pd.DataFrame:
    rows = []
    for size, v in values.items():
        for crit, shift in (("fbmp_b0.5", 0.0), ("one_to_one", -0.1)):
            rows.append(dict(role="trained", family="topk", metric="tapascore", criterion=crit, dict_size=size,
                             value=v + shift))
        rows.append(dict(role="trained", family="topk", metric="delta_match_score", criterion="fbmp_b0.5",
                         dict_size=size, value=-0.01))
        rows.append(dict(role="untrained", family="topk", metric="tapascore", criterion="fbmp_b0.5",
                         dict_size=size, value=9.0))  # baselines never count
    return pd.DataFrame(rows)


def test_peak_at_the_edge_is_not_inside():
    f = findings(_grid({32: 0.1, 64: 0.2, 128: 0.3}))
    assert f["size with the best mean TAPAScore (fbmp_b0.5)"] == 128
    t = compare(f, findings(_grid({32: 0.1, 64: 0.4, 128: 0.3}))).set_index("finding")
    peak = [x for x in t.index if "peaks" in x][0]
    assert not t.loc[peak, "paper"] and t.loc[peak, "kit"] and not t.loc[peak, "agree"]
    delta = [x for x in t.index if "ΔMATCHScore" in x][0]
    assert not t.loc[delta, "kit"]
    with pytest.raises(DataError, match="no TAPAScore"):
        findings(_grid({32: 0.1}).query("role == 'untrained'"))
