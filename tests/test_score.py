"""``kit score`` and the scorecard: one command from an SAE folder to results.json and a scorecard."""

from __future__ import annotations

import json

import pytest

from kit.cli import main
from kit.errors import ConfigError
from kit.evaluate import Results
from kit.pipeline import PipelineConfig, prepare, train_cached
from kit.reference import paper_results
from kit.results import COLUMNS, load_results
from kit.sae import SAE, SAEConfig, save
from kit.score import score, split_parameters
from kit.scorecard import scorecard_tables, to_html, to_markdown

SIZES = {"n_pairs": 60, "n_images": 200}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("score-cache")


@pytest.fixture(scope="module")
def sae_folder(cache, tmp_path_factory):
    data = prepare(PipelineConfig(**SIZES), cache)
    X_train, _ = data.split("train")
    [sae] = train_cached(X_train, [dict(family="topk", dict_size=32, k=4)], cache, epochs=2, progress=False)
    folder = tmp_path_factory.mktemp("saes") / "my-topk"
    save(sae, folder)
    return folder


@pytest.fixture(scope="module")
def scored(sae_folder, cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return score(sae_folder, out=out, cache_dir=cache, metrics="paper",
                 parameters={**SIZES, "n_boot": 50, "criteria": ["one_to_one", "fbmp_b0.5"]}), out


def test_score_writes_results_and_scorecards(scored):
    done, out = scored
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "scorecard.html", "scorecard.md"]
    doc = json.loads((out / "results.json").read_text())
    assert set(doc) == {"config", "kit_version", "rows"}
    assert doc["config"]["evaluate"]["criteria"] == ["one_to_one", "fbmp_b0.5"]
    df, _ = load_results(out / "results.json")
    assert list(df.columns) == list(COLUMNS) and set(df.sae) == {"my-topk"}
    assert set(df.role) == {"trained", "untrained", "random"}
    md = (out / "scorecard.md").read_text()
    row = done.results.select("tapascore", "trained", "fbmp_b0.5").iloc[0]
    assert f"{row.value:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]" in md  # the headline with its interval
    assert "The paper's sanity check" in md and "0.455" in md  # the published CUB TAPAScore, labelled as such
    assert "no topk SAE with 32 latents" in md
    html = (out / "scorecard.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table" in html and "http" not in html.lower().replace(
        "http-equiv", "")


def test_scorecard_shows_the_papers_numbers_for_the_same_sae(scored):
    done, _ = scored
    rows = done.results.rows.assign(family="batchtopk", dict_size=256)
    config = {**done.results.config, "sae": {**done.results.config["sae"], "family": "batchtopk", "dict_size": 256}}
    card = scorecard_tables(Results(rows=rows, config=config, kit_version="x"), paper_results())
    md = to_markdown(card)
    paper = paper_results()
    want = paper[(paper.dataset == "CUB") & (paper.family == "batchtopk") & (paper.dict_size == 256)
                 & (paper.criterion == "fbmp_b0.5") & (paper.metric == "tapascore")].value.item()
    assert "The paper's batchtopk SAE with 256 latents" in md and f"{want:.3f}" in md
    assert "<h2>The paper&#x27;s batchtopk SAE with 256 latents</h2>" in to_html(card)


def test_parameters_go_where_they_mean_something():
    """``batch_size`` is the SAE's encoding batch, ``embed_batch_size`` the image encoder's; ``seed`` and
    ``device`` set the benchmark's and the evaluation's alike."""
    pipe, ev = split_parameters({"batch_size": 512, "embed_batch_size": 32, "seed": 3, "device": "cpu",
                                 "n_pairs": 60, "n_boot": 20})
    assert pipe == {"embed_batch_size": 32, "seed": 3, "device": "cpu", "n_pairs": 60}
    assert ev == {"batch_size": 512, "seed": 3, "device": "cpu", "n_boot": 20}
    with pytest.raises(ConfigError, match="embed_batch_size"):
        PipelineConfig(embed_batch_size=0)


def test_bad_input_is_refused_before_anything_is_written(sae_folder, cache, tmp_path):
    with pytest.raises(ConfigError, match="n_pair"):
        split_parameters({"n_pair": 3})
    narrow = tmp_path / "narrow"
    save(SAE(SAEConfig("topk", 16, 32, 4)), narrow)
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="width 16.*128-d"):
        score(narrow, out=out, cache_dir=cache, parameters=SIZES)
    assert not out.exists()


def test_command_line(sae_folder, cache, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["-q", "score", str(sae_folder), "--out", str(out), "--cache-dir", str(cache), "--metrics",
                 "match_score,delta_match_score", "-p", "n_pairs=60", "-p", "n_images=200", "-p", "n_boot=20",
                 "-p", "criteria=[fbmp_b0.5]"])
    assert code == 0 and (out / "scorecard.md").is_file()
    assert capsys.readouterr().out.strip() == str(out / "scorecard.md")
    assert main(["score", str(tmp_path / "nothing"), "--out", str(tmp_path / "o2"), "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kit: error:") and "no such" in err and "\n" not in err
    assert not (tmp_path / "o2").exists()
    for argv, msg in [(["score", str(sae_folder), "--metrics", "matchscore"], "unknown metric"),
                      (["score", str(sae_folder), "-p", "n_boot"], "NAME=VALUE")]:
        with pytest.raises(SystemExit) as e:
            main(argv + ["--cache-dir", str(cache)])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("kit: error:") and msg in err and "\n" not in err
