"""Parameter sweeps: one notebook executed over a grid, locally in parallel processes or on Slurm.

A grid file is YAML::

    notebook: 09_dictionary_size       # the notebook executed once per grid cell
    parameters: {smoke: false}         # the same for every cell
    grid:                              # the cartesian product of these lists
      family: [topk, batchtopk]
      dict_size: [128, 256, 512]
      seed: [0, 1, 2]
    executor: local                    # or slurm (through submitit)
    workers: 2                         # local parallel processes
    slurm: {timeout_min: 60, gpus_per_node: 1}   # submitit parameters, for executor: slurm
                                                 # (cluster: debug runs the same jobs in this process)

Each cell runs into ``OUT/cells/<cell>/``; a notebook that declares ``out_dir`` writes its results file(s)
(``*.json`` in the kit's results format) there. ``OUT/status.json`` records every cell as done or failed (with
the error); running the sweep again skips the cells that are done and retries the others. At the end the
results of all done cells are gathered into one tidy table, ``OUT/results.csv`` and ``OUT/results.json``
(with the grid as configuration), each row carrying its cell's grid parameters.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.cli_args import (HelpFormatter, check_folder, check_kernel, existing_file, folder, folder_problem, plain,
                          positive_int, show_progress)
from kit.errors import CheckpointError, ConfigError, KitError
from kit.io import atomic_path, read_json, remove_stale, write_text
from kit.results import load_results, save_results
from kit.runner import Step, declared_parameters, execute, find_root, list_notebooks, read_yaml_mapping

GRID_KEYS = {"notebook", "parameters", "grid", "executor", "workers", "slurm", "description"}


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its id (a readable slug) and its parameters."""

    id: str
    parameters: dict


def _slug(params: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in params.items()).replace("/", "_").replace(" ", "")


def load_grid(path: str | os.PathLike) -> dict:
    """Read and check a grid file."""
    path = Path(path)
    doc = read_yaml_mapping(path, "grid file")
    unknown = set(doc) - GRID_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(GRID_KEYS)}")
    if not isinstance(doc.get("notebook"), str):
        raise ConfigError(f"{path}: 'notebook' must name one notebook")
    grid = doc.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{path}: 'grid' must map parameter names to lists of values")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: grid.{name} must be a non-empty list")
    if doc.get("executor", "local") not in ("local", "slurm"):
        raise ConfigError(f"{path}: executor must be 'local' or 'slurm', got {doc['executor']!r}")
    workers = doc.get("workers", 1)
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"{path}: workers must be a positive integer, got {workers!r}")
    doc["source"] = str(path)
    return doc


def cells(doc: dict) -> list[Cell]:
    """The grid's cells in a fixed order (the cartesian product, first key slowest)."""
    grid = doc["grid"]
    names = list(grid)
    out = []
    for values in itertools.product(*(grid[n] for n in names)):
        params = dict(zip(names, values))
        out.append(Cell(_slug(params), {**(doc.get("parameters") or {}), **params}))
    return out


def _run_cell(root: str, notebook: str, cell: Cell, out: str, cache: str, kernel: str) -> tuple[str, str | None]:
    """Execute one cell (in a worker process); return (cell id, error or None)."""
    try:
        step = Step(notebook, list_notebooks(Path(root))[notebook], dict(cell.parameters))
        cell_dir = Path(out) / "cells" / cell.id
        execute([step], cell_dir, cache, kernel=kernel, log=lambda *_: None)
        return cell.id, None
    except Exception as e:  # recorded in status.json, the sweep goes on
        return cell.id, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"


def _check(doc: dict, root: Path) -> list[Cell]:
    available = list_notebooks(root)
    if doc["notebook"] not in available:
        raise ConfigError(f"{doc['source']}: unknown notebook {doc['notebook']!r}; known: {sorted(available)}")
    if doc.get("executor", "local") == "slurm" and importlib.util.find_spec("submitit") is None:
        raise ConfigError(f"{doc['source']}: executor: slurm needs submitit (pip install 'sae-concept-kit[extras]')")
    declared = declared_parameters(available[doc["notebook"]])
    grid_cells = cells(doc)
    bad = sorted(set(grid_cells[0].parameters) - set(declared))
    if bad:
        raise ConfigError(f"{doc['source']}: notebook {doc['notebook']} has no parameter(s) {bad}")
    return grid_cells


def run_sweep(doc: dict, root: Path, out: Path, cache: Path, kernel: str = "python3", log=None,
              progress: bool = False):
    """Execute every cell not yet done; gather the results. Returns the results DataFrame.

    log: where notes go (default: the ``kit`` logger); progress: a bar over the cells."""
    from tqdm.auto import tqdm

    log = log or logging.getLogger("kit").info
    grid_cells = _check(doc, root)
    out = Path(out).resolve()
    for what, path in (("sweep folder", out), ("cache folder", Path(cache).resolve())):
        problem = folder_problem(path)
        if problem:  # before anything is created
            raise ConfigError(f"{what}: {problem}")
    status_path = out / "status.json"
    status = read_status(status_path) if status_path.exists() else {}
    out.mkdir(parents=True, exist_ok=True)
    remove_stale(out, recursive=True)  # what interrupted cells were writing (live workers' writes are kept)
    # a cell is done when its status says so and its folder is there (a deleted folder is run again)
    todo = [c for c in grid_cells
            if status.get(c.id, {}).get("state") != "done" or not (out / "cells" / c.id).is_dir()]
    log(f"sweep {doc['notebook']}: {len(grid_cells)} cells, {len(grid_cells) - len(todo)} done, {len(todo)} to run")
    args = [(str(root), doc["notebook"], c, str(out), str(cache), kernel) for c in todo]
    with tqdm(total=len(args), desc="sweep cells", unit="cell", disable=not progress or not args) as bar:
        for i, (cell_id, error) in enumerate(_results(args, doc, out), 1):
            # recorded as each cell ends, so an interrupted sweep resumes from what finished
            status[cell_id] = {"state": "failed", "error": error} if error else {"state": "done"}
            write_text(status_path, json.dumps(status, indent=1))
            bar.update(1)
            (logging.getLogger("kit").warning if error else log)(
                f"{i}/{len(args)} {cell_id}: {'FAILED' if error else 'done'}")
    table = gather(out, grid_cells, status, doc)
    failed = [c for c, s in status.items() if s["state"] != "done"]
    if failed:
        logging.getLogger("kit").warning(f"{len(failed)} cell(s) failed (see {status_path}); run the sweep again "
                                         "to retry them")
    return table


def read_status(path: Path) -> dict:
    """The sweep's ``status.json`` (cell id → {"state": "done" | "failed", ...}); a damaged one raises one
    CheckpointError naming it and what to do."""
    hint = (f"; delete {path} and run the sweep again (cells whose notebooks are up to date are not executed "
            "again)")
    status = read_json(path, "sweep status file", CheckpointError, hint=hint)
    if not isinstance(status, dict):
        raise CheckpointError(f"{path}: a sweep status file holds one JSON object, got {type(status).__name__}{hint}")
    for cell, entry in status.items():
        if not isinstance(entry, dict) or entry.get("state") not in ("done", "failed"):
            raise CheckpointError(f"{path}: cell {cell!r} has no state 'done' or 'failed' ({entry!r:.60}){hint}")
    return status


def _results(args: list[tuple], doc: dict, out: Path):
    """(cell id, error) for each cell, yielded as the cells finish."""
    if doc.get("executor", "local") == "slurm":
        yield from _run_slurm(args, out, doc.get("slurm") or {})
    elif doc.get("workers", 1) > 1 and len(args) > 1:
        with ProcessPoolExecutor(max_workers=doc["workers"]) as pool:
            futures = [pool.submit(_run_cell, *a) for a in args]
            for future in as_completed(futures):
                yield future.result()
    else:
        for a in args:
            yield _run_cell(*a)


def _run_slurm(args: list[tuple], out: Path, slurm: dict[str, Any]):
    import submitit

    slurm = dict(slurm)
    # cluster: None picks Slurm when available; "local" or "debug" run the same jobs on this machine
    executor = submitit.AutoExecutor(folder=str(out / "slurm"), cluster=slurm.pop("cluster", None))
    executor.update_parameters(**slurm)
    jobs = executor.map_array(_run_cell, *zip(*args)) if args else []
    for a, job in zip(args, jobs):
        try:
            yield job.result()
        except Exception as e:  # the job itself died (killed, preempted, out of time or memory): the cell failed
            yield a[2].id, (f"{type(e).__name__}: the job {job.job_id} ended without a result "
                            f"({str(e).strip().splitlines()[0][:300] if str(e).strip() else 'no message'}); "
                            f"its logs are in {out / 'slurm'}")


def gather(out: Path, grid_cells: list[Cell], status: dict, doc: dict):
    """One tidy table of every done cell's results files, with the cell's grid parameters as columns."""
    import pandas as pd

    frames = []
    for cell in grid_cells:
        if status.get(cell.id, {}).get("state") != "done":
            continue
        for path in sorted((out / "cells" / cell.id).rglob("*.json")):
            try:
                read_json(path, "results file", unique_keys=False)
            except KitError as e:  # a damaged file: said, not silently left out of the table
                logging.getLogger("kit").warning(f"{e}; its rows are left out of the table (delete "
                                                 f"{out / 'cells' / cell.id} and run the sweep again to redo "
                                                 "the cell)")
                continue
            try:
                df, _ = load_results(path)
            except KitError:
                continue  # not a results file
            for k, v in cell.parameters.items():
                if k not in df.columns:
                    df[k] = v
            df["cell"] = cell.id
            frames.append(df)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    with atomic_path(out / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    save_results(out / "results.json", table.to_dict("records"),
                 {k: v for k, v in doc.items() if k != "source"} | {"grid_file": doc["source"]})
    return table


def cmd_sweep(args) -> int:
    root = find_root()
    out = check_folder(args.out if args.out else root / "runs" / f"sweep-{Path(args.grid).stem}", "--out")
    cache = check_folder(args.cache_dir if args.cache_dir else root / ".cache", "--cache-dir")
    check_kernel(args.kernel)
    doc = load_grid(args.grid)
    if args.workers is not None:
        doc["workers"] = args.workers
    table = run_sweep(doc, root, out, cache, kernel=args.kernel, progress=show_progress())
    logging.getLogger("kit").info(f"{len(table)} result rows")
    print(out / "results.csv")
    status = read_status(out / "status.json") if (out / "status.json").exists() else {}
    return 1 if any(s["state"] != "done" for s in status.values()) else 0


def register(subparsers) -> None:
    """Add ``kit sweep GRID.yaml``."""
    p = subparsers.add_parser("sweep", help="execute one notebook over a parameter grid (local processes or Slurm)",
                              description=plain(__doc__.split("\n\n")[0]) + "\n\nA grid file:\n\n"
                              + "\n".join(__doc__.split("::\n\n", 1)[1].split("\n\n")[0].splitlines()),
                              formatter_class=HelpFormatter)
    p.add_argument("grid", metavar="GRID.yaml", type=existing_file, help="the grid file")
    p.add_argument("--out", metavar="DIR", type=folder, help="sweep folder (default: runs/sweep-<grid name>/)")
    p.add_argument("--cache-dir", metavar="DIR", type=folder, help="shared cache (default: .cache/)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="local parallel processes (default: the grid file's workers, else 1)")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    p.set_defaults(func=cmd_sweep)
