"""Every shipped parameter profile is valid against the notebooks (names and parameters)."""

from pathlib import Path

import pytest

from kit.runner import load_params, plan

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("profile", sorted(p.stem for p in (ROOT / "params").glob("*.yaml")))
def test_profile_plans(profile):
    steps = plan(load_params(ROOT / "params" / f"{profile}.yaml"), ROOT)
    assert steps, profile
    assert [s.name for s in steps] == sorted(s.name for s in steps)
