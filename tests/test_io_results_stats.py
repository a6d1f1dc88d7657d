"""Atomic writes, the results schema, bootstrap intervals."""

import json
import math

import numpy as np
import pytest

from kit.errors import DataError
from kit.io import atomic_path, write_text
from kit.results import ResultRow, load_results, save_results
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
    rows = [ResultRow("toy", "toy", "topk", 256, 32, 0, "matchscore", 0.5, 0.4, 0.6, extra={"beta": 0.5}),
            ResultRow("toy", "toy", "topk", 256, 32, 0, "tapascore", np.float32(0.25))]
    path = save_results(tmp_path / "r.json", rows, {"seed": 0, "sizes": (128, 256)})
    df, config = load_results(path)
    assert config == {"seed": 0, "sizes": [128, 256]}
    assert list(df.metric) == ["matchscore", "tapascore"] and df.beta.iloc[0] == 0.5
    assert math.isnan(df.ci_low.iloc[1])
    assert "kit_version" in json.loads(path.read_text())


def test_results_reject_bad_rows(tmp_path):
    with pytest.raises(DataError, match="clash"):
        ResultRow("d", "e", "s", 1, 1, 0, "m", 1.0, extra={"value": 2})
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
