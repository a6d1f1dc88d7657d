"""The ``kit`` command line: run the notebook chain, build the book, and the parts' own subcommands.

Errors the kit raises on purpose, and usage errors, are printed as one line (``kit: error: …``) with exit
status 2. Diagnostics go to the ``kit`` logger (stderr; ``-v``/``-q``); a command's result (where its output
is) goes to stdout. The shared argument types and the parser class live in :mod:`kit.cli_args`, below every
subcommand module (``kit.data_cli``, ``kit.embed.cli``, ``kit.score``, ``kit.sweep``), which this module imports
and registers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from tqdm.contrib.logging import logging_redirect_tqdm

from kit import data_cli, score, sweep
from kit._version import __version__
from kit.cli_args import (HelpFormatter, KitArgumentParser, add_verbosity, check_folder, check_kernel, existing_file,
                          folder, log, one_line, plain, setup_logging, show_progress)
from kit.embed import cli as embed_cli
from kit.errors import ConfigError, KitError
from kit.runner import build_book, execute, find_root, load_params, plan

# the parts' subcommands: each module's ``register(subparsers)`` adds its own
SUBCOMMANDS = (data_cli, embed_cli, score, sweep)

EPILOG = """\
examples:
  kit run                                  execute every notebook with params/offline.yaml into runs/offline/
  kit run --profile paper                  the paper's settings (GPU, Hub datasets and models)
  kit run --params my.yaml -p seed=1       your own parameter file, with a parameter overridden
  kit run --notebooks 05_matching          only some notebooks
  kit book                                 execute the offline run and build the HTML book into _build/html/
"""


def _parse_override(text: str):
    if "=" not in text:
        raise ConfigError(f"-p expects NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise ConfigError(f"-p {name}: the value {value!r} is not valid YAML") from None


def _params_path(args, root: Path) -> Path:
    if args.params and args.profile:
        raise ConfigError("give either --params FILE or --profile NAME, not both")
    if args.params:
        return Path(args.params)
    name = args.profile or "offline"
    path = root / "params" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "params").glob("*.yaml"))
        raise ConfigError(f"unknown profile {name!r}; known profiles: {known}")
    return path


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", metavar="FILE", type=existing_file,
                   help="YAML parameter file (default: params/offline.yaml)")
    p.add_argument("--profile", metavar="NAME", help="a parameter file from params/ by name: offline, paper, smoke")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter for every notebook that declares it (repeatable)")
    p.add_argument("--notebooks", metavar="NAMES", help="comma-separated notebook names to run (default: all)")
    p.add_argument("--cache-dir", metavar="DIR", type=folder,
                   help="cache of benchmarks, embeddings and SAEs (default: .cache/)")
    p.add_argument("--force", action="store_true", help="execute even notebooks that are up to date")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name")


def _steps(args, root: Path):
    doc = load_params(_params_path(args, root))
    overrides = dict(_parse_override(t) for t in args.parameter)
    only = [n.strip() for n in args.notebooks.split(",") if n.strip()] if args.notebooks else None
    return doc, plan(doc, root, only=only, overrides=overrides)


def _folders(args, root: Path, out_default: Path) -> tuple[Path, Path]:
    """The run folder and the cache folder (defaults filled in), both checked before either is created."""
    out = check_folder(args.out if args.out else out_default, "--out")
    cache = check_folder(args.cache_dir if args.cache_dir else root / ".cache", "--cache-dir")
    check_kernel(args.kernel)
    return out, cache


def cmd_run(args) -> int:
    root = find_root()
    doc, steps = _steps(args, root)
    out, cache = _folders(args, root, root / "runs" / Path(doc["source"]).stem)
    paths = execute(steps, out, cache, kernel=args.kernel, force=args.force, progress=show_progress())
    log.info(f"executed {len(paths)} notebooks")
    print(Path(out).resolve())
    return 0


def cmd_book(args) -> int:
    root = find_root()
    _, steps = _steps(args, root)
    out, cache = _folders(args, root, root / "_build")
    executed = execute(steps, out / "notebooks", cache, kernel=args.kernel, force=args.force,
                       progress=show_progress())
    index = build_book(root, executed, out)
    log.info("the book is built")
    print(index)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = KitArgumentParser(
        prog="kit",
        description="sae-concept-kit: execute the book's parameterised notebooks and build the book, and run "
                    "each stage (data, embed, score, sweep, publish) from the command line.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    add_verbosity(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=KitArgumentParser)
    run = sub.add_parser("run", help="execute the notebook chain with papermill into a run folder",
                         description="Execute the notebooks with a parameter file into a run folder "
                                     "(default runs/<profile>/); sources are never written.",
                         formatter_class=HelpFormatter)
    _add_run_options(run)
    run.add_argument("--out", metavar="DIR", type=folder, help="run folder (default: runs/<parameter file name>/)")
    run.set_defaults(func=cmd_run)
    book = sub.add_parser("book", help="execute the notebooks (offline default) and build the HTML book",
                          description="Execute every notebook with the offline parameters, then build the HTML "
                                      "book with Jupyter Book (warnings are errors) into _build/html/.",
                          formatter_class=HelpFormatter)
    _add_run_options(book)
    book.add_argument("--out", metavar="DIR", type=folder, help="build folder (default: _build/)")
    book.set_defaults(func=cmd_book)
    for part in SUBCOMMANDS:
        part.register(sub)
    for name, p in sub.choices.items():
        _finish(p)
    return parser


def _finish(parser: argparse.ArgumentParser) -> None:
    """Every (sub)command parser: kit's formatter, -v/-q, the same for its own subcommands."""
    parser.formatter_class = HelpFormatter
    parser.description = plain(parser.description)
    if not any("--quiet" in a.option_strings for a in parser._actions):
        add_verbosity(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for p in action.choices.values():
                _finish(p)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", 0) or 0, getattr(args, "quiet", 0) or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        with logging_redirect_tqdm(loggers=[log]):
            return args.func(args)
    except KitError as e:
        print(f"kit: error: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
