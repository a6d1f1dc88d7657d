"""Atomic writes: a file or folder appears whole under its final name, or not at all.

Temporaries. :func:`atomic_path` writes beside its target, in a hidden folder named
``.NAME.kit-HOST-BOOT-PID-START-RAND.tmp``: HOST hashes the host name, the machine id and the process's pid
namespace; BOOT is this boot of the machine; PID and START the writing process and its start time (ticks since
boot, from ``/proc``; ``0`` where unknown); RAND tells apart two writes of one process. A write killed half-way
(SIGKILL, an out-of-memory kill, a power cut) leaves that folder behind; the next write of the same NAME, and each
job at its start for the folders it owns (an embedding-cache entry, a training's ``checkpoint_dir``, a sweep or
run folder, the rendered benchmarks, a build's ``FOLDER.partial``), removes the temporaries it can prove dead
(:func:`is_stale`): made on this host, and made in an earlier boot, or by a process that no longer exists, or
whose pid now belongs to a process started at another time. A temporary of a process that may still run
(another worker of a parallel sweep, another thread of this process, a process on another host sharing the
folder) is never touched, and neither is any other file (nor the temporaries of kit versions before this
scheme: delete those by hand). So a temporary left on another host (a Slurm node) or in a container since
restarted stays until removed by hand.

Replacing a folder (a checkpoint) leaves a complete folder under its name at every moment: the new one and the
old one swap names in one step (Linux ``renameat2(RENAME_EXCHANGE)``, macOS ``renamex_np(RENAME_SWAP)``), then
the old one is removed. Where the file system cannot swap, the old one is renamed aside into the temporary and
the new one renamed in (a window of two renames; a write killed inside it is completed by the next clean-up,
which renames the new folder in). A file is replaced by ``os.replace``, atomic everywhere. A reader that reads
several files of a folder which may be replaced meanwhile uses :func:`read_folder`, so that everything it
returns comes from one version.

Keys. :func:`content_hash` is the one hash behind every cache keyed by content (embedding-cache entries, trained
SAEs, studies, executed notebooks, a build's edits) and behind the fingerprint that ties a training checkpoint to
its data.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import sys
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, TypeVar

from kit.errors import DataError

T = TypeVar("T")
_LOG = logging.getLogger("kit")
_TMP = re.compile(r"^\.(?P<stem>.+)\.kit-(?P<host>[0-9a-f]{8})-(?P<boot>[0-9a-f]{8}|0)-(?P<pid>[0-9]+)"
                  r"-(?P<start>[0-9a-z]+)-[0-9a-z]{6}\.tmp$")


class Owner(NamedTuple):
    """Who made a temporary: host token, boot token, pid, start token (``"0"``: unknown)."""

    host: str
    boot: str
    pid: int
    start: str


def _read_small(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(4096).strip()
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _host() -> str:
    parts = [socket.gethostname(), _read_small("/etc/machine-id") or _read_small("/var/lib/dbus/machine-id") or ""]
    with contextlib.suppress(OSError, AttributeError):
        parts.append(os.readlink("/proc/self/ns/pid"))  # processes in two pid namespaces cannot see each other
    return content_hash("\0".join(parts))[:8]


@functools.lru_cache(maxsize=1)
def _boot() -> str:
    boot = (_read_small("/proc/sys/kernel/random/boot_id") or "").replace("-", "").lower()
    return boot[:8] if re.fullmatch(r"[0-9a-f]{8,}", boot) else "0"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def _proc(pid: int) -> tuple[str, str] | None:
    """(state, start token) of ``pid`` from ``/proc`` (Linux); None where it cannot be read."""
    stat = _read_small(f"/proc/{pid}/stat")
    if not stat or ")" not in stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces and parentheses
    try:
        return fields[0], _base36(int(fields[19]))  # fields 3 (state) and 22 (starttime) of proc(5)
    except (IndexError, ValueError):
        return None


def _me() -> Owner:
    pid = os.getpid()  # not cached: a forked worker is another owner
    return Owner(_host(), _boot(), pid, _start_of(pid))


@functools.lru_cache(maxsize=64)
def _start_of(pid: int) -> str:
    proc = _proc(pid) if pid == os.getpid() else None
    return proc[1] if proc else "0"


def _alive(pid: int) -> bool | None:
    """Whether a process ``pid`` exists on this host (None: cannot tell)."""
    if os.name != "posix" or pid <= 0:
        return None  # os.kill on Windows terminates the process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    except OSError:
        return None
    return True


def _stem(name: str) -> str:
    """``name`` as it appears in its temporaries' names (a long one shortened, keeping it unique)."""
    if len(os.fsencode(name)) <= 150:
        return name
    return f"{name[:100]}~{content_hash(os.fsencode(name))[:12]}"


def temporary_name(name: str) -> str:
    """A fresh name for a temporary of ``name`` owned by this process (see the module docstring)."""
    me = _me()
    rand = _base36(secrets.randbits(31)).rjust(6, "0")[-6:]
    return f".{_stem(name)}.kit-{me.host}-{me.boot}-{me.pid}-{me.start}-{rand}.tmp"


def owner(name: str) -> Owner | None:
    """The owner recorded in a temporary's ``name``; None for a name that is not a kit temporary."""
    m = _TMP.match(name)
    return None if m is None else Owner(m["host"], m["boot"], int(m["pid"]), m["start"])


def is_stale(name: str) -> bool:
    """Whether ``name`` is a kit temporary whose owner is provably dead (see the module docstring)."""
    who, me = owner(name), _me()
    if who is None or who.host != me.host:
        return False  # not ours, or made on another host: its owner may still run
    if "0" not in (who.boot, me.boot) and who.boot != me.boot:
        return True  # made in an earlier boot of this host
    if who.pid == me.pid and who.start == me.start:
        return False  # this process (perhaps another thread, writing now)
    alive = _alive(who.pid)
    if alive is None:
        return False
    if not alive:
        return True
    proc = _proc(who.pid)
    if proc is None or who.start == "0":
        return False  # a process of that pid runs and it cannot be told apart from the owner
    state, start = proc
    return state in ("Z", "X") or start != who.start  # a zombie writes nothing; another start: the pid was reused


def remove_stale(folder: str | os.PathLike, name: str | None = None, recursive: bool = False) -> list[Path]:
    """Remove the stale temporaries (:func:`is_stale`) directly in ``folder`` — only those of ``name`` when given,
    in every sub-folder too when ``recursive``; return what was removed. A missing folder has none.

    A temporary that holds a replaced folder set aside (``old``) while nothing is under the target's name (a
    replacement without a swap, killed half-way) is completed instead: its new folder is renamed in."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    stem = None if name is None else _stem(name)
    for entry in entries:
        m = _TMP.match(entry.name)
        if m is None:
            if recursive and entry.is_dir(follow_symlinks=False):
                removed += remove_stale(entry.path, recursive=True)
            continue
        if (stem is not None and m["stem"] != stem) or not is_stale(entry.name):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            _complete(path)
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        if not os.path.lexists(path):
            removed.append(path)
    if removed:
        _LOG.info("removed %d stale temporar%s left by interrupted writes in %s", len(removed),
                  "y" if len(removed) == 1 else "ies", folder)
    return removed


def _complete(tmp: Path) -> None:
    """Finish a replacement without a swap that was killed between its two renames (see :func:`atomic_path`)."""
    try:
        target = tmp.parent / (tmp / "target").read_text(encoding="utf-8") if (tmp / "old").exists() else None
    except (OSError, UnicodeDecodeError):
        return
    if target is None or target.parent != tmp.parent or os.path.lexists(target):
        return
    for part in ("payload", "old"):  # the new folder is complete once the old one was set aside
        with contextlib.suppress(OSError):
            os.rename(tmp / part, target)
            _LOG.warning("%s: completed a replacement interrupted half-way", target)
            return


@functools.lru_cache(maxsize=1)
def _swap_call() -> Callable[[bytes, bytes], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux"):
        if hasattr(libc, "renameat2"):
            fn = libc.renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            return lambda a, b: fn(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE
        number = {"x86_64": 316, "aarch64": 276}.get(os.uname().machine)  # SYS_renameat2 (a libc without it)
        if number is None:
            return None
        sc = libc.syscall
        return lambda a, b: sc(ctypes.c_long(number), ctypes.c_int(-100), ctypes.c_char_p(a), ctypes.c_int(-100),
                               ctypes.c_char_p(b), ctypes.c_uint(2))
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        fn = libc.renamex_np
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        return lambda a, b: fn(a, b, 2)  # RENAME_SWAP
    return None


def swap(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Exchange the names of ``a`` and ``b`` (both must exist) in one atomic step; False where this platform or
    file system cannot (nothing was changed then)."""
    call = _swap_call()
    if call is None:
        return False
    if call(os.fsencode(a), os.fsencode(b)) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), os.fspath(a), None, os.fspath(b))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on error remove it.

    Works for files and folders alike: write whatever you like at the yielded path.
    replace=True: an existing ``path`` is replaced only after the new one is complete, and a replaced folder
    leaves a complete folder under its name at every moment (see the module docstring).
    replace=False (caches keyed by their content): when ``path`` exists by the time the new one is complete —
    another process wrote the same entry — the new one is discarded, so readers never see the entry vanish.
    Stale temporaries of ``path`` (left by interrupted writes) are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, name=path.name)
    while True:
        tmp = path.parent / temporary_name(path.name)
        try:
            os.mkdir(tmp, 0o700)
            break
        except FileExistsError:
            continue
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
            if not swap(target, path):  # the old folder is now at target, removed with tmp
                (tmp / "target").write_text(path.name, encoding="utf-8")  # for remove_stale to finish the job
                os.rename(path, tmp / "old")
                os.rename(target, path)
        else:
            os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _identity(folder: str | os.PathLike) -> tuple[int, int, int] | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def read_folder(folder: str | os.PathLike, read: Callable[[], T], tries: int = 20) -> T:
    """``read()`` (which reads files of ``folder``), repeated while ``folder`` was replaced during it (a swap, see
    :func:`atomic_path`), so that what it returns (or raises) comes from one complete version of the folder."""
    for attempt in range(tries):
        before = _identity(folder)
        try:
            out = read()
        except Exception:
            if attempt + 1 < tries and _identity(folder) != before:
                continue
            raise
        if _identity(folder) == before:
            return out
    return out


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
    error = error or DataError
    if not isinstance(entry, dict):
        raise error(f"{where}: expected an object, got {type(entry).__name__} {entry!r:.60}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise error(f"{where}: lacks the key(s) {missing}")


def content_hash(*parts) -> str:
    """The SHA-256 (64 hex digits; a key takes a prefix) of ``parts`` fed one after another, each as bytes:
    ``bytes`` as they are, ``str`` as UTF-8, an array (anything with ``tobytes``: numpy) as its values in C order
    (its dtype and shape are not included: pass them as parts where they matter), anything else as canonical
    JSON (sorted keys, ``str`` for what JSON cannot hold). Parts are not delimited: ``("ab", "c")`` and
    ``("a", "bc")`` hash alike, so give a key parts of fixed meaning in a fixed order."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, (bytes, bytearray, memoryview)):
            h.update(part)
        elif isinstance(part, str):
            h.update(part.encode())
        elif callable(getattr(part, "tobytes", None)):
            h.update(part.tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


_FILE_SHA256: dict[tuple[str, int, int], str] = {}  # (real path, size, mtime_ns) → SHA-256 of the bytes


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, remembered for this process while the file's real path, size and
    modification time stay the same (image lists and local weights key their caches by content)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _FILE_SHA256:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _FILE_SHA256[key] = h.hexdigest()
    return _FILE_SHA256[key]
