"""Linear-probe upper bound: what a supervised linear read-out of the embeddings reaches per concept.

One logistic-regression probe per concept, fitted on the training embeddings (standardised), binarised at
probability 0.5 on the evaluation embeddings and scored like a single latent (F1 against the labels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from kit.arrays import as_float_matrix
from kit.errors import ConfigError
from kit.matching._binary import as_labels
from kit.types import Matching


@dataclass(frozen=True)
class ProbeConfig:
    """Logistic-regression settings: inverse regularisation ``C``, iteration cap, standardisation."""

    C: float = 1.0
    max_iter: int = 1000
    standardize: bool = True

    def __post_init__(self) -> None:
        if not self.C > 0:
            raise ConfigError(f"ProbeConfig.C must be > 0, got {self.C}")
        if self.max_iter < 1:
            raise ConfigError(f"ProbeConfig.max_iter must be ≥ 1, got {self.max_iter}")


def f1_columns(Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """float[C]: F1 of each prediction column ``P: bool[N, C]`` against ``Y: bool[N, C]`` (0 when both empty)."""
    tp = (Y & P).sum(axis=0)
    den = Y.sum(axis=0) + P.sum(axis=0)
    return np.divide(2 * tp, den, out=np.zeros(Y.shape[1]), where=den > 0)


def probe_predictions(X_train: Any, Y_train: Any, X_eval: Any, config: ProbeConfig = ProbeConfig()) -> np.ndarray:
    """bool[N_eval, C]: each concept's probe, fitted on ``(X_train: float[N, d], Y_train: bool[N, C])``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    Xt = as_float_matrix("probe X_train", X_train)
    Yt = as_labels(Y_train, Xt.shape[0], name="Y_train")
    Xe = as_float_matrix("probe X_eval", X_eval)
    if Xe.shape[1] != Xt.shape[1]:
        raise ConfigError(f"probe: X_eval has {Xe.shape[1]} features but X_train has {Xt.shape[1]}")
    if config.standardize:
        scaler = StandardScaler().fit(Xt)
        Xt, Xe = scaler.transform(Xt), scaler.transform(Xe)
    out = np.zeros((Xe.shape[0], Yt.shape[1]), dtype=bool)
    for c in range(Yt.shape[1]):  # one independent probe per concept
        y = Yt[:, c]
        if y.all() or not y.any():  # a constant label: the probe predicts that constant
            out[:, c] = y[0]
            continue
        clf = LogisticRegression(C=config.C, max_iter=config.max_iter).fit(Xt, y)
        out[:, c] = clf.predict_proba(Xe)[:, 1] > 0.5
    return out


def probe_upper_bound(X_train: Any, Y_train: Any, X_eval: Any, Y_eval: Any, config: ProbeConfig = ProbeConfig(),
                      concepts: Sequence[str] | None = None) -> Matching:
    """Probe F1 per concept on the evaluation split, as a one-latent :class:`~kit.types.Matching`.

    Probe ``c`` plays the role of latent ``c`` (coalition ``[c]``); ``rec_f1: float[C, 1]``.
    """
    P = probe_predictions(X_train, Y_train, X_eval, config)
    Ye = as_labels(Y_eval, P.shape[0], name="Y_eval")
    if Ye.shape[1] != P.shape[1]:
        raise ConfigError(f"probe: Y_eval has {Ye.shape[1]} concepts but Y_train has {P.shape[1]}")
    f1 = f1_columns(Ye, P)
    params = {**asdict(config), "support": Ye.sum(axis=0).tolist()}
    return Matching(coalitions=[[c] for c in range(Ye.shape[1])], rec_f1=f1[:, None], method="probe",
                    params=params, concepts=None if concepts is None else list(concepts))
