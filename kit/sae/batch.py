"""Several SAEs (families × sizes × seeds) trained as one batch: one pass over the data, shared batches.

(Parameter grids over the notebooks are :mod:`kit.sweep`.)
"""

from __future__ import annotations

import itertools
import os
from typing import Callable, Iterable, Sequence

from kit.sae.config import TrainConfig, make_config
from kit.sae.model import SAE
from kit.sae.train import fit


def grid(families: Iterable[str] = ("topk",), dict_sizes: Iterable[int] = (4096,), seeds: Iterable[int] = (0,),
         **settings) -> list[TrainConfig]:
    """The configs of every (family, dict_size, seed) combination, sharing ``settings``."""
    return [make_config({"family": f, "dict_size": D, "seed": s, **settings})
            for f, D, s in itertools.product(families, dict_sizes, seeds)]


def train_many(X, configs: Sequence[TrainConfig | dict], checkpoint_dir: str | os.PathLike | None = None,
               callback: Callable[[int, list[SAE]], None] | None = None) -> list[SAE]:
    """Train every config in one pass over ``X: float[N, d]``; the i-th SAE is bit-identical (CPU) to
    ``train`` with the i-th config. All configs must share batch_size, data_seed, val_fraction and device.

    What the SAEs share is done once: the data's statistics for the initialisation (per input space), and
    each batch's gathering, finiteness check and preprocessing; each SAE's own arithmetic is unchanged.
    """
    return fit(X, [make_config(c) for c in configs], checkpoint_dir=checkpoint_dir, callback=callback)
