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
