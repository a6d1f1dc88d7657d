"""Execute the book's notebooks with papermill: parameter files, validation, caching.

A parameter file is YAML with these keys (all optional)::

    description: one line saying what the profile is for
    notebooks: [01_matching_by_hand, 05_matching]   # default: every notebook, in order
    parameters: {smoke: false, seed: 0}             # for every notebook that declares them
    notebook_parameters:                            # for one notebook
      05_matching: {beta: 0.25}

Every parameter must be declared in the ``parameters`` cell of a notebook it is sent to; a parameter that
no chosen notebook declares, an unknown notebook name or malformed YAML is an error raised before anything
is written. ``cache_dir`` and ``out_dir`` are filled in by the runner for notebooks that declare them,
relative to the project folder when they lie inside it (so an executed page shows ``cache_dir = ".cache"``, not
the build machine's folders). Paths in parameters are relative to the project folder (:func:`param_path`), and
notebooks run with it as their working folder, as ``papermill notebooks/NN_topic.ipynb out.ipynb`` does there.
Executed copies go to the run folder; the sources are never written. A notebook whose source, parameters
and kit code are unchanged since its last execution into the same folder is not executed again.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from traitlets.config import Config

from kit.cli_args import folder_problem
from kit.errors import ConfigError, KitError
from kit.io import atomic_path, content_hash, read_text, remove_stale

_LOG = logging.getLogger("kit")
TOP_LEVEL_KEYS = {"description", "notebooks", "parameters", "notebook_parameters"}
RUNNER_PARAMETERS = ("cache_dir", "out_dir")


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The project folder (holding ``_toc.yml`` and ``notebooks/``): from ``start`` (default: the working
    folder) upwards, else the folder above the installed ``kit`` package."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents, Path(__file__).resolve().parent.parent):
        if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    raise ConfigError(f"no sae-concept-kit project (a folder with _toc.yml and notebooks/) at or above {here}")


def param_path(value: str | os.PathLike) -> Path | None:
    """A path parameter of a notebook as a path: absolute stays; relative is taken from the project folder
    (:func:`find_root` from the working folder), or from the working folder where no project is found; an
    empty value (the parameter's "not given") is None. So ``cache_dir = ".cache"`` means the project's
    ``.cache/`` whether the notebook runs from ``notebooks/`` in Jupyter or from the root under papermill."""
    if not str(value):
        return None
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    try:
        base = find_root()
    except ConfigError:
        base = Path.cwd()
    return base / path


def _as_parameter(path: Path, root: Path) -> str:
    """A folder the runner passes to a notebook: relative to the project folder when inside it, else absolute."""
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)


def list_notebooks(root: Path) -> dict[str, Path]:
    """Notebook name (``01_matching_by_hand``) → its ``.ipynb`` source, in book order."""
    return {p.stem: p for p in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))}


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The parameters (name → default) of a notebook's ``parameters`` cell."""
    import papermill

    with _papermill_notes(notebook):
        found = papermill.inspect_notebook(str(notebook))
    return {name: info.get("default") for name, info in found.items()}


class _papermill_notes(logging.Handler):
    """While inspecting a notebook, papermill's own warnings (a parameter line it cannot parse) go to the ``kit``
    logger as debug notes naming the notebook (``kit -v`` shows them), not as raw lines on stderr."""

    def __init__(self, notebook: Path):
        super().__init__(logging.WARNING)
        self.notebook = notebook
        self.logger = logging.getLogger("papermill")

    def emit(self, record: logging.LogRecord) -> None:
        _LOG.debug(f"{Path(self.notebook).name}: papermill: {record.getMessage()}")

    def __enter__(self):
        self.saved = self.logger.propagate
        self.logger.addHandler(self)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)
        self.logger.propagate = self.saved


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping (plain safe_load keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys may be overridden on purpose
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base class reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"the key {key!r} appears twice (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def read_yaml_mapping(path: str | os.PathLike, what: str) -> dict:
    """Read a YAML file that must hold a mapping; errors name the file (and line) and say it is a ``what``."""
    path = Path(path)
    text = read_text(path, what, ConfigError)
    try:
        doc = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: malformed YAML{where}: {getattr(e, 'problem', None) or e}") from None
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a {what} must be a YAML mapping, got {type(doc).__name__}")
    return doc


def load_params(path: str | os.PathLike) -> dict:
    """Read and check the shape of a YAML parameter file (not yet against the notebooks)."""
    path = Path(path)
    doc = read_yaml_mapping(path, "parameter file")
    unknown = set(doc) - TOP_LEVEL_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL_KEYS)}")
    for key in ("parameters", "notebook_parameters"):
        if not isinstance(doc.get(key, {}) or {}, dict):
            raise ConfigError(f"{path}: '{key}' must be a mapping")
    nbs = doc.get("notebooks")
    if nbs is not None and not (isinstance(nbs, list) and all(isinstance(n, str) for n in nbs)):
        raise ConfigError(f"{path}: 'notebooks' must be a list of notebook names")
    for name, params in (doc.get("notebook_parameters") or {}).items():
        if not isinstance(params, dict):
            raise ConfigError(f"{path}: notebook_parameters.{name} must be a mapping")
    doc["source"] = str(path)
    return doc


@dataclass
class Step:
    """One notebook to execute with its parameters."""

    name: str
    source: Path
    parameters: dict[str, Any] = field(default_factory=dict)


def plan(doc: dict, root: Path, only: list[str] | None = None, overrides: dict | None = None) -> list[Step]:
    """Check a parameter document against the notebooks; return the steps in book order.

    only: restrict to these notebook names; overrides: parameters for every notebook that declares them (command
    line ``-p``), over the file's ``parameters`` and ``notebook_parameters`` alike.
    """
    available = list_notebooks(root)
    source = doc.get("source", "parameters")
    names = doc.get("notebooks") or list(available)
    if only:
        names = [n for n in names if n in only] + [n for n in only if n not in names]
    unknown = [n for n in names if n not in available]
    unknown += [n for n in (doc.get("notebook_parameters") or {}) if n not in available]
    if unknown:
        raise ConfigError(f"{source}: unknown notebook(s) {sorted(set(unknown))}; known: {sorted(available)}")
    overrides = overrides or {}
    common = {**(doc.get("parameters") or {}), **overrides}
    per = doc.get("notebook_parameters") or {}
    steps, used = [], set()
    for name in sorted(names, key=list(available).index):
        declared = declared_parameters(available[name])
        params = {k: v for k, v in common.items() if k in declared}
        used |= set(params)
        own = per.get(name, {})
        bad = sorted(set(own) - set(declared))
        if bad:
            raise ConfigError(f"{source}: notebook {name} has no parameter(s) {bad}; it declares {sorted(declared)}")
        params.update(own)
        # the command line's -p wins over the file's per-notebook values too
        params.update({k: v for k, v in overrides.items() if k in declared})
        steps.append(Step(name, available[name], params))
    unused = sorted(set(common) - used)
    if unused and only:
        # the file's own parameters may be meant for notebooks that --notebooks left out: only a parameter that
        # none of the file's notebooks declares is an error (a -p override must reach a chosen notebook)
        rest = [n for n in (doc.get("notebooks") or list(available)) if n not in names and n in available]
        elsewhere = set().union(*(declared_parameters(available[n]) for n in rest)) if rest else set()
        unused = sorted(k for k in unused if k in overrides or k not in elsewhere)
    if unused:
        raise ConfigError(f"{source}: no chosen notebook declares the parameter(s) {unused}")
    return steps


def _kit_digest() -> str:
    """A hash of the kit's own source code, so that changed code re-executes the notebooks."""
    return content_hash(*(p.read_bytes() for p in sorted(Path(__file__).resolve().parent.rglob("*.py"))))


def _step_digest(step: Step, kit_digest: str) -> str:
    return content_hash(step.source.read_bytes(), step.parameters, kit_digest)


def execute(steps: list[Step], out_dir: str | os.PathLike, cache_dir: str | os.PathLike,
            kernel: str = "python3", force: bool = False, log=None, progress: bool = False) -> list[Path]:
    """Execute ``steps`` into ``out_dir`` (one executed ``.ipynb`` each); return their paths.

    Each executed notebook is written atomically and stamped with a digest of its inputs; an up-to-date
    one is skipped unless ``force``. A failing notebook stops the run with papermill's error.
    log: where notes go (default: the ``kit`` logger); progress: a bar over the notebooks.
    """
    import nbformat
    import papermill
    from tqdm.auto import tqdm

    log = log or _LOG.info

    out_dir = Path(out_dir).resolve()
    cache_dir = Path(cache_dir).resolve()
    for what, path in (("run folder", out_dir), ("cache folder", cache_dir)):
        problem = folder_problem(path)
        if problem:  # checked for both before either is created
            raise ConfigError(f"{what}: {problem}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(out_dir, recursive=True)  # what an interrupted run was writing
    kit_digest = _kit_digest()
    outputs = []
    bar = tqdm(steps, desc="notebooks", unit="notebook", disable=not progress or not steps)
    try:
        for step in bar:
            bar.set_postfix_str(step.name, refresh=True)
            declared = declared_parameters(step.source)
            params = dict(step.parameters)
            root = find_root(step.source.parent)
            if "cache_dir" in declared:
                params.setdefault("cache_dir", _as_parameter(cache_dir, root))
            if "out_dir" in declared:
                params.setdefault("out_dir", _as_parameter(out_dir / step.name, root))
            target = out_dir / f"{step.name}.ipynb"
            digest = _step_digest(Step(step.name, step.source, params), kit_digest)
            if not force and target.is_file():
                try:
                    stamp = nbformat.read(target, as_version=4).metadata.get("kit", {}).get("digest")
                except Exception as e:  # a damaged executed copy is not up to date: executed again, replaced
                    log(f"{step.name}: the executed copy {target} is unreadable ({type(e).__name__}); executing again")
                    stamp = None
                if stamp == digest:
                    log(f"{step.name}: up to date")
                    outputs.append(target)
                    continue
            log(f"{step.name}: executing with {params}")
            with atomic_path(target) as tmp:
                executed = tmp.with_suffix(".ipynb")
                try:
                    _execute_notebook(step.source, executed, params, kernel, log)
                except papermill.PapermillExecutionError as e:
                    failed = out_dir / f"{step.name}.failed.ipynb"
                    shutil.copy2(executed, failed)
                    raise KitError(f"notebook {step.name} failed in cell {e.exec_count}: {e.ename}: {e.evalue} "
                                   f"(the executed copy up to the error: {failed})") from None
                nb = nbformat.read(executed, as_version=4)
                nb.metadata["kit"] = {"digest": digest, "parameters": params}
                nbformat.write(nb, tmp)
            outputs.append(target)
    finally:
        bar.close()
    return outputs


KERNEL_START_ATTEMPTS = 3


def _execute_notebook(source: Path, executed: Path, params: dict, kernel: str | None, log) -> None:
    """papermill in the project folder, retried when the kernel dies before its first reply: over TCP
    jupyter_client picks free ports, frees them and lets the kernel bind them, so two kernels starting at once
    can race for a port (ZMQ "address already in use"). Nothing has run in that kernel, so running the notebook
    again is safe. The kernel is local, so it talks over Unix sockets where there are any (ZMQ's IPC: no port,
    no unencrypted TCP that ipykernel warns about on the terminal), in a private temporary folder."""
    import papermill

    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        with tempfile.TemporaryDirectory(prefix="kit-kernel-") as sockets:
            channels = {"transport": "tcp"} if os.name == "nt" else {"transport": "ipc", "ip": f"{sockets}/k"}
            try:
                papermill.execute_notebook(str(source), str(executed), parameters=params, kernel_name=kernel,
                                           cwd=str(find_root(source.parent)), progress_bar=False,
                                           config=Config({"KernelManager": channels}))
                return
            except RuntimeError as e:
                if "before replying to kernel_info" not in str(e) or attempt == KERNEL_START_ATTEMPTS:
                    raise
                log(f"{source.stem}: the kernel died while starting ({e}); starting another one")


def build_book(root: Path, executed: list[Path], out_dir: Path, log=None) -> Path:
    """Build the HTML book from the executed notebooks (warnings are errors); return its index.html.

    The book's sources (``_config.yml``, ``_toc.yml``, ``book/``) and the executed notebooks are staged in
    ``out_dir/site_src`` so the notebook sources are never touched; the HTML goes to ``out_dir/html``.
    """
    out_dir = Path(out_dir).resolve()
    stage = out_dir / "site_src"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    shutil.copytree(root / "book", stage / "book")
    (stage / "notebooks").mkdir()
    for nb in executed:
        shutil.copy2(nb, stage / "notebooks" / nb.name)
    html = out_dir / "html"
    jb = Path(sys.executable).with_name("jupyter-book")
    if not jb.is_file():
        raise ConfigError(f"kit book needs Jupyter Book ({jb} not found): pip install 'sae-concept-kit[book]'")
    cmd = [str(jb), "build", str(stage), "--path-output", str(out_dir / "jb"),
           "--builder", "html", "-W", "-n", "--keep-going"]
    (log or _LOG.info)(" ".join(cmd))
    proc = subprocess.run(cmd, cwd=stage, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-8000:] + proc.stderr[-8000:])
        raise ConfigError(f"jupyter-book build failed (exit {proc.returncode}); see the messages above")
    built = out_dir / "jb" / "_build" / "html"
    if html.exists():
        shutil.rmtree(html)
    os.replace(built, html)
    return html / "index.html"
