"""A planted ground-truth world: embeddings built from known concept directions.

Used by the tests (where a metric's right answer must be known) and by the book (to teach what a
good SAE should find). Everything is drawn from one ``numpy.random.Generator`` seeded by
``PlantedConfig.seed``: the same configuration gives the same world, bit for bit.

The world has K unit-norm atoms (directions) in R^d and these kinds of concepts:

- **exclusive families** ``fam{f}::v{i}`` — every sample shows exactly one value of each family
  (like CUB's ``has_wing_color::*``); each value is one atom;
- **independent** concepts ``ind{i}`` — Bernoulli(p_independent), one atom each;
- **co-occurring** pairs ``co{i}_a``, ``co{i}_b`` — b copies a with probability ``cooccur_prob``;
- **split** concepts ``split{i}`` — when present, exactly one of ``split_parts`` atoms carries it, so the
  concept is the OR of several directions and a single latent cannot match it;
- **nuisance** atoms — active half of the time, no concept;
- isotropic Gaussian **noise**.

``X = A @ atoms + noise · ε`` with ``A: float[N, K]`` the true non-negative codes (magnitudes drawn from
``magnitude``). ``A > 0`` is therefore a perfect dictionary: binarised, its concept atoms OR to the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kit.errors import ConfigError
from kit.types import ConceptTable, check_pairs


@dataclass(frozen=True)
class PlantedConfig:
    """Sizes and probabilities of a planted world (defaults: a small world that runs in milliseconds)."""

    n_samples: int = 2000
    dim: int = 64
    n_families: int = 2
    family_size: int = 4
    n_independent: int = 6
    n_cooccurring: int = 2
    n_split: int = 2
    split_parts: int = 2
    n_nuisance: int = 4
    p_independent: float = 0.25
    cooccur_prob: float = 0.8
    magnitude: tuple[float, float] = (0.5, 1.5)
    noise: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_samples", "dim", "family_size", "split_parts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"PlantedConfig.{name} must be ≥ 1, got {getattr(self, name)}")
        for name in ("n_families", "n_independent", "n_cooccurring", "n_split", "n_nuisance"):
            if getattr(self, name) < 0:
                raise ConfigError(f"PlantedConfig.{name} must be ≥ 0, got {getattr(self, name)}")
        if self.family_size < 2 and self.n_families > 0:
            raise ConfigError("PlantedConfig.family_size must be ≥ 2 (a family needs values to swap between)")
        for name in ("p_independent", "cooccur_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"PlantedConfig.{name} must lie in [0, 1], got {getattr(self, name)}")
        lo, hi = self.magnitude
        if not 0 < lo <= hi:
            raise ConfigError(f"PlantedConfig.magnitude must satisfy 0 < low ≤ high, got {self.magnitude}")
        if self.noise < 0:
            raise ConfigError(f"PlantedConfig.noise must be ≥ 0, got {self.noise}")
        if self.n_concepts == 0:
            raise ConfigError("PlantedConfig describes a world without concepts")

    @property
    def n_concepts(self) -> int:
        return self.n_families * self.family_size + self.n_independent + 2 * self.n_cooccurring + self.n_split

    @property
    def n_atoms(self) -> int:
        return (self.n_families * self.family_size + self.n_independent + 2 * self.n_cooccurring
                + self.n_split * self.split_parts + self.n_nuisance)


@dataclass(frozen=True, eq=False)
class PlantedWorld:
    """A planted world and its truth.

    X: float32[N, d] embeddings; concepts: the ConceptTable (``Y: bool[N, C]``, families as groups);
    atoms: float32[K, d] unit directions; codes: float32[N, K] true non-negative codes;
    concept_atoms: per concept, the atoms that make it; nuisance_atoms: atoms of no concept;
    kinds: per concept, ``"family"``, ``"independent"``, ``"cooccurring"`` or ``"split"``.
    """

    X: np.ndarray
    concepts: ConceptTable
    atoms: np.ndarray
    codes: np.ndarray
    noise: np.ndarray
    concept_atoms: list[list[int]]
    nuisance_atoms: list[int]
    kinds: list[str]
    config: PlantedConfig

    @property
    def Y(self) -> np.ndarray:
        return self.concepts.Y

    def atom_concept(self) -> np.ndarray:
        """int[K]: the concept each atom belongs to (−1 for nuisance atoms)."""
        out = np.full(self.atoms.shape[0], -1, dtype=np.int64)
        for c, atoms in enumerate(self.concept_atoms):
            out[atoms] = c
        return out

    def embed(self, codes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """float32[n, d]: embeddings of given codes float[n, K] plus noise float[n, d]."""
        return (codes @ self.atoms + noise).astype(np.float32)


def _directions(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    """k unit vectors in R^d: orthonormal when k ≤ d, random Gaussian directions otherwise."""
    g = rng.standard_normal((d, max(k, 1)))
    if k <= d:
        q, r = np.linalg.qr(g)
        q = q * np.sign(np.diag(r))  # a unique orthonormal basis for a given draw
        return q[:, :k].T.astype(np.float32)
    g = g.T
    return (g / np.linalg.norm(g, axis=1, keepdims=True)).astype(np.float32)


def make_world(config: PlantedConfig | None = None, **overrides) -> PlantedWorld:
    """Draw a planted world (``make_world(n_samples=500, seed=3)`` overrides the defaults): the atoms, the
    concepts of each kind and which atoms they switch on, the nuisance atoms, then X."""
    cfg = config or PlantedConfig()
    if overrides:
        cfg = PlantedConfig(**{**cfg.__dict__, **overrides})
    rng = np.random.default_rng(cfg.seed)
    n, K = cfg.n_samples, cfg.n_atoms
    atoms = _directions(rng, K, cfg.dim)
    lo, hi = cfg.magnitude
    mags = rng.uniform(lo, hi, size=(n, K)).astype(np.float32)
    c = _Concepts(n, K)
    for f in range(cfg.n_families):
        value = rng.integers(cfg.family_size, size=n)
        for v in range(cfg.family_size):
            c.add(f"fam{f}::v{v}", "family", value == v, group=f"fam{f}")
    for i in range(cfg.n_independent):
        c.add(f"ind{i}", "independent", rng.random(n) < cfg.p_independent)
    for i in range(cfg.n_cooccurring):
        pa = rng.random(n) < cfg.p_independent
        copy = rng.random(n) < cfg.cooccur_prob
        pb = np.where(copy, pa, rng.random(n) < cfg.p_independent)
        c.add(f"co{i}_a", "cooccurring", pa)
        c.add(f"co{i}_b", "cooccurring", pb)
    for i in range(cfg.n_split):
        present = rng.random(n) < cfg.p_independent
        part = rng.integers(cfg.split_parts, size=n)
        c.add(f"split{i}", "split", present, parts=[present & (part == j) for j in range(cfg.split_parts)])
    nuisance = list(range(c.next_atom, c.next_atom + cfg.n_nuisance))
    c.active[:, nuisance] = rng.random((n, cfg.n_nuisance)) < 0.5

    codes = np.where(c.active, mags, 0).astype(np.float32)
    noise = (cfg.noise * rng.standard_normal((n, cfg.dim))).astype(np.float32)
    X = (codes @ atoms + noise).astype(np.float32)
    table = ConceptTable(names=c.names, Y=np.stack(c.Y_cols, axis=1), groups=c.groups)
    return PlantedWorld(X=X, concepts=table, atoms=atoms, codes=codes, noise=noise,
                        concept_atoms=c.concept_atoms, nuisance_atoms=nuisance, kinds=c.kinds, config=cfg)


class _Concepts:
    """The concepts of a world as they are drawn: names, families, kinds, labels ``[N]`` each, the atoms each
    switches on (the next free ones) and ``active: bool[N, K]``, which atoms fire in which sample."""

    def __init__(self, n: int, n_atoms: int):
        self.active = np.zeros((n, n_atoms), dtype=bool)
        self.names: list[str] = []
        self.groups: list[str] = []
        self.kinds: list[str] = []
        self.concept_atoms: list[list[int]] = []
        self.Y_cols: list[np.ndarray] = []
        self.next_atom = 0

    def add(self, name: str, kind: str, present: np.ndarray, group: str | None = None,
            parts: list[np.ndarray] | None = None) -> None:
        """A concept labelled ``present: bool[N]``; its one atom fires where it is present, or, given ``parts``
        (a split concept), one atom per part fires where that part is."""
        fires = parts if parts is not None else [present]
        atoms = list(range(self.next_atom, self.next_atom + len(fires)))
        for atom, where in zip(atoms, fires):
            self.active[:, atom] = where
        self.names.append(name)
        self.groups.append(group or name)
        self.kinds.append(kind)
        self.concept_atoms.append(atoms)
        self.Y_cols.append(present)
        self.next_atom += len(fires)


@dataclass(frozen=True, eq=False)
class PlantedPairs:
    """P pairs of planted samples that differ in exactly one concept.

    X_orig, X_edit: float32[P, d]; codes_orig, codes_edit: float32[P, K] (the truth);
    old: int[P]; new: int[P] (−1 = removal); labels_orig, labels_edit: bool[P, C];
    source: int[P] the world row each pair was made from; pair_ids: [P].
    """

    X_orig: np.ndarray
    X_edit: np.ndarray
    codes_orig: np.ndarray
    codes_edit: np.ndarray
    old: np.ndarray
    new: np.ndarray
    labels_orig: np.ndarray
    labels_edit: np.ndarray
    source: np.ndarray
    pair_ids: np.ndarray
    concepts: list[str]

    @property
    def n_pairs(self) -> int:
        return len(self.old)


def make_pairs(world: PlantedWorld, n_pairs: int = 500, kind: str = "swap", seed: int = 0) -> PlantedPairs:
    """Pairs that flip exactly one concept of a world's samples.

    kind="swap": a sample's value in one exclusive family is replaced by another value of the same family
    (the new atom takes the old atom's magnitude); kind="removal": one present non-family concept is
    removed (all its atoms switched off). Everything else — other atoms, noise — is left as it was.
    """
    if kind not in ("swap", "removal"):
        raise ConfigError(f"make_pairs: kind must be 'swap' or 'removal', got {kind!r}")
    if n_pairs < 1:
        raise ConfigError(f"make_pairs: n_pairs must be ≥ 1, got {n_pairs}")
    rng = np.random.default_rng(seed)
    Y = world.Y
    kinds = np.array(world.kinds)
    if kind == "swap":
        fam_concepts = np.flatnonzero(kinds == "family")
        if fam_concepts.size == 0:
            raise ConfigError("make_pairs: the world has no exclusive family to swap within")
        rows = rng.integers(world.X.shape[0], size=n_pairs)
        fams = world.concepts.families()
        fam_names = sorted({world.concepts.groups[c] for c in fam_concepts})
        fam_pick = rng.integers(len(fam_names), size=n_pairs)
        old = np.empty(n_pairs, dtype=np.int64)
        new = np.empty(n_pairs, dtype=np.int64)
        shift = rng.integers(1, world.config.family_size, size=n_pairs)
        for p in range(n_pairs):  # P small bookkeeping steps; the arrays below are vectorised
            members = fams[fam_names[fam_pick[p]]]
            cur = next(i for i, c in enumerate(members) if Y[rows[p], c])
            old[p] = members[cur]
            new[p] = members[(cur + shift[p]) % len(members)]
    else:
        cand = np.flatnonzero(kinds != "family")
        if cand.size == 0:
            raise ConfigError("make_pairs: the world has no non-family concept to remove")
        present = Y[:, cand]
        rr, cc = np.nonzero(present)
        if rr.size == 0:
            raise ConfigError("make_pairs: no sample shows a removable concept")
        pick = rng.integers(rr.size, size=n_pairs)
        rows, old = rr[pick], cand[cc[pick]]
        new = np.full(n_pairs, -1, dtype=np.int64)

    codes_o = world.codes[rows].copy()
    codes_e = codes_o.copy()
    idx = np.arange(n_pairs)
    for p in idx:
        old_atoms = world.concept_atoms[old[p]]
        mag = codes_e[p, old_atoms].max()
        codes_e[p, old_atoms] = 0.0
        if new[p] >= 0:
            codes_e[p, world.concept_atoms[new[p]][0]] = mag
    noise = world.noise[rows]
    lo = Y[rows].copy()
    le = lo.copy()
    le[idx, old] = False
    le[idx[new >= 0], new[new >= 0]] = True
    pair_ids = np.array([f"{kind}-{p:05d}" for p in idx])
    old, new, lo, le = check_pairs(old, new, lo, le, pair_ids=pair_ids, what="planted pairs")
    return PlantedPairs(X_orig=world.embed(codes_o, noise), X_edit=world.embed(codes_e, noise),
                        codes_orig=codes_o, codes_edit=codes_e, old=old, new=new,
                        labels_orig=lo, labels_edit=le, source=rows, pair_ids=pair_ids,
                        concepts=list(world.concepts.names))
