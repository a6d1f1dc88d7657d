"""Shared fixtures: the project root and a small planted world."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _global_generators_seeded():
    """A test that draws from torch's or numpy's global generator draws the same numbers whichever tests ran
    before it in its worker (a test's outcome never depends on the order of the suite)."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One cache folder for all workers, so notebooks share rendered benchmarks and trained models."""
    path = tmp_path_factory.getbasetemp().parent / "kit-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, request) -> Path:
    """The folder ``kit book --profile smoke`` builds into, one for all workers of this test session (under
    xdist the workers' temporary folders share a parent made for the session; without it, the session's own).
    The notebook tests execute into its ``notebooks/`` with the book's parameters, so each smoke execution
    serves both the notebook's test and the book (the runner skips an up-to-date executed notebook)."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if hasattr(request.config, "workerinput") else base) / "smoke-book"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def world():
    from kit.planted import make_world

    return make_world(n_samples=800, seed=1)
