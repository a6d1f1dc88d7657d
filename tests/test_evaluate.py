"""kit.evaluate on a planted world: the vocabulary, the baselines it builds, and every number against the
function that computes it directly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from kit import matching as km
from kit.errors import ConfigError, DataError
from kit.evaluate import EvalConfig, EvalData, Pairs, build_baselines, config_from, describe, evaluate
from kit.planted import make_pairs, make_world
from kit.results import COLUMNS, METRICS, ROLES, criterion_name, load_results, parse_criterion
from kit.sae import SAE, RandomCodes, SAEConfig, encode_array, paper_untrained, train, untrained
from kit.tapas import tapascore


@pytest.fixture(scope="module")
def planted():
    world = make_world(n_samples=3000, dim=48, seed=2)
    pairs = make_pairs(world, n_pairs=300, kind="swap", seed=1)
    sae = train(world.X[:2000], "topk", dict_size=48, k=8, seed=0, epochs=30, batch_size=128, progress=False)
    data = EvalData(X=world.X[2000:], Y=world.Y[2000:], pairs=pairs, concepts=world.concepts.names,
                    groups=world.concepts.groups, dataset="planted", encoder="none")
    return world, sae, data


@pytest.fixture(scope="module")
def paper(planted):
    _, sae, data = planted
    return evaluate(sae, data, EvalConfig(n_boot=100))


def test_rows_speak_the_vocabulary(paper, planted):
    _, sae, data = planted
    r = paper.rows
    assert list(r.columns) == list(COLUMNS)
    assert set(r.metric) == {"match_score", "delta_match_score", "tapascore", "delta_stay"}
    assert set(r.metric) <= set(METRICS) and set(r.role) == {"trained", "untrained", "random"} <= set(ROLES)
    assert set(r.criterion) == {"one_to_one", "fbmp_b1", "fbmp_b0.5", "fbmp_b0.25"}
    assert (r.sae == "topk-D48-k8-s0").all() and (r.family == "topk").all() and (r.dict_size == 48).all()
    assert (r.sparsity == 8).all() and (r.seed == 0).all() and (r.dataset == "planted").all()
    assert (r[r.criterion == "one_to_one"].budget == 1).all() and (r[r.criterion != "one_to_one"].budget == 3).all()
    assert set(r[r.metric == "delta_match_score"].role) == {"trained"}
    assert ((r.ci_low <= r.value + 1e-9) & (r.value <= r.ci_high + 1e-9)).all()
    n = r.set_index(["metric", "role", "criterion"]).n_units
    assert (n["match_score"] == data.Y.shape[1]).all() and (n["tapascore"] == 300).all()
    assert paper.config["evaluate"]["__class__"] == "EvalConfig" and paper.kit_version
    assert paper.config["sae"]["family"] == "topk"


def test_numbers_equal_the_direct_computation(paper, planted):
    """Every row is the number the stage functions give on the same codes."""
    _, sae, data = planted
    twin = untrained("topk", 48, 48, k=8, seed=0, standardize=sae.config.standardize)
    Z, Z0 = encode_array(sae, data.X), encode_array(twin, data.X)
    for beta in (1.0, 0.5, 0.25):
        c = criterion_name("fbmp", beta)
        m, m0 = km.fbmp(data.Y, km.binarize(Z), beta=beta), km.fbmp(data.Y, km.binarize(Z0), beta=beta)
        assert paper.value("match_score", "trained", c) == pytest.approx(km.match_score(m, 3))
        assert paper.value("match_score", "untrained", c) == pytest.approx(km.match_score(m0, 3))
        delta = km.delta_match_score(data.Y, m, m0, k=3).delta
        assert paper.value("delta_match_score", "trained", c) == pytest.approx(delta)
        P = data.pairs.X_orig.shape[0]
        Zp = encode_array(sae, np.concatenate([data.pairs.X_orig, data.pairs.X_edit]))
        t = tapascore(Zp[:P], Zp[P:], data.pairs.old, data.pairs.new, m, k=3, labels_orig=data.pairs.labels_orig,
                      n_boot=100)
        assert paper.value("tapascore", "trained", c) == pytest.approx(t.score)
        lo, hi = paper.select("tapascore", "trained", c)[["ci_low", "ci_high"]].iloc[0]
        assert (lo, hi) == pytest.approx(t.ci)
        assert paper.value("delta_stay", "trained", c) == pytest.approx(t.delta_stay)
        assert paper.matchings["trained", c].coalitions == m.coalitions
    o2o = km.one_to_one(data.Y, km.binarize(Z))
    assert paper.value("match_score", "trained", "one_to_one") == pytest.approx(km.match_score(o2o, 1))


def test_training_separates_on_the_planted_world(paper):
    assert paper.value("delta_match_score", criterion="fbmp_b0.5") > 0.08
    assert paper.value("tapascore", criterion="fbmp_b0.5") > 0.8
    assert abs(paper.value("tapascore", "random", "fbmp_b0.5")) < 0.15
    lo = paper.select("tapascore", "trained", "fbmp_b0.5").ci_low.item()
    assert lo > paper.select("tapascore", "untrained", "fbmp_b0.5").ci_high.item()


def test_baselines_match_the_sae():
    sae = train(np.random.default_rng(0).standard_normal((256, 12)).astype(np.float32), "batchtopk", dict_size=24,
                k=3, seed=5, epochs=1, standardize=True, progress=False)
    b = build_baselines(sae, seed=describe(sae).seed)
    twin = b["untrained"]
    assert twin.config == SAEConfig("batchtopk", 12, 24, 3, standardize=True)
    fresh = SAE(twin.config, seed=5)  # the kit trained from exactly these weights
    for name, p in fresh.state_dict().items():
        assert torch.equal(p.nan_to_num(), twin.state_dict()[name].nan_to_num()), name
    assert isinstance(b["random"], RandomCodes) and b["random"].config.k == 3
    relu = SAE(SAEConfig("relu", 12, 24))
    assert build_baselines(relu, ("random",), l0=6.4)["random"].config.k == 6


def test_same_input_same_rows(planted):
    _, sae, data = planted
    cfg = EvalConfig(criteria=("fbmp_b0.5",), n_boot=50)
    a, b = evaluate(sae, data, cfg).rows, evaluate(sae, data, cfg).rows
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("held_out", [False, True])
def test_each_model_prepares_its_firing_once_for_all_criteria(planted, monkeypatch, held_out):
    """The binary criteria of a model share one LatentCounts of its firing patterns; the rows equal those of an
    evaluation whose criteria each prepare B themselves."""
    import kit.evaluate as ke

    _, sae, data = planted
    criteria = ("one_to_one", "fbmp_b1", "fbmp_b0.25") + (() if held_out else ("nnomp",))  # nnomp: same split only
    cfg = EvalConfig(n_boot=50, held_out=held_out, criteria=criteria)
    built = []

    def counting(B, **options):
        built.append(B.shape)
        return km.LatentCounts(B, **options)

    monkeypatch.setattr(ke, "LatentCounts", counting)
    shared = evaluate(sae, data, cfg)
    n = len(shared.held_out[0]) if held_out else data.X.shape[0]
    assert built == [(n, 48)] * len(set(shared.rows.role))  # one per model
    monkeypatch.setattr(ke, "LatentCounts", lambda B, **options: B)  # each criterion prepares B again
    pd.testing.assert_frame_equal(shared.rows, evaluate(sae, data, cfg).rows)


def test_pairs_are_encoded_with_the_matched_latents_only(planted, monkeypatch):
    """TAPAScore reads the codes of the budgeted coalitions' latents alone: evaluate encodes the pairs keeping
    those columns (fewer than D), and its numbers equal TAPAScore on the pairs' full codes."""
    import kit.evaluate as ke

    world, _, data = planted
    sae = train(world.X[:2000], "topk", dict_size=512, k=8, seed=0, epochs=3, batch_size=256, progress=False)
    widths = []

    def spy(model, X, *args, **kw):
        Z = encode_array(model, X, *args, **kw)
        widths.append((X.shape[0], Z.shape[1]))
        return Z

    monkeypatch.setattr(ke, "encode_array", spy)
    cfg = EvalConfig(criteria=("one_to_one", "fbmp_b0.5"), metrics=("tapascore", "delta_stay"), n_boot=20)
    res = evaluate(sae, data, cfg)
    P = len(data.pairs.old)
    pair_widths = [w for n, w in widths if n == 2 * P]
    assert len(pair_widths) == 3 and max(pair_widths) < 512  # one encoding per model, matched columns only
    Zp = encode_array(sae, np.concatenate([data.pairs.X_orig, data.pairs.X_edit]))
    for criterion, k in (("one_to_one", 1), ("fbmp_b0.5", 3)):
        t = tapascore(Zp[:P], Zp[P:], data.pairs.old, data.pairs.new, res.matchings["trained", criterion], k=k,
                      labels_orig=data.pairs.labels_orig, n_boot=20, seed=cfg.seed, groups=data.groups).values()
        for metric in ("tapascore", "delta_stay"):
            assert res.value(metric, "trained", criterion) == t[metric]


def test_held_out_is_the_held_out_function(planted):
    _, sae, data = planted
    cfg = EvalConfig(criteria=("fbmp_b0.5", "one_to_one"), held_out=True, metrics=("match_score",),
                     baselines=(), n_boot=20, seed=3)
    res = evaluate(sae, data, cfg)
    n = data.X.shape[0]
    perm = np.random.default_rng(3).permutation(n)
    sel, ev = np.sort(perm[: n // 2]), np.sort(perm[n // 2:])
    B = km.binarize(encode_array(sae, data.X))
    ref = km.held_out(data.Y, B, sel, ev, "fbmp", beta=0.5)
    assert [r.tolist() for r in res.held_out] == [sel.tolist(), ev.tolist()]
    assert res.value("match_score", criterion="fbmp_b0.5") == pytest.approx(km.match_score(ref, 3))
    assert set(res.rows.role) == {"trained"}
    same = evaluate(sae, data, config_from({"held_out": False}, cfg))
    assert same.value("match_score", criterion="fbmp_b0.5") >= res.value("match_score", criterion="fbmp_b0.5")


def test_all_metrics_and_what_is_skipped(planted):
    world, sae, data = planted
    cfg = EvalConfig(metrics="all", criteria=("fbmp_b0.5",), n_boot=30)
    res = evaluate(sae, data, cfg)
    got = set(res.rows.metric)
    assert {"mse", "fvu", "l0", "cknna", "ms", "fms", "sparse_probing", "tpp", "absorption", "tapascore"} <= got
    assert set(res.skipped) == {"steer_power", "steerability", "steerable_fraction"} | (
        {"scr"} if "scr" not in got else set())
    assert "text encoder" in res.skipped["steerability"]
    assert set(res.rows[res.rows.metric == "sparse_probing"].budget) == {1, 2, 5}
    words = {n: world.atoms[a].mean(0) for n, a in zip(world.concepts.names, world.concept_atoms)}
    with_text = EvalData(X=data.X, Y=data.Y, pairs=data.pairs, groups=data.groups, vocabulary=world.concepts.names,
                         text_embed=lambda t: np.stack([words[x] for x in t]))
    steer = evaluate(sae, with_text, EvalConfig(metrics=("steerability",), baselines=(), n_boot=20))
    assert set(steer.rows.metric) == {"steerability"}


def test_explicit_metrics_that_cannot_run_are_refused(planted):
    _, sae, data = planted
    no_pairs = EvalData(X=data.X, Y=data.Y)
    with pytest.raises(ConfigError, match="no pairs"):
        evaluate(sae, no_pairs, EvalConfig(metrics=("tapascore",)))
    res = evaluate(sae, no_pairs, EvalConfig(n_boot=20, criteria=("one_to_one",)))
    assert "tapascore" in res.skipped and set(res.rows.metric) == {"match_score", "delta_match_score"}


def test_bad_input_is_named(planted):
    _, sae, data = planted
    narrow = EvalData(X=data.X[:, :10], Y=data.Y)
    with pytest.raises(DataError, match="width 48.*width 10"):
        evaluate(sae, narrow, EvalConfig())
    bad = data.X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        EvalData(X=bad, Y=data.Y)
    with pytest.raises(DataError, match="rows"):
        EvalData(X=data.X[:5], Y=data.Y)
    for kwargs, msg in [({"metrics": ("matchscore",)}, "unknown metric"), ({"criteria": ("fbmp",)}, "criterion"),
                        ({"baselines": ("noise",)}, "baselines"), ({"budget": 0}, "budget"),
                        ({"baselines": ("random",)}, "untrained"), ({"aggregation": "mean"}, "aggregation"),
                        ({"criteria": ("nnomp",), "held_out": True}, "nnomp")]:
        with pytest.raises(ConfigError, match=msg):
            EvalConfig(**kwargs)
    with pytest.raises(ConfigError, match="unknown evaluation setting"):
        config_from({"betas": [0.5]})
    with pytest.raises(ConfigError, match="protocol"):
        evaluate(object(), data)


def test_baselines_given_and_results_file(planted, tmp_path):
    _, sae, data = planted
    other = untrained("topk", 48, 48, k=8, seed=9)
    res = evaluate(sae, data, EvalConfig(metrics=("match_score",), criteria=("fbmp_b0.5",), baselines=(), n_boot=20),
                   baselines={"untrained": other}, sae_id="mine")
    assert set(res.rows.role) == {"trained", "untrained"} and set(res.rows.sae) == {"mine"}
    assert res.config["baselines"] == {"untrained": "SAE"}
    df, config = load_results(res.save(tmp_path / "r.json"))
    pd.testing.assert_frame_equal(df, res.rows, check_dtype=False)
    assert config["evaluate"]["criteria"] == ["fbmp_b0.5"]
    assert "kit_version" in json.loads((tmp_path / "r.json").read_text())
    wide = res.wide()
    assert list(wide.columns) == ["trained", "untrained"]


def test_criterion_names_round_trip():
    for name in ("one_to_one", "fbmp_b1", "fbmp_b0.5", "fbmp_b0.25", "nnomp"):
        assert criterion_name(*parse_criterion(name)) == name
    with pytest.raises(ConfigError):
        parse_criterion("FBMP F0.5")


def test_pairs_from_benchmark_keeps_fields(world):
    p = make_pairs(world, 20, seed=0)
    q = Pairs(p.X_orig, p.X_edit, p.old, p.new, p.labels_orig)
    assert q.X_orig is p.X_orig and np.array_equal(q.new, p.new)


def test_reference_protocol_baselines(planted):
    """paper_untrained: dense codes of one encoder matched, the pairs encoded by another (seed + 1), as the
    reference code does; dense_sign: the same encoder for both stages."""
    _, sae, data = planted
    cfg = EvalConfig(criteria=("fbmp_b0.5",), baselines=("untrained", "paper_untrained", "dense_sign"), n_boot=20)
    res = evaluate(sae, data, cfg)
    assert set(res.rows.role) == {"trained", "untrained", "paper_untrained", "dense_sign"}
    assert res.config["baselines"]["paper_untrained"] == "SAE"
    first, second = paper_untrained(48, 48, seed=0), paper_untrained(48, 48, seed=1)
    B = km.binarize(encode_array(first, data.X))
    assert 0.35 < B.mean() < 0.65  # every positive projection fires: about half of the latents
    m = km.fbmp(data.Y, B, beta=0.5)
    assert res.matchings["paper_untrained", "fbmp_b0.5"].coalitions == m.coalitions
    assert res.matchings["dense_sign", "fbmp_b0.5"].coalitions == m.coalitions
    P = data.pairs.X_orig.shape[0]
    pairs_X = np.concatenate([data.pairs.X_orig, data.pairs.X_edit])
    for role, encoder in (("paper_untrained", second), ("dense_sign", first)):
        Zp = encode_array(encoder, pairs_X)
        t = tapascore(Zp[:P], Zp[P:], data.pairs.old, data.pairs.new, m, k=3, labels_orig=data.pairs.labels_orig,
                      n_boot=20)
        assert res.value("tapascore", role, "fbmp_b0.5") == pytest.approx(t.score), role
        stay = res.select("delta_stay", role, "fbmp_b0.5").iloc[0]
        assert stay.value == pytest.approx(t.delta_stay) and stay.n_units == t.pairs.n_stay.sum()


def test_delta_stay_pooling_option(planted):
    _, sae, data = planted
    base = dict(criteria=("fbmp_b0.5",), metrics=("delta_stay",), baselines=(), n_boot=20)
    items = evaluate(sae, data, EvalConfig(**base)).select("delta_stay", criterion="fbmp_b0.5").iloc[0]
    pairs = evaluate(sae, data, EvalConfig(**base, stay_pooling="pairs")).select("delta_stay").iloc[0]
    t = evaluate(sae, data, EvalConfig(**base)).tapas["trained", "fbmp_b0.5"].pairs
    assert items.value == pytest.approx((t.delta_stay.fillna(0) * t.n_stay).sum() / t.n_stay.sum())
    assert pairs.value == pytest.approx(t.delta_stay.mean()) and pairs.n_units == (t.n_stay > 0).sum()
    with pytest.raises(ConfigError, match="stay_pooling"):
        EvalConfig(stay_pooling="concepts")


def test_delta_tapascore_is_paired_over_the_pairs(planted):
    _, sae, data = planted
    res = evaluate(sae, data, EvalConfig(criteria=("fbmp_b0.5",), metrics=("tapascore", "delta_tapascore"),
                                         baselines=("untrained",), n_boot=200))
    d = res.select("delta_tapascore", "trained", "fbmp_b0.5").iloc[0]
    assert d.value == pytest.approx(res.value("tapascore", "trained", "fbmp_b0.5")
                                    - res.value("tapascore", "untrained", "fbmp_b0.5"))
    assert d.n_units == 300 and d.ci_low <= d.value <= d.ci_high
    # pairing: the interval of the difference is narrower than the two intervals' sum of half-widths
    t, u = (res.select("tapascore", r, "fbmp_b0.5").iloc[0] for r in ("trained", "untrained"))
    assert d.ci_high - d.ci_low < (t.ci_high - t.ci_low + u.ci_high - u.ci_low)
    alone = evaluate(sae, data, EvalConfig(criteria=("fbmp_b0.5",), metrics=("delta_tapascore",),
                                           baselines=("untrained",), n_boot=200)).rows
    assert list(alone.metric) == ["delta_tapascore"] and alone.value.iloc[0] == pytest.approx(d.value)
    with pytest.raises(ConfigError, match="untrained"):
        EvalConfig(metrics=("delta_tapascore",), baselines=("random",))


def test_the_device_reaches_every_metric():
    cfg = EvalConfig(device="cpu")
    assert cfg.cknna.device == cfg.erasure.device == cfg.sparse_probing.device == "cpu"
    from kit.metrics import CKNNAConfig

    assert EvalConfig(device="cpu", cknna=CKNNAConfig(device="auto")).cknna.device == "cpu"
    assert EvalConfig().cknna.device == "auto"
