"""The data types every stage of the kit speaks (see DESIGN.md).

- :class:`ConceptTable` — which concepts each sample shows: ``Y: bool[N, C]``.
- :class:`PairedBenchmark` — P image pairs that differ in one concept.
- :class:`Embeddings` — ``X: float32[N, d]`` with ids and provenance.
- :class:`Matching` — per concept, an ordered coalition of latents and its reconstruction F1 curve.

Each validates itself on construction and raises :class:`kit.errors.DataError` naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from kit.arrays import as_bool_matrix, as_float_matrix, check_unique
from kit.errors import ConfigError, DataError


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _check_names(what: str, names: Sequence[str], expected: int) -> list[str]:
    names = [str(n) for n in names]
    if len(names) != expected:
        raise DataError(f"{what}: {len(names)} names for {expected} columns")
    check_unique(f"{what} names", np.asarray(names, dtype=object))
    return names


@dataclass(frozen=True, eq=False)
class ConceptTable:
    """Binary concept annotations of N samples.

    names: list[str] of C concept names; Y: bool[N, C]; ids: [N] sample ids (default ``0..N-1``);
    groups: optional list[str] of C family names (``has_wing_color::blue`` → ``has_wing_color``);
    split: optional [N] split labels (``"train"``, ``"val"``, ``"test"``);
    images: optional list[str] of N image paths.
    """

    names: list[str]
    Y: np.ndarray
    ids: np.ndarray | None = None
    groups: list[str] | None = None
    split: np.ndarray | None = None
    images: list[str] | None = None

    def __post_init__(self) -> None:
        Y = as_bool_matrix("ConceptTable.Y", self.Y)
        n, c = Y.shape
        _set(self, "Y", Y)
        _set(self, "names", _check_names("ConceptTable", self.names, c))
        ids = np.arange(n) if self.ids is None else np.asarray(self.ids)
        if ids.shape != (n,):
            raise DataError(f"ConceptTable.ids has shape {ids.shape}, expected ({n},) to match Y")
        _set(self, "ids", check_unique("ConceptTable.ids", ids))
        if self.groups is not None:
            groups = [str(g) for g in self.groups]
            if len(groups) != c:
                raise DataError(f"ConceptTable.groups has {len(groups)} entries for {c} concepts")
            _set(self, "groups", groups)
        if self.split is not None:
            split = np.asarray(self.split).astype(str)
            if split.shape != (n,):
                raise DataError(f"ConceptTable.split has shape {split.shape}, expected ({n},)")
            _set(self, "split", split)
        if self.images is not None:
            images = [str(p) for p in self.images]
            if len(images) != n:
                raise DataError(f"ConceptTable.images has {len(images)} paths for {n} samples")
            _set(self, "images", images)

    @property
    def n_samples(self) -> int:
        return self.Y.shape[0]

    @property
    def n_concepts(self) -> int:
        return self.Y.shape[1]

    def families(self) -> dict[str, list[int]]:
        """Family name → concept indices (each concept its own family when ``groups`` is None)."""
        groups = self.groups if self.groups is not None else self.names
        out: dict[str, list[int]] = {}
        for i, g in enumerate(groups):
            out.setdefault(g, []).append(i)
        return out

    def select(self, rows: np.ndarray | slice) -> "ConceptTable":
        """A table of the chosen rows (a boolean mask, integer indices or a slice)."""
        idx = np.arange(self.n_samples)[rows]
        if idx.size == 0:
            raise DataError("ConceptTable.select: the selection is empty")
        return ConceptTable(
            names=self.names,
            Y=self.Y[idx],
            ids=self.ids[idx],
            groups=self.groups,
            split=None if self.split is None else self.split[idx],
            images=None if self.images is None else [self.images[i] for i in idx],
        )

    def subset(self, split: str) -> "ConceptTable":
        """The rows whose split label is ``split``."""
        if self.split is None:
            raise DataError(f"ConceptTable has no split labels; cannot take split {split!r}")
        mask = self.split == split
        if not mask.any():
            raise DataError(f"ConceptTable has no row in split {split!r} (splits: {sorted(set(self.split))})")
        return self.select(mask)


def check_pairs(
    old: np.ndarray,
    new: np.ndarray,
    labels_orig: np.ndarray,
    labels_edit: np.ndarray,
    pair_ids: Sequence[Any] | None = None,
    what: str = "pairs",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate one-edit pairs; return ``(old, new, labels_orig, labels_edit)`` as int64/bool arrays.

    old: int[P] concept present in the original and absent after the edit;
    new: int[P] concept absent → present, −1 for a removal; labels_*: bool[P, C].
    The two label rows must differ in exactly ``{old, new}``. Errors name the first bad pair.
    """
    lo = as_bool_matrix(f"{what} labels_orig", labels_orig)
    le = as_bool_matrix(f"{what} labels_edit", labels_edit)
    if lo.shape != le.shape:
        raise DataError(f"{what}: labels_orig has shape {lo.shape} but labels_edit has shape {le.shape}")
    p, c = lo.shape
    old = np.asarray(old)
    new = np.asarray(new)
    for name, a in (("old", old), ("new", new)):
        if a.shape != (p,):
            raise DataError(f"{what}: {name} has shape {a.shape}, expected ({p},) to match the labels")
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise DataError(f"{what}: {name} must hold integer concept indices, got dtype {a.dtype}")
    old = old.astype(np.int64)
    new = new.astype(np.int64)
    ids = list(range(p)) if pair_ids is None else np.asarray(pair_ids).tolist()

    def fail(mask: np.ndarray, msg: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise DataError(f"{what}: pair {ids[i]!r} (row {i}): {msg.format(old=old[i], new=new[i])}")

    fail((old < 0) | (old >= c), "old concept index {old} is out of range [0, %d)" % c)
    fail((new < -1) | (new >= c), "new concept index {new} is out of range [-1, %d)" % c)
    fail(old == new, "old and new are the same concept ({old})")
    rows = np.arange(p)
    fail(~lo[rows, old], "old concept {old} is not present in the original's labels")
    fail(le[rows, old], "old concept {old} is still present in the edit's labels")
    swap = new >= 0
    nn = np.where(swap, new, 0)
    fail(swap & lo[rows, nn], "new concept {new} is already present in the original's labels")
    fail(swap & ~le[rows, nn], "new concept {new} is not present in the edit's labels")
    expected = np.zeros_like(lo)
    expected[rows, old] = True
    expected[rows[swap], new[swap]] = True
    diff = lo ^ le
    extra = (diff & ~expected).any(axis=1)
    if extra.any():
        i = int(np.flatnonzero(extra)[0])
        cols = np.flatnonzero(diff[i] & ~expected[i]).tolist()
        raise DataError(f"{what}: pair {ids[i]!r} (row {i}): labels also differ in concepts {cols}, "
                        f"besides old={old[i]} and new={new[i]}")
    return old, new, lo, le


@dataclass(frozen=True, eq=False)
class PairedBenchmark:
    """P image pairs that differ in one concept.

    orig_images, edit_images: list[str] of P image paths; old: int[P]; new: int[P] (−1 = removal);
    labels_orig, labels_edit: bool[P, C]; concepts: list[str] of C names; pair_ids: [P];
    groups: optional list[str] of C family names; root: the folder the paths are relative to;
    extra: optional per-pair metadata (a pandas DataFrame of P rows, e.g. class names, verification scores).
    """

    orig_images: list[str]
    edit_images: list[str]
    old: np.ndarray
    new: np.ndarray
    labels_orig: np.ndarray
    labels_edit: np.ndarray
    concepts: list[str]
    pair_ids: np.ndarray | None = None
    groups: list[str] | None = None
    root: str | None = None
    name: str = "paired"
    extra: Any = None

    def __post_init__(self) -> None:
        p = len(self.orig_images)
        if p == 0:
            raise DataError(f"{self.name}: the benchmark has no pair")
        if len(self.edit_images) != p:
            raise DataError(f"{self.name}: {p} original images but {len(self.edit_images)} edited images")
        ids = np.arange(p) if self.pair_ids is None else np.asarray(self.pair_ids)
        if ids.shape != (p,):
            raise DataError(f"{self.name}: pair_ids has shape {ids.shape}, expected ({p},)")
        _set(self, "pair_ids", check_unique(f"{self.name} pair_ids", ids))
        old, new, lo, le = check_pairs(self.old, self.new, self.labels_orig, self.labels_edit,
                                       pair_ids=ids, what=self.name)
        for k, v in (("old", old), ("new", new), ("labels_orig", lo), ("labels_edit", le)):
            _set(self, k, v)
        _set(self, "orig_images", [str(s) for s in self.orig_images])
        _set(self, "edit_images", [str(s) for s in self.edit_images])
        _set(self, "concepts", _check_names(self.name, self.concepts, lo.shape[1]))
        if self.groups is not None:
            if len(self.groups) != lo.shape[1]:
                raise DataError(f"{self.name}: groups has {len(self.groups)} entries for {lo.shape[1]} concepts")
            _set(self, "groups", [str(g) for g in self.groups])
        if self.extra is not None and len(self.extra) != p:
            raise DataError(f"{self.name}: extra metadata has {len(self.extra)} rows for {p} pairs")

    @property
    def n_pairs(self) -> int:
        return len(self.orig_images)

    @property
    def n_concepts(self) -> int:
        return len(self.concepts)

    @property
    def is_removal(self) -> np.ndarray:
        """bool[P]: True where the edit removes a concept (``new == -1``)."""
        return self.new < 0


@dataclass(frozen=True, eq=False)
class Embeddings:
    """X: float32[N, d] embeddings; ids: [N] sample ids; provenance: how they were made
    (encoder, checkpoint, preprocessing, image-list hash, kit version)."""

    X: np.ndarray
    ids: np.ndarray | None = None
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = as_float_matrix("Embeddings.X", self.X)
        _set(self, "X", X)
        ids = np.arange(X.shape[0]) if self.ids is None else np.asarray(self.ids)
        if ids.shape != (X.shape[0],):
            raise DataError(f"Embeddings.ids has shape {ids.shape}, expected ({X.shape[0]},)")
        _set(self, "ids", check_unique("Embeddings.ids", ids))
        _set(self, "provenance", dict(self.provenance))

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def dim(self) -> int:
        return self.X.shape[1]


@dataclass(frozen=True, eq=False)
class Matching:
    """Concepts matched to coalitions of latents.

    coalitions: per concept, the latents in selection order (may be empty);
    rec_f1: float[C, S] — rec_f1[c, s] is the F1 of the OR of the first s+1 latents of concept c,
    padded with the last value once the coalition stops growing;
    method: how it was made (``"fbmp"``, ``"one_to_one"``, ...); params: its parameters;
    concepts: optional concept names.
    """

    coalitions: list[list[int]]
    rec_f1: np.ndarray
    method: str
    params: dict = field(default_factory=dict)
    concepts: list[str] | None = None

    def __post_init__(self) -> None:
        rec = np.asarray(self.rec_f1, dtype=np.float64)
        if rec.ndim != 2:
            raise DataError(f"Matching.rec_f1 must be 2-D [concepts, steps], got shape {rec.shape}")
        if len(self.coalitions) != rec.shape[0]:
            raise DataError(f"Matching: {len(self.coalitions)} coalitions for {rec.shape[0]} rows of rec_f1")
        coal = [[int(j) for j in c] for c in self.coalitions]
        for c, latents in enumerate(coal):
            if any(j < 0 for j in latents):
                raise DataError(f"Matching: concept {c} has a negative latent index {latents}")
            if len(latents) > rec.shape[1]:
                raise DataError(f"Matching: concept {c} has {len(latents)} latents but rec_f1 has {rec.shape[1]} steps")
        _set(self, "coalitions", coal)
        _set(self, "rec_f1", rec)
        _set(self, "params", dict(self.params))
        if self.concepts is not None and len(self.concepts) != rec.shape[0]:
            raise DataError(f"Matching: {len(self.concepts)} concept names for {rec.shape[0]} concepts")

    @property
    def n_concepts(self) -> int:
        return len(self.coalitions)

    def budget_lengths(self, k: int) -> np.ndarray:
        """int[C]: how many latents of each coalition are kept under budget ``k``.

        The first ``min(k, recorded)`` latents; where the F1 curve is not monotone, the shortest prefix
        (within k) that reaches the best F1 in that window.
        """
        if k < 1:
            raise ConfigError(f"coalition budget k must be ≥ 1, got {k}")
        lengths = np.array([len(c) for c in self.coalitions], dtype=np.int64)
        out = np.minimum(lengths, k)
        for c in np.flatnonzero(out > 1):
            window = self.rec_f1[c, : out[c]]
            out[c] = int(np.argmax(window)) + 1
        return out

    def budgeted(self, k: int) -> list[list[int]]:
        """Per concept, the coalition cut to budget ``k`` (see :meth:`budget_lengths`)."""
        n = self.budget_lengths(k)
        return [c[: n[i]] for i, c in enumerate(self.coalitions)]
