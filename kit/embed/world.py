"""How an embedded world looks to an SAE: a few statistics of the embeddings of a paired benchmark.

    stats = world_stats(data.X.X, data.X_orig.X, data.X_edit.X, data.concepts.Y, split=data.concepts.split)

They say how far one attribute edit moves an image compared with how much images differ anyway, how crowded
the embedding space is, how many directions its variance needs, how much of it the labelled concepts
explain, and whether each concept is linearly readable on held-out images. Chapter 03 computes them for the
offline default and writes them to ``world_stats.json``.
"""

from __future__ import annotations

import numpy as np

from kit.errors import DataError


def spread(X: np.ndarray) -> float:
    """The RMS spread of ``X: float[N, d]``: the root mean squared Euclidean distance of the rows to their mean,
    ``sqrt(mean_i ||x_i - mean(X)||²)`` (= the square root of the total variance, the trace of the covariance
    with divisor N)."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.sqrt(((X - X.mean(0)) ** 2).sum(1).mean()))


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True).clip(1e-12)


def mean_cosine(X: np.ndarray, n_pairs: int = 10_000, seed: int = 0) -> float:
    """Mean cosine similarity between ``n_pairs`` random pairs of distinct rows of ``X`` (drawn with ``seed``)."""
    X = np.asarray(X, dtype=np.float64)
    if len(X) < 2:
        raise DataError(f"mean_cosine needs at least 2 rows, got {len(X)}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(X), size=n_pairs)
    j = (i + rng.integers(1, len(X), size=n_pairs)) % len(X)  # j ≠ i, uniform over the others
    U = _unit(X)
    return float(np.mean((U[i] * U[j]).sum(1)))


def variance_share(X: np.ndarray, k: int = 10) -> float:
    """Share of the total variance of ``X`` in its top ``k`` principal components (1.0 when d ≤ k)."""
    X = np.asarray(X, dtype=np.float64)
    ev = np.linalg.svd(X - X.mean(0), compute_uv=False) ** 2
    total = ev.sum()
    return float(ev[:k].sum() / total) if total > 0 else 1.0


def label_variance_share(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
                         ridge: float = 1e-3) -> float:
    """Held-out share of the variance of the embeddings that the labels explain linearly: 1 − SSE / SST of a
    (lightly ridge-regularised) least-squares map from the concept labels (plus an intercept) to ``x``, fitted
    on the train rows, scored on the test rows around the train mean."""
    A = np.hstack([np.ones((len(Y_train), 1)), np.asarray(Y_train, dtype=np.float64)])
    B = np.hstack([np.ones((len(Y_test), 1)), np.asarray(Y_test, dtype=np.float64)])
    X_train, X_test = np.asarray(X_train, np.float64), np.asarray(X_test, np.float64)
    reg = ridge * len(A) * np.eye(A.shape[1])
    reg[0, 0] = 0.0
    W = np.linalg.solve(A.T @ A + reg, A.T @ X_train)
    sse = ((X_test - B @ W) ** 2).sum()
    sst = ((X_test - X_train.mean(0)) ** 2).sum()
    return float(1 - sse / sst) if sst > 0 else 0.0


def probe_auroc(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray) -> np.ndarray:
    """float[C]: held-out AUROC of one logistic-regression probe per concept (NaN where a split lacks a class)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_train)
    A, B = scaler.transform(X_train), scaler.transform(X_test)
    out = np.full(Y_train.shape[1], np.nan)
    for c in range(Y_train.shape[1]):
        if len(np.unique(Y_train[:, c])) < 2 or len(np.unique(Y_test[:, c])) < 2:
            continue
        clf = LogisticRegression(C=1.0, max_iter=1000).fit(A, Y_train[:, c])
        out[c] = roc_auc_score(Y_test[:, c], clf.decision_function(B))
    return out


def _split_masks(n: int, split, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if split is not None:
        split = np.asarray(split)
        if split.shape != (n,):
            raise DataError(f"world_stats: split has shape {split.shape}, expected ({n},)")
        test = split == "test"
        if test.any() and (~test).any():
            return ~test, test
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[: max(1, n // 5)]] = True
    return ~test, test


def world_stats(X: np.ndarray, X_orig: np.ndarray, X_edit: np.ndarray, Y: np.ndarray, *, split=None,
                seed: int = 0, n_cosine_pairs: int = 10_000, k: int = 10) -> dict:
    """Statistics of one embedded benchmark.

    X: float[N, d], the annotated images' embeddings; Y: bool[N, C], their concept labels; X_orig, X_edit:
    float[P, d], the embeddings of the pairs' originals and edits; split: optional [N] labels — the probes and
    the label regression fit on the rows not labelled ``"test"`` and are scored on the ``"test"`` rows (without
    a split, on a random fifth of the rows drawn with ``seed``).

    Returns a dict of floats and counts:

    - ``spread``: the RMS spread of the annotated images, ``sqrt(mean_i ||x_i − x̄||²)`` (:func:`spread`);
    - ``edit_distance``: mean ``||x_edit − x_orig||`` over the pairs;
    - ``edit_to_spread``: ``edit_distance / spread`` — how far one edit moves an image, in units of how far a
      typical image lies from the mean image (two independent images lie ``√2 · spread`` apart in RMS);
    - ``edit_cosine``: mean cosine similarity of an original and its edit;
    - ``mean_cosine``: mean cosine similarity between random pairs of distinct annotated images (``seed``);
    - ``top10_variance_share``: share of the variance in the top ``k`` principal components (key named for
      the default ``k = 10``);
    - ``label_variance_share``: held-out share of the variance a linear map from the labels explains
      (:func:`label_variance_share`);
    - ``probe_auroc_mean``, ``probe_auroc_min``: held-out AUROC of one logistic-regression probe per concept
      (standardised inputs, C = 1), mean and minimum over the concepts both sides of the split contain;
      ``n_probes``: how many.
    """
    X = np.asarray(X, dtype=np.float64)
    X_orig, X_edit = np.asarray(X_orig, dtype=np.float64), np.asarray(X_edit, dtype=np.float64)
    Y = np.asarray(Y, dtype=bool)
    if X.ndim != 2 or len(X) < 2:
        raise DataError(f"world_stats: X must be float[N ≥ 2, d], got shape {X.shape}")
    if Y.shape[0] != len(X):
        raise DataError(f"world_stats: Y has {Y.shape[0]} rows for {len(X)} images")
    if X_orig.shape != X_edit.shape or X_orig.ndim != 2 or X_orig.shape[1] != X.shape[1] or len(X_orig) == 0:
        raise DataError(f"world_stats: X_orig {X_orig.shape} and X_edit {X_edit.shape} must be float[P ≥ 1, "
                        f"{X.shape[1]}]")
    s = spread(X)
    dist = float(np.linalg.norm(X_edit - X_orig, axis=1).mean())
    fit, test = _split_masks(len(X), split, seed)
    auroc = probe_auroc(X[fit], Y[fit], X[test], Y[test])
    ok = ~np.isnan(auroc)
    return {
        "n_images": int(len(X)),
        "n_pairs": int(len(X_orig)),
        "dim": int(X.shape[1]),
        "spread": s,
        "edit_distance": dist,
        "edit_to_spread": dist / s if s > 0 else float("inf"),
        "edit_cosine": float(np.mean((_unit(X_orig) * _unit(X_edit)).sum(1))),
        "mean_cosine": mean_cosine(X, n_cosine_pairs, seed),
        "top10_variance_share": variance_share(X, k),
        "label_variance_share": label_variance_share(X[fit], Y[fit], X[test], Y[test]),
        "probe_auroc_mean": float(np.mean(auroc[ok])) if ok.any() else float("nan"),
        "probe_auroc_min": float(np.min(auroc[ok])) if ok.any() else float("nan"),
        "n_probes": int(ok.sum()),
    }
