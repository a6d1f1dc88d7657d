"""Atomic writes, the results schema, bootstrap intervals."""

import json
import math

import numpy as np
import pytest

from kit.errors import ConfigError, DataError
from kit.io import atomic_path, write_text
from kit.results import COLUMNS, ResultRow, load_results, save_results
from kit.stats import bootstrap_ci, bootstrap_mean_ci


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_folder_replaces_whole(tmp_path):
    target = tmp_path / "folder"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "a").write_text("1")
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_results_roundtrip_with_config(tmp_path):
    rows = [ResultRow("toy", "toy", "topk-D256", "match_score", 0.5, family="topk", dict_size=256, sparsity=32,
                      criterion="fbmp_b0.5", budget=3, ci_low=0.4, ci_high=0.6, seed=0, extra={"world": "w1"}),
            ResultRow("toy", "toy", "topk-D256", "tapascore", np.float32(0.25))]
    path = save_results(tmp_path / "r.json", rows, {"seed": 0, "sizes": (128, 256)})
    df, config = load_results(path)
    assert config == {"seed": 0, "sizes": [128, 256]}
    assert list(df.metric) == ["match_score", "tapascore"] and df.world.iloc[0] == "w1"
    assert list(df.columns[:15]) == list(COLUMNS) and df.criterion.iloc[0] == "fbmp_b0.5"
    assert math.isnan(df.ci_low.iloc[1])
    assert "kit_version" in json.loads(path.read_text())


def test_results_reject_bad_rows(tmp_path):
    with pytest.raises(DataError, match="clash"):
        ResultRow("d", "e", "s", "mse", 1.0, extra={"value": 2})
    with pytest.raises(DataError, match="unknown metric"):
        ResultRow("d", "e", "s", "matchscore", 1.0)
    with pytest.raises(ConfigError, match="criterion"):
        ResultRow("d", "e", "s", "match_score", 1.0, criterion="FBMP F0.5")
    with pytest.raises(DataError, match="lacks"):
        save_results(tmp_path / "r.json", [{"metric": "m"}], {})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="bad.json"):
        load_results(tmp_path / "bad.json")


def test_bootstrap_mean_ci_brackets_the_mean_and_is_deterministic():
    v = np.random.default_rng(0).normal(1.0, 1.0, size=400)
    lo, hi = bootstrap_mean_ci(v, seed=3)
    assert lo < v.mean() < hi and hi - lo < 0.4
    assert (lo, hi) == bootstrap_mean_ci(v, seed=3)


def test_bootstrap_ci_vectorised_statistic_matches_mean_ci():
    v = np.arange(50, dtype=float)
    assert bootstrap_ci(lambda idx: v[idx].mean(axis=1), 50, seed=1) == bootstrap_mean_ci(v, seed=1)


def test_atomic_cache_entry_first_writer_wins(tmp_path):
    entry, f = tmp_path / "entry", tmp_path / "f.txt"
    for i in range(2):
        with atomic_path(entry, replace=False) as tmp:
            tmp.mkdir()
            (tmp / "v").write_text(str(i))
        with atomic_path(f, replace=False) as tmp:
            tmp.write_text(str(i))
    assert (entry / "v").read_text() == "0" and f.read_text() == "0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry", "f.txt"]


def test_t_interval_matches_the_textbook():
    from scipy import stats

    from kit.stats import t_interval

    v = np.array([0.018, -0.055, 0.001])
    m, lo, hi = t_interval(v)
    lo2, hi2 = stats.t.interval(0.95, 2, loc=v.mean(), scale=stats.sem(v))
    assert m == pytest.approx(v.mean()) and (lo, hi) == pytest.approx((lo2, hi2))
    assert lo < 0 < hi
    with pytest.raises(DataError):
        t_interval([1.0])
