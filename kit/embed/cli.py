"""``kit embed`` / ``python -m kit.embed``: fill the embedding cache for a benchmark or an image list.

One GPU or CPU::

    python -m kit.embed --encoder open_clip:ViT-L-14/openai --benchmark data/syncub --cache-dir cache/emb

Several GPUs or nodes (each process takes every world_size-th shard; all read the merged cache)::

    accelerate launch -m kit.embed --encoder open_clip:ViT-L-14/openai --benchmark data/syncub --cache-dir cache/emb

(or torchrun --nproc_per_node N -m kit.embed …). Several processes on CPUs: accelerate launch --multi_gpu
--num_processes N (torchrun underneath); accelerate launch --cpu runs one process whatever --num_processes says.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence

from kit.cli_args import (HelpFormatter, KitArgumentParser, add_verbosity, check_device, folder, log, non_negative_int,
                          plain, positive_int, setup_logging, show_progress)
from kit.data import load_paired
from kit.embed.extract import DEFAULTS, embed_benchmark, embed_images
from kit.errors import DataError
from kit.io import read_text


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--benchmark", help="a paired benchmark folder or Hub name (originals and edits)")
    src.add_argument("--images", metavar="FILE", help="a text file listing one image path per line")
    p.add_argument("--encoder", default=DEFAULTS.encoder, help="a registry name, e.g. toy, open_clip:ViT-L-14/openai")
    p.add_argument("--cache-dir", required=True, type=folder, metavar="DIR", help="the embedding cache (required)")
    p.add_argument("--batch-size", type=positive_int, default=DEFAULTS.batch_size, metavar="N",
                   help="images per forward pass")
    p.add_argument("--num-workers", type=non_negative_int, default=DEFAULTS.num_workers, metavar="N",
                   help="image decoding processes; 0: in this process (default: one per CPU core, at most 16)")
    p.add_argument("--shard-size", type=positive_int, default=DEFAULTS.shard_size, metavar="N",
                   help="images per cache shard")
    p.add_argument("--device", default=DEFAULTS.device, help="cuda, cpu or auto")


def run(args: argparse.Namespace) -> int:
    check_device(args.device)
    kw = dict(cache_dir=args.cache_dir, batch_size=args.batch_size, num_workers=args.num_workers,
              shard_size=args.shard_size, device=args.device, progress=show_progress())
    if args.benchmark:
        results = embed_benchmark(load_paired(args.benchmark), args.encoder, **kw)
    else:
        path = Path(args.images)
        if not path.is_file():
            raise DataError(f"--images {path}: file not found")
        images = [line.strip() for line in read_text(path, "image list").splitlines() if line.strip()]
        if not images:
            raise DataError(f"--images {path}: the image list is empty")
        results = (embed_images(images, args.encoder, **kw),)
    if int(os.environ.get("RANK", "0")) == 0:
        for emb in results:
            log.info(f"{emb.n} images of dimension {emb.dim} in the cache")
            print(f"{emb.provenance['cache']}  {emb.n} × {emb.dim}")
    return 0


def register(subparsers) -> None:
    """Add the ``embed`` subcommand to the kit's command line."""
    p = subparsers.add_parser("embed", help="embed a benchmark or an image list into the on-disk cache",
                              description=plain(__doc__), formatter_class=HelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    p = KitArgumentParser(prog="python -m kit.embed", description=plain(__doc__), formatter_class=HelpFormatter)
    add_arguments(p)
    add_verbosity(p, top=True)
    args = p.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run(args)
