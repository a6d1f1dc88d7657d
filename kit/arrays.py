"""Small helpers on arrays: conversion, validation, devices.

Validation helpers raise :class:`kit.errors.DataError` with the name of the offending argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kit.errors import ConfigError, DataError


def to_numpy(x: Any) -> np.ndarray:
    """Return ``x`` as a numpy array (torch tensors are moved to the CPU and detached)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def as_bool_matrix(name: str, x: Any) -> np.ndarray:
    """Check that ``x`` is a non-empty 2-D array of 0/1 values; return it as ``bool[N, C]``."""
    a = to_numpy(x)
    if a.ndim != 2:
        raise DataError(f"{name} must be 2-D [samples, columns], got shape {a.shape}")
    if a.size == 0:
        raise DataError(f"{name} is empty (shape {a.shape})")
    if a.dtype == bool:
        return a
    if not (np.issubdtype(a.dtype, np.number)):
        raise DataError(f"{name} must hold 0/1 or booleans, got dtype {a.dtype}")
    bad = ~((a == 0) | (a == 1))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{name} must be binary (0/1); row {r}, column {c} holds {a[r, c]!r}")
    return a.astype(bool)


def as_float_matrix(name: str, x: Any, dtype=np.float32) -> np.ndarray:
    """Check that ``x`` is a non-empty 2-D array of finite numbers; return it as ``dtype[N, d]``."""
    a = to_numpy(x)
    if a.ndim != 2:
        raise DataError(f"{name} must be 2-D [samples, features], got shape {a.shape}")
    if a.size == 0:
        raise DataError(f"{name} is empty (shape {a.shape})")
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise DataError(f"{name} must hold real numbers, got dtype {a.dtype}")
    a = a.astype(dtype, copy=False)
    finite = np.isfinite(a)
    if not finite.all():
        r, c = np.argwhere(~finite)[0]
        raise DataError(f"{name} holds a non-finite value (NaN or inf) at row {r}, column {c}")
    return a


def check_matrix(name: str, x: Any, width: int | None = None, width_of: str = "", chunk: int = 4096) -> np.ndarray:
    """Check that ``x`` is a 2-D array of real numbers (or booleans) without NaN or inf, with ``width`` columns
    when given (``width_of`` says whose width it is, for the message); return it as numpy, not copied.

    The finiteness scan runs over blocks of ``chunk`` rows, so a large float32 matrix is never copied whole.
    """
    a = to_numpy(x)
    if a.ndim != 2:
        raise DataError(f"{name} must be 2-D [samples, features], got shape {a.shape}")
    if a.dtype != bool and (not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a)):
        raise DataError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if width is not None and a.shape[1] != width:
        raise DataError(f"{name} has {a.shape[1]} columns (shape {a.shape}), expected {width}"
                        + (f" ({width_of})" if width_of else ""))
    where = first_non_finite(a, chunk)
    if where is not None:
        r, c = where
        raise DataError(f"{name} holds a non-finite value ({a[r, c]}) at row {r}, column {c}")
    return a


def first_non_finite(a: np.ndarray, chunk: int = 1 << 16) -> tuple[int, int] | None:
    """(row, column) of the first NaN or inf of a 2-D array, scanned ``chunk`` rows at a time; None if none."""
    if not np.issubdtype(a.dtype, np.floating):
        return None
    for r0 in range(0, a.shape[0], chunk):
        bad = ~np.isfinite(a[r0:r0 + chunk])
        if bad.any():
            r, c = np.argwhere(bad)[0]
            return int(r0 + r), int(c)
    return None


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int ≥ 1 (bools and non-integral numbers refused); ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be an integer ≥ 1, got {value!r}")
    return int(value)


def check_unique(name: str, values: Any) -> np.ndarray:
    """Check that ``values`` has no duplicate; return it as a 1-D array."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {a.shape}")
    uniq, counts = np.unique(a, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][0]
        dup = dup.item() if isinstance(dup, np.generic) else dup
        raise DataError(f"{name} holds the duplicate value {dup!r} ({counts[counts > 1][0]} times)")
    return a


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is present, else ``"cpu"``; other names are checked and returned."""
    import torch  # here: the rest of kit.arrays (and what stands on it) imports without torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} was asked for but no CUDA GPU is available; use device='auto' or 'cpu'")
    try:
        torch.device(device)
    except RuntimeError as e:
        raise ConfigError(f"device={device!r} is not a valid torch device: {e}") from None
    return device
