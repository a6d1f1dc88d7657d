"""The ``kit`` command line: run the notebook chain, build the book, and the parts' own subcommands.

Errors the kit raises on purpose are printed as one line (``kit: error: …``) with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kit.errors import ConfigError, KitError

EPILOG = """\
examples:
  kit run                                  execute every notebook with params/offline.yaml into runs/offline/
  kit run --profile paper                  the paper's settings (GPU, Hub datasets and models)
  kit run --params my.yaml -p seed=1       your own parameter file, with a parameter overridden
  kit run --notebooks 05_matching          only some notebooks
  kit book                                 execute the offline run and build the HTML book into _build/html/
"""


def _parse_override(text: str):
    import yaml

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
    p.add_argument("--params", metavar="FILE", help="YAML parameter file (default: params/offline.yaml)")
    p.add_argument("--profile", metavar="NAME", help="a parameter file from params/ by name: offline, paper, smoke")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter for every notebook that declares it (repeatable)")
    p.add_argument("--notebooks", metavar="NAMES", help="comma-separated notebook names to run (default: all)")
    p.add_argument("--cache-dir", metavar="DIR", help="cache of benchmarks, embeddings and SAEs (default: .cache/)")
    p.add_argument("--force", action="store_true", help="execute even notebooks that are up to date")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3)")


def _steps(args, root: Path):
    from kit.runner import load_params, plan

    doc = load_params(_params_path(args, root))
    overrides = dict(_parse_override(t) for t in args.parameter)
    only = [n.strip() for n in args.notebooks.split(",") if n.strip()] if args.notebooks else None
    return doc, plan(doc, root, only=only, overrides=overrides)


def cmd_run(args) -> int:
    from kit.runner import execute, find_root

    root = find_root()
    doc, steps = _steps(args, root)
    out = Path(args.out) if args.out else root / "runs" / Path(doc["source"]).stem
    cache = Path(args.cache_dir) if args.cache_dir else root / ".cache"
    paths = execute(steps, out, cache, kernel=args.kernel, force=args.force)
    print(f"[kit] executed notebooks are in {Path(out).resolve()} ({len(paths)} notebooks)")
    return 0


def cmd_book(args) -> int:
    from kit.runner import build_book, execute, find_root

    root = find_root()
    _, steps = _steps(args, root)
    out = Path(args.out) if args.out else root / "_build"
    cache = Path(args.cache_dir) if args.cache_dir else root / ".cache"
    executed = execute(steps, out / "notebooks", cache, kernel=args.kernel, force=args.force)
    index = build_book(root, executed, out)
    print(f"[kit] the book is at {index}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kit",
        description="sae-concept-kit: execute the book's parameterised notebooks and build the book.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="execute the notebook chain with papermill into a run folder",
                         description="Execute the notebooks with a parameter file into a run folder "
                                     "(default runs/<profile>/); sources are never written.")
    _add_run_options(run)
    run.add_argument("--out", metavar="DIR", help="run folder (default: runs/<parameter file name>/)")
    run.set_defaults(func=cmd_run)
    book = sub.add_parser("book", help="execute the notebooks (offline default) and build the HTML book",
                          description="Execute every notebook with the offline parameters, then build the HTML "
                                      "book with Jupyter Book (warnings are errors) into _build/html/.")
    _add_run_options(book)
    book.add_argument("--out", metavar="DIR", help="build folder (default: _build/)")
    book.set_defaults(func=cmd_book)
    for register in _plugins():
        register(sub)
    return parser


def _plugins():
    """``register(subparsers)`` functions of the parts that add subcommands."""
    import importlib

    found = []
    for module in ("kit.data.cli", "kit.embed.cli", "kit.sweep"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and module.startswith(e.name):
                continue
            raise
        found.append(mod.register)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except KitError as e:
        print(f"kit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
