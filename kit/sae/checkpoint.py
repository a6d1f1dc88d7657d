"""SAE checkpoints, every file the kit writes for an SAE: a folder with ``weights.safetensors`` and
``config.json`` (no pickle), and ``history.csv`` (the training curves) when the SAE was trained.

A training checkpoint adds ``train_state.safetensors`` (optimizer moments, dead-latent counters, best
weights) and ``train_state.json`` (step, early-stopping state, curves) so a run resumes exactly: the trainer
hands over and gets back a :class:`TrainState`; what the files hold is decided here alone.

    save(sae, "runs/sae"); sae = load("runs/sae")
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from kit._version import __version__
from kit.errors import CheckpointError, KitError
from kit.io import atomic_path, read_folder, read_json, read_text
from kit.sae.baselines import RandomCodes
from kit.sae.config import SAEConfig, TrainConfig
from kit.sae.model import SAE

FORMAT = "kit.sae/1"


def _module_kind(sae) -> str:
    if isinstance(sae, RandomCodes):
        return "random_codes"
    if isinstance(sae, SAE):
        return "sae"
    raise CheckpointError(f"cannot save a {type(sae).__name__}: only kit SAEs (train, from_tensors, from_saelens, "
                          "untrained, random_codes) have a checkpoint format; save a wrapped model with its own "
                          "library")


def _state(sae) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in sae.state_dict().items()}


def _write_sae(sae, folder: Path) -> None:
    """Write weights and config (and history) of ``sae`` into an existing ``folder`` (not atomic; see :func:`save`)."""
    kind = _module_kind(sae)
    doc = {"format": FORMAT, "kit_version": __version__, "module": kind, "config": dataclasses.asdict(sae.config)}
    if kind == "random_codes":
        doc["seed"] = sae.seed
    if getattr(sae, "train_config", None) is not None:
        doc["train_config"] = dataclasses.asdict(sae.train_config)
    save_file(_state(sae), str(folder / "weights.safetensors"))
    (folder / "config.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    if getattr(sae, "history", None) is not None:
        sae.history.to_csv(folder / "history.csv", index=False)


def save(sae, path: str | os.PathLike, replace: bool = True) -> Path:
    """Save ``sae`` (a kit SAE: trained, untrained, random codes, from tensors or SAELens) to the folder ``path``
    atomically; return the path. :func:`load` reads it back.

    replace=False keeps an existing folder (a cache entry another process wrote first)."""
    with atomic_path(path, replace=replace) as tmp:
        tmp.mkdir()
        _write_sae(sae, tmp)
    return Path(path)


def read_config(folder: Path) -> dict:
    """The parsed ``config.json`` of a checkpoint folder (CheckpointError when missing or malformed)."""
    f = folder / "config.json"
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no SAE checkpoint folder here"
                              + (" (it is a file)" if folder.exists() else ""))
    doc = read_json(f, "SAE config", CheckpointError, hint=_AGAIN.format(folder=folder))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "config" not in doc:
        raise CheckpointError(f"{f}: not a kit SAE checkpoint (expected format {FORMAT!r})")
    if not isinstance(doc["config"], dict) or not isinstance(doc.get("train_config", {}), dict):
        raise CheckpointError(f"{f}: 'config' and 'train_config' must be JSON objects" + _AGAIN.format(folder=folder))
    return doc


_AGAIN = "; delete {folder} and train (or save) the SAE again"
# NaN marks a BatchTopK/Matryoshka threshold not yet learned; every other value must be finite
NAN_ALLOWED = {"threshold"}


def load_weights_into(module: torch.nn.Module, file: Path) -> None:
    """Load ``file`` (safetensors) into ``module``; every key and shape must match (CheckpointError)."""
    state = read_tensors(file, "SAE weights", hint=_AGAIN.format(folder=file.parent))
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unknown = sorted(set(state) - set(expected))
    if missing or unknown:
        raise CheckpointError(f"{file}: weights do not match the config (missing {missing}, unexpected {unknown})")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise CheckpointError(f"{file}: weight {k!r} has shape {tuple(v.shape)}, the config implies "
                                  f"{tuple(expected[k].shape)}")
        if v.is_floating_point():
            bad = torch.isinf(v) if k in NAN_ALLOWED else ~torch.isfinite(v)
            if bool(bad.any()):
                where = tuple(int(i) for i in torch.nonzero(bad)[0]) if v.ndim else ()
                raise CheckpointError(f"{file}: weight {k!r} holds a non-finite value ({v[where].item()} at index "
                                      f"{list(where)}); the SAE diverged or the file is damaged"
                                      + _AGAIN.format(folder=file.parent))
    module.load_state_dict(state)


def read_tensors(file: Path, what: str, hint: str = "") -> dict[str, torch.Tensor]:
    """Every tensor of the safetensors ``file``; a missing, truncated or damaged file raises one
    CheckpointError naming it (``hint``: what to do about it)."""
    if not file.is_file():
        raise CheckpointError(f"{file}: the {what} file is missing{hint}")
    try:
        return load_file(str(file))
    except (OSError, SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{file}: cannot read the {what}, the file is truncated or damaged "
                              f"({type(e).__name__}: {e}){hint}") from None


def load(path: str | os.PathLike):
    """Load an SAE saved by :func:`save` (or a training checkpoint folder); a checkpoint replaced while it
    is read (a training writing its next one) is read again, so the SAE comes from one complete checkpoint."""
    return read_folder(path, lambda: _load(Path(path)))


def _load(folder: Path):
    doc = read_config(folder)
    cfg = doc["config"]
    try:
        config = SAEConfig(**cfg)
    except (TypeError, KitError) as e:
        raise CheckpointError(f"{folder / 'config.json'}: invalid SAE config ({e})") from None
    kind = doc.get("module", "sae")
    if kind == "sae":
        sae = SAE(config)
    elif kind == "random_codes":
        sae = RandomCodes(config.d, config.dict_size, config.k, seed=int(doc.get("seed", 0)))
    else:
        raise CheckpointError(f"{folder / 'config.json'}: unknown module kind {kind!r}")
    load_weights_into(sae, folder / "weights.safetensors")
    if "train_config" in doc:
        try:
            sae.train_config = TrainConfig(**doc["train_config"])
        except (TypeError, KitError) as e:
            raise CheckpointError(f"{folder / 'config.json'}: invalid train_config ({e})") from None
    hist = folder / "history.csv"
    if hist.exists():
        sae.history = read_history(hist)
    return sae.eval()


HISTORY_COLUMNS = ["step", "loss", "nmse", "aux", "penalty", "l0", "dead_fraction", "val_nmse", "val_loss"]


def read_history(path: Path):
    """The training curves ``history.csv`` as a DataFrame (numbers; an empty file — a checkpoint written before
    the first logged step — gives no row). A damaged file raises one CheckpointError naming it."""
    import pandas as pd  # here: pandas adds a quarter of a second to importing kit.sae

    hint = f"; delete {path} to load the SAE without its training curves"
    text = read_text(path, "training history", CheckpointError)
    if not text.strip():
        return pd.DataFrame({c: pd.Series([], dtype=float) for c in HISTORY_COLUMNS})
    try:
        df = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise CheckpointError(f"{path}: a damaged training history ({str(e).strip()}){hint}") from None
    if "step" not in df.columns:
        raise CheckpointError(f"{path}: a training history needs a 'step' column, has {list(df.columns)}{hint}")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            bad = pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna()
            if not bad.any():
                df[c] = pd.to_numeric(df[c])
                continue
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise CheckpointError(f"{path}, line {i + 2}: column {c!r} holds {df[c].iloc[i]!r}, not a number{hint}")
    return df


# ---- training checkpoints ----------------------------------------------------------------------------------

TRAIN_STATE_KEYS = ("step", "norm", "best_val", "bad_evals", "stopped", "has_best", "param_groups", "data", "rows")


@dataclass
class TrainState:
    """What a training run holds beside its SAE, so that it resumes exactly.

    step: optimisation steps done; norm: the NMSE normaliser; best_val, bad_evals, stopped: early stopping;
    data: the fingerprint of the training data; rows: the curves so far (one dict per logged step or
    evaluation); optimizer: a ``torch.optim`` state dict (``{"state": {pid: {name: tensor}}, "param_groups"}``);
    dead_counter: int64[D], batches since each latent last fired; best: the best weights kept so far (or None).
    """

    step: int
    norm: float
    best_val: float
    bad_evals: int
    stopped: bool
    data: str
    rows: list[dict]
    optimizer: dict
    dead_counter: torch.Tensor
    best: dict[str, torch.Tensor] | None


def save_training(sae, state: TrainState, folder: Path) -> None:
    """Write the training checkpoint ``folder`` atomically: the SAE's files (:func:`save`) and
    ``train_state.safetensors`` + ``train_state.json``; a checkpoint already there is replaced in one step."""
    tensors = {"dead_counter": state.dead_counter.cpu()}
    for pid, st in state.optimizer["state"].items():
        for key, v in st.items():
            tensors[f"opt.{pid}.{key}"] = v.detach().cpu().contiguous()
    for key, v in (state.best or {}).items():
        tensors[f"best.{key}"] = v.cpu().contiguous()
    doc = {"step": state.step, "norm": state.norm, "best_val": state.best_val, "bad_evals": state.bad_evals,
           "stopped": state.stopped, "has_best": state.best is not None,
           "param_groups": state.optimizer["param_groups"], "data": state.data, "rows": state.rows}
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        _write_sae(sae, tmp)
        save_file(tensors, str(tmp / "train_state.safetensors"))
        (tmp / "train_state.json").write_text(json.dumps(doc), encoding="utf-8")


def has_train_state(folder: Path) -> bool:
    """Whether ``folder`` holds a training checkpoint (to resume)."""
    return (folder / "train_state.json").exists()


def read_training(folder: Path) -> TrainState:
    """The :class:`TrainState` of the training checkpoint ``folder`` (its SAE: :func:`load_weights_into`). A
    missing, damaged or incomplete file raises one CheckpointError naming it and what to do."""
    hint = f"; delete {folder} to train this SAE from the start"
    doc = read_json(folder / "train_state.json", "training state", CheckpointError, hint=hint)
    if not isinstance(doc, dict) or any(k not in doc for k in TRAIN_STATE_KEYS):
        missing = [k for k in TRAIN_STATE_KEYS if k not in doc] if isinstance(doc, dict) else list(TRAIN_STATE_KEYS)
        raise CheckpointError(f"{folder / 'train_state.json'}: not a complete training state (lacks {missing}){hint}")
    tensors = read_tensors(folder / "train_state.safetensors", "training state", hint=hint)
    try:
        opt_state: dict = {}
        for key, v in tensors.items():
            if key.startswith("opt."):
                _, pid, name = key.split(".", 2)
                opt_state.setdefault(int(pid), {})[name] = v
        step = doc["step"]
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ValueError(f"step {step!r} is not a count of steps")
        if not isinstance(doc["rows"], list) or not all(isinstance(r, dict) for r in doc["rows"]):
            raise ValueError("the curves ('rows') are not a list of objects")
        return TrainState(step=step, norm=float(doc["norm"]), best_val=float(doc["best_val"]),
                          bad_evals=int(doc["bad_evals"]), stopped=bool(doc["stopped"]), data=doc["data"],
                          rows=doc["rows"], optimizer={"state": opt_state, "param_groups": doc["param_groups"]},
                          dead_counter=tensors["dead_counter"],
                          best={k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
                          if doc["has_best"] else None)
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{folder}: a damaged training state ({type(e).__name__}: {e}){hint}") from None
