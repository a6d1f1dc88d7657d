"""The paper's studies on a planted world: rows in the paper's names, and trained beats untrained."""

import numpy as np
import pandas as pd

from kit.planted import make_pairs, make_world
from kit.sae import train, untrained
from kit.studies import criterion, evaluate_sae


def test_criterion_names_follow_the_paper():
    assert criterion("one_to_one") == "F1 (k=1)"
    assert criterion("fbmp", 0.5) == "FBMP F0.5" and criterion("fbmp", 1.0) == "FBMP F1"


def test_evaluate_sae_separates_trained_from_untrained():
    world = make_world(n_samples=3000, dim=48, seed=2)
    pairs = make_pairs(world, n_pairs=300, kind="swap", seed=1)
    X, Y = world.X, world.Y
    sae = train(X[:2000], "topk", dict_size=48, k=8, seed=0, epochs=30, batch_size=128, progress=False)
    base = untrained("topk", X.shape[1], 48, k=8, seed=0)
    rows = evaluate_sae(sae, base, X[2000:], Y[2000:], pairs.X_orig, pairs.X_edit, pairs.old, pairs.new,
                        pairs.labels_orig, betas=(0.5,), n_boot=50,
                        labels=dict(dataset="planted", encoder="none", sae="TopK", dict_size=48, k=8, seed=0))
    df = pd.DataFrame([r.as_dict() for r in rows])
    assert set(df.criterion) == {"F1 (k=1)", "FBMP F0.5"}
    assert set(df.metric) >= {"matchscore", "delta_matchscore", "tapascore", "delta_stay"}
    get = lambda m, c: df[(df.metric == m) & (df.criterion == c)].value.item()
    assert get("delta_matchscore", "FBMP F0.5") > 0.08
    assert get("tapascore", "FBMP F0.5") > 0.8
    assert get("matchscore", "FBMP F0.5") >= get("matchscore", "F1 (k=1)") - 1e-12
    assert np.isclose(get("delta_matchscore", "FBMP F0.5"),
                      get("matchscore", "FBMP F0.5") - get("matchscore_untrained", "FBMP F0.5"))
