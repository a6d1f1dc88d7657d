"""Shared fixtures: the project root and a small planted world."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def world():
    from kit.planted import make_world

    return make_world(n_samples=800, seed=1)
