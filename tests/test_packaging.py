"""A plain (not editable) install gives a working kit: the wheel holds the card templates, the assets and the
py.typed it declares, and ``kit publish``'s templates are found outside the repository (issue 16, family 6)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "kit", src / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(out)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {r.stderr[-400:]}")
    return next(out.glob("*.whl"))


def test_the_wheel_holds_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for card in ("syncub", "syncoco", "toy-syncub", "toy-syncoco"):
        assert f"kit/data/card_templates/{card}/README.md" in names
        assert (ROOT / "data_cards" / card / "README.md").is_file()  # the repository's path to them
    assert "kit/py.typed" in names and "kit/assets/toy_encoder.safetensors" in names
    assert not any(n.startswith(("tests/", "notebooks/", "data_cards/")) for n in names)


def test_an_installed_kit_finds_its_card_templates(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # what installing a pure-Python wheel puts in site-packages
    code = ("import kit.data.cards as c, pathlib; p = pathlib.Path(c.CARDS_DIR); "
            "assert str(p).startswith(%r), p; "
            "print(sorted(q.name for q in p.iterdir() if (q / 'README.md').is_file()))" % str(site))
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['syncoco', 'syncub', 'toy-syncoco', 'toy-syncub']"


def test_declared_lower_bounds_are_the_tested_ones():
    """Every core dependency has a lower bound in the major version this suite runs on (the bounds are raised to
    what is tested rather than left at versions no test installs); Jupyter Book sits in the book extra."""
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        req = Requirement(text)
        lows = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert lows, f"{req.name} has no lower bound"
        installed = Version(version(req.name))
        assert installed in req.specifier, (req.name, installed)
        assert lows[0].major == installed.major, f"{req.name}>={lows[0]} is below the tested {installed}"
    names = {Requirement(t).name for t in project["dependencies"]}
    assert "jupyter-book" not in names and any("jupyter-book" in t for t in project["optional-dependencies"]["book"])
    assert "playwright" not in names and "diffusers" not in names
    assert "'.[test,book]'" in (ROOT / "Makefile").read_text()  # make test and make book still set everything up
