"""One evaluation core: an SAE and its baselines on one benchmark → tidy rows in the results vocabulary.

    results = evaluate(sae, prepared)               # a kit.pipeline.Prepared, or EvalData of arrays
    results.rows                                    # DataFrame with the columns of kit.results.COLUMNS
    results.wide()                                  # (metric, criterion, budget) × role
    results.save("out/results.json")                # rows + the full configuration + the kit version

:func:`evaluate` builds the baselines that match the SAE (:func:`build_baselines`: its untrained twin and
random codes of the same d, D, k, family and input preprocessing), encodes the annotated images and the
pairs once per model (the pairs only for the latents its matchings hold; the images' firing patterns sparse),
and runs every requested metric (:data:`kit.results.METRICS`) on each model:

- ``match_score`` per matching criterion (``one_to_one`` at budget 1, ``fbmp_b<β>`` and ``nnomp`` at
  ``budget``), with a bootstrap interval over concepts; same-split by default (the paper), held-out on request;
- ``delta_match_score`` (trained rows only): MATCHScore minus the untrained twin's, with a paired bootstrap
  over concepts; ``delta_tapascore`` likewise for TAPAScore, paired over the pairs;
- TAPAScore and its companions per criterion, with the coalitions matched on the same model's codes
  (so the untrained twin is scored with its own matching), bootstrap over pairs;
- the baseline metrics of :mod:`kit.metrics`, each with a bootstrap interval over its units.

Every study, the sanity check, ``kit score`` and the chapters get their numbers from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from kit._version import __version__
from kit.arrays import as_bool_matrix, as_float_matrix
from kit.errors import ConfigError, DataError
from kit.matching import LatentCounts, binarize, concept_scores, fbmp, nnomp, one_to_one, rescore
from kit.metrics.absorption import AbsorptionConfig, absorption
from kit.metrics.cknna import CKNNAConfig, cknna
from kit.metrics.erasure import ErasureConfig, choose_scr_pairs, scr, tpp
from kit.metrics.fms import FMSConfig, fms
from kit.metrics.monosemanticity import MSConfig, monosemanticity
from kit.metrics.proxies import ProxiesConfig, proxies
from kit.metrics.sparse_probing import SparseProbingConfig, sparse_probing
from kit.metrics.steerability import SteerabilityConfig, steerability
from kit.results import COLUMNS, METRICS, PAPER_METRICS, ResultRow, jsonable, parse_criterion, save_results
from kit.sae import encode_array, paper_untrained, random_codes, untrained
from kit.sae.families import FAMILIES, K_FAMILIES
from kit.stats import bootstrap_indices, percentile_ci
from kit.tapas import AGGREGATIONS, STAY_POOLINGS, tapascore
from kit.tapas import METRICS as TAPAS_METRICS
from kit.types import Matching


BASELINES = ("untrained", "random", "paper_untrained", "dense_sign")  # the baselines the kit builds
# which computation gives which metric names
_GROUPS = {
    "proxies": ("mse", "fvu", "cosine", "l0", "dead_fraction", "dense_fraction"),
    "cknna": ("cknna",),
    "ms": ("ms",),
    "fms": ("fms",),
    "sparse_probing": ("sparse_probing",),
    "tpp": ("tpp",),
    "scr": ("scr",),
    "absorption": ("absorption", "absorption_fraction"),
    "steerability": ("steer_power", "steerability", "steerable_fraction"),
    "match": ("match_score",),
    "delta": ("delta_match_score",),
    "tapas": TAPAS_METRICS,
    "delta_tapas": ("delta_tapascore",),
}
_GROUP_OF = {m: g for g, names in _GROUPS.items() for m in names}
assert set(_GROUP_OF) == set(METRICS), "every metric of the vocabulary is computed by exactly one group"


@dataclass(frozen=True)
class EvalConfig:
    """What :func:`evaluate` measures and how (defaults: the paper's settings).

    criteria: matching criteria (``one_to_one``, ``fbmp_b<β>``, ``nnomp``); budget: coalition size of FBMP and
    nnOMP for MATCHScore (one-to-one is budget 1); max_size: most latents FBMP/nnOMP records per concept;
    threshold: codes above it fire; tapas_budget: TAPAScore's coalition size (None: the criterion's budget);
    aggregation: TAPAScore's (:data:`kit.tapas.AGGREGATIONS`); stay_pooling: Δ_stay over all (pair, other
    concept) items (``"items"``, the paper) or the mean of per-pair means (``"pairs"``); metrics: ``"paper"`` (MATCHScore, ΔMATCHScore,
    TAPAScore, Δ_stay), ``"all"`` (every metric the data allows) or a tuple of names from
    :data:`kit.results.METRICS`; baselines: models built to match the SAE (:func:`build_baselines`: ``untrained``,
    ``random``, and the reference code's protocol ``paper_untrained`` and its one-encoder variant ``dense_sign``);
    held_out: select coalitions on a seeded ``held_out_fraction`` of the annotated images and score them on
    the rest (the paper: the same images); n_boot, alpha, seed: the bootstraps (``seed`` also draws the
    held-out split, and the baselines of an SAE whose own seed is unknown); batch_size, device: encoding (a
    batch's codes, ``batch_size × D`` floats, and the SAE's intermediates are what encoding holds at once:
    lower it for a large dictionary; the annotated images' codes are kept whole, the pairs' only for the
    matched latents); the remaining fields: each baseline metric's own settings (their ``device`` follows
    ``device`` unless set).
    """

    criteria: tuple[str, ...] = ("one_to_one", "fbmp_b1", "fbmp_b0.5", "fbmp_b0.25")
    budget: int = 3
    max_size: int = 20
    threshold: float = 1e-8
    tapas_budget: int | None = None
    aggregation: str = "binary"
    metrics: str | tuple[str, ...] = "paper"
    baselines: tuple[str, ...] = ("untrained", "random")
    stay_pooling: str = "items"
    held_out: bool = False
    held_out_fraction: float = 0.5
    n_boot: int = 1000
    alpha: float = 0.05
    seed: int = 0
    batch_size: int = 4096
    device: str = "auto"
    proxies: ProxiesConfig = field(default_factory=ProxiesConfig)
    cknna: CKNNAConfig = field(default_factory=CKNNAConfig)
    ms: MSConfig = field(default_factory=MSConfig)
    fms: FMSConfig = field(default_factory=FMSConfig)
    sparse_probing: SparseProbingConfig = field(default_factory=SparseProbingConfig)
    erasure: ErasureConfig = field(default_factory=ErasureConfig)
    absorption: AbsorptionConfig = field(default_factory=AbsorptionConfig)
    steerability: SteerabilityConfig = field(default_factory=SteerabilityConfig)

    def __post_init__(self) -> None:
        if self.device != "auto":  # the evaluation's device reaches every metric left on "auto"
            for f in dataclasses.fields(self):
                sub = getattr(self, f.name)
                if dataclasses.is_dataclass(sub) and getattr(sub, "device", None) == "auto":
                    object.__setattr__(self, f.name, dataclasses.replace(sub, device=self.device))
        for name in ("criteria", "baselines"):  # YAML and the command line give lists or one string
            v = getattr(self, name)
            object.__setattr__(self, name, (v,) if isinstance(v, str) else tuple(v))
        if not isinstance(self.metrics, str):
            object.__setattr__(self, "metrics", tuple(self.metrics))
        if not self.criteria:
            raise ConfigError("EvalConfig.criteria needs at least one criterion")
        for c in self.criteria:
            method, beta = parse_criterion(c)
            if method == "probe":
                raise ConfigError("EvalConfig.criteria: 'probe' is a supervised read-out of the embeddings, not a "
                                  "matching of latents (kit.matching.probe_upper_bound)")
            if method == "fbmp" and not beta > 0:
                raise ConfigError(f"EvalConfig.criteria: FBMP's β must be > 0, got {c!r}")
            if method == "nnomp" and self.held_out:
                raise ConfigError("EvalConfig.held_out applies to one_to_one and fbmp criteria, not nnomp")
        for name in ("budget", "max_size", "n_boot", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"EvalConfig.{name} must be an integer ≥ 1, got {v!r}")
        if self.tapas_budget is not None and (not isinstance(self.tapas_budget, (int, np.integer))
                                              or self.tapas_budget < 1):
            raise ConfigError(f"EvalConfig.tapas_budget must be None or an integer ≥ 1, got {self.tapas_budget!r}")
        if self.stay_pooling not in STAY_POOLINGS:
            raise ConfigError(f"EvalConfig.stay_pooling must be one of {STAY_POOLINGS}, got {self.stay_pooling!r}")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"EvalConfig.aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"EvalConfig.alpha must lie in (0, 1), got {self.alpha!r}")
        if not 0 < self.held_out_fraction < 1:
            raise ConfigError(f"EvalConfig.held_out_fraction must lie in (0, 1), got {self.held_out_fraction!r}")
        unknown = sorted(set(self.baselines) - set(BASELINES))
        if unknown:
            raise ConfigError(f"EvalConfig.baselines: unknown {unknown}; the kit builds {list(BASELINES)}")
        if isinstance(self.metrics, str):
            if self.metrics not in ("paper", "all"):
                raise ConfigError(f"EvalConfig.metrics must be 'paper', 'all' or a list of metric names, got "
                                  f"{self.metrics!r}")
        else:
            unknown = sorted(set(self.metrics) - set(METRICS))
            if unknown or not self.metrics:
                raise ConfigError(f"EvalConfig.metrics: unknown metric(s) {unknown or '(none given)'}; known: "
                                  f"{list(METRICS)}")
        for delta in ("delta_match_score", "delta_tapascore"):
            if delta in self.metric_names() and "untrained" not in self.baselines:
                raise ConfigError(f"EvalConfig: {delta} needs the 'untrained' baseline")

    def metric_names(self) -> tuple[str, ...]:
        """The metric names asked for, in the vocabulary's order."""
        wanted = {"paper": PAPER_METRICS, "all": tuple(METRICS)}.get(self.metrics, self.metrics)
        return tuple(m for m in METRICS if m in wanted)

    @property
    def explicit(self) -> bool:
        """Whether the metrics were named one by one (then a metric the data cannot support is an error)."""
        return not isinstance(self.metrics, str)


def config_from(overrides: Mapping[str, Any], base: EvalConfig | None = None) -> EvalConfig:
    """An :class:`EvalConfig` with some fields replaced (ConfigError naming an unknown field)."""
    base = base or EvalConfig()
    names = {f.name for f in dataclasses.fields(EvalConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"unknown evaluation setting(s) {unknown}; valid: {sorted(names)}")
    return dataclasses.replace(base, **overrides)


@dataclass(frozen=True, eq=False)
class Pairs:
    """Embedded one-edit pairs: X_orig, X_edit: float[P, d]; old, new: int[P] (new = −1: a removal);
    labels_orig: bool[P, C] or None. A :class:`kit.planted.PlantedPairs` has the same fields."""

    X_orig: np.ndarray
    X_edit: np.ndarray
    old: np.ndarray
    new: np.ndarray
    labels_orig: np.ndarray | None = None

    @classmethod
    def from_benchmark(cls, benchmark: Any, emb_orig: Any, emb_edit: Any) -> "Pairs":
        """From a :class:`kit.types.PairedBenchmark` and the embeddings of its original and edited images."""
        return cls(X_orig=getattr(emb_orig, "X", emb_orig), X_edit=getattr(emb_edit, "X", emb_edit),
                   old=benchmark.old, new=benchmark.new, labels_orig=benchmark.labels_orig)


@dataclass(frozen=True, eq=False)
class EvalData:
    """What an SAE is evaluated on.

    X: float[N, d] embeddings of the annotated images that are matched; Y: bool[N, C] their concepts;
    pairs: the embedded paired benchmark (:class:`Pairs`; None: no TAPAScore); concepts: the C names;
    groups: the C family names (TPP per family, SCR pairs, absorption); E: reference embeddings for MS
    (default X); text_embed + vocabulary: a text encoder and the words for steerability;
    dataset, encoder: labels of the rows.
    """

    X: np.ndarray
    Y: np.ndarray
    pairs: Any = None
    concepts: Sequence[str] | None = None
    groups: Sequence[str] | None = None
    E: np.ndarray | None = None
    text_embed: Callable[[list[str]], np.ndarray] | None = None
    vocabulary: Sequence[str] | None = None
    dataset: str = ""
    encoder: str = ""

    def __post_init__(self) -> None:
        X = as_float_matrix("EvalData.X", self.X)
        Y = as_bool_matrix("EvalData.Y", self.Y)
        if X.shape[0] != Y.shape[0]:
            raise DataError(f"EvalData: X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        if not np.isfinite(X).all():
            raise DataError("EvalData.X holds non-finite values")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)
        c = Y.shape[1]
        for name in ("concepts", "groups"):
            v = getattr(self, name)
            if v is not None and len(v) != c:
                raise DataError(f"EvalData.{name} has {len(v)} entries for {c} concepts")
        if self.pairs is not None:
            Xo = as_float_matrix("EvalData.pairs.X_orig", self.pairs.X_orig)
            Xe = as_float_matrix("EvalData.pairs.X_edit", self.pairs.X_edit)
            if Xo.shape != Xe.shape or Xo.shape[1] != X.shape[1]:
                raise DataError(f"EvalData.pairs: X_orig {Xo.shape} and X_edit {Xe.shape} must both be "
                                f"[P, {X.shape[1]}]")
            if not (np.isfinite(Xo).all() and np.isfinite(Xe).all()):
                raise DataError("EvalData.pairs holds non-finite embeddings")
        if self.text_embed is not None and self.vocabulary is None:
            raise ConfigError("EvalData: text_embed needs a vocabulary")

    @classmethod
    def from_prepared(cls, prepared: Any, split: str = "test", **fields: Any) -> "EvalData":
        """From a :class:`kit.pipeline.Prepared`: the annotated images of ``split`` and the benchmark's pairs."""
        X, Y = prepared.split(split)
        pairs = Pairs.from_benchmark(prepared.pairs, prepared.X_orig, prepared.X_edit)
        base = dict(X=X, Y=Y, pairs=pairs, concepts=list(prepared.concepts.names), groups=prepared.concepts.groups,
                    dataset=prepared.config.benchmark, encoder=prepared.config.encoder)
        return cls(**{**base, **fields})


def as_eval_data(data: Any, split: str = "test") -> EvalData:
    """EvalData as given, or from a Prepared benchmark (anything with ``split``, ``pairs``, ``X_orig``)."""
    if isinstance(data, EvalData):
        return data
    if all(hasattr(data, a) for a in ("split", "pairs", "X_orig", "X_edit", "concepts")):
        return EvalData.from_prepared(data, split)
    raise ConfigError(f"evaluate: data must be EvalData or a kit.pipeline.Prepared, got {type(data).__name__}")


@dataclass(frozen=True)
class SAEInfo:
    """The columns that describe the scored SAE: its id, family, D, k (sparsity) and seed."""

    sae: str
    family: str
    dict_size: int
    sparsity: int | None
    seed: int | None
    d: int


def describe(sae: Any, sae_id: str | None = None, seed: int | None = None) -> SAEInfo:
    """An :class:`SAEInfo` from an SAE-protocol module (``config`` with family, d, dict_size, k when present)."""
    W_dec = getattr(sae, "W_dec", None)
    if W_dec is None or getattr(W_dec, "ndim", 0) != 2:
        raise ConfigError(f"evaluate: {type(sae).__name__} does not speak the SAE protocol (no W_dec [D, d])")
    D, d = (int(n) for n in W_dec.shape)
    cfg = getattr(sae, "config", None)
    family = str(getattr(cfg, "family", "") or type(sae).__name__.lower())
    k = getattr(cfg, "k", None)
    sparsity = int(k) if k is not None and family in K_FAMILIES else None
    if seed is None:
        seed = getattr(getattr(sae, "train_config", None), "seed", None)
    name = sae_id or (f"{family}-D{D}" + (f"-k{sparsity}" if sparsity else "") + (f"-s{seed}" if seed is not None
                                                                                 else ""))
    return SAEInfo(sae=name, family=family, dict_size=D, sparsity=sparsity, seed=seed, d=d)


def build_baselines(sae: Any, roles: Sequence[str] = ("untrained", "random"), seed: int = 0,
                    l0: float | None = None) -> dict:
    """The baselines that match an SAE: role → module, or ``(matching module, TAPAScore module)``.

    ``untrained``: the same family, d, D, k and input preprocessing (standardisation, centring) at its random
    initialisation with ``seed`` — for an SAE the kit trained with that seed, exactly its starting weights;
    ``random``: random codes (:func:`kit.sae.random_codes`) with the SAE's k, or, for families without a k
    (ReLU, JumpReLU), ``round(l0)`` latents per sample (the SAE's measured L0);
    ``paper_untrained``: the reference code's protocol — dense codes of a Kaiming-uniform encoder
    (:func:`kit.sae.paper_untrained`, ``seed``) for matching and *another* one (``seed + 1``) for TAPAScore, as
    the reference draws it anew at each stage; ``dense_sign``: the same dense encoder for both stages.
    """
    info = describe(sae)
    cfg = getattr(sae, "config", None)
    out = {}
    for role in roles:
        if role == "untrained":
            if info.family not in FAMILIES:
                raise ConfigError(f"evaluate: no untrained twin for an SAE of family {info.family!r} (the kit "
                                  f"builds {list(FAMILIES)}); pass baselines= to evaluate")
            arch = {a: getattr(cfg, a) for a in ("standardize", "subtract_b_dec") if hasattr(cfg, a)}
            out[role] = untrained(info.family, info.d, info.dict_size, k=getattr(cfg, "k", None) or 32, seed=seed,
                                  **arch)
        elif role == "random":
            k = info.sparsity or max(1, int(round(l0 or 1)))
            out[role] = random_codes(info.d, info.dict_size, k=min(k, info.dict_size), seed=seed)
        elif role == "paper_untrained":
            out[role] = (paper_untrained(info.d, info.dict_size, seed), paper_untrained(info.d, info.dict_size,
                                                                                        seed + 1))
        elif role == "dense_sign":
            out[role] = paper_untrained(info.d, info.dict_size, seed)
        else:
            raise ConfigError(f"evaluate: unknown baseline {role!r}; the kit builds {list(BASELINES)}")
    return out


def _stages(model: Any) -> tuple[Any, Any]:
    """(the module whose latents are matched, the module that encodes the pairs)."""
    return tuple(model) if isinstance(model, tuple) else (model, model)


@dataclass(frozen=True, eq=False)
class Results:
    """What :func:`evaluate` returns.

    rows: DataFrame with the columns of :data:`kit.results.COLUMNS`; config: the full configuration as JSON
    values (evaluation settings, the SAE's description, the data's shape); kit_version; matchings and tapas:
    ``(role, criterion) → Matching / TapasResult`` for tables and plots; skipped: metric → why it was not
    computed (e.g. no pairs, no concept families, no text encoder); held_out: ``(select, score)`` rows of
    held-out matching (:func:`held_out_split`), None for same-split matching.
    """

    rows: Any
    config: dict
    kit_version: str
    matchings: dict = field(default_factory=dict)
    tapas: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    held_out: tuple | None = None

    def select(self, metric: str, role: str = "trained", criterion: str | None = None,
               budget: int | None = None):
        """The rows of one metric and role (optionally one criterion and budget)."""
        r = self.rows
        keep = (r.metric == metric) & (r.role == role)
        if criterion is not None:
            keep &= r.criterion == criterion
        if budget is not None:
            keep &= r.budget == budget
        return r[keep]

    def value(self, metric: str, role: str = "trained", criterion: str | None = None,
              budget: int | None = None) -> float:
        """One number; ConfigError when the selection is empty or not unique."""
        r = self.select(metric, role, criterion, budget)
        if len(r) != 1:
            raise ConfigError(f"Results.value({metric!r}, role={role!r}, criterion={criterion!r}, budget={budget!r}) "
                              f"selects {len(r)} rows; name the criterion and budget")
        return float(r.value.iloc[0])

    def wide(self, values: str = "value"):
        """A pivot: one row per (metric, criterion, budget), one column per role, in the vocabulary's order."""
        r = self.rows.assign(budget=self.rows.budget.fillna(0).astype(int))
        table = r.pivot_table(index=["metric", "criterion", "budget"], columns="role", values=values,
                              aggfunc="first", sort=False)
        roles = [x for x in dict.fromkeys(self.rows.role) if x in table.columns]
        return table[roles]

    def save(self, path) -> Any:
        """Write ``{"kit_version", "config", "rows"}`` to ``path`` (JSON, atomic)."""
        return save_results(path, self.rows.to_dict("records"), self.config)


@dataclass
class _Measure:
    metric: str
    value: float
    ci: tuple[float, float]
    n: int
    criterion: str = ""
    budget: int | None = None


def _mean_measure(metric: str, units: Any, cfg: EvalConfig, criterion: str = "", budget: int | None = None,
                  boot: dict | None = None) -> _Measure:
    """The mean of finite per-unit values with a percentile bootstrap interval over the units."""
    u = np.asarray(units, dtype=np.float64).ravel()
    u = u[np.isfinite(u)]
    if u.size == 0:
        return _Measure(metric, np.nan, (np.nan, np.nan), 0, criterion, budget)
    if boot is not None and u.size not in boot:
        boot[u.size] = bootstrap_indices(u.size, cfg.n_boot, cfg.seed)
    idx = boot[u.size] if boot is not None else bootstrap_indices(u.size, cfg.n_boot, cfg.seed)
    return _Measure(metric, float(u.mean()), percentile_ci(u[idx].mean(axis=1), cfg.alpha), int(u.size),
                    criterion, budget)


def _families(groups: Sequence[str] | None) -> list[list[int]] | None:
    if groups is None:
        return None
    fam: dict[str, list[int]] = {}
    for c, g in enumerate(groups):
        fam.setdefault(str(g), []).append(c)
    out = [m for m in fam.values() if len(m) >= 2]
    return out or None


def held_out_split(n: int, cfg: EvalConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(select, score): int[·]`` — the rows of the annotated images on which held-out matching selects the
    coalitions and those on which it scores them (a seeded ``cfg.held_out_fraction`` / rest split of ``n``)."""
    perm = np.random.default_rng(cfg.seed).permutation(n)
    n_sel = int(round(n * cfg.held_out_fraction))
    if not 0 < n_sel < n:
        raise DataError(f"held-out matching: {n} annotated images cannot be split with held_out_fraction="
                        f"{cfg.held_out_fraction}")
    return np.sort(perm[:n_sel]), np.sort(perm[n_sel:])


def _criterion_budget(criterion: str, cfg: EvalConfig) -> int:
    return 1 if criterion == "one_to_one" else cfg.budget


def _firing(Z: np.ndarray, cfg: EvalConfig, split) -> tuple[LatentCounts, Any]:
    """One model's firing patterns, binarised (sparse: its few active latents per sample) and prepared once for
    all its binary criteria: the :class:`~kit.matching.LatentCounts` of the rows matched on (the selection rows
    of a held-out ``split``) and the patterns of the scoring rows (None for same-split matching)."""
    B = binarize(Z, cfg.threshold, sparse=True)
    if split is None:
        return LatentCounts(B, device=cfg.device), None
    return LatentCounts(B[split[0]], device=cfg.device), B[split[1]]


def _match(criterion: str, Y: np.ndarray, Z: np.ndarray, firing, cfg: EvalConfig, split) -> Matching:
    """One criterion's matching of ``Z``; the binary ones on ``firing`` (:func:`_firing`), held out as
    :func:`kit.matching.held_out` does when ``split`` is given."""
    method, beta = parse_criterion(criterion)
    if method == "nnomp":
        return nnomp(Y, Z, max_size=cfg.max_size)
    counts, B_score = firing
    options = {"device": cfg.device} if method == "one_to_one" else {
        "beta": beta, "max_size": cfg.max_size, "device": cfg.device}
    match = one_to_one if method == "one_to_one" else fbmp
    if split is None:
        return match(Y, counts, **options)
    return rescore(match(Y[split[0]], counts, **options), Y[split[1]], B_score)


class _Plan:
    """Which metric groups run, given the config and what the data provides; why the others are skipped."""

    def __init__(self, cfg: EvalConfig, data: EvalData, scr_pairs: list):
        self.names = set(cfg.metric_names())
        no_pairs = None if data.pairs is not None else "the data has no pairs"
        missing = {
            "tapas": no_pairs,
            "delta_tapas": no_pairs,
            "absorption": None if _families(data.groups) else "needs concept families (groups) with ≥ 2 members",
            "scr": None if scr_pairs else "no concept pair populates all four cells (SCR needs one)",
            "steerability": None if data.text_embed is not None else "needs a text encoder (EvalData.text_embed)",
        }
        self.skipped: dict[str, str] = {}
        for group, why in missing.items():
            asked = [m for m in _GROUPS[group] if m in self.names]
            if why and asked:
                if cfg.explicit:
                    raise ConfigError(f"evaluate: cannot compute {asked}: {why}")
                self.skipped.update({m: why for m in asked})
                self.names -= set(asked)

    def runs(self, group: str) -> bool:
        return any(m in self.names for m in _GROUPS[group])


def _baseline_metrics(plan: _Plan, model: Any, Z: np.ndarray, data: EvalData, cfg: EvalConfig, scr_pairs: list,
                      text_embed, boot: dict) -> list[_Measure]:
    """The metrics of :mod:`kit.metrics` on one model's codes ``Z: float[N, D]`` of ``data.X``."""
    X, Y = data.X, data.Y
    out: list[_Measure] = []
    units: dict[str, Any] = {}
    if plan.runs("proxies"):
        units.update(proxies(X, model, cfg.proxies).units())
    if plan.runs("cknna"):
        r = cknna(X, Z, cfg.cknna)
        out.append(_Measure("cknna", float(r.value), r.bootstrap_ci(cfg.n_boot, cfg.alpha, cfg.seed),
                            int(r.terms.shape[1])))
    if plan.runs("ms"):
        units.update(monosemanticity(X if data.E is None else data.E, Z, cfg.ms).units())
    if plan.runs("fms"):
        units.update(fms(Z, Y, cfg.fms).units())
    if plan.runs("sparse_probing"):
        for name, u in sparse_probing(Z, Y, cfg.sparse_probing).units().items():
            out.append(_mean_measure("sparse_probing", u, cfg, budget=int(name.rsplit("_k", 1)[1]), boot=boot))
    if plan.runs("tpp"):
        units.update(tpp(X, Y, model, _families(data.groups), Z=Z, config=cfg.erasure).units())
    if plan.runs("scr"):
        units.update(scr(X, Y, model, scr_pairs, Z=Z, config=cfg.erasure).units())
    if plan.runs("absorption"):
        u = absorption(X, Y, model, data.groups, Z=Z, config=cfg.absorption).units()
        units.update({"absorption": u["full_absorption"], "absorption_fraction": u["absorption_fraction"]})
    if plan.runs("steerability"):
        units.update(steerability(X, model, text_embed, data.vocabulary, Z=Z, config=cfg.steerability).units())
    out += [_mean_measure(name, u, cfg, boot=boot) for name, u in units.items() if name in plan.names]
    return [m for m in out if m.metric in plan.names]


def _tapas_measures(t, criterion: str, budget: int, names: set) -> list[_Measure]:
    n_stay = 0
    if "delta_stay" in t.pairs:  # the units Δ_stay averages: (pair, concept) items, or the pairs that have any
        n = t.pairs["n_stay"].to_numpy()
        n_stay = int(n.sum()) if t.config.stay_pooling == "items" else int((n > 0).sum())
    return [_Measure(name, float(v), tuple(t.cis[name]), n_stay if name == "delta_stay" else t.n_pairs,
                     criterion, budget)
            for name, v in t.values().items() if name in names]


def evaluate(sae: Any, data: Any, config: EvalConfig | None = None, *, baselines: Mapping[str, Any] | None = None,
             sae_id: str | None = None, seed: int | None = None, split: str = "test",
             progress: bool = False) -> Results:
    """Evaluate an SAE (any SAE-protocol module) and its baselines on ``data`` (EvalData or a Prepared benchmark).

    config: :class:`EvalConfig` (default: the paper's settings); baselines: role → module (or a pair of
    modules: the one matched, the one that encodes the pairs) to use instead of building (e.g. several SAEs
    compared with one another); sae_id, seed:
    the rows' ``sae`` and ``seed`` (default: from the SAE's config and training seed); split: the annotated
    images matched when ``data`` is a Prepared benchmark; progress: a progress bar over the models.

    The steps: the models (the SAE and its baselines); per model, the baseline metrics on its codes and, per
    criterion, its matching, MATCHScore and TAPAScore; the differences between the SAE and its untrained twin;
    the rows and the full configuration.
    """
    cfg = config or EvalConfig()
    data = as_eval_data(data, split)
    info = describe(sae, sae_id, seed)
    if info.d != data.X.shape[1]:
        raise DataError(f"evaluate: the SAE {info.sae!r} takes inputs of width {info.d} but the embeddings have "
                        f"width {data.X.shape[1]} (another encoder?)")
    scr_pairs = choose_scr_pairs(data.Y, data.groups) if "scr" in cfg.metric_names() else []
    plan = _Plan(cfg, data, scr_pairs)
    Z_trained = encode_array(sae, data.X, cfg.batch_size, cfg.device)
    models = _models(sae, Z_trained, info, cfg, plan, baselines)
    run = _Run(cfg, data, plan, scr_pairs)
    measures = {}
    for role, stages in tqdm(models.items(), desc="evaluate", unit="model", disable=not progress):
        Z = Z_trained if role == "trained" else None
        measures[role] = run.model_measures(role, stages, Z)
    measures["trained"] += _delta_measures(run)
    return Results(rows=_table(measures, data, info), config=_full_config(cfg, info, data, models, plan),
                   kit_version=__version__, matchings=run.matchings, tapas=run.tapas, skipped=dict(plan.skipped),
                   held_out=run.split_rows)


def _models(sae: Any, Z_trained: np.ndarray, info: SAEInfo, cfg: EvalConfig, plan: _Plan,
            baselines: Mapping[str, Any] | None) -> dict[str, Any]:
    """role → model (or (matched, encodes the pairs)): the SAE, the baselines built for it, those given."""
    base_seed = info.seed if info.seed is not None else cfg.seed
    models = {"trained": sae}
    given = dict(baselines or {})
    wanted = [r for r in cfg.baselines if r not in given]
    models.update(build_baselines(sae, wanted, base_seed, l0=float((Z_trained > 0).sum(1).mean())))
    models.update(given)
    for delta in ("delta_match_score", "delta_tapascore"):
        if delta in plan.names and "untrained" not in models:
            raise ConfigError(f"evaluate: {delta} needs an 'untrained' baseline")
    return models


class _Run:
    """What the models of one evaluation share (bootstrap resamples, the held-out split, the pairs' embeddings,
    the embedded vocabulary) and what each leaves behind: matchings, TAPAScore results and per-concept
    MATCHScores by (role, criterion)."""

    def __init__(self, cfg: EvalConfig, data: EvalData, plan: _Plan, scr_pairs: list):
        self.cfg, self.data, self.plan, self.scr_pairs = cfg, data, plan, scr_pairs
        self.boot: dict[int, np.ndarray] = {}
        self.split_rows = held_out_split(data.X.shape[0], cfg) if cfg.held_out else None
        self.scores_pairs = data.pairs is not None and (plan.runs("tapas") or plan.runs("delta_tapas"))
        self.pairs_X = (np.concatenate([as_float_matrix("pairs.X_orig", data.pairs.X_orig),
                                        as_float_matrix("pairs.X_edit", data.pairs.X_edit)])
                        if self.scores_pairs else None)
        self.text_embed = data.text_embed
        if self.text_embed is not None and plan.runs("steerability"):  # embedded once for all models
            T = self.text_embed(list(data.vocabulary))
            self.text_embed = lambda texts: T  # noqa: E731
        self.matchings: dict[tuple[str, str], Matching] = {}
        self.tapas: dict[tuple[str, str], Any] = {}
        self.concept_units: dict[tuple[str, str], np.ndarray] = {}

    def model_measures(self, role: str, stages: Any, Z: np.ndarray | None = None) -> list[_Measure]:
        """One model's measures: the baseline metrics on its codes ``Z`` (encoded here when None), then per
        criterion its matching, MATCHScore and TAPAScore on the pairs."""
        cfg, data, plan = self.cfg, self.data, self.plan
        model, tapas_model = _stages(stages)
        describe(model)
        describe(tapas_model)
        if Z is None:
            Z = encode_array(model, data.X, cfg.batch_size, cfg.device)
        out = _baseline_metrics(plan, model, Z, data, cfg, self.scr_pairs, self.text_embed, self.boot)
        if not (plan.runs("match") or plan.runs("delta") or self.scores_pairs):
            return out
        binary = any(parse_criterion(c)[0] != "nnomp" for c in cfg.criteria)
        firing = _firing(Z, cfg, self.split_rows) if binary else None  # shared by the criteria
        for criterion in cfg.criteria:
            budget = _criterion_budget(criterion, cfg)
            m = _match(criterion, data.Y, Z, firing, cfg, self.split_rows)
            if data.concepts is not None:
                m = dataclasses.replace(m, concepts=list(data.concepts))
            self.matchings[role, criterion] = m
            self.concept_units[role, criterion] = concept_scores(m, budget)
            if "match_score" in plan.names:
                out.append(_mean_measure("match_score", self.concept_units[role, criterion], cfg, criterion, budget,
                                         self.boot))
        return out + (self.pair_measures(role, tapas_model) if self.scores_pairs else [])

    def pair_measures(self, role: str, tapas_model: Any) -> list[_Measure]:
        """TAPAScore of each criterion's matching on the pairs. The pairs are encoded once, keeping only the codes
        of the latents some budgeted coalition holds (``float32[2P, U]``, not ``[2P, D]``); each matching is
        scored with its coalitions renumbered into those columns, which gathers the same codes."""
        cfg, data = self.cfg, self.data
        budget = {c: cfg.tapas_budget or _criterion_budget(c, cfg) for c in cfg.criteria}
        cut = {c: self.matchings[role, c].budgeted(budget[c]) for c in cfg.criteria}
        used = np.unique([0, *(j for coalitions in cut.values() for x in coalitions for j in x)])  # 0: never empty
        Zp = encode_array(tapas_model, self.pairs_X, cfg.batch_size, cfg.device, columns=used)
        P, out = len(data.pairs.old), []
        for criterion in cfg.criteria:
            m = self.matchings[role, criterion]
            compact = dataclasses.replace(m, coalitions=[np.searchsorted(used, x).tolist() for x in cut[criterion]])
            t = tapascore(Zp[:P], Zp[P:], data.pairs.old, data.pairs.new, compact, k=budget[criterion],
                          labels_orig=data.pairs.labels_orig, aggregation=cfg.aggregation,
                          stay_pooling=cfg.stay_pooling, n_boot=cfg.n_boot, alpha=cfg.alpha, seed=cfg.seed,
                          groups=data.groups)
            self.tapas[role, criterion] = t
            out += _tapas_measures(t, criterion, budget[criterion], self.plan.names)
        return out


def _delta_measures(run: _Run) -> list[_Measure]:
    """ΔMATCHScore and ΔTAPAScore: the SAE's per-concept (per-pair) scores minus its untrained twin's."""
    cfg, names, out = run.cfg, run.plan.names, []
    if "delta_match_score" in names:
        for criterion in cfg.criteria:
            diff = run.concept_units["trained", criterion] - run.concept_units["untrained", criterion]
            out.append(_mean_measure("delta_match_score", diff, cfg, criterion, _criterion_budget(criterion, cfg),
                                     run.boot))
    if "delta_tapascore" in names:
        for criterion in cfg.criteria:
            diff = (run.tapas["trained", criterion].pairs["score"].to_numpy()
                    - run.tapas["untrained", criterion].pairs["score"].to_numpy())  # the same pairs, paired
            out.append(_mean_measure("delta_tapascore", diff, cfg, criterion,
                                     cfg.tapas_budget or _criterion_budget(criterion, cfg), run.boot))
    return out


def _table(measures: dict[str, list[_Measure]], data: EvalData, info: SAEInfo):
    """The tidy rows (a DataFrame with :data:`kit.results.COLUMNS`), per role in the vocabulary's metric order."""
    import pandas as pd

    order = {m: i for i, m in enumerate(METRICS)}
    rows = [ResultRow(dataset=data.dataset, encoder=data.encoder, sae=info.sae, family=info.family,
                      dict_size=info.dict_size, sparsity=info.sparsity, role=role, criterion=m.criterion,
                      budget=m.budget, metric=m.metric, value=m.value, ci_low=m.ci[0], ci_high=m.ci[1],
                      n_units=m.n, seed=info.seed).as_dict()
            for role, ms in measures.items() for m in sorted(ms, key=lambda m: order[m.metric])]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _full_config(cfg: EvalConfig, info: SAEInfo, data: EvalData, models: dict[str, Any], plan: _Plan) -> dict:
    return {"evaluate": jsonable(cfg), "sae": jsonable(info),
            "data": {"dataset": data.dataset, "encoder": data.encoder, "n_images": int(data.X.shape[0]),
                     "n_concepts": int(data.Y.shape[1]),
                     "n_pairs": None if data.pairs is None else int(len(data.pairs.old))},
            "baselines": {role: " / ".join(dict.fromkeys(type(x).__name__ for x in _stages(m)))
                          for role, m in models.items() if role != "trained"},
            "skipped": dict(plan.skipped)}
