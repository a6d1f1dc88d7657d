"""The command line: help, one-line errors with nothing written, runs that execute and cache."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


def kit(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "kit", *args], cwd=cwd, capture_output=True, text=True)


def test_help_explains_run_and_book():
    r = kit("--help")
    assert r.returncode == 0
    assert "run" in r.stdout and "book" in r.stdout and "papermill" in r.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ("parameters: {no_such_parameter: 1}\n", "no chosen notebook declares the parameter(s) ['no_such_parameter']"),
        ("notebooks: [99_nothing]\n", "unknown notebook(s) ['99_nothing']"),
        ("parameters: [1, 2\n", "malformed YAML"),
        ("surprise: 1\n", "unknown key(s) ['surprise']"),
        ("notebook_parameters: {01_matching_by_hand: {gamma: 2}}\n", "has no parameter(s) ['gamma']"),
    ],
)
def test_bad_parameter_files_fail_in_one_line_and_write_nothing(tmp_path, content, message):
    params = tmp_path / "p.yaml"
    params.write_text(content)
    out = tmp_path / "run"
    r = kit("run", "--params", str(params), "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kit: error:") and message in lines[0], r.stderr
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_unknown_profile_and_missing_file(tmp_path):
    r = kit("run", "--profile", "nope")
    assert r.returncode == 2 and "unknown profile 'nope'" in r.stderr
    r = kit("run", "--params", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "missing.yaml" in r.stderr


def test_run_executes_into_the_run_folder_and_skips_up_to_date(tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ("run", "--profile", "smoke", "--notebooks", "01_matching_by_hand", "--out", str(out),
            "--cache-dir", str(cache), "-p", "seed=3")
    r = kit(*args)
    assert r.returncode == 0, r.stderr
    nb = nbformat.read(out / "01_matching_by_hand.ipynb", as_version=4)
    assert nb.metadata["kit"]["parameters"]["seed"] == 3
    assert any(c.outputs for c in nb.cells if c.cell_type == "code")
    src = ROOT / "notebooks" / "01_matching_by_hand.ipynb"
    assert all(not c.get("outputs") for c in nbformat.read(src, as_version=4).cells)
    again = kit(*args)
    assert again.returncode == 0 and "up to date" in again.stderr and again.stdout.strip() == str(out.resolve())


def test_a_kernel_that_dies_while_starting_is_started_again(tmp_path, monkeypatch):
    import papermill

    from kit import runner

    calls = []

    def flaky(source, executed, **kwargs):
        calls.append(source)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        Path(executed).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    logged = []
    runner._execute_notebook(Path("nb.ipynb"), tmp_path / "out.ipynb", {}, None, logged.append)
    assert len(calls) == 2 and (tmp_path / "out.ipynb").is_file() and "starting another one" in logged[0]

    def always(source, executed, **kwargs):
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", always)
    with pytest.raises(RuntimeError, match="kernel_info"):
        runner._execute_notebook(Path("nb.ipynb"), tmp_path / "out.ipynb", {}, None, logged.append)

    def other(source, executed, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(papermill, "execute_notebook", other)
    with pytest.raises(RuntimeError, match="something else"):  # not retried
        runner._execute_notebook(Path("nb.ipynb"), tmp_path / "out.ipynb", {}, None, logged.append)
