"""A dress rehearsal of the paper profile: every chapter with ``params/paper.yaml`` through the real code paths
(``kit run``, the Hub cache with ``HF_HUB_OFFLINE=1``, the official CUB-200-2011 and COCO 2017 layouts, open_clip
and transformers loading random weights of small configurations), on tiny data the test builds
(:mod:`fixtures_official`). Only sizes are overridden on the command line; the encoder is a tiny ViT CLIP in
open_clip's Hub format (a ViT-L/14 with random weights would take the suite's whole budget on a CPU), resolved
through the same cache lookup as ``open_clip:ViT-L-14/openai`` (which, not cached, fails fast naming itself:
tests/test_embed_local.py). Beyond one machine: embedding through ``accelerate launch`` with two processes writes the
same cache, byte for byte, as one process; a sweep through submitit's local executor resumes after a killed cell.

Select with ``pytest -m rehearsal``; it runs in the ordinary suite too (about eight minutes of one core).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from fixtures_official import build_world, offline_env

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TINY_CLIP = "open_clip:hf-hub:kit-rehearsal/tiny-clip"
# sizes only: the toy benchmarks some chapters render beside the Hub one, the grids of chapters 09 and 11, the
# bootstrap, the training epochs (early stopping still decides), the planted world of chapter 10
SIZES = ["n_pairs=40", "n_images=80", "sizes=[64, 128]", "seeds=[0, 1]", "dict_size=64", "epochs=8",
         "n_boot=50", "n_samples=1200", "steps=[10, 60]", "dict_sizes=[32, 64]", "sparsity_variants=[4]",
         "n_planted_pairs=200", "n_random_latents=512", "aux_dict_size=256", "n_tsne=60", "n_cache_demo=16"]

pytestmark = pytest.mark.rehearsal


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"))


def _run(args: list[str], env: dict, timeout: int, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    r = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (f"{' '.join(args[:4])} … failed ({r.returncode}):\n{r.stdout[-2000:]}\n"
                               f"{r.stderr[-6000:]}")
    return r


def _declared_sizes(names: list[str]) -> list[str]:
    """The SIZES some chosen notebook declares (kit run refuses a parameter no notebook declares)."""
    from kit.runner import declared_parameters, list_notebooks

    declared = set().union(*(declared_parameters(p) for n, p in list_notebooks(ROOT).items() if n in names))
    return [s for s in SIZES if s.split("=", 1)[0] in declared]


def _check_run(out: Path, names: list[str]) -> None:
    for name in names:
        nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.output_type == "error"]
        assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"


def test_every_chapter_with_the_paper_profile(world, tmp_path):
    from kit.runner import list_notebooks

    names = list(list_notebooks(ROOT))
    overrides = [f"concepts_dir={world['cub']}", f"encoder={TINY_CLIP}", *_declared_sizes(names)]
    env = offline_env(world)
    out, cache = tmp_path / "run", tmp_path / "cache"
    _run([sys.executable, "-m", "kit", "-v", "run", "--profile", "paper", "--out", str(out), "--cache-dir",
          str(cache), *[a for o in overrides for a in ("-p", o)]], env, timeout=1500)
    _check_run(out, names)
    executed = nbformat.read(out / "00_quickstart.ipynb", as_version=4).metadata["kit"]["parameters"]
    assert executed["benchmark"] == "syncub" and executed["k"] == 32  # the profile's own settings reached it
    entries = list((cache / "embeddings").glob("open_clip_hf-hub_kit-rehearsal_tiny-clip-*/provenance.json"))
    assert entries and all(json.loads(p.read_text())["encoder"] == TINY_CLIP for p in entries)
    assert not world["sentinel"].exists(), "a dataset's loading script ran"


def test_the_coco_profile_and_dinov2_by_their_hub_names(world, tmp_path):
    """``params/paper-coco.yaml`` (synCOCO at its pinned revision, COCO 2017's train+val protocol) and the
    DINOv2 backbone the profiles name, ``dinov2:facebook/dinov2-small``, resolved from the cache."""
    names = ["00_quickstart", "06_tapascore"]
    overrides = [f"concepts_dir={world['coco']}", "encoder=dinov2:facebook/dinov2-small", *_declared_sizes(names)]
    out = tmp_path / "run"
    _run([sys.executable, "-m", "kit", "run", "--profile", "paper-coco", "--notebooks", ",".join(names), "--out",
          str(out), "--cache-dir", str(tmp_path / "cache"), *[a for o in overrides for a in ("-p", o)]],
         offline_env(world), timeout=900)
    _check_run(out, names)
    entries = list((tmp_path / "cache" / "embeddings").glob("dinov2_facebook_dinov2-small-*/provenance.json"))
    assert entries and json.loads(entries[0].read_text())["checkpoint"]["commit"]
    assert not world["sentinel"].exists()


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_accelerate_two_processes_write_the_same_cache_byte_for_byte(world, tmp_path):
    """The multi-GPU path (``accelerate launch -m kit.embed``), with two CPU processes, against one process."""
    if shutil.which("accelerate", path=str(BIN)) is None:
        pytest.skip("accelerate is not installed (pip install 'sae-concept-kit[extras]')")
    args = ["--benchmark", "syncub", "--encoder", TINY_CLIP, "--shard-size", "5", "--batch-size", "3",
            "--num-workers", "0"]
    env = offline_env(world, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")  # CPU processes, on a GPU machine too
    _run([sys.executable, "-m", "kit.embed", "-q", *args, "--cache-dir", str(tmp_path / "one")], env, timeout=300)
    # --multi_gpu is torchrun underneath and runs on CPUs too; `accelerate launch --cpu --num_processes 2` runs ONE
    # process (accelerate's simple launcher), so it would rehearse nothing
    r = _run([str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "kit.embed", "-v", *args, "--cache-dir",
              str(tmp_path / "two")], env, timeout=300)
    assert "process 1 of 2" in r.stderr and "process 2 of 2" in r.stderr, r.stderr[-3000:]
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert len([k for k in one if k.endswith(".arrow")]) == 2 * 5  # 24 pairs: 5 shards of originals, 5 of edits
    assert one == two


SQUARE = '''# %% tags=["parameters"]
smoke = False
x = 1
flag = ""
out_dir = "."

# %%
import os
import signal
from pathlib import Path
from kit.results import ResultRow, save_results
if x == 3 and not Path(flag).exists():
    Path(flag).touch()
    os.kill(os.getppid(), signal.SIGKILL)  # the job's process dies, as when Slurm kills or preempts a job
    os._exit(1)
save_results(Path(out_dir) / "r.json", [ResultRow("d", "e", "s", "mse", float(x * x), dict_size=8)], {"x": x})
'''


def test_a_submitit_sweep_resumes_after_a_killed_cell(tmp_path):
    pytest.importorskip("submitit")
    from kit.sweep import load_grid, read_status, run_sweep

    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: x\n")
    (tmp_path / "notebooks").mkdir()
    nb = jupytext.reads(SQUARE, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, tmp_path / "notebooks" / "00_square.ipynb")
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"notebook: 00_square\nparameters: {{flag: '{tmp_path / 'flag'}'}}\ngrid: {{x: [1, 2, 3]}}\n"
                    "executor: slurm\nslurm: {cluster: local, timeout_min: 10}\n")
    out = tmp_path / "sweep"
    table = run_sweep(load_grid(grid), tmp_path, out, tmp_path / "cache", log=lambda *_: None)
    status = read_status(out / "status.json")
    assert sorted(table.value) == [1.0, 4.0]
    assert status["x=3"]["state"] == "failed" and "ended without a result" in status["x=3"]["error"]
    assert {status["x=1"]["state"], status["x=2"]["state"]} == {"done"}
    stamps = {c: (out / "cells" / c / "00_square.ipynb").stat().st_mtime_ns for c in ("x=1", "x=2")}
    table = run_sweep(load_grid(grid), tmp_path, out, tmp_path / "cache", log=lambda *_: None)
    assert sorted(table.value) == [1.0, 4.0, 9.0]
    assert all(s["state"] == "done" for s in read_status(out / "status.json").values())
    assert {c: (out / "cells" / c / "00_square.ipynb").stat().st_mtime_ns for c in stamps} == stamps  # not rerun
    assert os.path.isdir(out / "slurm")
