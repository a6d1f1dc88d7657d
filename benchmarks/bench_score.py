"""How long ``kit score`` takes, and what ``kit.evaluate`` adds over the stage functions it calls.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_score.py`` (``--quick``: a smaller benchmark and SAE;
``--no-cli``: skip part 1). Prints figures only; nothing is asserted.

1. ``kit score`` as a whole process on the offline default benchmark (toy-synCUB, 2,000 pairs, 3,000 images,
   embeddings already cached) with a TopK SAE of D = 4,096 latents, for ``--metrics paper`` and ``--metrics all``.
2. ``evaluate`` (paper metrics, both baselines) against the same numbers got by calling the stage functions
   directly the plain way — encode each model, match each criterion on dense firing patterns, TAPAScore each
   matching on the pairs' full codes, bootstrap each number — in the same process: above 1 the ratio is
   evaluate's overhead; below 1, what its sparse patterns and matched-column pair codes save.
3. evaluate's matching stage alone (every model's binary criteria on its codes): with each model's firing patterns
   prepared once (``LatentCounts``, as evaluate does) against binarised and prepared again per criterion.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kit import matching as km
from kit.evaluate import EvalConfig, EvalData, build_baselines, evaluate
from kit.pipeline import PipelineConfig, prepare, train_cached
from kit.results import parse_criterion
from kit.sae import encode_array, save
from kit.stats import bootstrap_mean_ci
from kit.tapas import tapascore

ROOT = Path(__file__).resolve().parent.parent


def match(Y, B, criterion: str, cfg: EvalConfig):
    """(the matching of one binary criterion on ``B`` — firing patterns or their LatentCounts —, its β or None)."""
    _, beta = parse_criterion(criterion)
    if beta is None:
        return km.one_to_one(Y, B, device=cfg.device), beta
    return km.fbmp(Y, B, beta=beta, max_size=cfg.max_size, device=cfg.device), beta


def matching_stage(codes: list, Y, cfg: EvalConfig, shared: bool) -> None:
    """Every model's binary criteria on its codes: on one LatentCounts per model (``shared``) or with the codes
    binarised and prepared again for each criterion."""
    for Z in codes:
        prepared = km.LatentCounts(km.binarize(Z, cfg.threshold), device=cfg.device) if shared else None
        for criterion in cfg.criteria:
            match(Y, prepared if shared else km.binarize(Z, cfg.threshold), criterion, cfg)


def direct(sae, data: EvalData, cfg: EvalConfig) -> None:
    """What evaluate computes for the paper's metrics, as bare calls of the stage functions (dense firing
    patterns, the pairs' full codes)."""
    models = {"trained": sae, **build_baselines(sae, cfg.baselines, seed=0, l0=8.0)}
    P = data.pairs.X_orig.shape[0]
    pairs_X = np.concatenate([data.pairs.X_orig, data.pairs.X_edit])
    scores = {}
    for role, model in models.items():
        B = km.LatentCounts(km.binarize(encode_array(model, data.X), cfg.threshold), device=cfg.device)
        Zp = encode_array(model, pairs_X)
        for criterion in cfg.criteria:
            m, beta = match(data.Y, B, criterion, cfg)
            budget = 1 if beta is None else cfg.budget
            scores[role, criterion] = v = km.concept_scores(m, budget)
            bootstrap_mean_ci(v, cfg.n_boot, cfg.alpha, cfg.seed)
            tapascore(Zp[:P], Zp[P:], data.pairs.old, data.pairs.new, m, k=budget, labels_orig=data.pairs.labels_orig,
                      n_boot=cfg.n_boot, seed=cfg.seed)
    for criterion in cfg.criteria:
        bootstrap_mean_ci(scores["trained", criterion] - scores["untrained", criterion], cfg.n_boot, cfg.alpha,
                          cfg.seed)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="600 pairs, 1,000 images, D = 1,024")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-cli", action="store_true", help="skip timing kit score as a process")
    args = ap.parse_args()
    sizes = dict(n_pairs=600, n_images=1000) if args.quick else {}
    D = 1024 if args.quick else 4096
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        data = prepare(PipelineConfig(**sizes), cache)  # renders and embeds once: what "cached" means below
        X_train, _ = data.split("train")
        [sae] = train_cached(X_train, [dict(family="topk", dict_size=D, k=8)], cache, epochs=5, progress=False)
        folder = Path(tmp) / f"topk-D{D}"
        save(sae, folder)
        print(f"benchmark: toy-synCUB, {data.pairs.n_pairs} pairs, {data.concepts.n_samples} images "
              f"({int((data.concepts.split == 'test').sum())} matched), SAE TopK D = {D}, k = 8")

        params = [f"-p{k}={v}" for k, v in sizes.items()]
        for metrics in () if args.no_cli else ("paper", "all"):
            cmd = [sys.executable, "-m", "kit.cli", "-q", "score", str(folder), "--metrics", metrics,
                   "--cache-dir", str(cache), "--out", str(Path(tmp) / f"out-{metrics}"), *params]
            runs = timed(lambda: subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True), args.repeats)
            print(f"kit score --metrics {metrics:5s}: min {min(runs):6.1f} s, median {statistics.median(runs):6.1f} s "
                  f"over {len(runs)} runs (whole process: start-up, loading, evaluation, scorecard)")

        cfg = EvalConfig(device="cpu")
        ev = EvalData.from_prepared(data, "test")
        t_eval = timed(lambda: evaluate(sae, ev, cfg), args.repeats)
        t_direct = timed(lambda: direct(sae, ev, cfg), args.repeats)
        print(f"evaluate (paper metrics): min {min(t_eval):.2f} s; the stage functions called directly: "
              f"min {min(t_direct):.2f} s; ratio {min(t_eval) / min(t_direct):.3f}")
        models = [sae, *build_baselines(sae, cfg.baselines, seed=0, l0=8.0).values()]
        codes = [encode_array(model, ev.X) for model in models]
        t_shared, t_each = [], []
        for _ in range(args.repeats):  # interleaved: both ways once per round
            for shared, runs in ((True, t_shared), (False, t_each)):
                runs += timed(lambda: matching_stage(codes, ev.Y, cfg, shared), 1)
        print(f"matching stage ({len(codes)} models × {len(cfg.criteria)} criteria): B prepared once per model "
              f"min {min(t_shared):.3f} s, per criterion min {min(t_each):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
