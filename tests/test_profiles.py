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


TRAINING = ("batch_size", "epochs", "standardize", "lr", "k")


@pytest.mark.parametrize("profile", ["paper", "paper-coco"])
def test_paper_profiles_carry_the_reference_training_settings(profile):
    """The paper profiles set TrainConfig's defaults (the reference code's settings) in every chapter that trains."""
    from kit.sae import TrainConfig

    defaults = TrainConfig(dict_size=256)
    steps = plan(load_params(ROOT / "params" / f"{profile}.yaml"), ROOT)
    training = [s for s in steps if _trains(s.source)]
    assert len(training) >= 8  # every chapter that trains SAEs declares the training parameters
    for s in training:
        for name in TRAINING:
            assert s.parameters.get(name) == getattr(defaults, name), (s.name, name)


def _trains(notebook: Path) -> bool:
    text = notebook.with_suffix(".py").read_text()
    return "train_cached(" in text or "dictionary_size_study(" in text


def test_every_training_chapter_declares_the_training_parameters():
    from kit.runner import declared_parameters, list_notebooks

    for name, path in list_notebooks(ROOT).items():
        if _trains(path):
            missing = sorted(set(TRAINING) - set(declared_parameters(path)))
            assert not missing, (name, missing)
