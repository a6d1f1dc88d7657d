"""``kit score``: score any SAE on a benchmark in one command::

    kit score runs/my_sae --benchmark toy-syncub --encoder toy
    kit score saelens_folder --format saelens --benchmark syncub --encoder open_clip:ViT-L-14/openai \\
        --concepts-dir data/CUB_200_2011 --metrics paper -p n_boot=2000

The SAE is read by :func:`kit.sae.load_any` (kit, SAELens, dictionary_learning folders); the benchmark is
rendered or loaded and embedded through the cache (:func:`kit.pipeline.prepare`); the SAE's input width is
checked against the encoder's; :func:`kit.evaluate.evaluate` scores it with its untrained twin and random codes.
OUT/results.json holds ``config``, ``kit_version`` and ``rows``; OUT/scorecard.md and OUT/scorecard.html show
the headline numbers with intervals beside the paper's published ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from kit.cli_args import check_folder, existing_folder, folder, log, show_progress
from kit.errors import ConfigError
from kit.evaluate import EvalConfig, Results, config_from, describe, evaluate
from kit.io import write_text
from kit.pipeline import PipelineConfig, prepare
from kit.reference import paper_results
from kit.results import METRICS
from kit.sae import load_any
from kit.scorecard import scorecard_tables, to_html, to_markdown

# -p settings of the benchmark: PipelineConfig's fields but those with their own options; a name both configs
# have (seed, device) sets both
PIPELINE_FIELDS = tuple(f.name for f in dataclasses.fields(PipelineConfig)
                        if f.name not in ("benchmark", "encoder", "concepts_dir"))
SHARED_FIELDS = tuple(sorted(set(PIPELINE_FIELDS) & {f.name for f in dataclasses.fields(EvalConfig)}))
FORMATS = ("auto", "kit", "saelens", "dictionary_learning")


@dataclass(frozen=True)
class Scored:
    """What :func:`score` made: the results and the files it wrote (None where nothing was written)."""

    results: Results
    results_file: Path | None
    scorecard_md: Path | None
    scorecard_html: Path | None


def metrics_option(text: str) -> str | tuple[str, ...]:
    """``all``, ``paper`` or a comma-separated list of metric names."""
    if text in ("all", "paper"):
        return text
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ConfigError(f"--metrics: unknown metric(s) {unknown or '(none given)'}; give all, paper or names from "
                          f"{list(METRICS)}")
    return names


def split_parameters(parameters: Mapping[str, Any]) -> tuple[dict, dict]:
    """``-p`` settings → (PipelineConfig fields, EvalConfig fields); ``seed`` and ``device`` go to both (the toy
    benchmark's seed and the bootstraps'; where images and SAEs run); ConfigError naming an unknown one."""
    eval_fields = {f.name for f in dataclasses.fields(EvalConfig)}
    pipe, ev = {}, {}
    for name, value in parameters.items():
        if name in SHARED_FIELDS:
            pipe[name] = ev[name] = value
        elif name in PIPELINE_FIELDS:
            pipe[name] = value
        elif name in eval_fields:
            ev[name] = value
        else:
            raise ConfigError(f"-p {name}: unknown setting; benchmark settings are {list(PIPELINE_FIELDS)}, "
                              f"evaluation settings {sorted(eval_fields)}")
    return pipe, ev


def score(sae: Any, *, benchmark: str = "toy-syncub", encoder: str = "toy", concepts_dir: str | None = None,
          sae_format: str = "auto", metrics: str | tuple[str, ...] = "paper", out: str | os.PathLike | None = None,
          cache_dir: str | os.PathLike = ".cache", parameters: Mapping[str, Any] | None = None,
          sae_id: str | None = None, progress: bool = False) -> Scored:
    """Score an SAE (a folder any loader of :func:`kit.sae.load_any` reads, or an SAE object) on a benchmark.

    parameters: benchmark sizes (``n_pairs``, ``n_images``, …) and :class:`kit.evaluate.EvalConfig` fields;
    out: where results.json and the scorecards go (None: nothing is written).
    """
    pipe, ev = split_parameters(parameters or {})
    config = config_from({"metrics": metrics, **ev})
    pipeline = PipelineConfig(benchmark=benchmark, encoder=encoder, concepts_dir=concepts_dir or None, **pipe)
    model = load_any(sae, format=sae_format)
    if sae_id is None and isinstance(sae, (str, os.PathLike)):
        sae_id = Path(sae).resolve().name
    info = describe(model, sae_id)
    log.info(f"loaded {info.sae}: {info.family}, D = {info.dict_size}, input width {info.d}")
    data = prepare(pipeline, cache_dir, progress=progress)
    if data.X.dim != info.d:
        raise ConfigError(f"the SAE {info.sae!r} takes inputs of width {info.d}, but the encoder {encoder!r} gives "
                          f"{data.X.dim}-d embeddings: score it with the encoder it was trained on")
    results = evaluate(model, data, config, sae_id=info.sae, progress=progress)
    if out is None:
        return Scored(results, None, None, None)
    out = Path(out)
    card = scorecard_tables(results, paper_results())
    results_file = results.save(out / "results.json")
    md = write_text(out / "scorecard.md", to_markdown(card))
    page = write_text(out / "scorecard.html", to_html(card))
    return Scored(results, results_file, md, page)


def _assignment(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"{name}: the value {value!r} is not valid YAML") from None


def _metrics_type(text: str):
    try:
        return metrics_option(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--metrics: ")) from None


def run(args: argparse.Namespace) -> int:
    cache = check_folder(args.cache_dir, "--cache-dir")
    out = check_folder(args.out, "--out")
    done = score(args.sae, benchmark=args.benchmark, encoder=args.encoder, concepts_dir=args.concepts_dir,
                 sae_format=args.format, metrics=args.metrics, out=out, cache_dir=cache,
                 parameters=dict(args.parameter), progress=show_progress())
    r = done.results
    for criterion in dict.fromkeys(r.rows.criterion):
        if not criterion:
            continue
        parts = []
        for metric in ("delta_match_score", "tapascore"):
            sel = r.select(metric, "trained", criterion)
            if len(sel):
                x = sel.iloc[0]
                parts.append(f"{metric} {x.value:.3f} [{x.ci_low:.3f}, {x.ci_high:.3f}]")
        if parts:
            log.info(f"{criterion}: " + ", ".join(parts))
    print(done.scorecard_md)
    return 0


def register(subparsers) -> None:
    """Add the ``score`` subcommand to the kit's command line."""
    p = subparsers.add_parser("score", help="score an SAE (kit, SAELens, dictionary_learning) on a benchmark",
                              description=__doc__)
    p.add_argument("sae", metavar="SAE", help="the SAE's folder")
    p.add_argument("--format", choices=FORMATS, default="auto", help="how the folder is written")
    p.add_argument("--benchmark", default="toy-syncub",
                   help="toy-syncub, toy-syncoco (rendered offline), syncub, syncoco (the Hub) or a folder in the Hub "
                        "layout")
    p.add_argument("--encoder", default="toy",
                   help="the vision encoder the SAE was trained on, e.g. toy, open_clip:ViT-L-14/openai, "
                        "dinov2:facebook/dinov2-base")
    p.add_argument("--concepts-dir", metavar="DIR", type=existing_folder,
                   help="the base dataset's folder for Hub benchmarks (CUB_200_2011, COCO 2017)")
    p.add_argument("--metrics", type=_metrics_type, default="paper",
                   help="paper (MATCHScore, ΔMATCHScore, TAPAScore, Δ_stay), all (the baseline metrics too: minutes "
                        "for large dictionaries), or a comma-separated list of metric names")
    p.add_argument("--out", metavar="DIR", type=folder, default=Path("score"),
                   help="where results.json and scorecard.{md,html} are written")
    p.add_argument("--cache-dir", metavar="DIR", type=folder, default=Path(".cache"),
                   help="cache of benchmarks and embeddings")
    p.add_argument("-p", "--parameter", action="append", default=[], type=_assignment, metavar="NAME=VALUE",
                   help="a benchmark setting (n_pairs, n_images, embed_batch_size, …) or an evaluation setting "
                        "(n_boot, criteria, batch_size: rows per SAE encoding batch, lower it for a large "
                        "dictionary, …); seed and device set both")
    p.set_defaults(func=run)
