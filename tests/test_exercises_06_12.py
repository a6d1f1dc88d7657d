"""The exercise solutions of chapters 06–12 state what the code gives: each test reruns an exercise's stated
parameters through the kit and checks the solution's claim, and checks that the claim's sentence is in the
chapter's solution text, so that prose and test stay linked.

Solutions computed inside a chapter (they depend on its run) are checked by the notebook smoke runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from kit import metrics
from kit.evaluate import EvalConfig, EvalData, build_baselines, evaluate
from kit.matching import fbmp
from kit.planted import make_world
from kit.sae import encode_array, from_tensors, random_codes, untrained
from kit.tapas import tapascore
from kit.types import Matching

ROOT = Path(__file__).resolve().parent.parent


def solution_text(chapter: str, exercise: int) -> str:
    """The markdown of exercise ``exercise`` of ``notebooks/<chapter>.py`` (question and static solution), with
    the comment markers removed and lines joined by spaces."""
    source = (ROOT / "notebooks" / f"{chapter}.py").read_text()
    text = " ".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in source.splitlines())
    text = re.sub(r"\s+", " ", text)
    start = text.index("## Exercises")
    parts = re.split(r"\*\*(\d+)\.\*\*", text[start:])
    return dict(zip(map(int, parts[1::2]), parts[2::2]))[exercise]


def says(chapter: str, exercise: int, *sentences: str) -> None:
    text = solution_text(chapter, exercise)
    for sentence in sentences:
        assert re.sub(r"\s+", " ", sentence) in text, f"{chapter} exercise {exercise} no longer says {sentence!r}"


def matching(coalitions: list[list[int]]) -> Matching:
    """Coalitions whose every latent improves the F1 (so that a budget keeps them all)."""
    steps = max(map(len, coalitions))
    return Matching(coalitions=coalitions, rec_f1=np.tile(np.arange(1, steps + 1) / steps, (len(coalitions), 1)),
                    method="by hand")


# ---- chapter 06: TAPAScore ----

def test_06_exercise_1_one_pair_by_hand():
    Zo, Ze = np.zeros((1, 10), np.float32), np.zeros((1, 10), np.float32)
    Zo[0, [3, 7]] = 1.0  # before: 3 and 7 fire
    Ze[0, [7, 9]] = 1.0  # after: 7 and 9 fire
    r = tapascore(Zo, Ze, np.array([0]), np.array([1]), matching([[3, 7], [7, 9]]), k=3, n_boot=10)
    assert (r.add, r.rem, r.score) == (1.0, -1.0, 2.0)
    # keeping the shared latent 7 in both sets: the max over each set is 1 before and after
    kept_rem = Ze[0, [3, 7]].max() - Zo[0, [3, 7]].max()
    kept_add = Ze[0, [7, 9]].max() - Zo[0, [7, 9]].max()
    assert kept_add - kept_rem == 0
    says("06_tapascore", 1, r"$\text{add}_p = 1 - 0 = 1$, $\text{rem}_p = 0 - 1 = -1$, score $= 2$",
         "the score drops to 0")


def test_06_exercise_2_random_cosines():
    rng = np.random.default_rng(0)
    for d, sd, top in ((128, 0.088, 0.26), (768, 0.036, 0.11)):
        u = rng.standard_normal(d)
        u /= np.linalg.norm(u)
        W = rng.standard_normal((200, 256, d))
        cos = (W / np.linalg.norm(W, axis=-1, keepdims=True)) @ u
        assert cos.std() == pytest.approx(sd, abs=0.001)
        assert np.abs(cos).max(axis=1).mean() == pytest.approx(top, abs=0.01)  # the best of 256 latents
    says("06_tapascore", 2, "0.088 for the toy encoder's $d = 128$, 0.036 for the 768-d CLIP embedding",
         "(0.26 at $d = 128$, 0.11 at $d = 768$)")


def test_06_exercise_3_swaps_and_removals():
    P_swap, P_rem = 300, 100
    Zo, Ze = np.zeros((400, 3), np.float32), np.zeros((400, 3), np.float32)
    Zo[:P_swap, 0] = Ze[:P_swap, 0] = 1.0  # the removed concept's latent stays on
    Ze[:P_swap, 1] = 1.0                  # the added one's switches on
    Zo[P_swap:, 2] = 1.0                  # the removed object's latent switches off
    old = np.r_[np.zeros(P_swap, int), np.full(P_rem, 2)]
    new = np.r_[np.ones(P_swap, int), np.full(P_rem, -1)]
    r = tapascore(Zo, Ze, old, new, matching([[0], [1], [2]]), k=3, n_boot=10)
    assert r.score == pytest.approx(1.0) and r.normalised == pytest.approx(0.625)
    says("06_tapascore", 3, "TAPAScore $= (300 + 100)/400 = 1$",
         r"$= (300 \cdot 0.5 + 100 \cdot 1)/400 = 0.625$")


# ---- chapter 07: baseline metrics ----

def test_07_exercise_1_identity_map():
    X = make_world(n_samples=600, seed=0).X
    assert metrics.cknna(X, X).value == pytest.approx(1.0)
    says("07_baseline_metrics", 1, "`metrics.cknna(X, X).value` is 1", "the FVU is 0")


def split_concept():
    """Exercise 3's construction, as its solution writes it."""
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.3
    half = rng.random(2000) < 0.5
    Zs = np.zeros((2000, 16), np.float32)
    Zs[y & half, 0] = Zs[y & ~half, 1] = 1.0
    Zs[:, 2:] = (rng.random((2000, 14)) < 0.2) * rng.uniform(0.5, 1.5, (2000, 14))
    return Zs, y[:, None]


def test_07_exercise_3_a_split_concept():
    Zs, Y = split_concept()
    f = metrics.fms(Zs, Y).headline()
    sp = metrics.sparse_probing(Zs, Y).headline()
    m = fbmp(Y, Zs > 0, beta=0.5)
    assert (round(f["fms_capacity"], 2), round(f["fms_local"], 2), round(f["fms"], 2)) == (0.78, 0.12, 0.37)
    assert (round(sp["sparse_probing_k1"], 2), round(sp["sparse_probing_k2"], 2)) == (0.78, 1.0)
    assert sorted(m.coalitions[0][:2]) == [0, 1] and m.rec_f1[0, 1] == pytest.approx(1.0)
    says("07_baseline_metrics", 3, "FMS's capacity is 0.78", "the local score is only 0.12, and FMS is 0.37",
         "0.78 with one latent and 1.00 with two", "picks latents 0 and 1 and reaches F1 = 1.00")


# ---- chapter 10: metric validity (the chapter's default world: 6,000 samples, 64 dimensions, seed 0) ----

def planted(**overrides):
    """The chapter's world (held-out third) and its oracle SAE."""
    world = make_world(n_samples=6000, seed=0, **{"dim": 64, **overrides})
    n_train = 2 * len(world.X) // 3
    atoms = world.atoms
    oracle = from_tensors(atoms.T, np.zeros(len(atoms)), atoms, np.zeros(atoms.shape[1]), activation="jumprelu",
                          threshold=0.25, subtract_b_dec=False)
    data = EvalData(X=world.X[n_train:], Y=world.Y[n_train:], concepts=world.concepts.names,
                    groups=world.concepts.groups, dataset="planted", encoder="planted")
    return world, n_train, oracle, data


MATCH = EvalConfig(criteria=("one_to_one", "fbmp_b0.5"), budget=3, metrics=("match_score",), baselines=(),
                   n_boot=20, seed=0)


def test_10_exercise_2_the_oracles_split_concepts():
    world, _, oracle, data = planted()
    res = evaluate(oracle, data, MATCH, seed=None)
    assert round(res.value("match_score", criterion="one_to_one"), 3) == 0.969
    assert round(res.value("match_score", criterion="fbmp_b0.5"), 3) == 1.0
    assert list(world.kinds).count("split") == 2 and len(world.kinds) == 20
    says("10_metric_validity", 2, "one-to-one MATCHScore is 0.969", "close to the measured 0.969",
         "FBMP takes both atoms and reaches 1.000")


def test_10_exercise_3_random_codes_below_the_untrained_twin():
    _, _, _, data = planted()
    config = EvalConfig(criteria=("fbmp_b0.5",), budget=3, metrics=("match_score", "delta_match_score"),
                        baselines=("untrained",), n_boot=20, seed=0)
    got = {}
    for D in (32, 64, 128):
        # the chapter's twin: the baselines build_baselines makes for a TopK SAE of that size (standardised, k = 8)
        twin = build_baselines(untrained("topk", 64, D, k=8, seed=0, standardize=True), seed=0)["untrained"]
        for kind, model in (("untrained", twin), ("random", random_codes(64, D, k=8, seed=0))):
            rows = evaluate(model, data, config, baselines={"untrained": twin}, seed=0)
            got[kind, D] = (round(rows.value("match_score", criterion="fbmp_b0.5"), 3),
                            round(rows.value("delta_match_score", criterion="fbmp_b0.5"), 3))
    assert [got["random", D][1] for D in (32, 64, 128)] == [-0.139, -0.207, -0.296]
    assert [got["random", D][0] for D in (32, 64, 128)] == [0.387, 0.343, 0.283]
    assert [got["untrained", D][0] for D in (32, 64, 128)] == [0.526, 0.55, 0.579]
    says("10_metric_validity", 3, "−0.139 at 32 latents, −0.207 at 64 and −0.296 at 128",
         "falls (0.387, 0.343, 0.283) while the untrained SAE's rises (0.526, 0.550, 0.579)")


def test_10_exercise_4_harder_worlds():
    found = {}
    for name, overrides in (("default", {}), ("dim 16", {"dim": 16}), ("noise 0.3", {"noise": 0.3})):
        world, n_train, oracle, _ = planted(**overrides)
        X = world.X[n_train:]
        agree = ((encode_array(oracle, X) > 0) == (world.codes[n_train:] > 0)).mean()
        found[name] = (round(100 * float(agree), 1), round(metrics.proxies(X, oracle).headline()["fvu"], 2))
    assert len(make_world(dim=16).atoms) == 26
    assert found == {"default": (100.0, 0.03), "dim 16": (73.7, 1.40), "noise 0.3": (84.1, 0.39)}
    says("10_metric_validity", 4, "agrees with the true codes on 73.7%", "its FVU is 1.40",
         "the agreement is 84.1% and the FVU 0.39 (against 100.0% and 0.03 in the default world)")


# ---- chapter 11: reproducing the paper ----

def test_11_exercise_2_coalitions_on_coco():
    from kit.findings import findings
    from kit.reference import paper_results

    published = paper_results()
    coco, cub = (findings(published[published.dataset == ds]) for ds in ("COCO", "CUB"))
    fb, one = coco["mean TAPAScore, fbmp_b0.5"], coco["mean TAPAScore, one_to_one"]
    assert (round(fb, 3), round(one, 3), round(fb - one, 3)) == (0.27, 0.223, 0.047)
    cub_gap = cub["mean TAPAScore, fbmp_b0.5"] - cub["mean TAPAScore, one_to_one"]
    assert round(cub_gap, 3) == 0.114 and fb - one < cub_gap
    says("11_reproducing_the_paper", 2, "0.270 with FBMP β = 0.5 and 0.223 one-to-one",
         "at +0.047 smaller than CUB's +0.114 (0.455 against 0.341)")


# ---- chapter 12: score your own SAE ----

def test_12_exercise_1_paper_metrics():
    from kit.results import PAPER_METRICS

    assert PAPER_METRICS == ("match_score", "delta_match_score", "tapascore", "delta_stay")
    readme = (ROOT / "README.md").read_text()
    assert "11 s with the paper's metrics" in readme and "27 s with `--metrics all`" in readme
    says("12_score_your_sae", 1, "Only MATCHScore, ΔMATCHScore, TAPAScore and Δ_stay remain",
         "11 s with the paper's metrics against 27 s with all of them")


def test_12_exercise_2_another_width(tmp_path):
    from kit.errors import ConfigError
    from kit.sae import SAE, SAEConfig, save
    from kit.score import score

    narrow = tmp_path / "narrow"
    save(SAE(SAEConfig("topk", 16, 32, 4)), narrow)
    with pytest.raises(ConfigError) as caught:
        score(narrow, out=tmp_path / "out", cache_dir=tmp_path / "cache",
              parameters={"n_pairs": 60, "n_images": 200})
    assert not (tmp_path / "out").exists()
    message = str(caught.value)
    assert "takes inputs of width 16, but the encoder 'toy' gives 128-d embeddings: score it with the encoder it was " \
           "trained on" in message
    says("12_score_your_sae", 2, "takes inputs of width 16, but the encoder 'toy' gives 128-d embeddings: score it "
                                 "with the encoder it was trained on")
