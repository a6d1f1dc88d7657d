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
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def world():
    from kit.planted import make_world

    return make_world(n_samples=800, seed=1)
