"""Bring-your-own SAEs: raw tensors, SAELens folders and objects, overcomplete modules."""

import json
import types

import pytest
import torch
from safetensors.torch import save_file

import kit.sae as S
from kit.errors import CheckpointError, ConfigError, DataError

d, D = 6, 20


def _weights(seed=0, unit=False):
    g = torch.Generator().manual_seed(seed)
    W_enc, b_enc = torch.randn(d, D, generator=g), 0.1 * torch.randn(D, generator=g)
    W_dec, b_dec = torch.randn(D, d, generator=g) * (1 + torch.rand(D, 1, generator=g)), torch.randn(d, generator=g)
    if unit:
        W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
    return W_enc, b_enc, W_dec, b_dec


def _x(n=40, seed=1):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _reference(x, W_enc, b_enc, W_dec, b_dec, activation, k=None, threshold=None, sub=True):
    pre = (x - b_dec if sub else x) @ W_enc + b_enc
    if activation == "relu":
        z = torch.relu(pre)
    elif activation == "jumprelu":
        z = pre * (pre > threshold)
    else:
        vals, idx = pre.topk(k, dim=1)
        z = torch.zeros_like(pre).scatter(1, idx, torch.relu(vals))
    return z, z @ W_dec + b_dec


@pytest.mark.parametrize("activation", ["relu", "jumprelu"])
def test_from_tensors_folds_decoder_norms_exactly(activation):
    W = _weights()
    th = torch.rand(D) * 0.5
    sae = S.from_tensors(*W, activation=activation, threshold=th if activation == "jumprelu" else None)
    x = _x()
    z_ref, x_ref = _reference(x, *W, activation, threshold=th)
    z = sae.encode(x)
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(D), atol=1e-5)
    assert torch.equal(z > 0, z_ref > 0)
    assert torch.allclose(z, z_ref * W[2].norm(dim=1), atol=1e-4)  # codes carry the decoder norms
    assert torch.allclose(sae.decode(z), x_ref, atol=1e-4)


def test_from_tensors_topk_and_errors():
    W = _weights(unit=True)
    sae = S.from_tensors(*W, activation="topk", k=3)
    z_ref, x_ref = _reference(_x(), *W, "topk", k=3)
    assert torch.allclose(sae.encode(_x()), z_ref, atol=1e-5)
    with pytest.warns(UserWarning, match="unit-norm"):
        S.from_tensors(*_weights(), activation="topk", k=3)
    with pytest.raises(ConfigError, match="needs k"):
        S.from_tensors(*W, activation="topk")
    with pytest.raises(ConfigError, match="activation"):
        S.from_tensors(*W, activation="gelu")
    with pytest.raises(DataError, match="W_dec has shape"):
        S.from_tensors(W[0], W[1], W[2][:, :-1], W[3])
    with pytest.raises(ConfigError, match="exceeds"):
        S.from_tensors(*W, activation="topk", k=D + 1)


def _write_saelens(folder, arch, W, threshold=None, k=None, apply_b_dec=True, **extra):
    folder.mkdir()
    cfg = {"d_in": d, "d_sae": D, "architecture": arch, "apply_b_dec_to_input": apply_b_dec,
           "normalize_activations": "none", "dtype": "float32", **extra}
    if k is not None:
        cfg["k"] = k
    (folder / "cfg.json").write_text(json.dumps(cfg))
    tensors = dict(zip(["W_enc", "b_enc", "W_dec", "b_dec"], W))
    if threshold is not None:
        tensors["threshold"] = threshold
    save_file({n: t.contiguous() for n, t in tensors.items()}, str(folder / "sae_weights.safetensors"))


def test_from_saelens_folder_jumprelu_and_standard(tmp_path):
    W = _weights()
    th = torch.rand(D) * 0.5
    _write_saelens(tmp_path / "j", "jumprelu", W, threshold=th)
    sae = S.from_saelens(tmp_path / "j")
    _, x_ref = _reference(_x(), *W, "jumprelu", threshold=th)
    assert sae.config.family == "jumprelu"
    assert torch.allclose(sae(_x()), x_ref, atol=1e-4)

    _write_saelens(tmp_path / "s", "standard", W, apply_b_dec=False)
    sae = S.from_saelens(str(tmp_path / "s"))
    _, x_ref = _reference(_x(), *W, "relu", sub=False)
    assert sae.config.family == "relu" and torch.allclose(sae(_x()), x_ref, atol=1e-4)

    _write_saelens(tmp_path / "bad", "jumprelu", W)  # no threshold
    with pytest.raises(CheckpointError, match="threshold"):
        S.from_saelens(tmp_path / "bad")
    _write_saelens(tmp_path / "gated", "gated", W)  # gated weights are b_gate, b_mag, r_mag, not b_enc
    with pytest.raises(CheckpointError, match="b_gate"):
        S.from_saelens(tmp_path / "gated")
    _write_saelens(tmp_path / "abs", "abstopk", W, k=3)
    with pytest.raises(ConfigError, match="abstopk.*negative"):
        S.from_saelens(tmp_path / "abs")
    with pytest.raises(CheckpointError, match="cfg.json"):
        S.from_saelens(tmp_path / "nowhere")


def test_from_saelens_object_duck_typed():
    W = _weights(unit=True)
    cfg = types.SimpleNamespace(d_in=d, d_sae=D, apply_b_dec_to_input=True, normalize_activations="none",
                                architecture=lambda: "topk", k=4)
    obj = types.SimpleNamespace(cfg=cfg, W_enc=torch.nn.Parameter(W[0]), b_enc=W[1], W_dec=W[2], b_dec=W[3])
    sae = S.from_saelens(obj)
    z_ref, _ = _reference(_x(), *W, "topk", k=4)
    assert sae.config.k == 4 and torch.allclose(sae.encode(_x()), z_ref, atol=1e-5)


class _OvercompleteLike(torch.nn.Module):
    """What overcomplete's TopKSAE exposes: encode → (pre_codes, codes), get_dictionary() → [D, d]."""

    def __init__(self, top_k=3):
        super().__init__()
        self.top_k = top_k
        self.encoder = torch.nn.Sequential(torch.nn.Linear(d, D), torch.nn.ReLU())
        self.dictionary = torch.nn.Parameter(torch.randn(D, d) * 3)

    def encode(self, x):
        pre = self.encoder(x)
        vals, idx = pre.topk(self.top_k, dim=1)
        return pre, torch.zeros_like(pre).scatter(1, idx, vals)

    def get_dictionary(self):
        return self.dictionary


def test_from_overcomplete_duck_typed():
    torch.manual_seed(0)
    model = _OvercompleteLike()
    sae = S.from_overcomplete(model)
    x = _x()
    _, codes = model.encode(x)
    with torch.no_grad():
        assert sae.config.family == "topk" and sae.config.k == 3
        assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(D), atol=1e-5)
        assert torch.allclose(sae(x), codes @ model.dictionary, atol=1e-4)
        assert torch.equal(sae.encode(x) > 0, codes > 0)
        assert torch.equal(sae.W_enc, model.encoder[0].weight.T)
    Z = S.encode_array(sae, x.numpy(), batch_size=7)
    assert Z.shape == (40, D) and (Z >= 0).all()
    with pytest.raises(ConfigError, match="encode"):
        S.from_overcomplete(torch.nn.Linear(2, 2))


def test_from_saelens_log_threshold_and_batchtopk_threshold(tmp_path):
    W = _weights()
    th = torch.rand(D) * 0.5 + 0.1
    obj = types.SimpleNamespace(W_enc=W[0], b_enc=W[1], W_dec=W[2], b_dec=W[3], log_threshold=th.log())
    _, x_ref = _reference(_x(), *W, "jumprelu", threshold=th)
    assert torch.allclose(S.from_saelens(obj)(_x()), x_ref, atol=1e-4)
    # a batchtopk threshold under its pre-6 name; rows kept as given (no rescaling by decoder norm)
    _write_saelens(tmp_path / "b", "batchtopk", W, threshold=torch.tensor(0.3), k=4,
                   rescale_acts_by_decoder_norm=False)
    sae = S.from_saelens(tmp_path / "b")
    _, x_ref = _reference(_x(), *W, "jumprelu", threshold=torch.full((D,), 0.3))
    assert sae.config.family == "batchtopk" and torch.allclose(sae(_x()), x_ref, atol=1e-4)
    assert (sae.source["code_scale"] == 1).all()
    with pytest.raises(DataError, match="one number"):
        S.from_tensors(*_weights(unit=True), activation="batchtopk", k=4, threshold=th)


def test_wrapped_modules_have_no_checkpoint_format(tmp_path):
    with pytest.raises(CheckpointError, match="ExternalSAE"):
        S.save(S.from_overcomplete(_OvercompleteLike()), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_auxk_loss_and_gradient_match_saelens_topk_training_sae():
    """The trainer's AuxK term against SAELens' TopKTrainingSAE on the same weights, inputs and dead mask.

    The definitions agree up to documented differences, neutralised here: the kit divides by the residual's
    variance (SAELens does not: its gradient is that factor larger), shrinks ê by α ∈ [0.1, 1] (here ê is small
    and points along e, so α = 1), applies ReLU to the dead pre-activations (here all positive), and uses
    ``k_aux`` (SAELens: d // 2, set equal) with SAELens' scale min(n_dead / k_aux, 1) = 1 here."""
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    from kit.sae.config import make_config
    from kit.sae.train import _Run

    d, D, k, n = 8, 32, 3, 50
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g) + 3.0  # a mean the live latents miss: the residual has a direction
    dead = torch.zeros(D, dtype=torch.bool)
    dead[8:] = True  # 24 dead latents ≥ k_aux = 4
    cfg = make_config(dict(family="topk", dict_size=D, k=k, k_aux=d // 2, standardize=False, progress=False))
    run = _Run(cfg, d, "cpu", steps_per_epoch=1)
    sae = run.sae
    with torch.no_grad():
        W_dec = torch.randn(D, d, generator=g)
        W_dec[dead] = torch.randn(int(dead.sum()), d, generator=g) * 0.1 + 1.0  # near the residual's direction
        sae.W_dec.copy_(W_dec / W_dec.norm(dim=1, keepdim=True))
        sae.W_enc.copy_(0.05 * torch.randn(d, D, generator=g))
        sae.b_enc.copy_(torch.where(dead, 0.01 + 0.01 * torch.rand(D, generator=g), torch.full((D,), 5.0)))
        sae.b_dec.zero_()
    run.dead_counter = torch.where(dead, cfg.dead_after, 0)
    _, aux, _, _ = run._sparse_loss(x)
    aux.backward()
    kit_grads = [p.grad.clone() for p in (sae.W_enc, sae.b_enc, sae.W_dec)]

    ref = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d, d_sae=D, k=k, rescale_acts_by_decoder_norm=False,
                                                apply_b_dec_to_input=True, normalize_activations="none"))
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(ref, name).copy_(getattr(sae, name).detach())
        feats, pre = ref.encode_with_hidden_pre(x)
        x_hat = ref.decode(feats)
        e = x - x_hat
        pre_dead = pre[:, dead]
    assert pre_dead.topk(d // 2, dim=1).values.min() > 0  # ReLU changes nothing
    feats, pre = ref.encode_with_hidden_pre(x)
    ref_aux = ref.calculate_topk_aux_loss(sae_in=x, sae_out=x_hat, hidden_pre=pre, dead_neuron_mask=dead)
    ref_aux.backward()
    var = (e - e.mean(0)).pow(2).sum(1).mean()
    torch.testing.assert_close(aux.detach() * var, ref_aux.detach(), rtol=1e-5, atol=1e-6)
    for got, want in zip(kit_grads, (ref.W_enc.grad, ref.b_enc.grad, ref.W_dec.grad)):
        torch.testing.assert_close(got * var, want, rtol=1e-4, atol=1e-6)
