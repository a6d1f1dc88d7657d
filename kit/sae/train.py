"""One training loop for one or several SAEs sharing the same batches.

:func:`fit` is the loop; :func:`train` trains one SAE, :func:`kit.sae.train_many` several in one pass.
The training checkpoints it writes and resumes from are written and read by :mod:`kit.sae.checkpoint`.
Each SAE's step depends only on its own state and the shared batch, so an SAE trained with others in one pass
is bit-identical (on CPU) to the same SAE trained alone. Batch order comes from ``data_seed`` and the epoch
number only, which is what lets an interrupted run resume exactly from a checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from kit.arrays import resolve_device, to_numpy
from kit.errors import CheckpointError, ConfigError, DataError
from kit.io import content_hash, remove_stale
from kit.sae import checkpoint as ckpt
from kit.sae import losses, sparse
from kit.sae.config import K_FAMILIES, TrainConfig, make_config
from kit.sae.model import SAE, standardize_rows

# Bumped whenever the training arithmetic changes, so that caches of trained SAEs (kit.pipeline) expire.
TRAINER_VERSION = 2

# Settings that decide the batches: SAEs trained in one pass must agree on them.
SHARED_SETTINGS = ("batch_size", "data_seed", "val_fraction", "device")


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

    def _label(self) -> SAE:
        """The SAE with its curves so far (``history``) and its ``train_config``, as saved and returned."""
        import pandas as pd  # here: pandas adds a quarter of a second to importing kit.sae

        self.sae.history = pd.DataFrame(self.rows, columns=ckpt.HISTORY_COLUMNS)
        self.sae.train_config = self.cfg
        return self.sae

    def finish(self) -> SAE:
        """The trained SAE (CPU, eval mode): the best weights when kept, with its curves and config."""
        if self.best_state is not None:
            self.sae.load_state_dict(self.best_state)
        return self._label().cpu().eval()

    # ---- checkpoints ----------------------------------------------------------------------------------
    def save(self, folder: Path, data: str) -> None:
        """Write this run's training checkpoint ``folder``; ``data``: the training data's fingerprint."""
        state = ckpt.TrainState(step=self.step, norm=self.norm, best_val=self.best_val, bad_evals=self.bad_evals,
                                stopped=self.stopped, data=data, rows=self.rows, optimizer=self.opt.state_dict(),
                                dead_counter=self.dead_counter, best=self.best_state)
        ckpt.save_training(self._label(), state, folder)

    def resume(self, folder: Path, data: str, device: str) -> None:
        """Continue from the training checkpoint ``folder``, which must have been written by this very run: the
        same settings (but ``progress``) and the same data (its fingerprint ``data``)."""
        saved = ckpt.read_config(folder).get("train_config", {})
        mine = dataclasses.asdict(self.cfg)
        diff = sorted(k for k in mine if k not in ("progress",) and saved.get(k) != mine[k])
        if diff:
            raise CheckpointError(f"{folder}: the checkpoint was trained with other settings ({diff}); "
                                  "use another checkpoint_dir")
        state = ckpt.read_training(folder)
        if state.data != data:
            raise CheckpointError(f"{folder}: the checkpoint was trained on other data (fingerprint "
                                  f"{state.data}, this X has {data}); use another checkpoint_dir")
        ckpt.load_weights_into(self.sae, folder / "weights.safetensors")
        try:
            self.opt.load_state_dict(state.optimizer)  # moves the moments to the device
            for p, st in self.opt.state.items():  # the saved states are contiguous; the fused step needs p's layout
                for key, v in st.items():
                    if v.shape == p.shape:
                        st[key] = torch.empty_like(p).copy_(v)
            if tuple(state.dead_counter.shape) != (self.cfg.dict_size,):
                raise ValueError(f"dead_counter has shape {tuple(state.dead_counter.shape)}")
            if state.best is not None and set(state.best) != set(self.sae.state_dict()):
                raise ValueError("the best weights are incomplete")
            if state.step > self.total:
                raise ValueError(f"step {state.step} is not within 0..{self.total}")
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as e:
            raise CheckpointError(f"{folder}: the training state does not fit this run ({type(e).__name__}: {e}); "
                                  f"delete {folder} to train this SAE from the start") from None
        self.dead_counter = state.dead_counter.to(device)
        self.best_state = {k: v.to(device) for k, v in state.best.items()} if state.best is not None else None
        self.step, self.norm, self.best_val = state.step, state.norm, state.best_val
        self.bad_evals, self.stopped, self.rows = state.bad_evals, state.stopped, state.rows


def fingerprint(X: np.ndarray) -> str:
    """A cheap content hash of ``X`` (shape and up to 1,024 evenly spaced rows) that ties a checkpoint to its data."""
    rows = np.unique(np.linspace(0, X.shape[0] - 1, min(X.shape[0], 1024)).astype(np.int64))
    return content_hash(repr(X.shape), np.ascontiguousarray(X[rows], dtype=np.float32))[:32]


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


def _check(X, configs: Sequence[TrainConfig]) -> np.ndarray:
    """``X`` as a numpy array, once it and ``configs`` are fit for one pass (ConfigError, DataError)."""
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
    if X.shape[1] < 2 and any(c.standardize for c in configs):
        raise ConfigError(f"standardize=True needs at least 2 features per sample (a standard deviation), "
                          f"X has {X.shape[1]}")
    return X


class _Batches:
    """The training batches shared by the runs: step s is batch j of epoch e (s = e · per_epoch + j), the rows
    of a permutation of the training rows drawn from ``(data_seed, e)`` alone (so a resumed run sees the same)."""

    def __init__(self, X: np.ndarray, train_idx: np.ndarray, cfg: TrainConfig, device: str):
        self.X, self.train_idx, self.size, self.seed, self.device = X, train_idx, cfg.batch_size, cfg.data_seed, device
        self.per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
        self._epoch, self._order = -1, None

    def __call__(self, step: int) -> torch.Tensor:
        """The raw batch of ``step``, float32[B, d] on the device (DataError at a non-finite value)."""
        epoch, j = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._order = np.random.default_rng([self.seed, epoch]).permutation(len(self.train_idx))
            self._epoch = epoch
        idx = np.sort(self.train_idx[self._order[j * self.size:(j + 1) * self.size]])
        return _rows(self.X, idx, self.device, f"step {step} (epoch {epoch}, batch {j})")


class _Checkpoints:
    """The runs' training checkpoints: ``checkpoint_dir/{i:03d}-{name}``, tied to the data by its fingerprint."""

    def __init__(self, checkpoint_dir: str | os.PathLike, configs: Sequence[TrainConfig], X: np.ndarray):
        remove_stale(checkpoint_dir)  # checkpoints an interrupted run was writing
        self.folders = [Path(checkpoint_dir) / f"{i:03d}-{c.name}" for i, c in enumerate(configs)]
        self.data = fingerprint(X)

    def resume(self, runs: list[_Run], device: str) -> None:
        """Resume every run whose checkpoint exists."""
        for run, folder in zip(runs, self.folders):
            if ckpt.has_train_state(folder):
                run.resume(folder, self.data, device)

    def after_step(self, i: int, run: _Run) -> None:
        """Save run ``i`` every ``checkpoint_every`` steps (default: at each evaluation) and at its end."""
        if run.step % (run.cfg.checkpoint_every or run.eval_every) == 0 or run.done:
            run.save(self.folders[i], self.data)


def _start(X: np.ndarray, configs: Sequence[TrainConfig], train_idx: np.ndarray, device: str,
           steps_per_epoch: int) -> list[_Run]:
    """One initialised run per config; the data's statistics are computed once per input space."""
    runs = [_Run(c, X.shape[1], device, steps_per_epoch) for c in configs]
    stats = {s: _init_stats(X, train_idx[:65536], s, device) for s in {c.standardize for c in configs}}
    for run in runs:
        run.start(stats[run.cfg.standardize])
    return runs


def _step(active: list[tuple[int, _Run]], xb: torch.Tensor, X_val: torch.Tensor | None,
          checkpoints: _Checkpoints | None) -> None:
    """One step of every active run ``(i, run)`` on the raw batch ``xb``; evaluations and checkpoints when due."""
    inputs = {s: standardize_rows(xb) if s else xb for s in {r.cfg.standardize for _, r in active}}
    for i, run in active:
        run.train_step(inputs[run.cfg.standardize])  # the SAE's preprocess, shared by the runs
        if X_val is not None and (run.step % run.eval_every == 0 or run.step == run.total):
            run.evaluate(X_val)
        if checkpoints is not None:
            checkpoints.after_step(i, run)


def _loop(runs: list[_Run], batches: _Batches, X_val: torch.Tensor | None, checkpoints: _Checkpoints | None,
          callback: Callable[[int, list[SAE]], None] | None, progress: bool) -> None:
    """Step the runs until each is done; each step trains the runs that have reached it (resumed runs may be
    further along) on the shared batch."""
    last = max(r.total for r in runs)
    start = min((r.step for r in runs if not r.done), default=last)
    with tqdm(total=last, initial=start, disable=not progress, desc="train SAE", unit="step") as bar:
        for step in range(start, last):
            if all(r.done for r in runs):
                break
            active = [(i, r) for i, r in enumerate(runs) if not r.done and r.step == step]
            if not active:
                continue  # the runs left are further along (resumed from a later checkpoint)
            _step(active, batches(step), X_val, checkpoints)
            bar.update(1)
            shown = active[0][1].last
            if shown:
                bar.set_postfix(loss=f"{shown['loss']:.4f}", L0=f"{shown['l0']:.1f}",
                                dead=f"{shown['dead_fraction']:.3f}", refresh=False)
            if callback is not None:
                callback(step + 1, [r.sae for r in runs])


def fit(X, configs: Sequence[TrainConfig], checkpoint_dir: str | os.PathLike | None = None,
        callback: Callable[[int, list[SAE]], None] | None = None) -> list[SAE]:
    """Train one SAE per config in one pass over ``X: float[N, d]`` (shared batches); return them (CPU, eval).

    checkpoint_dir: one sub-folder per config (``{i:03d}-{name}``), written every ``checkpoint_every`` steps
    (default: at each evaluation) and at the end; an existing one is resumed. callback(step, saes) runs
    after every step.
    """
    X = _check(X, configs)
    first = configs[0]
    device = resolve_device(first.device)
    train_idx, val_idx = _split(X.shape[0], first)
    batches = _Batches(X, train_idx, first, device)
    X_val = _rows(X, val_idx, device, "validation split") if len(val_idx) else None
    runs = _start(X, configs, train_idx, device, batches.per_epoch)
    checkpoints = _Checkpoints(checkpoint_dir, configs, X) if checkpoint_dir else None
    if checkpoints is not None:
        checkpoints.resume(runs, device)
    _loop(runs, batches, X_val, checkpoints, callback, first.progress)
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
