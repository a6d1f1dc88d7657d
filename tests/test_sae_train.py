"""kit.sae training: quality on planted data, sweeps, resumption, checkpoints, bad input."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kit.sae as S
from kit.errors import CheckpointError, ConfigError, DataError
from kit.planted import make_world
from kit.sae import losses

FAST = dict(batch_size=64, max_steps=12, lr=1e-3, progress=False, val_fraction=0.2, eval_every=4, log_every=1)


@pytest.fixture(scope="module")
def world():
    return make_world(n_samples=5000, seed=0)


def _quality(sae, world, rows):
    X = world.X[rows]
    Z = S.encode_array(sae, X)
    X_hat = S.decode_array(sae, Z)
    ev = 1 - ((X - X_hat) ** 2).sum() / ((X - X.mean(0)) ** 2).sum()
    best_cos = np.abs(world.atoms @ sae.W_dec.detach().numpy().T).max(1).mean()
    return best_cos, ev


def test_topk_recovers_planted_dictionary_and_untrained_does_not(world):
    train_rows, test_rows = np.arange(4000), np.arange(4000, 5000)
    sae = S.train(world.X[train_rows], "topk", dict_size=48, k=8, lr=1e-2, batch_size=256, epochs=40,
                  standardize=False, progress=False, seed=0)  # the planted dictionary lives in the raw space
    cos, ev = _quality(sae, world, test_rows)
    assert cos >= 0.9 and ev >= 0.9, (cos, ev)
    cos0, ev0 = _quality(S.untrained("topk", world.X.shape[1], 48, k=8), world, test_rows)
    assert cos0 < 0.6 and ev0 < 0.5, (cos0, ev0)
    h = sae.history
    assert {"step", "loss", "nmse", "l0", "dead_fraction", "val_nmse"} <= set(h.columns)
    assert h.loss.dropna().iloc[-1] < h.loss.dropna().iloc[0]
    assert (h.l0.dropna() <= 8).all() and h.l0.dropna().iloc[-1] > 7


@pytest.mark.parametrize("family", S.FAMILIES)
def test_every_family_trains_with_unit_decoder(world, family):
    sae = S.train(world.X[:1000], family, dict_size=32, k=4, seed=1, **dict(FAST, max_steps=40, lr=3e-3))
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(32), atol=1e-5)
    loss = sae.history.loss.dropna().to_numpy()
    assert loss[-5:].mean() < loss[:5].mean()
    Z = S.encode_array(sae, world.X[1000:1100])
    assert (Z >= 0).all()
    if family in ("batchtopk", "matryoshka"):
        assert torch.isfinite(sae.threshold) and sae.threshold > 0
    if family == "topk":
        assert ((Z > 0).sum(1) <= 4).all()


def test_early_stopping_keeps_the_best_weights(world):
    sae = S.train(world.X[:600], "topk", dict_size=16, k=2, batch_size=50, max_steps=400, lr=0.05,
                  eval_every=1, patience=2, progress=False)
    h = sae.history
    assert h.step.max() < 400  # stopped early
    val = h.val_nmse.dropna().to_numpy()
    assert val[-1] > val.min() and np.argmin(val) == len(val) - 3  # 2 evaluations without improvement


def test_train_many_is_bit_identical_to_training_alone(world):
    X = world.X[:800]
    configs = [dict(family="topk", dict_size=32, k=4, seed=0), dict(family="batchtopk", dict_size=16, k=2, seed=1),
               dict(family="relu", dict_size=24, seed=2, max_steps=6), dict(family="matryoshka", dict_size=64, k=4)]
    configs = [{**FAST, **c} for c in configs]
    many = S.train_many(X, configs)
    for c, sae in zip(configs, many):
        alone = S.train(X, **c)
        for name, v in alone.state_dict().items():
            assert torch.equal(v, sae.state_dict()[name]), (c["family"], name)
    assert many[2].history.step.max() == 6


def test_train_many_rejects_diverging_batches(world):
    with pytest.raises(ConfigError, match="batch_size"):
        S.train_many(world.X[:100], [dict(dict_size=8, k=2, batch_size=16), dict(dict_size=8, k=2, batch_size=32)])
    with pytest.raises(ConfigError, match="unknown training setting"):
        S.train(world.X[:100], dict_size=8, k=2, learning_rate=1.0)
    configs = S.grid(["topk", "relu"], np.array([8, 16]), [0, 1], k=2)
    assert len(configs) == 8 and type(configs[0].dict_size) is int  # numpy scalars become Python numbers


def test_interrupted_run_resumes_to_the_same_weights(world, tmp_path):
    X = world.X[:800]
    cfg = dict(FAST, max_steps=20, checkpoint_every=3)
    configs = [dict(cfg, family="topk", dict_size=32, k=4), dict(cfg, family="jumprelu", dict_size=16)]
    full = S.train_many(X, configs)

    def interrupt(step, saes):
        if step == 11:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        S.train_many(X, configs, checkpoint_dir=tmp_path, callback=interrupt)
    saved = json.loads(next(tmp_path.glob("000-*/train_state.json")).read_text())
    assert saved["step"] == 9
    seen = []
    resumed = S.train_many(X, configs, checkpoint_dir=tmp_path, callback=lambda step, saes: seen.append(step))
    assert seen[0] == 10 and seen[-1] == 20  # continued from the checkpoint at step 9
    for a, b in zip(full, resumed):
        for name, v in a.state_dict().items():
            assert torch.equal(v, b.state_dict()[name]), name
        assert a.history.equals(b.history)
    with pytest.raises(CheckpointError, match="other settings"):
        S.train_many(X, [dict(configs[0], lr=0.5), configs[1]], checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="other data"):
        S.train_many(X + 1, configs, checkpoint_dir=tmp_path)


def test_save_load_roundtrip_and_bad_checkpoints(world, tmp_path):
    sae = S.train(world.X[:300], "batchtopk", dict_size=16, k=2, **FAST)
    S.save(sae, tmp_path / "a")
    back = S.load(tmp_path / "a")
    for name, v in sae.state_dict().items():
        assert torch.equal(v, back.state_dict()[name])
    assert back.config == sae.config and back.train_config == sae.train_config
    np.testing.assert_array_equal(S.encode_array(sae, world.X[:50]), S.encode_array(back, world.X[:50]))

    cfg_file = tmp_path / "a" / "config.json"
    doc = json.loads(cfg_file.read_text())
    cfg_file.write_text(json.dumps({**doc, "config": {**doc["config"], "dict_size": 17}}))
    with pytest.raises(CheckpointError, match="shape"):
        S.load(tmp_path / "a")
    cfg_file.write_text(json.dumps({**doc, "config": {**doc["config"], "family": "gated"}}))
    with pytest.raises(CheckpointError, match="family"):
        S.load(tmp_path / "a")
    with pytest.raises(CheckpointError):
        S.load(tmp_path / "missing")

    rc = S.random_codes(8, 20, k=3, seed=5)
    S.save(rc, tmp_path / "rc")
    X = np.zeros((10, 8), np.float32)
    np.testing.assert_array_equal(S.encode_array(S.load(tmp_path / "rc"), X), S.encode_array(rc, X))


def test_non_finite_batch_names_the_step(world):
    X = world.X[:400].copy()
    X[123, 5] = np.nan
    with pytest.raises(DataError, match=r"step \d+ .*row 123, column 5"):
        S.train(X, dict_size=8, k=2, batch_size=32, max_steps=50, val_fraction=0, progress=False)


def test_diverging_loss_names_the_step():
    X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32) * 1e20  # squares overflow float32
    with pytest.raises(ConfigError, match=r"step 0: the loss .* non-finite"):
        S.train(X, dict_size=8, k=2, batch_size=16, max_steps=5, val_fraction=0, standardize=False, progress=False)


@pytest.mark.parametrize("kw, err, match", [
    (dict(dict_size=8, k=9), ConfigError, "exceeds dict_size"),
    (dict(dict_size=0), ConfigError, "dict_size"),
    (dict(dict_size=8, k=2, lr=0), ConfigError, "lr"),
    (dict(dict_size=8, k=2, val_fraction=1.0), ConfigError, "val_fraction"),
])
def test_bad_training_settings(world, kw, err, match):
    with pytest.raises(err, match=match):
        S.train(world.X[:50], progress=False, **kw)


def test_bad_training_data():
    with pytest.raises(DataError, match="2-D"):
        S.train(np.zeros(10, np.float32), dict_size=4, k=1)


def _l0(sae, X):
    return float((S.encode_array(sae, X) > 0).sum(1).mean())


def test_relu_gets_sparser_as_the_l1_coefficient_grows(world):
    # early stopping is on (val_fraction > 0): it must judge the penalised objective, not the NMSE alone
    kw = dict(dict_size=32, batch_size=64, max_steps=150, lr=3e-3, val_fraction=0.2, eval_every=10, progress=False)
    l0 = [_l0(S.train(world.X[:1000], "relu", l1_coefficient=c, **kw), world.X[1000:1200]) for c in (0.01, 1.0)]
    assert l0[1] < 0.5 * l0[0] and l0[1] < 8, l0


def test_jumprelu_threshold_learns_at_any_data_scale(world):
    kw = dict(dict_size=32, batch_size=64, max_steps=100, lr=3e-3, val_fraction=0.2, eval_every=10, progress=False,
              standardize=False)  # raw inputs: standardisation would remove the scale under test
    thresholds = []
    for scale in (1e-2, 1e2):
        X = scale * world.X
        a, b = (S.train(X[:1000], "jumprelu", l0_coefficient=c, **kw) for c in (1e-3, 1e-1))
        assert not torch.equal(a.log_threshold, b.log_threshold)  # the L0 penalty moves the threshold
        assert (b.log_threshold > a.log_threshold).float().mean() > 0.5
        assert _l0(b, X[1000:1200]) < min(32 / 2, _l0(a, X[1000:1200]))
        thresholds.append(a.config.init_threshold)
        assert a.config.bandwidth / a.config.init_threshold == pytest.approx(0.1)  # TrainConfig's σ-relative values
    assert thresholds[1] / thresholds[0] == pytest.approx(1e4, rel=1e-3)  # set relative to the data's scale


def test_auxk_revives_dead_latents(world):
    kw = dict(dict_size=256, k=2, batch_size=64, max_steps=300, lr=3e-3, dead_after=10, val_fraction=0, progress=False)
    saes = [S.train(world.X[:2000], "topk", aux_weight=w, **kw) for w in (1 / 32, 0.0)]
    dead = [((S.encode_array(sae, world.X[:2000]) > 0).sum(0) == 0).mean() for sae in saes]
    assert dead[0] < 0.5 * dead[1], dead  # AuxK must not make more latents dead (before the fix: 0.57 vs 0.33)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 1200), d=st.integers(1, 9), standardize=st.booleans(), seed=st.integers(0, 1000))
def test_init_stats_are_the_mean_and_spread_of_the_finite_rows_in_the_input_space(n, d, standardize, seed):
    from kit.sae.model import standardize_rows
    from kit.sae.train import _init_stats

    d += standardize  # a standard deviation needs two features (train rejects standardize with d = 1)
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * 3 + 5).astype(np.float32)
    X[rng.random(n) < 0.1, 0] = np.nan  # rows the statistics must skip
    rows = np.sort(rng.permutation(n)[: max(1, n // 2)])
    stats = _init_stats(X, rows, standardize, "cpu")
    finite = torch.from_numpy(X[rows][np.isfinite(X[rows]).all(1)]).double()
    if len(finite) == 0:
        assert stats is None
        return
    x = standardize_rows(finite) if standardize else finite
    mean, norm = stats
    assert torch.allclose(mean.double(), x.mean(0), atol=1e-5)
    assert norm == pytest.approx(max(float((x - x.mean(0)).pow(2).sum(1).mean()), 1e-12), rel=1e-6, abs=1e-9)


def test_standardize_needs_two_features():
    with pytest.raises(ConfigError, match="at least 2 features"):
        S.train(np.ones((50, 1), np.float32), dict_size=4, k=1, standardize=True, progress=False)


def test_stopped_early_reads_the_history(world):
    kw = dict(dict_size=16, k=2, batch_size=64, lr=3e-3, val_fraction=0.2, progress=False, standardize=False)
    long = S.train(world.X[:600], "topk", epochs=400, patience=2, **kw)
    short = S.train(world.X[:600], "topk", epochs=1, **kw)
    assert S.stopped_early(long) and not S.stopped_early(short)
    assert long.history.step.max() < 400 * 8  # it ended before its epochs ran out
    assert not S.stopped_early(S.untrained("topk", world.X.shape[1], 16, k=2))


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.integers(1, 8), st.floats(0.01, 20.0), st.integers(0, 2**16))
def test_auxk_loss_is_its_documented_definition(n, d, size, seed):
    """kit.sae.losses.auxk_loss against a literal reading of its docstring: NMSE of the detached residual e
    predicted as α·ê, α = ⟨e, ê⟩/‖ê‖² clamped to [AUX_MIN_SCALE, 1] and detached (its gradient in ê is α times
    the unshrunk one's at α·ê; none reaches e)."""
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(n, d, generator=g, dtype=torch.float64).requires_grad_()
    e_hat = (size * torch.randn(n, d, generator=g, dtype=torch.float64)).requires_grad_()
    loss = losses.auxk_loss(e, e_hat)
    loss.backward()
    E, Eh = e.detach(), e_hat.detach()
    alpha = min(max(float((E * Eh).sum() / (Eh * Eh).sum()), losses.AUX_MIN_SCALE), 1.0)
    var = float(((E - E.mean(0)) ** 2).sum() / n)
    assert float(loss) == pytest.approx(float(((E - alpha * Eh) ** 2).sum()) / n / var, rel=1e-9)
    torch.testing.assert_close(e_hat.grad, -2 * alpha * (E - alpha * Eh) / n / var)
    assert e.grad is None or not e.grad.any()
