"""``kit embed`` / ``python -m kit.embed``: fill the embedding cache for a benchmark or an image list.

One GPU or CPU::

    python -m kit.embed --encoder open_clip:ViT-L-14/openai --benchmark data/syncub --cache-dir cache/emb

Several GPUs or nodes (each process takes every world_size-th shard; all read the merged cache)::

    accelerate launch -m kit.embed --encoder open_clip:ViT-L-14/openai --benchmark data/syncub --cache-dir cache/emb
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence

from kit.embed.extract import DEFAULTS, embed_benchmark, embed_images
from kit.errors import DataError


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--benchmark", help="a paired benchmark folder or Hub name (originals and edits)")
    src.add_argument("--images", help="a text file listing one image path per line")
    p.add_argument("--encoder", default=DEFAULTS.encoder)
    p.add_argument("--cache-dir", required=True)
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    p.add_argument("--num-workers", type=int, default=DEFAULTS.num_workers, help="default: one per CPU core, ≤ 16")
    p.add_argument("--shard-size", type=int, default=DEFAULTS.shard_size)
    p.add_argument("--device", default=DEFAULTS.device)


def run(args: argparse.Namespace) -> int:
    kw = dict(cache_dir=args.cache_dir, batch_size=args.batch_size, num_workers=args.num_workers,
              shard_size=args.shard_size, device=args.device)
    if args.benchmark:
        from kit.data import load_paired

        results = embed_benchmark(load_paired(args.benchmark), args.encoder, **kw)
    else:
        path = Path(args.images)
        if not path.is_file():
            raise DataError(f"--images {path}: file not found")
        images = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        results = (embed_images(images, args.encoder, **kw),)
    if int(os.environ.get("RANK", "0")) == 0:
        for emb in results:
            print(f"{emb.provenance['cache']}  {emb.n} × {emb.dim}")
    return 0


def register(subparsers) -> None:
    """Add the ``embed`` subcommand to the kit's command line."""
    p = subparsers.add_parser("embed", help="embed a benchmark or an image list into the on-disk cache",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kit.embed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv))
