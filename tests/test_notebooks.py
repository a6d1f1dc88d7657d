"""Every notebook: paired with its py:percent source, committed without outputs, parameterised, and it runs.

The execution test runs each notebook with papermill and the smoke profile (params/smoke.yaml) into a
temporary folder (the sources are never written), and reads its outputs as a reader of the book would: no
warning, no stderr, no Python repr where a figure or table belongs, no progress bar, no folder of the machine.
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
NAMES = [p.stem for p in SOURCES]


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_are_notebooks():
    assert "01_matching_by_hand" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_pair_is_in_sync(name):
    py = ROOT / "notebooks" / f"{name}.py"
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing: run `make notebooks`"
    assert _cells(jupytext.read(py)) == _cells(nbformat.read(ipynb, as_version=4)), (
        f"{name}.ipynb is out of sync with {name}.py: run `make notebooks`")


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("name", NAMES)
def test_first_code_cell_holds_the_parameters(name):
    nb = jupytext.read(ROOT / "notebooks" / f"{name}.py")
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    assert "smoke" in first.source


@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_with_smoke_parameters(name, smoke_book, shared_cache):
    from kit.runner import execute, load_params, plan

    steps = plan(load_params(ROOT / "params" / "smoke.yaml"), ROOT, only=[name])
    [out] = execute(steps, smoke_book / "notebooks", shared_cache, log=lambda *_: None)  # as `kit book` does
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any(c.outputs for c in nb.cells if c.cell_type == "code"), "the executed notebook shows no output"
    problems = page_noise(nb, [smoke_book, shared_cache, ROOT, tempfile.gettempdir()])
    assert not problems, f"{name}: what a reader would see in the outputs:\n" + "\n".join(problems)


# What no output of an executed notebook may show. A figure's display carries a ``<Figure size …>`` text/plain
# beside its image (the page shows the image), so a repr counts only where it is all there is to show.
WARNING = re.compile(r"\w*Warning\b|\bWARNING\b")
REPR = re.compile(r"^Text\(|<Axes|<Figure|<matplotlib|<seaborn|object at 0x[0-9a-f]+", re.M)
PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+(\.\d+)?[kM]?/\d+|\[\d\d:\d\d<")
RICH = ("image/png", "image/svg+xml", "image/jpeg", "text/html", "text/markdown", "text/latex")
WIDGET = "application/vnd.jupyter.widget-view+json"


def page_noise(nb, folders) -> list[str]:
    """The outputs of an executed notebook that do not belong on a page of the book, one line each."""
    paths = [re.compile(re.escape(str(Path(f).resolve()) if Path(f).exists() else str(f)) + r"(?![\w.-])")
             for f in folders if str(f) not in ("", "/")]
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            where = f"cell {i} ({out.output_type})"
            if out.output_type == "stream":
                texts, plain = [out.text], out.text
                if out.name == "stderr":
                    found.append(f"{where}: writes to stderr: {out.text.strip()[:200]!r}")
            elif out.output_type in ("execute_result", "display_data"):
                data = out.get("data", {})
                if WIDGET in data:
                    found.append(f"{where}: a widget (needs JavaScript the book does not load)")
                texts = [str(v) for k, v in data.items() if k.startswith("text/")]
                plain = "" if any(k in data for k in RICH) else str(data.get("text/plain", ""))
            else:
                continue
            if REPR.search(plain):
                found.append(f"{where}: a Python repr: {REPR.search(plain).group(0)!r} in {plain.strip()[:120]!r}")
            for text in texts:
                for what, pattern in (("a warning", WARNING), ("a progress bar", PROGRESS_BAR), *(
                        ("a folder of this machine", p) for p in paths)):
                    m = pattern.search(text)
                    if m:
                        line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0]
                        found.append(f"{where}: {what}: {line.strip()[:200]!r}")
    return found


def test_page_noise_finds_what_a_reader_should_not_see():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    out = nbformat.v4.new_output

    def noise(*outputs, folders=("/opt/build",)):
        nb.cells[0].outputs = list(outputs)
        return page_noise(nb, folders)

    assert noise(out("stream", name="stdout", text="3000 images, 62 concepts\n"),
                 out("display_data", data={"text/plain": "<Figure size 640x480 with 1 Axes>", "image/png": "iVBOR"}),
                 out("execute_result", data={"text/plain": "   a  b\n0  1  2", "text/html": "<table/>"},
                     execution_count=1)) == []
    assert "stderr" in noise(out("stream", name="stderr", text="note\n"))[0]
    assert "warning" in noise(out("stream", name="stdout", text="x.py:3: UserWarning: careful\n"))[0]
    assert "repr" in noise(out("execute_result", data={"text/plain": "Text(0.5, 1.0, 'F1')"}, execution_count=1))[0]
    assert "repr" in noise(out("execute_result", data={"text/plain": "<Axes: xlabel='k'>"}, execution_count=1))[0]
    assert "progress bar" in noise(out("stream", name="stdout",
                                       text="train SAE:  40%|####      | 2/5 [00:01<00:02,  1.5step/s]\n"))[0]
    assert "widget" in noise(out("display_data", data={WIDGET: {}, "text/plain": "0%"}))[0]
    assert "folder" in noise(out("stream", name="stdout", text="wrote /opt/build/run/05.json\n"))[0]
    assert noise(out("stream", name="stdout", text="wrote /opt/buildings.json\n")) == []


def test_path_parameters_resolve_from_the_project_folder(tmp_path, monkeypatch):
    from kit.runner import find_root, param_path

    monkeypatch.chdir(ROOT / "notebooks")
    in_notebooks = param_path(".cache")
    monkeypatch.chdir(ROOT)
    assert in_notebooks == param_path(".cache") == ROOT / ".cache"
    assert param_path(tmp_path / "x") == tmp_path / "x"
    assert param_path("") is None
    monkeypatch.chdir(tmp_path)  # no project here: the one the kit is installed in, else the working folder
    try:
        base = find_root()
    except Exception:
        base = tmp_path
    assert param_path("data/cub") == base / "data" / "cub"


def test_the_runner_passes_folders_inside_the_project_relative_and_runs_there_quietly(tmp_path):
    """A one-notebook project: cache and run folders inside it reach the notebook relative to it, the notebook runs
    with the project as its working folder, and the kernel says nothing on the terminal."""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    cells = [nbformat.v4.new_code_cell('smoke = False\ncache_dir = ".cache"\nout_dir = ""',
                                       metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("import os\nprint(cache_dir, out_dir, os.getcwd())")]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, project / "notebooks" / "00_where.ipynb")
    script = ("import sys; from pathlib import Path; from kit.runner import execute, list_notebooks, Step; "
              "p = Path(sys.argv[1]); "
              "execute([Step('00_where', list_notebooks(p)['00_where'])], p / 'runs', p / '.cache', log=print)")
    run = subprocess.run([sys.executable, "-c", script, str(project)], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONWARNINGS": ""})
    assert run.returncode == 0, run.stderr
    assert "WARNING" not in run.stderr and "encryption" not in run.stderr, run.stderr
    executed = nbformat.read(project / "runs" / "00_where.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'cache_dir = ".cache"' in injected.source and 'out_dir = "runs/00_where"' in injected.source
    assert str(tmp_path) not in injected.source
    printed = executed.cells[-1].outputs[0].text.split()
    assert printed == [".cache", "runs/00_where", str(project.resolve())]
