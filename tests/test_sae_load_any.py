"""kit.sae.load_any: SAELens, dictionary_learning and overcomplete SAEs give the library's codes and reconstructions.

Fixture tests (tests/fixtures/<library>/, written by the libraries themselves, see the README there) always
run; live tests build every architecture with the installed library and skip when it is missing.
"""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file
from torch import nn

import kit.sae as S
from kit.errors import CheckpointError, ConfigError, KitError
from kit.sae.external import NormalizedSAE

FIXTURES = Path(__file__).parent / "fixtures"
ATOL, RTOL = 1e-5, 1e-4


def _meta(lib):
    return json.loads((FIXTURES / lib / "references.json").read_text())


def _refs(lib):
    return load_file(str(FIXTURES / lib / "references.safetensors"))


def _codes_and_recon(sae, x):
    with torch.no_grad():
        z = sae.encode(x)
        return z, sae.decode(z)


def _same(sae, x, codes, recon, code_scale):
    """The kit's codes are the library's times code_scale (decoder norms folded, or 1); same reconstructions."""
    z, r = _codes_and_recon(sae, x)
    assert torch.allclose(torch.as_tensor(sae.source["code_scale"]), code_scale, atol=1e-6)
    assert torch.equal(z > 0, codes > 0)
    assert torch.allclose(z, codes * code_scale, atol=ATOL, rtol=RTOL)
    assert torch.allclose(r, recon, atol=ATOL, rtol=RTOL)


def _twin(sae):
    """An untrained kit SAE of the same shape and input space, from the loaded module's config alone."""
    c = sae.config
    twin = S.untrained(c.family, c.d, c.dict_size, k=c.k, standardize=c.standardize, subtract_b_dec=c.subtract_b_dec)
    assert twin.encode(torch.randn(3, c.d)).shape == (3, c.dict_size)
    return twin


# ---- fixtures written by the libraries ---------------------------------------------------------------------

@pytest.mark.parametrize("lib", ["saelens", "dictionary_learning"])
def test_library_folders_match_the_library(lib):
    meta, refs = _meta(lib), _refs(lib)
    assert len(meta["cases"]) >= 8
    for name, case in meta["cases"].items():
        sae = S.load_any(FIXTURES / lib / name)
        assert sae.source["format"] == lib and sae.config.family == case["family"], name
        _same(sae, refs["x"], refs[f"{name}.codes"], refs[f"{name}.recon"], refs[f"{name}.code_scale"])
        _twin(sae)
        if case["family"] in ("topk", "batchtopk", "matryoshka"):
            assert sae.config.k == meta["k"], name


def test_saelens_fixture_details():
    root = FIXTURES / "saelens"
    # TopK trained with rescale_acts_by_decoder_norm (the training default): the norms fold into the encoder
    topk = S.load_any(root / "train_topk_checkpoint")
    cfg = json.loads((root / "train_topk_checkpoint" / "cfg.json").read_text())
    assert cfg["rescale_acts_by_decoder_norm"] is True
    raw = load_file(str(root / "train_topk_checkpoint" / "sae_weights.safetensors"))
    assert not torch.allclose(raw["W_dec"].norm(dim=1), torch.ones(16))
    assert torch.allclose(topk.W_dec.norm(dim=1), torch.ones(16), atol=1e-5)
    # a BatchTopK saved for inference is a JumpReLU file with one threshold: read back as batchtopk
    bt = S.load_any(root / "train_batchtopk_inference")
    assert bt.source["architecture"] == "jumprelu" and bt.config.family == "batchtopk"
    assert float(bt.threshold) == pytest.approx(0.25)
    mat = S.load_any(root / "train_matryoshka_inference")
    assert mat.config.family == "matryoshka" and mat.source["matryoshka_widths"] == [4, 8, 16]
    # SAELens' layer_norm is the kit's own standardisation; constant_norm_rescale is kept by NormalizedSAE
    ln = S.load_any(root / "standard_layer_norm")
    assert isinstance(ln, S.SAE) and ln.config.standardize
    cnr = S.load_any(root / "topk_constant_norm_rescale")
    assert isinstance(cnr, NormalizedSAE) and not cnr.config.standardize
    x = _refs("saelens")["x"]
    assert torch.allclose(cnr.preprocess(x).norm(dim=1), torch.full((len(x),), 8 ** 0.5), atol=1e-5)
    with pytest.raises(CheckpointError, match="NormalizedSAE"):
        S.save(cnr, Path("unused"))
    # mid-training checkpoints: SAELens' activation scaler and whitening are folded in
    assert S.load_any(root / "train_standard_expected_average_only_in_checkpoint").source[
        "normalize_activations"] == "expected_average_only_in"


def test_saved_kit_copy_of_a_saelens_sae(tmp_path):
    sae = S.load_any(FIXTURES / "saelens" / "train_matryoshka_checkpoint")
    S.save(sae, tmp_path / "kit")
    again = S.load_any(tmp_path / "kit")
    x = _refs("saelens")["x"]
    assert again.config == sae.config and torch.equal(again.encode(x), sae.encode(x))


class _StandIn(nn.Module):
    """A module with overcomplete's parameter layout (MLPEncoder with no hidden block, DictionaryLayer)."""

    def __init__(self, case: dict, refs: dict, name: str, d: int, D: int):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.mlp_blocks = nn.ModuleList()
        norm = nn.BatchNorm1d(D) if case["encoder"] == "mlp_bn_1" else nn.Identity()
        self.encoder.final_block = nn.Sequential(nn.Linear(d, D), norm)
        self.encoder.final_activation = nn.ReLU()
        self.dictionary = nn.Module()
        self.dictionary._weights = nn.Parameter(torch.empty(D, d))
        if case.get("use_multiplier"):
            self.dictionary.multiplier = nn.Parameter(torch.tensor(0.0))
        else:
            self.dictionary.register_buffer("multiplier", torch.tensor(0.0))
        if case["class"] == "JumpSAE":
            self.thresholds = nn.Parameter(torch.empty(D))
        if "top_k" in case:
            self.top_k = case["top_k"]
        if case["class"] == "BatchTopKSAE":
            self.running_threshold = refs[f"{name}.running_threshold"][0]
        self._dictionary = refs[f"{name}.dictionary"]

    def get_dictionary(self):
        return self._dictionary

    def encode(self, x):
        raise AssertionError("the kit reads the weights; it must not call the stand-in's encode")


def _overcomplete_standin(name):
    meta, refs = _meta("overcomplete"), _refs("overcomplete")
    case = meta["cases"][name]
    cls = type(case["class"], (_StandIn,), {})  # the kit recognises overcomplete classes by name
    model = cls(case, refs, name, meta["d"], meta["D"])
    model.load_state_dict(load_file(str(FIXTURES / "overcomplete" / case["state_dict"])), strict=True)
    return model, case


@pytest.mark.parametrize("name", ["sae_relu", "topk", "topk_batchnorm", "batchtopk", "jump"])
def test_overcomplete_models_match_the_library(name):
    refs = _refs("overcomplete")
    model, case = _overcomplete_standin(name)
    sae = S.load_any(model, **({"batch_size": case["batch_size"]} if "batch_size" in case else {}))
    assert isinstance(sae, S.SAE) and sae.config.family == case["family"] and not sae.source["wrapped"]
    _same(sae, refs["x"], refs[f"{name}.codes"], refs[f"{name}.recon"], refs[f"{name}.code_scale"])
    _twin(sae)
    if name == "batchtopk":  # top_k counts the codes of a whole batch; the kit's k is per sample
        assert case["top_k"] == 128 and sae.config.k == 4


def test_overcomplete_batchtopk_needs_its_batch_size_and_threshold():
    model, _ = _overcomplete_standin("batchtopk")
    with pytest.raises(ConfigError, match="batch_size"):
        S.load_any(model)
    with pytest.raises(ConfigError, match="batch_size must be"):
        S.load_any(model, batch_size=0)
    model.running_threshold = None
    with pytest.raises(ConfigError, match="running_threshold"):
        S.load_any(model, batch_size=32)


# ---- live libraries ----------------------------------------------------------------------------------------

d, D, K = 6, 12, 3


def _randomize(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
            if name in ("W_dec",):
                p.mul_(torch.rand(p.shape[0], 1, generator=g) + 0.5)
            if name == "threshold":
                p.copy_(0.3 * torch.rand(p.shape, generator=g))
        if hasattr(module, "topk_threshold"):
            module.topk_threshold = torch.tensor(0.2, dtype=torch.double)
    return module.eval()


def _saelens_cases(sl):
    return {
        "standard": lambda: sl.StandardSAE(sl.StandardSAEConfig(d_in=d, d_sae=D, apply_b_dec_to_input=False)),
        "topk": lambda: sl.TopKSAE(sl.TopKSAEConfig(d_in=d, d_sae=D, k=K)),
        "topk_rescale": lambda: sl.TopKTrainingSAE(sl.TopKTrainingSAEConfig(d_in=d, d_sae=D, k=K)),
        "jumprelu": lambda: sl.JumpReLUTrainingSAE(sl.JumpReLUTrainingSAEConfig(d_in=d, d_sae=D)),
        "gated": lambda: sl.GatedSAE(sl.GatedSAEConfig(d_in=d, d_sae=D)),
        "batchtopk": lambda: sl.BatchTopKTrainingSAE(sl.BatchTopKTrainingSAEConfig(d_in=d, d_sae=D, k=K)),
        "matryoshka": lambda: sl.MatryoshkaBatchTopKTrainingSAE(sl.MatryoshkaBatchTopKTrainingSAEConfig(
            d_in=d, d_sae=D, k=K, matryoshka_widths=[3, 6, 12])),
        "layer_norm": lambda: sl.StandardSAE(sl.StandardSAEConfig(d_in=d, d_sae=D, normalize_activations="layer_norm")),
    }


@pytest.mark.slow  # importing the library takes seconds (transformer_lens, nnsight)
def test_live_saelens_every_architecture(tmp_path):
    sl = pytest.importorskip("sae_lens")
    x = 2 * torch.randn(40, d, generator=torch.Generator().manual_seed(3)) + 0.5
    for i, (name, make) in enumerate(_saelens_cases(sl).items()):
        sae = _randomize(make(), seed=i)
        training = isinstance(sae, sl.TrainingSAE)
        sae.save_model(tmp_path / f"{name}_model")
        if training:
            sae.save_inference_model(tmp_path / f"{name}_inference")
        inference = sl.SAE.load_from_disk(tmp_path / (f"{name}_inference" if training else f"{name}_model"))
        with torch.no_grad():
            codes = inference.encode(x)
            recon = [None]
            hook = inference.hook_sae_recons.register_forward_hook(lambda m, a, o: recon.__setitem__(0, o))
            inference.decode(codes)
            hook.remove()
        scale = inference.W_dec.detach().norm(dim=1) if name in ("standard", "jumprelu", "gated", "layer_norm") \
            else torch.ones(D)
        sources = [tmp_path / f"{name}_model", inference] + ([tmp_path / f"{name}_inference"] if training else [])
        if name not in ("batchtopk", "matryoshka"):  # their training objects encode a batch-level top-k
            sources.append(sae)
        for source in sources:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                kit_sae = S.load_any(source)
            _same(kit_sae, x, codes, recon[0], scale)


@pytest.mark.slow  # importing the library takes seconds (transformer_lens, nnsight)
def test_live_saelens_training_checkpoint_with_an_activation_scaler(tmp_path):
    sl = pytest.importorskip("sae_lens")
    from sae_lens.training.activation_scaler import ActivationScaler

    sae = _randomize(sl.BatchTopKTrainingSAE(sl.BatchTopKTrainingSAEConfig(
        d_in=d, d_sae=D, k=K, normalize_activations="expected_average_only_in")), seed=11)
    sae.save_model(tmp_path / "ckpt")
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "ckpt")) + ".*scaling_factor"):
        S.load_any(tmp_path / "ckpt")
    ActivationScaler(scaling_factor=0.6).save(str(tmp_path / "ckpt" / "activation_scaler.json"))
    sae.fold_activation_norm_scaling_factor(0.6)  # what SAELens does when the run ends
    sae.save_inference_model(tmp_path / "final")
    final = sl.SAE.load_from_disk(tmp_path / "final")
    x = torch.randn(30, d, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        codes = final.encode(x)
        recon = final.decode(codes)
    _same(S.load_any(tmp_path / "ckpt"), x, codes, recon, torch.ones(D))
    _same(S.load_any(tmp_path / "ckpt", scaling_factor=0.6), x, codes, recon, torch.ones(D))


def _dl_cases(dl):
    from dictionary_learning.dictionary import AutoEncoder, AutoEncoderNew, GatedAutoEncoder, JumpReluAutoEncoder
    from dictionary_learning.trainers.batch_top_k import BatchTopKSAE
    from dictionary_learning.trainers.matryoshka_batch_top_k import MatryoshkaBatchTopKSAE
    from dictionary_learning.trainers.top_k import AutoEncoderTopK

    return {"AutoEncoder": lambda: AutoEncoder(d, D), "AutoEncoderNew": lambda: AutoEncoderNew(d, D),
            "GatedAutoEncoder": lambda: GatedAutoEncoder(d, D), "JumpReluAutoEncoder": lambda: JumpReluAutoEncoder(d, D),
            "AutoEncoderTopK": lambda: AutoEncoderTopK(d, D, K), "BatchTopKSAE": lambda: BatchTopKSAE(d, D, K),
            "MatryoshkaBatchTopKSAE": lambda: MatryoshkaBatchTopKSAE(d, D, K, [3, 3, 6])}


@pytest.mark.slow  # importing the library takes seconds (transformer_lens, nnsight)
def test_live_dictionary_learning_every_dict_class(tmp_path):
    dl = pytest.importorskip("dictionary_learning")
    x = 2 * torch.randn(40, d, generator=torch.Generator().manual_seed(5)) + 0.5
    for i, (cls, make) in enumerate(_dl_cases(dl).items()):
        ae = make()
        with torch.no_grad():
            g = torch.Generator().manual_seed(20 + i)
            for name, p in ae.named_parameters():
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
                if name == "threshold":
                    p.copy_(0.3 * torch.rand(p.shape, generator=g))
            if "threshold" in dict(ae.named_buffers()):
                ae.threshold.fill_(0.2)
        folder = tmp_path / cls
        folder.mkdir()
        torch.save({k: v.cpu() for k, v in ae.state_dict().items()}, folder / "ae.pt")
        (folder / "config.json").write_text(json.dumps({"trainer": {"dict_class": cls, "k": K}}))
        loaded = type(ae).from_pretrained(str(folder / "ae.pt"), **({"k": K} if "TopK" in cls else {}))
        for source, library in ((folder, loaded), (ae, ae)):
            with torch.no_grad():
                codes = library.encode(x)
                recon = library.decode(codes)
                W_dec = library.W_dec if hasattr(library, "W_dec") else library.decoder.weight.T
            folded = cls in ("AutoEncoderNew", "GatedAutoEncoder", "JumpReluAutoEncoder") or (
                cls == "AutoEncoder" and source is ae)  # from_pretrained normalises AutoEncoder's decoder itself
            _same(S.load_any(source), x, codes, recon, W_dec.norm(dim=1) if folded else torch.ones(D))


# ---- properties --------------------------------------------------------------------------------------------

def _write_saelens(folder, cfg, tensors):
    folder.mkdir(parents=True)
    (folder / "cfg.json").write_text(json.dumps({"d_in": cfg.pop("d_in"), "d_sae": cfg.pop("d_sae"), **cfg}))
    save_file({n: t.contiguous() for n, t in tensors.items()}, str(folder / "sae_weights.safetensors"))
    return folder


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), d_=st.integers(2, 7), D_=st.integers(2, 12), apply_b=st.booleans())
def test_gated_is_jumprelu(tmp_path_factory, seed, d_, D_, apply_b):
    """A gated SAE's codes, b_gate/b_mag/r_mag included (thresholds of any sign), are a JumpReLU SAE's."""
    g = torch.Generator().manual_seed(seed)
    w = {"W_enc": torch.randn(d_, D_, generator=g), "b_gate": torch.randn(D_, generator=g),
         "b_mag": torch.randn(D_, generator=g), "r_mag": 0.5 * torch.randn(D_, generator=g),
         "W_dec": torch.randn(D_, d_, generator=g), "b_dec": torch.randn(d_, generator=g)}
    folder = _write_saelens(tmp_path_factory.mktemp("g") / "gated",
                            {"d_in": d_, "d_sae": D_, "architecture": "gated", "apply_b_dec_to_input": apply_b}, w)
    x = torch.randn(16, d_, generator=g)
    u = x - w["b_dec"] if apply_b else x
    gate = (u @ w["W_enc"] + w["b_gate"] > 0).float()
    codes = gate * torch.relu(u @ (w["W_enc"] * w["r_mag"].exp()) + w["b_mag"])
    sae = S.load_any(folder)
    assert sae.config.family == "jumprelu"
    _same(sae, x, codes, codes @ w["W_dec"] + w["b_dec"], w["W_dec"].norm(dim=1))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), D_=st.integers(3, 12), k=st.integers(1, 3), rescale=st.booleans())
def test_topk_rescale_acts_by_decoder_norm(tmp_path_factory, seed, D_, k, rescale):
    """TopK picks the k largest of (x W_enc + b_enc)·‖W_dec‖ when rescaling, and decodes z/‖W_dec‖."""
    g = torch.Generator().manual_seed(seed)
    d_ = 4
    w = {"W_enc": torch.randn(d_, D_, generator=g), "b_enc": torch.randn(D_, generator=g),
         "W_dec": torch.randn(D_, d_, generator=g) * (3 * torch.rand(D_, 1, generator=g) + 0.2),
         "b_dec": torch.randn(d_, generator=g)}
    folder = _write_saelens(tmp_path_factory.mktemp("t") / "topk", {
        "d_in": d_, "d_sae": D_, "architecture": "topk", "k": k, "rescale_acts_by_decoder_norm": rescale}, w)
    x = torch.randn(16, d_, generator=g)
    n = w["W_dec"].norm(dim=1) if rescale else torch.ones(D_)
    pre = ((x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]) * n
    vals, idx = pre.topk(k, dim=1)
    codes = torch.zeros_like(pre).scatter(1, idx, vals.relu())
    sae = S.load_any(folder)
    _same(sae, x, codes, (codes / n) @ w["W_dec"] + w["b_dec"], torch.ones(D_))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), family=st.sampled_from(["relu", "topk", "batchtopk", "matryoshka", "jumprelu"]),
       standardize=st.booleans())
def test_kit_folders_and_objects_round_trip(tmp_path_factory, seed, family, standardize):
    sae = S.untrained(family, 5, 10, k=2, seed=seed, standardize=standardize)
    folder = tmp_path_factory.mktemp("k") / "sae"
    S.save(sae, folder)
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(seed))
    assert S.load_any(sae) is sae
    again = S.load_any(folder)
    assert again.config == sae.config and torch.equal(again.encode(x), sae.encode(x))
    tensors = {"W_enc": sae.W_enc, "b_enc": sae.b_enc, "W_dec": sae.W_dec, "b_dec": sae.b_dec}
    raw = S.load_any(tensors, activation="relu")
    assert torch.allclose(raw.encode(x), torch.relu(sae.pre_activations(x)) if not standardize
                          else torch.relu(sae.project(x)), atol=1e-5)


# ---- dictionary_learning details ---------------------------------------------------------------------------

def _copy_dl(tmp_path, name):
    src, dst = FIXTURES / "dictionary_learning" / name, tmp_path / name
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_dictionary_learning_backup_with_normalised_activations(tmp_path):
    """The backup trainSAE (GitHub main) leaves mid-run: {"ae", "optimizer", "norm_factor", ...}, biases unscaled."""
    folder = _copy_dl(tmp_path, "topk")
    state = torch.load(folder / "ae.pt", weights_only=True)
    scaled = {k: (v / 2.5 if k in ("encoder.bias", "b_dec") else v) for k, v in state.items()}
    scaled["threshold"] = state["threshold"] / 2.5
    torch.save({"step": 3, "ae": scaled, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3}]},
                "config": {"dict_class": "AutoEncoderTopK"}, "norm_factor": 2.5}, folder / "ae.pt")
    refs = _refs("dictionary_learning")
    _same(S.load_any(folder), refs["x"], refs["topk.codes"], refs["topk.recon"], torch.ones(16))


def test_dictionary_learning_unlearned_batchtopk_threshold_gives_dense_codes(tmp_path):
    folder = _copy_dl(tmp_path, "batchtopk")
    state = torch.load(folder / "ae.pt", weights_only=True)
    state["threshold"] = torch.tensor(-1.0)
    torch.save(state, folder / "ae.pt")
    with pytest.warns(UserWarning, match="never learned"):
        sae = S.load_any(folder)
    x = _refs("dictionary_learning")["x"]
    pre = (x - state["b_dec"]) @ state["encoder.weight"].T + state["encoder.bias"]
    assert torch.allclose(sae.encode(x), torch.relu(pre), atol=ATOL)


# ---- bad inputs: one kit error naming the folder -----------------------------------------------------------

def _fails(error, source, *, match="", **options):
    where = re.escape(str(source)) if isinstance(source, Path) else ""
    with pytest.raises(error, match=where + ".*" + match if where else match) as info:
        S.load_any(source, **options)
    assert isinstance(info.value, KitError)
    return info.value


def test_unrecognised_and_missing(tmp_path):
    _fails(CheckpointError, tmp_path / "nowhere", match="no such")
    (tmp_path / "empty").mkdir()
    e = _fails(CheckpointError, tmp_path / "empty", match="not a recognised SAE folder")
    assert "cfg.json" in str(e) and "ae.pt" in str(e) and "weights.safetensors" in str(e)
    (tmp_path / "file.txt").write_text("x")
    _fails(CheckpointError, tmp_path / "file.txt", match="not a folder")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model.bin").write_bytes(b"\0")
    _fails(CheckpointError, tmp_path / "other", match="model.bin")
    (tmp_path / "only_cfg").mkdir()
    (tmp_path / "only_cfg" / "cfg.json").write_text("{}")
    _fails(CheckpointError, tmp_path / "only_cfg", match="missing sae_weights.safetensors")
    (tmp_path / "only_ae").mkdir()
    (tmp_path / "only_ae" / "ae.pt").write_bytes(b"\0")
    _fails(CheckpointError, tmp_path / "only_ae", match="missing config.json")
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "weights.safetensors").write_bytes(b"\0")
    _fails(CheckpointError, tmp_path / "kit", match="missing config.json")
    _fails(CheckpointError, tmp_path / "empty", format="saelens", match="missing cfg.json")
    _fails(CheckpointError, tmp_path / "empty", format="dictionary_learning", match="missing ae.pt")


def _saelens_copy(tmp_path, name="standard"):
    src, dst = FIXTURES / "saelens" / name, tmp_path / name
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def _edit_cfg(folder, **changes):
    cfg = json.loads((folder / "cfg.json").read_text())
    cfg.update(changes)
    for k in [k for k, v in changes.items() if v is None]:
        cfg.pop(k)
    (folder / "cfg.json").write_text(json.dumps(cfg))


def test_bad_saelens_folders(tmp_path):
    f = _saelens_copy(tmp_path)
    (f / "cfg.json").write_text("{not json")
    _fails(CheckpointError, f, match="cfg.json: not a readable SAELens config")
    f = _saelens_copy(tmp_path / "a")
    (f / "sae_weights.safetensors").write_bytes(b"garbage")
    _fails(CheckpointError, f, match="sae_weights.safetensors: cannot read the weights")
    for arch, why in (("abstopk", "negative"), ("transcoder", "not an autoencoder"), ("temporal", "sequences"),
                      ("matching_pursuit", "pursuit"), ("mystery", "supported: standard")):
        f = _saelens_copy(tmp_path / arch)
        _edit_cfg(f, architecture=arch)
        _fails(ConfigError, f, match=f"{arch}.*{why}")
    f = _saelens_copy(tmp_path / "norm")
    _edit_cfg(f, normalize_activations="whatever")
    _fails(ConfigError, f, match="normalize_activations='whatever'")
    f = _saelens_copy(tmp_path / "scale")
    _edit_cfg(f, normalize_activations="expected_average_only_in")
    _fails(ConfigError, f, match="scaling_factor=")
    _fails(ConfigError, f, scaling_factor=-1.0, match="scaling_factor must be")
    assert S.load_any(f, scaling_factor=1.0).config.family == "relu"  # as SAELens' load_from_disk reads it
    f = _saelens_copy(tmp_path / "white")
    _edit_cfg(f, normalize_activations="covariance_whitening")
    _fails(ConfigError, f, match="activation_whitening.safetensors")
    f = _saelens_copy(tmp_path / "reshape")
    _edit_cfg(f, reshape_activations="hook_q")
    _fails(ConfigError, f, match="reshape_activations")
    f = _saelens_copy(tmp_path / "act")
    _edit_cfg(f, activation_fn="tanh-relu")
    _fails(ConfigError, f, match="tanh-relu")
    f = _saelens_copy(tmp_path / "nok", "topk")
    _edit_cfg(f, k=None)
    _fails(ConfigError, f, match="no k")
    f = _saelens_copy(tmp_path / "dims")
    _edit_cfg(f, d_in=9)
    _fails(CheckpointError, f, match="d_in=9")
    f = _saelens_copy(tmp_path / "extra")
    w = load_file(str(f / "sae_weights.safetensors"))
    save_file({**w, "W_skip": torch.zeros(8, 8)}, str(f / "sae_weights.safetensors"))
    _fails(CheckpointError, f, match="unexpected tensors \\['W_skip'\\]")
    f = _saelens_copy(tmp_path / "nan")
    save_file({**w, "b_enc": torch.full((16,), float("nan"))}, str(f / "sae_weights.safetensors"))
    _fails(CheckpointError, f, match="b_enc holds non-finite")
    f = _saelens_copy(tmp_path / "short", "jumprelu")
    w = load_file(str(f / "sae_weights.safetensors"))
    save_file({n: t for n, t in w.items() if n != "threshold"}, str(f / "sae_weights.safetensors"))
    _fails(CheckpointError, f, match="lack \\['threshold'\\]")
    f = _saelens_copy(tmp_path / "bigk", "topk")
    _edit_cfg(f, k=99)
    _fails(ConfigError, f, match="exceeds dict_size")


def test_legacy_saelens_config(tmp_path):
    """SAELens < 6: activation_fn_str/activation_fn_kwargs, a scaling_factor multiplying the codes in decode."""
    f = _saelens_copy(tmp_path, "topk")
    cfg = json.loads((f / "cfg.json").read_text())
    (f / "cfg.json").write_text(json.dumps({"d_in": 8, "d_sae": 16, "activation_fn_str": "topk",
                                            "activation_fn_kwargs": {"k": cfg["k"]}, "apply_b_dec_to_input": True,
                                            "normalize_activations": False, "hook_point": "blocks.0.hook_resid"}))
    w = load_file(str(f / "sae_weights.safetensors"))
    s = torch.linspace(0.5, 2.0, 16)
    save_file({**w, "scaling_factor": s}, str(f / "sae_weights.safetensors"))
    refs = _refs("saelens")
    x, codes = refs["x"], refs["topk.codes"]
    sae = S.load_any(f)
    assert sae.config.family == "topk" and sae.source["hook_name"] == "blocks.0.hook_resid"
    _same(sae, x, codes, (codes * s) @ w["W_dec"] + w["b_dec"], torch.ones(16))


def test_saelens_bfloat16_weights_are_read_in_float32(tmp_path):
    f = _saelens_copy(tmp_path, "jumprelu")
    _edit_cfg(f, dtype="bfloat16")
    w = load_file(str(f / "sae_weights.safetensors"))
    save_file({n: t.to(torch.bfloat16) for n, t in w.items()}, str(f / "sae_weights.safetensors"))
    sae = S.load_any(f)
    assert sae.W_enc.dtype == torch.float32 and sae.source["dtype"] == "bfloat16"
    refs = _refs("saelens")
    z, r = _codes_and_recon(sae, refs["x"])
    assert torch.allclose(r, refs["jumprelu.recon"], atol=0.1, rtol=0.05)  # the storage's precision


def test_bad_dictionary_learning_folders(tmp_path):
    f = _copy_dl(tmp_path / "a", "topk")
    (f / "config.json").write_text(json.dumps({"trainer": {"dict_class": "IdentityDict"}}))
    _fails(ConfigError, f, match="IdentityDict.*not supported")
    f = _copy_dl(tmp_path / "b", "topk")
    (f / "config.json").write_text(json.dumps({"buffer": {}}))
    _fails(CheckpointError, f, match="config.json: not a dictionary_learning config")
    f = _copy_dl(tmp_path / "c", "topk")
    torch.save({"weights": nn.Linear(2, 2)}, f / "ae.pt")  # a pickled module: refused by weights_only=True
    _fails(CheckpointError, f, match="ae.pt: cannot read the weights with torch.load\\(weights_only=True\\)")
    f = _copy_dl(tmp_path / "d", "topk")
    state = torch.load(f / "ae.pt", weights_only=True)
    torch.save({k: v for k, v in state.items() if k != "b_dec"}, f / "ae.pt")
    _fails(CheckpointError, f, match="missing \\['b_dec'\\]")
    f = _copy_dl(tmp_path / "e", "topk")
    cfg = json.loads((f / "config.json").read_text())
    cfg["trainer"]["k"] = 5
    (f / "config.json").write_text(json.dumps(cfg))
    _fails(CheckpointError, f, match="k=5.*k=4")
    f = _copy_dl(tmp_path / "f", "topk")
    torch.save([1, 2], f / "ae.pt")
    _fails(CheckpointError, f, match="ae.pt: expected a state dict")


def test_bad_objects_formats_and_options(tmp_path):
    with pytest.raises(ConfigError, match="format must be one of"):
        S.load_any(tmp_path, format="pickle")
    with pytest.raises(ConfigError, match="cannot tell the format of a int"):
        S.load_any(3)
    with pytest.raises(ConfigError, match="do not apply to format 'saelens'"):
        S.load_any(FIXTURES / "saelens" / "standard", batch_size=3)
    with pytest.raises(ConfigError, match="has no folder layout"):
        S.load_any(FIXTURES / "saelens" / "standard", format="overcomplete")
    with pytest.raises(ConfigError, match="missing \\['b_dec'\\]"):
        S.load_any({"W_enc": torch.zeros(2, 3), "b_enc": torch.zeros(3), "W_dec": torch.ones(3, 2)})
    with pytest.raises(ConfigError, match="needs a dict"):
        S.load_any([1], format="tensors")
    sae = S.load_any({"W_enc": torch.eye(2), "b_enc": torch.zeros(2), "W_dec": 2 * torch.eye(2),
                      "b_dec": torch.zeros(2), "threshold": torch.tensor([0.1, 0.2])}, activation="jumprelu")
    assert np.allclose(sae.source["code_scale"], 2.0)
    with pytest.raises(CheckpointError, match="topk: not a kit SAE folder: missing weights.safetensors"):
        S.load_any(FIXTURES / "dictionary_learning" / "topk", format="kit")
    (tmp_path / "k").mkdir()
    save_file({"W": torch.zeros(1)}, str(tmp_path / "k" / "weights.safetensors"))
    (tmp_path / "k" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="config.json: not a kit SAE checkpoint"):
        S.load_any(tmp_path / "k")
