"""One training loop for one or several SAEs sharing the same batches.

:func:`fit` is the loop; :func:`train` trains one SAE, :func:`kit.sae.train_many` several in one pass.
Each SAE's step depends only on its own state and the shared batch, so an SAE trained in a sweep is
bit-identical (on CPU) to the same SAE trained alone. Batch order comes from ``data_seed`` and the epoch
number only, which is what lets an interrupted run resume exactly from a checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm.auto import tqdm

from kit.arrays import resolve_device, to_numpy
from kit.errors import CheckpointError, ConfigError, DataError
from kit.io import atomic_path, read_json, remove_stale
from kit.sae import checkpoint as ckpt
from kit.sae import losses, sparse
from kit.sae.families import K_FAMILIES
from kit.sae.model import SAE, SAEConfig, _plain_fields, standardize_rows

# Bumped whenever the training arithmetic changes, so that caches of trained SAEs (kit.pipeline) expire.
TRAINER_VERSION = 2

# Settings that decide the batches: SAEs trained in one pass must agree on them.
SHARED_SETTINGS = ("batch_size", "data_seed", "val_fraction", "device")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run (defaults: the reference code's settings for the paper).

    Architecture: dict_size, family, k, standardize (per-sample standardisation, the reference's
    ``input_unit_norm``); JumpReLU's init_threshold and bandwidth are in units of σ = √(norm / d), the spread
    of the training data's projection on a unit direction (norm = its mean squared distance to its mean, the
    NMSE normaliser) — the scale of the initial pre-activations — so they suit any embedding scale; the trained
    SAE's config holds them in input units. Optimisation: Adam (β = 0.9, 0.999; eps ``adam_eps``) with lr,
    batch_size, at most ``epochs`` epochs (or max_steps), grad_clip (max gradient norm), decoder rows
    renormalised after every step. Dead latents: AuxK with k_aux latents and weight aux_weight on latents that
    did not fire for dead_after batches. Penalties: l1_coefficient (relu), l0_coefficient (jumprelu). Early
    stopping: val_fraction of the rows held out (drawn with data_seed), evaluated every eval_every steps (None:
    once per epoch) on the training objective (NMSE + sparsity penalty, without AuxK); stop after patience
    evaluations without improvement. keep_best: keep the weights of the best evaluation (the kit) rather than
    the last ones (the reference code saves the last). seed: initialisation; data_seed: split and batch order.

    Where the kit differs from the reference code (chapter *Reproducing the paper* lists each difference):
    the validation rows are a seeded random 15 % of the training embeddings, not a class-stratified split of
    the CUB images; the best weights are kept (``keep_best=False`` keeps the last, as the reference).
    """

    dict_size: int
    family: str = "topk"
    k: int | None = 32
    seed: int = 0
    standardize: bool = True
    init_threshold: float = 1.0
    bandwidth: float = 0.1
    lr: float = 5e-4
    adam_eps: float = 6.25e-10
    batch_size: int = 1024
    epochs: int = 50
    max_steps: int | None = None
    grad_clip: float = 1.0
    k_aux: int = 512
    aux_weight: float = 1 / 32
    dead_after: int = 20
    l1_coefficient: float = 0.05
    l0_coefficient: float = 1e-3
    val_fraction: float = 0.15
    eval_every: int | None = None
    patience: int = 3
    keep_best: bool = True
    data_seed: int = 42
    log_every: int = 10
    checkpoint_every: int | None = None
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        _plain_fields(self)
        self.sae_config(1)  # checks family, dict_size, k
        positive = ("lr", "adam_eps", "batch_size", "epochs", "grad_clip", "k_aux", "dead_after", "patience", "log_every")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"TrainConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("max_steps", "eval_every", "checkpoint_every"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"TrainConfig.{name} must be ≥ 1 or None, got {v!r}")
        for name in ("aux_weight", "l1_coefficient", "l0_coefficient"):
            if getattr(self, name) < 0:
                raise ConfigError(f"TrainConfig.{name} must be ≥ 0, got {getattr(self, name)!r}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"TrainConfig.val_fraction must lie in [0, 1), got {self.val_fraction!r}")

    def sae_config(self, d: int, sigma: float = 1.0) -> SAEConfig:
        """The architecture this run trains, for inputs of width ``d`` whose σ (see above) is ``sigma``."""
        return SAEConfig(family=self.family, d=d, dict_size=self.dict_size, k=self.k, standardize=self.standardize,
                         bandwidth=self.bandwidth * sigma, init_threshold=self.init_threshold * sigma)

    @property
    def name(self) -> str:
        """A short folder-friendly name: ``topk-D4096-k32-s0``."""
        k = f"-k{self.k}" if self.family in K_FAMILIES else ""
        return f"{self.family}-D{self.dict_size}{k}-s{self.seed}"


def make_config(config: TrainConfig | dict) -> TrainConfig:
    """A TrainConfig from a TrainConfig or a dict of its fields (ConfigError naming unknown fields)."""
    if isinstance(config, TrainConfig):
        return config
    if not isinstance(config, dict):
        raise ConfigError(f"a training config must be a TrainConfig or a dict, got {type(config).__name__}")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise ConfigError(f"unknown training setting(s) {unknown}; valid: {sorted(names)}")
    if "dict_size" not in config:
        raise ConfigError("a training config needs dict_size")
    return TrainConfig(**config)


class _Run:
    """The state of one SAE being trained: model, optimizer, counters, early stopping, curves."""

    def __init__(self, cfg: TrainConfig, d: int, device: str, steps_per_epoch: int):
        self.cfg = cfg
        self.sae = SAE(cfg.sae_config(d), seed=cfg.seed).to(device)
        self.opt = torch.optim.Adam(self.sae.parameters(), lr=cfg.lr, eps=cfg.adam_eps, betas=(0.9, 0.999),
                                    fused=True)  # fused: one kernel per step
        self.dead_counter = torch.zeros(cfg.dict_size, dtype=torch.int64, device=device)
        self.total = cfg.max_steps or cfg.epochs * steps_per_epoch
        self.eval_every = cfg.eval_every or steps_per_epoch
        self.step = 0
        self.norm = 1.0
        self.best_val = math.inf
        self.bad_evals = 0
        self.stopped = False
        self.best_state: dict[str, torch.Tensor] | None = None
        self.rows: list[dict] = []
        self.last: dict = {}

    @property
    def done(self) -> bool:
        return self.stopped or self.step >= self.total

    def start(self, stats: tuple[torch.Tensor, float] | None) -> None:
        """Data-dependent initialisation from :func:`_init_stats` ``(mean, norm)`` of the training rows in the
        SAE's input space: b_dec = mean; the loss scale = norm; JumpReLU's threshold and bandwidth in units of
        σ = √(norm / d). ``None`` (no finite row) keeps the defaults."""
        if stats is None:
            return
        mean, self.norm = stats
        with torch.no_grad():
            self.sae.b_dec.copy_(mean)
            if self.cfg.family == "jumprelu":
                d = mean.shape[0]
                self.sae.config = self.cfg.sae_config(d, math.sqrt(self.norm / d))
                self.sae.log_threshold.fill_(math.log(self.sae.config.init_threshold))

    def _sparse_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The k families' ``(reconstruction loss, AuxK loss, fired: bool[D], active codes per row)`` of the
        preprocessed batch ``x: float[B, d]``, differentiating only the kept pre-activations (kit.sae.sparse)."""
        sae, cfg = self.sae, self.cfg
        b_dec = sae.b_dec if sae.config.subtract_b_dec else None
        with torch.no_grad():
            pre = sae.project(x)
        sel = sparse.top_k(pre, cfg.k) if cfg.family == "topk" else sparse.batch_top_k(pre, cfg.k)
        vals = torch.relu(sparse.gather_pre(sel, pre, x, sae.W_enc, sae.b_enc, b_dec))
        on = vals.detach() > 0
        if cfg.family != "topk":
            positive = vals.detach()[on]
            sae.update_threshold(positive.min() if positive.numel() else torch.tensor(math.nan))
        if cfg.family == "matryoshka":
            rec, x_hat = sparse.matryoshka_nmse(sel, vals, x, sae.W_dec, sae.b_dec, sae.config.prefixes, self.norm)
        else:
            x_hat = sparse.decode(sel, vals, sae.W_dec) + sae.b_dec
            rec = losses.nmse(x, x_hat, self.norm)
        fired = torch.zeros(cfg.dict_size, dtype=torch.bool, device=x.device)
        fired[sel.latents[on]] = True
        aux = torch.zeros((), device=x.device)
        dead = self.dead_counter >= cfg.dead_after
        n_dead = int(dead.sum()) if cfg.aux_weight > 0 else 0
        if n_dead:
            aux_sel = sparse.top_k(pre.masked_fill(~dead, -math.inf), min(cfg.k_aux, n_dead))
            aux_vals = torch.relu(sparse.gather_pre(aux_sel, pre, x, sae.W_enc, sae.b_enc, b_dec))
            aux = losses.auxk_loss(x - x_hat, sparse.decode(aux_sel, aux_vals, sae.W_dec))
        return rec, aux, fired, on.sum() / x.shape[0]

    def _dense_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """ReLU's and JumpReLU's ``(reconstruction loss, sparsity penalty, fired: bool[D], active codes per row)``
        of the preprocessed batch ``x: float[B, d]`` (their codes are not sparse at the start of training)."""
        sae, cfg = self.sae, self.cfg
        pre = sae.project(x)
        z = sae.training_codes(pre)
        rec = losses.nmse(x, z @ sae.W_dec + sae.b_dec, self.norm)
        if cfg.family == "relu":
            penalty = losses.l1_penalty(z, sae.W_dec, self.norm)
        else:
            penalty = losses.jumprelu_l0(pre, sae.log_threshold, sae.config.bandwidth)
        active = z.detach() > 0
        return rec, penalty, active.any(0), active.sum(1).float().mean()

    def train_step(self, x: torch.Tensor) -> None:
        """One optimisation step on the preprocessed batch ``x: float[B, d]`` (``sae.preprocess`` of the raw one)."""
        sae, cfg = self.sae, self.cfg
        aux = penalty = torch.zeros((), device=x.device)
        if cfg.family in K_FAMILIES:
            rec, aux, fired, l0 = self._sparse_loss(x)
            loss = rec + cfg.aux_weight * aux
        else:
            rec, penalty, fired, l0 = self._dense_loss(x)
            loss = rec + (cfg.l1_coefficient if cfg.family == "relu" else cfg.l0_coefficient) * penalty
        if not torch.isfinite(loss):
            raise ConfigError(f"step {self.step}: the loss of SAE {cfg.name} became non-finite "
                              f"({float(loss.detach())}); try a smaller lr or standardize=True")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        losses.project_decoder_grad(sae.W_dec)
        torch.nn.utils.clip_grad_norm_(sae.parameters(), cfg.grad_clip, foreach=True)
        self.opt.step()
        losses.renormalise_decoder(sae.W_dec)
        self.dead_counter = torch.where(fired, torch.zeros_like(self.dead_counter), self.dead_counter + 1)
        self.step += 1
        if self.step % cfg.log_every == 0 or self.step == self.total:
            self.last = {"step": self.step, "loss": float(loss.detach()), "nmse": float(rec.detach()),
                         "aux": float(aux.detach()), "penalty": float(penalty.detach()), "l0": float(l0),
                         "dead_fraction": float((self.dead_counter >= cfg.dead_after).float().mean()),
                         "val_nmse": math.nan, "val_loss": math.nan}
            self.rows.append(dict(self.last))

    def _penalty_sum(self, z: torch.Tensor) -> float:
        """The sparsity penalty of inference codes ``z: float[N, D]``, summed over rows (0 for the k families)."""
        if self.cfg.family == "relu":
            return self.cfg.l1_coefficient * float(losses.l1_penalty(z, self.sae.W_dec, self.norm)) * z.shape[0]
        if self.cfg.family == "jumprelu":
            return self.cfg.l0_coefficient * float((z > 0).sum())
        return 0.0

    def evaluate(self, X_val: torch.Tensor, chunk: int = 8192) -> None:
        """Validation NMSE and objective (NMSE + penalty) with inference codes; early stopping on the objective
        (keeps the best weights). Stopping on the NMSE alone would keep the densest, least penalised weights."""
        sae = self.sae
        err = pen = 0.0
        with torch.no_grad():
            for xv in X_val.split(chunk):
                z = sae.encode(xv)
                err += float((sae.preprocess(xv) - sae.decode(z)).pow(2).sum())
                pen += self._penalty_sum(z)
        nmse = err / X_val.shape[0] / self.norm
        val = nmse + pen / X_val.shape[0]
        self.rows.append({"step": self.step, "val_nmse": nmse, "val_loss": val})
        if val < self.best_val:
            self.best_val, self.bad_evals = val, 0
            if self.cfg.keep_best:
                self.best_state = {k: v.detach().clone() for k, v in sae.state_dict().items()}
        else:
            self.bad_evals += 1
            self.stopped = self.bad_evals >= self.cfg.patience

    def finish(self) -> SAE:
        import pandas as pd

        if self.best_state is not None:
            self.sae.load_state_dict(self.best_state)
        sae = self.sae.cpu().eval()
        sae.history = pd.DataFrame(self.rows, columns=["step", "loss", "nmse", "aux", "penalty", "l0",
                                                       "dead_fraction", "val_nmse", "val_loss"])
        sae.train_config = self.cfg
        return sae

    # ---- checkpoints ----------------------------------------------------------------------------------
    def save(self, folder: Path, data: str) -> None:
        import pandas as pd

        tensors = {"dead_counter": self.dead_counter.cpu()}
        opt = self.opt.state_dict()
        for pid, st in opt["state"].items():
            for key, v in st.items():
                tensors[f"opt.{pid}.{key}"] = v.detach().cpu().contiguous()
        for key, v in (self.best_state or {}).items():
            tensors[f"best.{key}"] = v.cpu().contiguous()
        state = {"step": self.step, "norm": self.norm, "best_val": self.best_val, "bad_evals": self.bad_evals,
                 "stopped": self.stopped, "has_best": self.best_state is not None,
                 "param_groups": opt["param_groups"], "data": data, "rows": self.rows}
        self.sae.history = pd.DataFrame(self.rows, columns=ckpt.HISTORY_COLUMNS)
        self.sae.train_config = self.cfg
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            ckpt.write_sae(self.sae, tmp)
            save_file(tensors, str(tmp / "train_state.safetensors"))
            (tmp / "train_state.json").write_text(json.dumps(state), encoding="utf-8")

    def resume(self, folder: Path, data: str, device: str) -> None:
        doc = ckpt.read_config(folder)
        saved = doc.get("train_config", {})
        mine = dataclasses.asdict(self.cfg)
        diff = sorted(k for k in mine if k not in ("progress",) and saved.get(k) != mine[k])
        if diff:
            raise CheckpointError(f"{folder}: the checkpoint was trained with other settings ({diff}); "
                                  "use another checkpoint_dir")
        hint = f"; delete {folder} to train this SAE from the start"
        state = read_json(folder / "train_state.json", "training state", CheckpointError, hint=hint)
        keys = ("step", "norm", "best_val", "bad_evals", "stopped", "has_best", "param_groups", "data", "rows")
        if not isinstance(state, dict) or any(k not in state for k in keys):
            missing = [k for k in keys if k not in state] if isinstance(state, dict) else list(keys)
            raise CheckpointError(f"{folder / 'train_state.json'}: not a complete training state (lacks {missing})"
                                  f"{hint}")
        if state.get("data") != data:
            raise CheckpointError(f"{folder}: the checkpoint was trained on other data (fingerprint "
                                  f"{state.get('data')}, this X has {data}); use another checkpoint_dir")
        ckpt.load_weights_into(self.sae, folder / "weights.safetensors")
        tensors = ckpt.read_tensors(folder / "train_state.safetensors", "training state", hint=hint)
        try:
            opt_state: dict = {}
            for key, v in tensors.items():
                if key.startswith("opt."):
                    _, pid, name = key.split(".", 2)
                    opt_state.setdefault(int(pid), {})[name] = v
            self.opt.load_state_dict({"state": opt_state, "param_groups": state["param_groups"]})  # moves to device
            for p, st in self.opt.state.items():  # the saved states are contiguous; the fused step needs p's layout
                for key, v in st.items():
                    if v.shape == p.shape:
                        st[key] = torch.empty_like(p).copy_(v)
            self.dead_counter = tensors["dead_counter"].to(device)
            if tuple(self.dead_counter.shape) != (self.cfg.dict_size,):
                raise ValueError(f"dead_counter has shape {tuple(self.dead_counter.shape)}")
            if state["has_best"]:
                self.best_state = {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
                if set(self.best_state) != set(self.sae.state_dict()):
                    raise ValueError("the best weights are incomplete")
            step = state["step"]
            if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= self.total:
                raise ValueError(f"step {step!r} is not within 0..{self.total}")
            if not isinstance(state["rows"], list) or not all(isinstance(r, dict) for r in state["rows"]):
                raise ValueError("the curves ('rows') are not a list of objects")
            self.step, self.norm, self.best_val = step, float(state["norm"]), float(state["best_val"])
            self.bad_evals, self.stopped, self.rows = int(state["bad_evals"]), bool(state["stopped"]), state["rows"]
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as e:
            raise CheckpointError(f"{folder}: the training state does not fit this run "
                                  f"({type(e).__name__}: {e}){hint}") from None


def fingerprint(X: np.ndarray) -> str:
    """A cheap content hash of ``X`` (shape and up to 1,024 evenly spaced rows) that ties a checkpoint to its data."""
    rows = np.unique(np.linspace(0, X.shape[0] - 1, min(X.shape[0], 1024)).astype(np.int64))
    h = hashlib.blake2b(repr(X.shape).encode(), digest_size=16)
    h.update(np.ascontiguousarray(X[rows], dtype=np.float32).tobytes())
    return h.hexdigest()


def _split(n: int, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows), both sorted, drawn from ``data_seed``."""
    n_val = int(round(cfg.val_fraction * n))
    if n_val >= n:
        raise DataError(f"val_fraction={cfg.val_fraction} leaves no training rows out of {n}")
    perm = np.random.default_rng(cfg.data_seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _rows(X: np.ndarray, idx: np.ndarray, device: str, check: str | None = None) -> torch.Tensor:
    """``X[idx]`` as float32 on ``device``; with ``check`` (what the rows are, for the message), a DataError
    naming the first non-finite value's row and column (checked on the host, before any transfer)."""
    rows = np.ascontiguousarray(X[idx], dtype=np.float32)
    if check is not None and not np.isfinite(rows).all():
        r, c = (int(v) for v in np.argwhere(~np.isfinite(rows))[0])
        raise DataError(f"{check}: X holds a non-finite value (NaN or inf) at row {int(idx[r])}, column {c}")
    return torch.from_numpy(rows).to(device)


def _init_stats(X: np.ndarray, rows: np.ndarray, standardize: bool, device: str,
                chunk: int = 512) -> tuple[torch.Tensor, float] | None:
    """``(mean: float[d], norm)`` of the finite ``X[rows]`` in the SAE's input space (standardised per sample
    or not): their mean, and their mean squared distance to it (the NMSE normaliser, at least 1e-12), in
    float64 over small chunks (one pass: ‖x − m‖² summed as Σ‖x‖² − n‖m‖²). None when no row is finite.
    (Non-finite rows are reported by the step that meets them.)"""
    total, sq, n = np.zeros(X.shape[1]), 0.0, 0
    for s in range(0, len(rows), chunk):
        x = torch.from_numpy(np.asarray(X[rows[s:s + chunk]], dtype=np.float64))
        x = x[torch.isfinite(x).all(1)]
        x = (standardize_rows(x) if standardize else x).numpy()
        total += x.sum(0)
        sq += float(np.einsum("ij,ij->", x, x))
        n += len(x)
    if n == 0:
        return None
    mean = total / n
    return torch.as_tensor(mean, dtype=torch.float32, device=device), max(sq / n - float(mean @ mean), 1e-12)


def fit(X, configs: Sequence[TrainConfig], checkpoint_dir: str | os.PathLike | None = None,
        callback: Callable[[int, list[SAE]], None] | None = None) -> list[SAE]:
    """Train one SAE per config in one pass over ``X: float[N, d]`` (shared batches); return them (CPU, eval).

    checkpoint_dir: one sub-folder per config (``{i:03d}-{name}``), written every ``checkpoint_every`` steps
    (default: at each evaluation) and at the end; an existing one is resumed. callback(step, saes) runs
    after every step.
    """
    if not configs:
        raise ConfigError("no training config given")
    first = configs[0]
    for c in configs[1:]:
        for name in SHARED_SETTINGS:
            if getattr(c, name) != getattr(first, name):
                raise ConfigError(f"SAEs trained in one pass must share {name}: {getattr(first, name)!r} vs "
                                  f"{getattr(c, name)!r} ({c.name})")
    X = to_numpy(X)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise DataError(f"X must be a non-empty 2-D array [samples, features], got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise DataError(f"X must hold real numbers, got dtype {X.dtype}")
    n, d = X.shape
    if d < 2 and any(c.standardize for c in configs):
        raise ConfigError(f"standardize=True needs at least 2 features per sample (a standard deviation), X has {d}")
    device = resolve_device(first.device)
    train_idx, val_idx = _split(n, first)
    B = first.batch_size
    spe = math.ceil(len(train_idx) / B)
    X_val = _rows(X, val_idx, device, "validation split") if len(val_idx) else None

    runs = [_Run(c, d, device, spe) for c in configs]
    data_key = fingerprint(X) if checkpoint_dir else ""
    folders = [Path(checkpoint_dir) / f"{i:03d}-{c.name}" for i, c in enumerate(configs)] if checkpoint_dir else []
    if checkpoint_dir:
        remove_stale(checkpoint_dir)  # checkpoints an interrupted run was writing
    stats = {s: _init_stats(X, train_idx[:65536], s, device) for s in {c.standardize for c in configs}}
    for i, run in enumerate(runs):
        run.start(stats[run.cfg.standardize])  # computed once for the runs that share the input space
        if folders and (folders[i] / "train_state.json").exists():
            run.resume(folders[i], data_key, device)

    last = max(r.total for r in runs)
    pending = [r for r in runs if not r.done]
    start = min((r.step for r in pending), default=last)
    bar = tqdm(total=last, initial=start, disable=not first.progress, desc="train SAE", unit="step")
    order_epoch, order = -1, None
    try:
        for step in range(start, last):
            active = [(i, r) for i, r in enumerate(runs) if not r.done and r.step == step]
            if all(r.done for r in runs):
                break
            if not active:
                continue  # the runs left are further along (resumed from a later checkpoint)
            epoch, j = divmod(step, spe)
            if epoch != order_epoch:
                order = np.random.default_rng([first.data_seed, epoch]).permutation(len(train_idx))
                order_epoch = epoch
            idx = np.sort(train_idx[order[j * B:(j + 1) * B]])
            xb = _rows(X, idx, device, f"step {step} (epoch {epoch}, batch {j})")
            inputs = {s: standardize_rows(xb) if s else xb for s in {r.cfg.standardize for _, r in active}}
            for i, run in active:
                run.train_step(inputs[run.cfg.standardize])  # the SAE's preprocess, shared by the runs
                if X_val is not None and (run.step % run.eval_every == 0 or run.step == run.total):
                    run.evaluate(X_val)
                if folders and (run.step % (run.cfg.checkpoint_every or run.eval_every) == 0 or run.done):
                    run.save(folders[i], data_key)
            bar.update(1)
            shown = active[0][1].last
            if shown:
                bar.set_postfix(loss=f"{shown['loss']:.4f}", L0=f"{shown['l0']:.1f}",
                                dead=f"{shown['dead_fraction']:.3f}", refresh=False)
            if callback is not None:
                callback(step + 1, [r.sae for r in runs])
    finally:
        bar.close()
    return [r.finish() for r in runs]


def train(X, family: str = "topk", *, dict_size: int, k: int | None = 32, seed: int = 0,
          checkpoint_dir: str | os.PathLike | None = None,
          callback: Callable[[int, list[SAE]], None] | None = None, **settings) -> SAE:
    """Train one SAE on ``X: float[N, d]``; ``settings`` are :class:`TrainConfig` fields.

    The returned SAE (CPU, eval mode) carries ``history`` (training curves, a DataFrame) and ``train_config``.
    """
    cfg = make_config({"family": family, "dict_size": dict_size, "k": k, "seed": seed, **settings})
    return fit(X, [cfg], checkpoint_dir=checkpoint_dir, callback=callback)[0]


def stopped_early(sae: SAE) -> bool:
    """Whether early stopping ended the SAE's training: its last ``patience`` validation evaluations did not
    improve on the best one (read from ``sae.history`` and ``sae.train_config``). False for an SAE trained
    without validation rows or whose training ran out of epochs while still improving."""
    history, cfg = getattr(sae, "history", None), getattr(sae, "train_config", None)
    if history is None or cfg is None or "val_loss" not in history:
        return False
    val = history["val_loss"].dropna().to_numpy()
    return bool(val.size > cfg.patience and val.size - 1 - int(np.argmin(val)) >= cfg.patience)
