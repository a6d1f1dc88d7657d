"""Interrupted jobs leave nothing behind: a write killed half-way leaves a temporary named for its process; the next
run of the job removes the temporaries it can prove dead, and only those; replacing a checkpoint leaves a complete
checkpoint under its name at every moment."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import kit.io as io

WRITER = """
import sys, time
from pathlib import Path
from kit.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.mkdir()
    (tmp / "weights.safetensors").write_bytes(b"half a checkpoint")
    print("writing", flush=True)
    time.sleep(60)
"""


def _writer(path: Path) -> subprocess.Popen:
    """A process inside atomic_path(path), half-way through its write (it waits there)."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.stdout.readline().strip() == "writing"
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temporary(folder: Path, name: str, pid: int | None = None, start: str = "1", host: str | None = None,
               boot: str | None = None) -> Path:
    """A temporary of ``name`` as a process ``pid`` (default: a dead one) would have left it."""
    me = io._me()
    path = folder / f".{name}.kit-{host or me.host}-{boot or me.boot}-{pid or _dead_pid()}-{start}-abc123.tmp"
    (path / "payload").mkdir(parents=True)
    (path / "payload" / "weights.safetensors").write_bytes(b"half")
    return path


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_write_killed_half_way_is_removed_by_the_next_write_and_nothing_else(tmp_path):
    target = tmp_path / "ckpt"
    proc = _writer(target)
    left = _hidden(tmp_path)
    assert len(left) == 1 and io.owner(left[0]).pid == proc.pid and not io.is_stale(left[0])
    _kill(proc)
    assert io.is_stale(left[0]) and not target.exists()
    keep = [".ckpt.notes.tmp", ".ckpt.k3j2h1g0.tmp", ".other.txt"]  # a user's file, an older kit's temporary
    for name in keep:
        (tmp_path / name).write_text("mine")
    other = _temporary(tmp_path, "other")  # another name's dead temporary: not this write's
    with io.atomic_path(target) as tmp:
        assert _hidden(tmp_path) == sorted(keep + [other.name, tmp.parent.name])
        tmp.mkdir()
        (tmp / "weights.safetensors").write_bytes(b"whole")
    assert (target / "weights.safetensors").read_bytes() == b"whole"
    assert _hidden(tmp_path) == sorted(keep + [other.name])
    assert io.remove_stale(tmp_path) == [other]  # a job sweeping its folder
    assert _hidden(tmp_path) == sorted(keep)


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "status.json"
    proc = _writer(target)  # another worker of a parallel sweep, still writing
    try:
        live = _hidden(tmp_path)
        io.write_text(target, "{}")
        assert io.remove_stale(tmp_path, recursive=True) == []
        assert _hidden(tmp_path) == live and target.read_text() == "{}"
    finally:
        _kill(proc)
    assert io.remove_stale(tmp_path) == [tmp_path / live[0]]


def test_who_owns_a_temporary(tmp_path):
    me = io._me()
    assert not io.is_stale(io.temporary_name("x"))  # this process (another thread may be writing it)
    assert io.owner(io.temporary_name("a.b-c.kit-d")).pid == os.getpid()
    parent = os.getppid()
    start = io._proc(parent)[1]
    assert not io.is_stale(_temporary(tmp_path, "a", parent, start).name)  # its writer runs
    assert io.is_stale(_temporary(tmp_path, "b", parent, start + "0").name)  # the pid now names another process
    assert io.is_stale(_temporary(tmp_path, "c").name)  # its writer is gone
    assert io.is_stale(_temporary(tmp_path, "d", parent, start, boot="0badb007").name)  # an earlier boot
    assert not io.is_stale(_temporary(tmp_path, "e", host="00000000").name)  # another host: cannot tell
    assert not io.is_stale(_temporary(tmp_path, "f", parent, "0").name)  # start unknown and the pid lives
    assert not io.is_stale(".g.kit-zz.tmp") and io.owner("g") is None
    long = "n" * 240  # a name too long to repeat whole in its temporary's
    assert len(io.temporary_name(long)) < 255 and io.temporary_name(long) != io.temporary_name(long + "m")
    with io.atomic_path(tmp_path / long) as tmp:
        tmp.write_text("x")
    assert me.pid == os.getpid()


def _sae(dict_size: int, seed: int):
    import torch

    from kit.sae import SAE, SAEConfig

    torch.manual_seed(seed)
    return SAE(SAEConfig("topk", d=4, dict_size=dict_size, k=2))


def test_a_reader_always_finds_a_complete_checkpoint_while_it_is_replaced(tmp_path):
    import torch

    from kit.sae import load, save

    versions = [_sae(8, 0), _sae(16, 1)]  # a read mixing them fails (shapes) or matches neither
    path = save(versions[0], tmp_path / "ckpt")
    stop, seen, problems = threading.Event(), set(), []

    def replace():
        i = 0
        while not stop.is_set():
            i += 1
            save(versions[i % 2], path)

    def look():  # the name holds a complete checkpoint at every moment
        while not stop.is_set():
            if not (path / "config.json").is_file() or not (path / "weights.safetensors").is_file():
                problems.append("no checkpoint under its name")

    threads = [threading.Thread(target=replace), threading.Thread(target=look)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not problems:
            try:
                sae = load(path)
            except Exception as e:  # noqa: BLE001 — any failure is a finding
                problems.append(f"{type(e).__name__}: {e}")
                break
            match = [i for i, v in enumerate(versions) if v.config == sae.config
                     and all(torch.equal(t, sae.state_dict()[k]) for k, t in v.state_dict().items())]
            if len(match) != 1:
                problems.append(f"a checkpoint that is neither version ({sae.config})")
            seen.update(match)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not problems, problems[:3]
    assert seen == {0, 1}  # it was replaced under the reader
    assert _hidden(tmp_path) == []


def test_without_a_swap_a_replacement_killed_between_its_renames_is_completed(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "swap", lambda a, b: False)  # a file system that cannot exchange two names
    target = tmp_path / "ckpt"
    for text in ("old", "new"):
        with io.atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "v").write_text(text)
    assert (target / "v").read_text() == "new" and _hidden(tmp_path) == []
    # killed after setting the old one aside, before renaming the new one in: nothing under the name
    crashed = _temporary(tmp_path, "ckpt")
    (crashed / "payload" / "v").write_text("newer")
    os.rename(target, crashed / "old")
    (crashed / "target").write_text("ckpt")
    assert io.remove_stale(tmp_path) == [crashed]
    assert (target / "v").read_text() == "newer" and _hidden(tmp_path) == []


def test_training_removes_the_checkpoints_an_interrupted_run_was_writing(tmp_path):
    from kit.sae import train

    X = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    name = "000-topk-D8-k2-s0"
    stale = [_temporary(tmp_path, name), _temporary(tmp_path, "001-relu-D8-s0")]  # this run's, an earlier run's
    live = _temporary(tmp_path, name, os.getppid(), io._proc(os.getppid())[1])
    train(X, dict_size=8, k=2, max_steps=4, batch_size=64, checkpoint_dir=tmp_path)
    assert not any(p.exists() for p in stale) and live.exists()
    assert (tmp_path / name / "train_state.json").is_file()


def test_an_embedding_cache_entry_removes_its_dead_shards(tmp_path):
    from kit.embed.cache import open_entry

    entry = open_entry(tmp_path, {"encoder": "x"}, 10, 4, 5)
    (entry.folder / "shards").mkdir()
    stale = _temporary(entry.folder / "shards", "00001")
    record = _temporary(entry.folder, "provenance.json")
    again = open_entry(tmp_path, {"encoder": "x"}, 10, 4, 5)
    assert not stale.exists() and not record.exists() and again.missing() == [0, 1]


def test_the_rendered_benchmarks_folder_is_cleaned(tmp_path):
    from kit.data.render import RENDER_VERSION
    from kit.pipeline import PipelineConfig, benchmark_folder

    config = PipelineConfig()
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    stale = _temporary(benchmarks, "toy-syncub-p1-i1-s0")
    name = f"{config.benchmark}-p{config.n_pairs}-i{config.n_images}-s{config.seed}-r{RENDER_VERSION}"
    (benchmarks / name).mkdir()  # rendered already (rendering is slow)
    (benchmarks / name / "metadata.csv").write_text("")
    folder = benchmark_folder(config, tmp_path)
    assert folder == benchmarks / name and not stale.exists()


def test_a_sweep_removes_what_its_interrupted_cells_were_writing(tmp_path):
    import jupytext

    from kit.sweep import load_grid, run_sweep

    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "_toc.yml").write_text("format: jb-book\nroot: x\n")
    nb = jupytext.reads('# %% tags=["parameters"]\nx = 1\nout_dir = "."\n', fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, project / "notebooks" / "00_x.ipynb")
    (tmp_path / "grid.yaml").write_text("notebook: 00_x\ngrid: {x: [1]}\n")
    out = tmp_path / "sweep"
    cell = out / "cells" / "x=1"
    (cell / "00_x").mkdir(parents=True)
    (out / "status.json").write_text(json.dumps({"x=1": {"state": "done"}}))
    dead = [_temporary(out, "status.json"), _temporary(cell, "00_x.ipynb"), _temporary(cell / "00_x", "r.json")]
    live = _temporary(cell, "00_x.ipynb", os.getppid(), io._proc(os.getppid())[1])  # a worker still at it
    run_sweep(load_grid(tmp_path / "grid.yaml"), project, out, tmp_path / "cache", log=lambda *_: None)
    assert not any(p.exists() for p in dead) and live.exists()


def test_a_run_removes_what_it_was_writing_when_interrupted(tmp_path):
    from kit.runner import execute

    stale = _temporary(tmp_path / "run" / "03_x", "results.json")
    assert execute([], tmp_path / "run", tmp_path / "cache", log=lambda *_: None) == []
    assert not stale.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_folders_swap_in_one_step_on_linux(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "1").touch()
    assert io.swap(a, b) and os.listdir(b) == ["1"] and os.listdir(a) == []
    with pytest.raises(FileNotFoundError):
        io.swap(a, tmp_path / "missing")
