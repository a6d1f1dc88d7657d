"""The command line's edges (issue 16, family 4): arguments checked before anything is created, one-line
errors with exit 2 (argparse's own too), help texts with every default and no markup, --version, -v/-q,
progress bars, and the data subcommands. In-process (``kit.cli.main``), so these run in a few seconds."""

from __future__ import annotations

import argparse
import logging

import pytest

from kit import cli


@pytest.fixture(autouse=True)
def _restore_logger():
    log = logging.getLogger("kit")
    level, handlers, propagate = log.level, list(log.handlers), log.propagate
    yield
    log.setLevel(level)
    log.handlers[:] = handlers
    log.propagate = propagate


def run(capsys, *argv):
    """(exit status, stdout, stderr lines) of ``kit ARGV``."""
    try:
        rc = cli.main(list(argv))
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, [line for line in err.splitlines() if line.strip()]


def one_error(capsys, *argv, contains=()):
    rc, out, err = run(capsys, *argv)
    assert rc == 2, (rc, out, err)
    assert len(err) == 1 and err[0].startswith("kit: error: "), err
    for part in contains:
        assert part in err[0], err[0]
    return err[0]


@pytest.fixture
def grid(tmp_path):
    p = tmp_path / "grid.yaml"
    p.write_text("notebook: 01_matching_by_hand\ngrid: {seed: [0, 1]}\n")
    return p


@pytest.mark.parametrize("workers", ["-2", "0", "two"])
def test_sweep_workers_are_checked_before_anything_is_created(capsys, tmp_path, grid, workers):
    out = tmp_path / "sweep"
    one_error(capsys, "sweep", str(grid), "--workers", workers, "--out", str(out), contains=["--workers", workers])
    assert not out.exists()


def test_a_file_where_a_folder_is_expected(capsys, tmp_path, grid):
    afile = tmp_path / "afile"
    afile.write_text("x")
    out, cache = tmp_path / "out", tmp_path / "cache"
    for argv in (["run", "--profile", "smoke", "--out", str(afile), "--cache-dir", str(cache)],
                 ["run", "--profile", "smoke", "--out", str(out), "--cache-dir", str(afile)],
                 ["run", "--profile", "smoke", "--out", str(afile / "below")],
                 ["book", "--out", str(afile)],
                 ["sweep", str(grid), "--out", str(afile)],
                 ["sweep", str(grid), "--out", str(out), "--cache-dir", str(afile)],
                 ["embed", "--images", str(afile), "--cache-dir", str(afile)],
                 ["data", "render", "toy-syncub", str(afile)],
                 ["data", "verify", str(afile)],
                 ["publish", str(afile), "me/x"]):
        one_error(capsys, *argv, contains=[str(afile)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "grid.yaml"]  # nothing created


def test_argparse_errors_are_one_line(capsys, tmp_path):
    one_error(capsys, "nope", contains=["invalid choice: 'nope'"])
    one_error(capsys, "run", "--bogus", contains=["unrecognized arguments: --bogus"])
    one_error(capsys, "sweep", contains=["GRID.yaml", "kit sweep --help"])
    one_error(capsys, "sweep", str(tmp_path / "missing.yaml"), contains=["no such file"])
    one_error(capsys, "embed", "--images", "x", contains=["--cache-dir"])
    one_error(capsys, "data", "render", "toy-syncub", str(tmp_path / "o"), "--pairs", "0", contains=["--pairs"])
    one_error(capsys, "data", contains=["STEP"])
    assert run(capsys)[0] == 2  # no command: the help, exit 2


def test_kit_errors_are_one_line(capsys, tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("parameters:\n  seed: 1\n  seed: 2\n")
    one_error(capsys, "run", "--params", str(p), "--out", str(tmp_path / "o"), contains=["'seed' appears twice"])
    assert not (tmp_path / "o").exists()


def test_version(capsys):
    from kit import __version__

    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out.strip() == f"kit {__version__}"


def _parsers(parser, path=("kit",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_help_shows_every_default_and_no_markup():
    parsers = list(_parsers(cli.build_parser()))
    names = {" ".join(p) for p, _ in parsers}
    assert {"kit run", "kit book", "kit sweep", "kit embed", "kit publish", "kit data render", "kit data build",
            "kit data verify"} <= names
    for path, parser in parsers:
        text = parser.format_help()
        for mark in ("``", ":func:", ":class:", ":mod:", "**"):
            assert mark not in text, (path, mark)
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.required or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            assert "default" in formatter._expand_help(action), (path, action.option_strings)


def test_every_part_registers_its_subcommand():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"run", "book", "data", "embed", "score", "sweep"} <= set(commands)
    assert {m.__name__ for m in cli.SUBCOMMANDS} == {"kit.data_cli", "kit.embed.cli", "kit.score", "kit.sweep"}


def test_argument_types():
    from kit.cli_args import existing_file, folder, non_negative_int, positive_int

    assert positive_int(" 3") == 3 and non_negative_int("0") == 0
    for fn, bad in ((positive_int, "0"), (positive_int, "1.5"), (non_negative_int, "-1")):
        with pytest.raises(argparse.ArgumentTypeError):
            fn(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="is a file"):
        folder(__file__)
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        existing_file("tests")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from kit.data import render_toy_syncub

    return render_toy_syncub(tmp_path_factory.mktemp("toy") / "bench", n_pairs=4, n_images=6, size=32, workers=1)


def test_data_render_and_verify(capsys, tmp_path):
    out = tmp_path / "bench"
    rc, stdout, err = run(capsys, "data", "render", "toy-syncub", str(out), "--pairs", "3", "--images", "4",
                          "--size", "32", "--workers", "1")
    assert rc == 0 and stdout.strip() == str(out.resolve())
    assert any("render toy-synCUB" in line for line in err)  # the progress bar
    assert any(line.startswith("kit: rendered toy-syncub") for line in err)  # a note, through the kit logger
    rc, stdout, err = run(capsys, "-q", "data", "verify", str(out), "--decode")
    assert rc == 0 and stdout.strip() == "ok 3 pairs" and err == []  # -q: no note, no bar
    rc, _, err = run(capsys, "data", "render", "toy-syncub", str(out), "--pairs", "2", "--images", "2", "--size",
                     "32", "--workers", "1", "-q")
    assert rc == 0 and err == []  # a render may be replaced
    (out / "metadata.csv").write_text("pair_id\n1\n")
    one_error(capsys, "data", "verify", str(out), contains=["metadata.csv: missing columns"])
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    one_error(capsys, "data", "render", "toy-syncub", str(other), contains=["holds other files"])
    assert (other / "notes.txt").read_text() == "keep me"


def test_data_build_wires_the_stages(capsys, monkeypatch, toy, tmp_path):
    import numpy as np

    import kit.data_cli as dc  # the command line's stages, as it names them

    calls = {}

    def fake_build(table, folder, **kw):
        calls.update(kw, table=table, folder=folder)
        return folder

    monkeypatch.setattr(dc, "build", fake_build)
    monkeypatch.setattr(dc, "load_editor", lambda name, **kw: calls.setdefault("editor", (name, kw)))
    monkeypatch.setattr(dc, "load_encoder", lambda name, **kw: f"encoder {name}")
    out = tmp_path / "built"
    rc, stdout, _ = run(capsys, "data", "build", str(out), "--toy", str(toy), "--editor", "instruct-pix2pix",
                        "--steps", "2", "--device", "cpu", "-q")
    assert rc == 0 and stdout.strip() == str(out.resolve())
    assert calls["kind"] == "swap" and len(calls["classes"]) == 6 and calls["config"].call == {"num_inference_steps": 2}
    assert calls["editor"][0] == "instruct-pix2pix" and calls["table"].Y.shape[0] == 6
    assert isinstance(calls["classes"], np.ndarray)
    out.mkdir()
    one_error(capsys, "data", "build", str(out), "--toy", str(toy), contains=["exists"])
    one_error(capsys, "data", "build", str(tmp_path / "b2"), "--toy", str(toy), "--editor", "dall-e",
              contains=["--editor", "invalid choice"])
    one_error(capsys, "data", "build", str(tmp_path / "b2"), contains=["--cub", "--coco", "--toy"])


def test_kernel_and_device_are_checked_before_anything_is_created(capsys, tmp_path, grid):
    out = tmp_path / "o"
    one_error(capsys, "run", "--profile", "smoke", "--kernel", "nope", "--out", str(out),
              "--cache-dir", str(tmp_path / "c"), contains=["--kernel", "'nope'"])
    one_error(capsys, "sweep", str(grid), "--kernel", "nope", "--out", str(out), contains=["--kernel"])
    listing = tmp_path / "list.txt"
    listing.write_text("a.png\n")
    one_error(capsys, "embed", "--images", str(listing), "--cache-dir", str(tmp_path / "c"), "--device", "tpu9",
              contains=["--device", "tpu9"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.yaml", "list.txt"]


def test_a_damaged_executed_notebook_is_executed_again(tmp_path, monkeypatch, root):
    from kit import runner

    def fake(source, executed, params, kernel, log):
        import nbformat

        nbformat.write(nbformat.v4.new_notebook(), executed)

    monkeypatch.setattr(runner, "_execute_notebook", fake)
    step = runner.Step("01_matching_by_hand", root / "notebooks" / "01_matching_by_hand.ipynb", {})
    out = tmp_path / "run"
    target = runner.execute([step], out, tmp_path / "cache")[0]
    notes = []
    assert runner.execute([step], out, tmp_path / "cache", log=notes.append) == [target] and "up to date" in notes[0]
    target.write_text('{"cells": [')  # damaged, e.g. by a full disk
    notes.clear()
    runner.execute([step], out, tmp_path / "cache", log=notes.append)
    assert "unreadable" in notes[0] and "up to date" not in " ".join(notes)
    import nbformat

    assert nbformat.read(target, as_version=4).metadata["kit"]["digest"]
