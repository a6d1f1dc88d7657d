"""Atomic writes: a file or folder appears whole under its final name, or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on error remove it.

    Works for files and folders alike: write whatever you like at the yielded path.
    replace=True: an existing ``path`` is replaced only after the new one is complete.
    replace=False (caches keyed by their content): when ``path`` exists by the time the new one is complete —
    another process wrote the same entry — the new one is discarded, so readers never see the entry vanish.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / "payload"
    try:
        yield target
        if not target.exists():
            raise FileNotFoundError(f"nothing was written for {path}")
        if not replace:
            try:  # both fail when path exists: a folder rename onto a non-empty folder, a link onto a file
                os.rename(target, path) if target.is_dir() else os.link(target, path)
            except OSError:
                if not path.exists():
                    raise
        elif path.is_dir() and not path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "payload")
            os.replace(target, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def decode_text(data: bytes, path: str | os.PathLike, error: type[Exception] | None = None) -> str:
    """``data`` decoded as UTF-8 (a leading byte-order mark dropped); a byte that is not UTF-8 raises ``error``
    (default :class:`kit.errors.DataError`) naming the file, its line and column."""
    from kit.errors import DataError

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise (error or DataError)(
            f"{path}, line {line}, column {column}: not UTF-8 text (byte 0x{data[e.start]:02x}); "
            "save the file as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: str | os.PathLike, what: str = "file", error: type[Exception] | None = None) -> str:
    """The UTF-8 text of ``path``; a missing or unreadable file or a non-UTF-8 byte raises ``error`` (default
    :class:`kit.errors.DataError`) naming the file (and the line) and saying it is a ``what``."""
    from kit.errors import DataError

    error = error or DataError
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a {what}") from None
    except OSError as e:
        raise error(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    return decode_text(data, path, error)


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def read_json(path: str | os.PathLike, what: str = "JSON file", error: type[Exception] | None = None,
              hint: str = "", unique_keys: bool = True):
    """The parsed JSON of ``path``. A missing file, a non-UTF-8 byte, malformed JSON or (``unique_keys``) a key
    given twice in one object raises ``error`` (default :class:`kit.errors.DataError`) naming the file, line and
    column; ``hint`` (what to do about it) is appended to the message."""
    import json

    from kit.errors import DataError

    error = error or DataError
    text = read_text(path, what, error)
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs if unique_keys else None)
    except json.JSONDecodeError as e:
        raise error(f"{path}, line {e.lineno}, column {e.colno}: not valid JSON ({e.msg}; a {what}){hint}") from None
    except _DuplicateKey as e:
        raise error(f"{path}: the key {e.args[0]!r} appears twice in one object of the {what}{hint}") from None
    except RecursionError:
        raise error(f"{path}: the {what} is nested too deeply{hint}") from None


def require_keys(entry, keys, where: str, error: type[Exception] | None = None) -> None:
    """``entry`` must be a JSON object holding every key of ``keys``; else ``error`` naming ``where``."""
    from kit.errors import DataError

    error = error or DataError
    if not isinstance(entry, dict):
        raise error(f"{where}: expected an object, got {type(entry).__name__} {entry!r:.60}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise error(f"{where}: lacks the key(s) {missing}")
