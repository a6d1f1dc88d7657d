"""Tests of kit.tapas: a literal per-pair implementation, planted known answers, options, bad input."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit import pipeline
from kit.errors import ConfigError, DataError
from kit.planted import make_pairs, make_world
from kit.results import load_results, save_results
from kit.tapas import AGGREGATIONS, TapasConfig, tapascore
from kit.types import Embeddings, Matching, PairedBenchmark

# --- a literal implementation of the definitions, one pair at a time ---------------------------------


def literal_f(zo, ze, latents, how, threshold):
    if not latents:
        return 0.0
    j = sorted(latents)
    if how == "binary":
        return float(max(ze[i] > threshold for i in j)) - float(max(zo[i] > threshold for i in j))
    if how == "max_then_delta":
        return float(max(float(ze[i]) for i in j) - max(float(zo[i]) for i in j))
    deltas = [float(ze[i]) - float(zo[i]) for i in j]
    return max(deltas) if how == "delta_then_max" else sum(deltas) / len(deltas)


def literal(Zo, Ze, old, new, coalitions, how="binary", threshold=0.0, labels=None):
    """Per pair (add, rem, stay) straight from the definitions, with Python sets; and every Δ_stay item."""
    add, rem, stay, items = [], [], [], []
    for p in range(len(old)):
        m_old = set(coalitions[old[p]])
        m_new = set(coalitions[new[p]]) if new[p] >= 0 else set()
        add.append(literal_f(Zo[p], Ze[p], m_new - m_old, how, threshold))
        rem.append(literal_f(Zo[p], Ze[p], m_old - m_new, how, threshold))
        if labels is not None:
            terms = [abs(literal_f(Zo[p], Ze[p], set(coalitions[a]), how, threshold))
                     for a in range(len(coalitions))
                     if labels[p, a] and a not in (old[p], new[p]) and coalitions[a]]
            stay.append(sum(terms) / len(terms) if terms else math.nan)
            items.extend(terms)
    return np.array(add), np.array(rem), np.array(stay), np.array(items)


def matching_of(coalitions, steps=None, concepts=None):
    """A Matching whose F1 curves grow, so that budget k keeps the first min(k, len) latents."""
    steps = steps or max(1, max(len(c) for c in coalitions))
    rec = np.tile(np.linspace(0.1, 1.0, steps), (len(coalitions), 1))
    return Matching(coalitions=coalitions, rec_f1=rec, method="test", concepts=concepts)


@st.composite
def problems(draw):
    c = draw(st.integers(2, 6))
    d = draw(st.integers(1, 8))
    p = draw(st.integers(1, 8))
    coalitions = [draw(st.lists(st.integers(0, d - 1), max_size=4)) for _ in range(c)]
    values = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0])
    Zo = np.array(draw(st.lists(st.lists(values, min_size=d, max_size=d), min_size=p, max_size=p)))
    Ze = np.array(draw(st.lists(st.lists(values, min_size=d, max_size=d), min_size=p, max_size=p)))
    old = np.array([draw(st.integers(0, c - 1)) for _ in range(p)])
    new = np.array([draw(st.sampled_from([-1] + [j for j in range(c) if j != o])) for o in old])
    labels = np.array(draw(st.lists(st.lists(st.booleans(), min_size=c, max_size=c), min_size=p, max_size=p)))
    labels[np.arange(p), old] = True
    labels[np.arange(p)[new >= 0], new[new >= 0]] = False
    k = draw(st.integers(1, 4))
    how = draw(st.sampled_from(AGGREGATIONS))
    threshold = draw(st.sampled_from([0.0, 0.75]))
    return Zo.astype(np.float32), Ze.astype(np.float32), old, new, coalitions, labels, k, how, threshold


@settings(max_examples=150, deadline=None)
@given(problems())
def test_matches_the_literal_per_pair_definition(problem):
    Zo, Ze, old, new, coalitions, labels, k, how, threshold = problem
    m = matching_of(coalitions, steps=4)
    r = tapascore(Zo, Ze, old, new, m, k=k, labels_orig=labels, aggregation=how, threshold=threshold, n_boot=20)
    add, rem, stay, items = literal(Zo, Ze, old, new, m.budgeted(k), how, threshold, labels)
    t = r.pairs
    np.testing.assert_allclose(t["add"], add, atol=1e-12)
    np.testing.assert_allclose(t["rem"], rem, atol=1e-12)
    np.testing.assert_allclose(t["delta_stay"], stay, atol=1e-12)
    assert r.score == pytest.approx(add.mean() - rem.mean())
    assert r.add == pytest.approx(add.mean()) and r.rem == pytest.approx(rem.mean())
    assert r.normalised == pytest.approx(np.mean((add - rem) / np.where(new >= 0, 2, 1)))
    macro = np.mean([(add - rem)[old == o].mean() for o in np.unique(old)])
    assert r.macro == pytest.approx(macro)
    by_pair = tapascore(Zo, Ze, old, new, m, k=k, labels_orig=labels, aggregation=how, threshold=threshold,
                        n_boot=20, stay_pooling="pairs")
    if items.size:
        assert r.delta_stay == pytest.approx(items.mean())  # the paper: every (pair, other concept) item once
        assert by_pair.delta_stay == pytest.approx(np.nanmean(stay))
        assert (t["n_stay"] * np.nan_to_num(t["delta_stay"])).sum() == pytest.approx(items.sum())
    else:
        assert math.isnan(r.delta_stay) and math.isnan(by_pair.delta_stay)


@settings(max_examples=60, deadline=None)
@given(problems())
def test_exchanging_original_and_edit_negates_every_pair(problem):
    Zo, Ze, old, new, coalitions, _, k, how, threshold = problem
    if how == "delta_then_max":  # max(−Δ) = −min(Δ): not antisymmetric by design
        how = "delta_then_mean"
    m = matching_of(coalitions, steps=4)
    fwd = tapascore(Zo, Ze, old, new, m, k=k, aggregation=how, threshold=threshold, n_boot=10)
    back = tapascore(Ze, Zo, old, new, m, k=k, aggregation=how, threshold=threshold, n_boot=10)
    np.testing.assert_allclose(fwd.pairs["score"], -back.pairs["score"], atol=1e-12)
    if how == "binary":
        assert -2 <= fwd.score <= 2 and -1 <= fwd.normalised <= 1


# --- planted known answers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world():
    return make_world(n_samples=1500, seed=1)


@pytest.fixture(scope="module")
def truth(world):
    return matching_of(world.concept_atoms, concepts=world.concepts.names)


def score_pairs(pairs, matching, Zo=None, Ze=None, **kw):
    return tapascore(pairs.codes_orig if Zo is None else Zo, pairs.codes_edit if Ze is None else Ze,
                     pairs.old, pairs.new, matching, labels_orig=pairs.labels_orig,
                     labels_edit=pairs.labels_edit, pair_ids=pairs.pair_ids, **kw)


@pytest.mark.parametrize("kind, expected", [("swap", 2.0), ("removal", 1.0)])
def test_perfect_latents_score_the_maximum(world, truth, kind, expected):
    pairs = make_pairs(world, 400, kind=kind, seed=2)
    r = score_pairs(pairs, truth, groups=world.concepts.groups)
    assert r.score == expected and r.macro == expected and r.ci == (expected, expected)
    assert r.normalised == 1.0 and r.delta_stay == 0.0
    assert r.rem == -1.0 and r.add == (1.0 if kind == "swap" else 0.0)
    assert set(r.pairs["kind"]) == {kind}


def test_mixed_benchmark_normalised_puts_kinds_on_one_scale(world, truth):
    s = make_pairs(world, 300, kind="swap", seed=3)
    rm = make_pairs(world, 100, kind="removal", seed=4)
    cat = {f: np.concatenate([getattr(s, f), getattr(rm, f)])
           for f in ("codes_orig", "codes_edit", "old", "new", "labels_orig", "pair_ids")}
    r = tapascore(cat["codes_orig"], cat["codes_edit"], cat["old"], cat["new"], truth,
                  labels_orig=cat["labels_orig"], pair_ids=cat["pair_ids"])
    assert r.score == pytest.approx((300 * 2 + 100 * 1) / 400)
    assert r.normalised == 1.0
    kinds = r.breakdown("kind").set_index("kind")
    assert kinds.loc["swap", "score"] == 2.0 and kinds.loc["removal", "score"] == 1.0
    assert kinds["n_pairs"].to_dict() == {"swap": 300, "removal": 100}


@pytest.mark.parametrize("kind", ["swap", "removal"])
def test_codes_independent_of_the_input_score_about_zero(world, truth, kind):
    pairs = make_pairs(world, 1500, kind=kind, seed=5)
    rng = np.random.default_rng(6)
    shape = pairs.codes_orig.shape

    def codes():  # the same distribution for both images, drawn independently of them
        return (rng.exponential(size=shape) * (rng.random(shape) < 0.3)).astype(np.float32)

    for how in AGGREGATIONS:
        r = score_pairs(pairs, truth, Zo=codes(), Ze=codes(), aggregation=how)
        assert r.ci[0] < 0 < r.ci[1], (how, r.ci)
        assert abs(r.score) < 0.15
        assert r.delta_stay > 0.1  # random codes flip the other concepts' latents too


def test_delta_stay_counts_collateral_changes(world, truth):
    pairs = make_pairs(world, 300, kind="swap", seed=7)
    leaky = pairs.codes_edit.copy()
    atom_concept = world.atom_concept()
    for a, c in enumerate(atom_concept):  # switch off every other present concept in the edit
        if c >= 0:
            hit = pairs.labels_orig[:, c] & (pairs.old != c) & (pairs.new != c)
            leaky[hit, a] = 0.0
    r = score_pairs(pairs, truth, Ze=leaky)
    assert r.score == 2.0
    assert r.delta_stay == 1.0
    assert (r.pairs["delta_stay"] == 1.0).all()


def test_delta_stay_blocks_give_the_same_answer(world, truth, monkeypatch):
    import kit.tapas

    pairs = make_pairs(world, 200, kind="removal", seed=14)
    rng = np.random.default_rng(2)
    Ze = pairs.codes_edit * (rng.random(pairs.codes_edit.shape) < 0.6)
    whole = score_pairs(pairs, truth, Ze=Ze, aggregation="delta_then_mean", n_boot=10)
    monkeypatch.setattr(kit.tapas, "_CHUNK", 5)  # blocks of 5 // K entries
    blocks = score_pairs(pairs, truth, Ze=Ze, aggregation="delta_then_mean", n_boot=10)
    np.testing.assert_allclose(blocks.pairs["delta_stay"], whole.pairs["delta_stay"], atol=1e-12)
    assert 0 < whole.delta_stay < 1


def test_shared_latents_are_dropped_and_budget_cuts_coalitions():
    # concept 0: latents [0, 1, 5]; concept 1: [1, 2]; k = 2 keeps [0, 1] and [1, 2] → I_rem {0}, I_add {2}
    m = matching_of([[0, 1, 5], [1, 2], []], steps=3)
    Zo = np.array([[1.0, 1.0, 0.0, 0, 0, 1.0]], dtype=np.float32)
    Ze = np.array([[0.0, 0.0, 1.0, 0, 0, 1.0]], dtype=np.float32)
    r = tapascore(Zo, Ze, [0], [1], m, k=2, n_boot=10)
    assert (r.pairs["n_rem"][0], r.pairs["n_add"][0]) == (1, 1)
    assert r.score == 2.0
    # latent 1 fires in the original only, but it is shared: moving it changes nothing
    assert tapascore(Zo, np.array([[0, 1.0, 1.0, 0, 0, 0]], dtype=np.float32), [0], [1], m, k=2,
                     n_boot=10).score == 2.0
    # with k = 3 latent 5 joins I_rem and stays on: the max over I_rem does not fall
    assert tapascore(Zo, Ze, [0], [1], m, k=3, n_boot=10).score == 1.0
    # a concept with no latent contributes 0
    assert tapascore(Zo, Ze, [0], [2], m, k=2, n_boot=10).pairs["add"][0] == 0.0


def test_torch_inputs_and_threshold(world, truth):
    torch = pytest.importorskip("torch")
    pairs = make_pairs(world, 100, kind="swap", seed=8)
    a = score_pairs(pairs, truth)
    b = tapascore(torch.from_numpy(pairs.codes_orig), torch.from_numpy(pairs.codes_edit),
                  torch.from_numpy(pairs.old), torch.from_numpy(pairs.new), truth,
                  labels_orig=torch.from_numpy(pairs.labels_orig))
    assert a.score == b.score and a.ci == b.ci
    # every active code is ≥ 0.5; a threshold above the largest magnitude turns every latent off
    assert score_pairs(pairs, truth, threshold=2.0).score == 0.0


def test_bootstrap_is_deterministic_and_seeded(world, truth):
    pairs = make_pairs(world, 200, kind="swap", seed=9)
    rng = np.random.default_rng(0)
    Ze = pairs.codes_edit * (rng.random(pairs.codes_edit.shape) < 0.7)
    a = score_pairs(pairs, truth, Ze=Ze, seed=3)
    b = score_pairs(pairs, truth, Ze=Ze, seed=3)
    c = score_pairs(pairs, truth, Ze=Ze, seed=4)
    assert a.cis == b.cis and a.cis != c.cis
    for name, (lo, hi) in a.cis.items():
        assert lo <= a.values()[name] <= hi, name


# --- tables, rows, figure ---------------------------------------------------------------------------


def test_breakdown_tables(world, truth):
    pairs = make_pairs(world, 300, kind="swap", seed=10)
    rng = np.random.default_rng(1)
    Ze = pairs.codes_edit * (rng.random(pairs.codes_edit.shape) < 0.8)
    r = score_pairs(pairs, truth, Ze=Ze, groups=world.concepts.groups)
    t = r.pairs
    for by in ("old", "new", "group", "transition", "kind"):
        table = r.breakdown(by)
        assert table["n_pairs"].sum() == len(t)
        assert list(table["score"]) == sorted(table["score"], reverse=True)
        assert ((table["ci_low"] <= table["score"] + 1e-12) & (table["score"] <= table["ci_high"] + 1e-12)).all()
    fam = r.breakdown("group").set_index("group")
    expected = t.groupby("group")["score"].mean()
    np.testing.assert_allclose(fam.loc[expected.index, "score"], expected)
    assert set(r.breakdown("old")["old"]) == set(t["old_name"])
    with pytest.raises(ConfigError, match="by must be one of"):
        r.breakdown("colour")
    bare = score_pairs(pairs, truth, Ze=Ze)
    with pytest.raises(ConfigError, match="groups"):
        bare.breakdown("group")


def test_values_and_results_file(world, truth, tmp_path):
    pairs = make_pairs(world, 100, kind="swap", seed=11)
    r = score_pairs(pairs, truth)
    assert list(r.values()) == ["tapascore", "tapascore_normalised", "tapascore_macro", "tapas_add", "tapas_rem",
                                "delta_stay"]
    assert r.values()["tapascore"] == 2.0 and set(r.cis) == set(r.values())
    rows = [{"metric": m, "value": v, "ci_low": r.cis[m][0], "ci_high": r.cis[m][1]} for m, v in r.values().items()]
    path = save_results(tmp_path / "tapas.json", rows, r.config)
    df, config = load_results(path)
    assert config["aggregation"] == "binary" and config["k"] == 3
    assert df.set_index("metric").loc["tapascore", "value"] == 2.0
    no_labels = tapascore(pairs.codes_orig, pairs.codes_edit, pairs.old, pairs.new, truth, n_boot=10)
    assert no_labels.delta_stay is None and "delta_stay" not in no_labels.pairs
    assert "delta_stay" not in no_labels.values()


def test_plot_breakdown(world, truth):
    import matplotlib

    matplotlib.use("Agg")
    from kit.tapas import plot_breakdown

    pairs = make_pairs(world, 200, kind="swap", seed=12)
    r = score_pairs(pairs, truth, groups=world.concepts.groups, n_boot=50)
    ax = plot_breakdown(r, by="old", top=3)
    assert len(ax.patches) == 3
    assert [t.get_text() for t in ax.get_yticklabels()] == r.breakdown("old")["old"].head(3).tolist()


# --- bad input --------------------------------------------------------------------------------------


@pytest.fixture()
def small():
    m = matching_of([[0], [1], [2], [3]], concepts=list("abcd"))
    Z = np.zeros((3, 5), dtype=np.float32)
    labels = np.array([[1, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=bool)
    return m, Z, np.array([0, 0, 1]), np.array([1, -1, 3]), labels


def test_bad_codes(small):
    m, Z, old, new, labels = small
    with pytest.raises(DataError, match=r"Z_orig has shape \(3, 5\) but Z_edit has shape \(3, 4\)"):
        tapascore(Z, Z[:, :4], old, new, m)
    with pytest.raises(DataError, match="old has shape"):
        tapascore(Z[:2], Z[:2], old, new, m)
    bad = Z.copy()
    bad[1, 2] = np.nan
    with pytest.raises(DataError, match="Z_edit holds a non-finite value"):
        tapascore(Z, bad, old, new, m)
    with pytest.raises(DataError, match=r"concept 3's coalition holds latent\(s\) \[3\]"):
        tapascore(Z[:, :3], Z[:, :3], old, new, m)


def test_bad_pairs_name_the_pair(small):
    m, Z, old, new, labels = small
    ids = ["p0", "p1", "p2"]
    with pytest.raises(DataError, match=r"pair 'p2' \(row 2\): old concept index 4 is out of range"):
        tapascore(Z, Z, [0, 0, 4], new, m, pair_ids=ids)
    with pytest.raises(DataError, match=r"pair 'p1' \(row 1\): new concept index -2 is out of range"):
        tapascore(Z, Z, old, [1, -2, 3], m, pair_ids=ids)
    with pytest.raises(DataError, match=r"pair 'p2' \(row 2\): old and new are the same concept \(1\)"):
        tapascore(Z, Z, old, [1, -1, 1], m, pair_ids=ids)
    with pytest.raises(DataError, match="integer concept indices"):
        tapascore(Z, Z, old.astype(float), new, m)
    with pytest.raises(DataError, match=r"pair 'p1' \(row 1\): old concept 0 is not present"):
        tapascore(Z, Z, old, new, m, labels_orig=labels * [[1], [0], [1]], pair_ids=ids)
    with pytest.raises(DataError, match=r"labels_orig has shape \(3, 3\), expected \(3, 4\)"):
        tapascore(Z, Z, old, new, m, labels_orig=labels[:, :3])
    edit = labels.copy()
    edit[[0, 1, 2], [0, 0, 1]] = False
    edit[[0, 2], [1, 3]] = True
    tapascore(Z, Z, old, new, m, labels_orig=labels, labels_edit=edit, n_boot=5)  # consistent
    edit[1, 2] = True  # pair 1 also gains concept 2
    with pytest.raises(DataError, match=r"pair 'p1' \(row 1\): labels also differ in concepts \[2\]"):
        tapascore(Z, Z, old, new, m, labels_orig=labels, labels_edit=edit, pair_ids=ids)


def test_bad_settings(small):
    m, Z, old, new, _ = small
    for kw, msg in (({"k": 0}, "budget k"), ({"aggregation": "mean"}, "aggregation must be one of"),
                    ({"n_boot": 0}, "n_boot"), ({"alpha": 1.5}, "alpha"), ({"threshold": math.nan}, "threshold")):
        with pytest.raises(ConfigError, match=msg):
            tapascore(Z, Z, old, new, m, **kw)
    with pytest.raises(DataError, match="3 concepts for the matching's 4"):
        tapascore(Z, Z, old, new, m, concepts=["a", "b", "c"])
    assert TapasConfig().k == 3 and TapasConfig().aggregation == "binary"


# --- kit.pipeline.tapascore_benchmark, with fakes that follow the kit.embed / kit.sae interfaces ------


def test_tapascore_benchmark_embeds_once_and_encodes_in_one_batch(world, truth, monkeypatch):
    torch = pytest.importorskip("torch")
    pairs = make_pairs(world, 120, kind="swap", seed=13)
    n = pairs.n_pairs
    bench = PairedBenchmark(orig_images=[f"o{i}.png" for i in range(n)],
                            edit_images=[f"e{i}.png" for i in range(n)], old=pairs.old, new=pairs.new,
                            labels_orig=pairs.labels_orig, labels_edit=pairs.labels_edit,
                            concepts=world.concepts.names, groups=world.concepts.groups,
                            pair_ids=pairs.pair_ids, name="planted-bench")
    encoder = types.SimpleNamespace(  # the encoder role: an image → its embedding
        name="planted", table={**dict(zip(bench.orig_images, pairs.X_orig)),
                               **dict(zip(bench.edit_images, pairs.X_edit))})
    calls = []

    def embed_benchmark(benchmark, enc, cache_dir=None):
        calls.append(("embed", cache_dir))
        return tuple(Embeddings(X=np.stack([enc.table[i] for i in imgs]))
                     for imgs in (benchmark.orig_images, benchmark.edit_images))

    class PlantedSAE(torch.nn.Module):  # reads the planted atoms back: codes = relu(x · atoms − 0.25)
        def __init__(self):
            super().__init__()
            self.W_enc = torch.nn.Parameter(torch.from_numpy(world.atoms.T.copy()))

        def encode(self, x):
            return torch.relu(x @ self.W_enc - 0.25)

    def encode_array(sae, X, batch_size=4096, device="auto"):
        calls.append(("encode", len(X)))
        with torch.no_grad():
            return sae.encode(torch.from_numpy(np.asarray(X))).numpy()

    monkeypatch.setattr(pipeline.embed, "embed_benchmark", embed_benchmark)
    monkeypatch.setattr(pipeline, "encode_array", encode_array)
    r = pipeline.tapascore_benchmark(bench, encoder, PlantedSAE(), truth, k=3, cache_dir="cache", n_boot=50)
    assert calls == [("embed", "cache"), ("encode", 2 * n)]
    assert r.score == 2.0 and r.delta_stay == 0.0
    assert list(r.pairs["pair_id"]) == list(pairs.pair_ids) and "group" in r.pairs
    dead = PlantedSAE()
    with torch.no_grad():
        dead.W_enc.zero_()
    assert pipeline.tapascore_benchmark(bench, encoder, dead, truth, n_boot=50).score == 0.0
