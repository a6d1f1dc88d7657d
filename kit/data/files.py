"""Readers shared by the dataset loaders: whitespace tables (CUB text files), CSV files (``metadata.csv``,
``unpaired.csv``) and JSON annotation files.

Every reader refuses what it cannot read with a :class:`~kit.errors.DataError` naming the file and the line
(or the JSON entry): bytes that are not UTF-8, a line with the wrong number of fields, text where an integer
belongs, an id given twice, an entry lacking a key. Each returns the line number of every row it read, so
the loaders' later checks name lines too.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from kit.errors import DataError
from kit.io import read_text


def _int(token: str) -> int | None:
    try:
        return int(token)
    except ValueError:
        return None


def read_table(path: str | os.PathLike, columns: Sequence[str], *, text: Sequence[str] = (),
               extra: bool = False, what: str = "file") -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A whitespace-separated table without header: ``({column: values}, lines)``.

    Every column is an integer (int64) except those named in ``text`` (the rest of the line's first fields, as
    str). Blank lines are skipped; ``lines: int[N]`` holds the 1-based line of each row. extra: lines may carry
    more fields than ``columns`` (ignored, as in CUB's ``image_attribute_labels.txt``); else a line must have
    exactly ``len(columns)`` fields.
    """
    path = Path(path)
    content = read_text(path, what)
    n = len(columns)
    # the fast path (millions of lines); a failure, or a blank line, is handled line by line below
    if not text and extra and content.strip():
        try:
            a = np.loadtxt(io.StringIO(content), usecols=tuple(range(n)), dtype=np.int64, ndmin=2, comments=None)
        except (ValueError, OverflowError):
            a = None
        if a is not None and a.shape[0] == content.count("\n") + (not content.endswith("\n")):
            if a.shape[0] == 0:
                raise DataError(f"{path}: no line")
            return {c: a[:, j] for j, c in enumerate(columns)}, np.arange(1, a.shape[0] + 1)
    values: list[list] = [[] for _ in columns]
    lines: list[int] = []
    for number, line in enumerate(content.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < n or (len(fields) > n and not extra):
            raise DataError(f"{path}, line {number}: expected {'at least ' if extra else ''}{n} fields "
                            f"({', '.join(columns)}), got {len(fields)}: {line.strip()!r:.80}")
        for j, c in enumerate(columns):
            if c in text:
                values[j].append(fields[j])
                continue
            v = _int(fields[j])
            if v is None:
                raise DataError(f"{path}, line {number}: {c} must be an integer, got {fields[j]!r:.40}")
            values[j].append(v)
        lines.append(number)
    if not lines:
        raise DataError(f"{path}: no line")
    out = {c: np.asarray(values[j], dtype=object if c in text else np.int64) for j, c in enumerate(columns)}
    return out, np.asarray(lines, dtype=np.int64)


def check_unique(path: str | os.PathLike, what: str, values: np.ndarray, lines: np.ndarray) -> None:
    """Each value (an id, a row of ids for ``values: [N, k]``) at most once; else a DataError naming the file,
    both lines and the value."""
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    if len(values) < 2:
        return
    order = np.lexsort(values.T[::-1])
    v = values[order]
    same = (v[1:] == v[:-1]).all(axis=1)
    if same.any():
        # the duplicate that appears earliest in the file, against its first occurrence
        pos = np.flatnonzero(same)
        later = np.maximum(order[pos], order[pos + 1])
        k = int(np.argmin(later))
        first, second = sorted((int(order[pos[k]]), int(order[pos[k] + 1])))
        shown = values[second].tolist()
        shown = shown[0] if len(shown) == 1 else tuple(shown)
        raise DataError(f"{path}, line {lines[second]}: {what} {shown!r} appears more than once "
                        f"(first at line {lines[first]})")


def read_csv(path: str | os.PathLike, what: str = "CSV file"):
    """A CSV file with a header line, every field a str: ``(DataFrame, lines: int[N])``.

    A field count that differs from the header's, a column named twice, bytes that are not UTF-8 or a broken
    quote raise a DataError naming the line. An empty file raises one saying so; blank lines are skipped.
    """
    path = Path(path)
    content = read_text(path, what)
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        start = 1
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                start = reader.line_num + 1
                continue
            if header is None:
                header = row
                seen: dict[str, int] = {}
                for j, name in enumerate(header):
                    if name in seen:
                        raise DataError(f"{path}, line {start}: the column {name!r} appears twice in the header "
                                        f"(fields {seen[name] + 1} and {j + 1})")
                    seen[name] = j
            elif len(row) != len(header):
                raise DataError(f"{path}, line {start}: {len(row)} fields, the header has {len(header)} "
                                f"({row!r:.80})")
            else:
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{path}, line {reader.line_num}: unreadable CSV ({e})") from None
    if header is None:
        raise DataError(f"{path}: the {what} is empty")
    df = pd.DataFrame(rows, columns=header, dtype=str) if rows else pd.DataFrame(
        {c: pd.Series([], dtype=str) for c in header})
    return df, np.asarray(lines, dtype=np.int64)
