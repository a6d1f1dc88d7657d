"""Dataset cards: fill a template from ``data_cards/`` (a link to ``kit/data/card_templates/``, which ships in the
package) with the real counts of a benchmark folder, and add the ``configs`` and ``dataset_info`` of the Parquet
files that ``datasets`` and the Hub's viewer read (:mod:`kit.data.hf_configs`) to its front matter."""

from __future__ import annotations

import json
import os
from pathlib import Path
from string import Template
from typing import Sequence

import numpy as np
import pandas as pd

from kit._version import __version__
from kit.data.files import read_csv
from kit.data.hf_configs import Config, card_metadata
from kit.errors import ConfigError
from kit.io import read_json
from kit.types import PairedBenchmark

CARDS_DIR = Path(__file__).resolve().parent / "card_templates"  # package data (data_cards/ links here)
CARDS = ("syncub", "syncoco", "toy-syncub", "toy-syncoco")


def card_name(folder: Path, bench: PairedBenchmark) -> str:
    """Which card a benchmark folder gets: toy-* when the kit rendered it, by its kind otherwise."""
    kind = "syncoco" if bench.is_removal.all() else "syncub"
    return f"toy-{kind}" if (folder / "render_config.json").is_file() else kind


def size_category(n: int) -> str:
    """The Hub's size bucket for n rows."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def _table(rows: list[tuple], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def card_values(folder: Path, bench: PairedBenchmark, repo_id: str, revision: str) -> dict[str, str]:
    """The numbers and tables a card template refers to, computed from the benchmark itself."""
    edited = pd.Series([bench.concepts[i] for i in bench.old]).value_counts()
    top = [(name, n) for name, n in edited.head(15).items()]
    extra = bench.extra if bench.extra is not None else pd.DataFrame()
    made = {}
    for name in ("build_config.json", "render_config.json"):
        if (folder / name).is_file():
            made = read_json(folder / name, "benchmark configuration")
            if not isinstance(made, dict):
                raise ConfigError(f"{folder / name}: a benchmark configuration must be a JSON object")
    score = extra["verification_score"] if "verification_score" in extra else None
    unpaired = read_csv(folder / "unpaired.csv", "image list")[0] if (folder / "unpaired.csv").is_file() else None
    settings = made.get("config", made)
    return {
        "repo_id": repo_id,
        "revision": revision,
        "kit_version": __version__,
        "n_pairs": f"{bench.n_pairs:,}",
        "n_images": f"{2 * bench.n_pairs + (0 if unpaired is None else len(unpaired)):,}",
        "n_unpaired": "0" if unpaired is None else f"{len(unpaired):,}",
        "n_concepts": str(bench.n_concepts),
        "n_families": str(len(set(bench.groups))) if bench.groups else str(bench.n_concepts),
        "n_classes": str(extra["class_id"].nunique()) if "class_id" in extra else "—",
        "n_edited_concepts": str(len(edited)),
        "size_category": size_category(bench.n_pairs),
        "mean_labels": f"{bench.labels_orig.sum(1).mean():.2f}",
        "edit_table": _table(top, ("edited concept (old)", "pairs")),
        "generation": "```json\n" + json.dumps(made, indent=2, default=str) + "\n```" if made else "(not recorded)",
        "editor_model": str(made.get("editor_model", "—")),
        "n_planned": str(made.get("n_planned", bench.n_pairs)),
        "n_kept": str(made.get("n_kept", bench.n_pairs)),
        "max_other_flips": str(settings.get("max_other_flips", "—")),
        "score_summary": (
            "—"
            if score is None
            else f"median {np.median(score):.3g}, 5th percentile {np.percentile(score, 5):.3g}, "
            f"minimum {np.min(score):.3g}"
        ),
        "render_version": str(made.get("render_version", "—")),
        "image_size": str(settings.get("size", "—")),
        "seed": str(settings.get("seed", "—")),
    }


def render_card(
    folder: str | os.PathLike,
    bench: PairedBenchmark,
    repo_id: str,
    revision: str = "main",
    card: str | None = None,
    cards_dir: str | os.PathLike | None = None,
    configs: Sequence[Config] = (),
) -> str:
    """The card (README.md text) of the benchmark in ``folder``: template ``data_cards/<card>/README.md``
    with ``${name}`` placeholders filled from :func:`card_values`, and the front matter's ``configs`` and
    ``dataset_info`` generated from the ``configs`` written (:func:`kit.data.hf_configs.write_configs`)."""
    from huggingface_hub import DatasetCard  # here: huggingface_hub takes ~0.8 s to import

    folder = Path(folder)
    card = card or card_name(folder, bench)
    if card not in CARDS:
        raise ConfigError(f"unknown card {card!r}; known: {list(CARDS)}")
    path = Path(cards_dir or CARDS_DIR) / card / "README.md"
    if not path.is_file():
        raise ConfigError(f"{path}: card template not found")
    try:
        text = Template(path.read_text(encoding="utf-8")).substitute(card_values(folder, bench, repo_id, revision))
    except (KeyError, ValueError) as e:
        raise ConfigError(f"{path}: the template refers to an unknown placeholder {e}") from None
    if not configs:
        return text
    rendered = DatasetCard(text)
    card_metadata(configs, rendered.data)
    return str(rendered)
