"""Pieces shared by every ``kit`` subcommand: the parser class, argument types, logging and progress bars.

A subcommand module (``kit.data_cli``, ``kit.embed.cli``, ``kit.sweep``, ``kit.score``, …) exposes
``register(subparsers)`` and uses these so that all of them behave alike:

- :class:`KitArgumentParser` — any usage error is one line ``kit: error: …`` on stderr and exit status 2;
- :class:`HelpFormatter` — ``--help`` shows every option's default, keeps the examples' layout;
  :func:`plain` strips reStructuredText markup from docstrings used as descriptions;
- argument types that check a value before anything is created: :func:`positive_int`,
  :func:`non_negative_int`, :func:`folder` (a folder, or a path where one can be made), :func:`existing_folder`,
  :func:`existing_file`; :func:`check_folder` for paths computed after parsing (defaults);
- :data:`log` — the ``kit`` logger (diagnostics go there, to stderr; ``-v``/``-q`` set its level) and
  :func:`show_progress` — whether progress bars are shown (not with ``-q``).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import textwrap
from pathlib import Path

from kit.arrays import resolve_device
from kit.errors import ConfigError

log = logging.getLogger("kit")


# ---- the parser ---------------------------------------------------------------------------------------------
class KitArgumentParser(argparse.ArgumentParser):
    """argparse, with every usage error as one line ``kit: error: MESSAGE (see PROG --help)`` and exit 2."""

    def error(self, message: str):  # noqa: D401 (argparse's name)
        self.exit(2, f"kit: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(message: object) -> str:
    """``message`` on one line (newlines and runs of spaces folded)."""
    return re.sub(r"\s+", " ", str(message)).strip()


def fail(message: str) -> None:
    """Stop the command with the one-line error ``kit: error: message`` and exit status 2."""
    raise ConfigError(message)


_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`~?([^`<]+?)(?:\s*<[^>]+>)?`")


def plain(text: str | None) -> str:
    """reStructuredText / MyST markup removed: ``code`` → code, :func:`x` → x, **bold** → bold."""
    if not text:
        return ""
    text = _ROLE.sub(r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    text = text.replace("::\n", ":\n")
    return text


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs keep their line breaks; each option's help ends with its default (unless it
    already says it): ``(default: 2)``, ``(default: off)`` for flags, ``(default: none)``."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """Prose paragraphs are wrapped; a paragraph with indented lines (examples, lists) keeps its layout."""
        out = []
        for para in re.split(r"\n\s*\n", text.strip("\n")):
            lines = para.splitlines()
            if any(line[:1].isspace() or line.lstrip().startswith(("- ", "* ")) for line in lines):
                out.append("\n".join(indent + line for line in lines))
            else:
                out.append(textwrap.fill(" ".join(line.strip() for line in lines), width,
                                         initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = plain(action.help or "")
        if (not action.option_strings or action.required or action.default is argparse.SUPPRESS
                or "default" in text.lower()):
            return text
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            shown = "on" if action.default else "off"
        elif action.default is None or action.default == []:
            shown = "none"
        else:
            shown = "%(default)s"
        return f"{text} (default: {shown})" if text else f"default: {shown}"


# ---- argument types -------------------------------------------------------------------------------------
def _integer(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer ≥ 1."""
    v = _integer(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 1, got {text!r}")
    return v


def non_negative_int(text: str) -> int:
    """An integer ≥ 0."""
    v = _integer(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 0, got {text!r}")
    return v


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be (or become) a folder: it, or a folder above it, is a file; else None."""
    p = Path(os.path.abspath(path))
    if p.exists() and not p.is_dir():
        return f"{path} is a file, expected a folder"
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, so {path} cannot be a folder"
            if not os.access(parent, os.W_OK | os.X_OK) and not p.exists():
                return f"cannot create {path}: {parent} is not writable"
            break
    return None


def folder(text: str) -> Path:
    """A folder, or a path where one can be made (nothing is created here)."""
    problem = folder_problem(Path(text))
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


def existing_folder(text: str) -> Path:
    """A folder that exists."""
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, expected a folder")
    return p


def existing_file(text: str) -> Path:
    """A file that exists."""
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, expected a file")
    return p


def check_folder(path: str | os.PathLike, option: str) -> Path:
    """``path`` (computed after parsing, e.g. a default) must be or become a folder; else a one-line
    ConfigError naming ``option``."""
    problem = folder_problem(Path(path))
    if problem:
        fail(f"{option}: {problem}")
    return Path(path)


def check_kernel(name: str, option: str = "--kernel") -> str:
    """``name`` must be an installed Jupyter kernel (checked before a run creates anything)."""
    from jupyter_client.kernelspec import KernelSpecManager

    known = sorted(KernelSpecManager().find_kernel_specs())
    if name not in known:
        fail(f"{option}: no Jupyter kernel named {name!r}; installed: {known}")
    return name


def check_device(name: str, option: str = "--device") -> str:
    """``name`` must be auto, cpu or an available torch device (ConfigError naming ``option``)."""
    try:
        resolve_device(name)
    except ConfigError as e:
        fail(f"{option}: {e}")
    return name


# ---- logging and progress -----------------------------------------------------------------------------------
def add_verbosity(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``-v/--verbose`` and ``-q/--quiet`` (on a subcommand too, so ``kit run -q`` works like ``kit -q run``)."""
    default = 0 if top else argparse.SUPPRESS
    g = parser.add_argument_group("output")
    g.add_argument("-v", "--verbose", action="count", default=default,
                   help="more diagnostics (debug messages); default: progress and notes")
    g.add_argument("-q", "--quiet", action="count", default=default,
                   help="only warnings and errors, no progress bars; default: progress and notes")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"kit: {record.levelname.lower()}: {text}"
        return f"kit: {text}"


def setup_logging(verbose: int = 0, quiet: int = 0) -> None:
    """Send the ``kit`` logger to stderr at INFO (``-v``: DEBUG, ``-q``: WARNING)."""
    level = logging.DEBUG if verbose > quiet else logging.WARNING if quiet > verbose else logging.INFO
    for h in list(log.handlers):
        if getattr(h, "_kit", False):
            log.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._kit = True  # type: ignore[attr-defined]
    handler.setFormatter(_Formatter())
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


def show_progress() -> bool:
    """Whether progress bars are shown: yes unless the ``kit`` logger is quieter than INFO (``-q``)."""
    return log.getEffectiveLevel() <= logging.INFO
