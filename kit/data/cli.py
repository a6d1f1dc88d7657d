"""``kit publish``: upload a benchmark folder and its dataset card to the Hub (or write the dry-run folder)."""

from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``publish`` subcommand to the kit's command line."""
    p = subparsers.add_parser(
        "publish",
        help="upload a paired benchmark and its dataset card to the Hugging Face Hub",
        description="Upload a paired benchmark folder (Hub layout) with its rendered card.",
    )
    p.add_argument("folder", help="the benchmark folder (images/, metadata.csv, attributes.txt or categories.txt)")
    p.add_argument("repo_id", help="the dataset repository, owner/name")
    p.add_argument("--revision", default="main", help="branch to commit to (created if missing; default: main)")
    p.add_argument("--tag", help="tag the commit, e.g. v1.0, so loaders can pin it")
    p.add_argument(
        "--card",
        choices=["syncub", "syncoco", "toy-syncub", "toy-syncoco"],
        help="card template (default: chosen from the folder)",
    )
    p.add_argument("--dry-run", metavar="DIR", help="write the exact upload folder to DIR and upload nothing")
    p.add_argument(
        "--token-env",
        default="HF_TOKEN",
        metavar="VAR",
        help="environment variable holding the Hub token (default: HF_TOKEN)",
    )
    p.set_defaults(func=_publish)


def _publish(args: argparse.Namespace) -> int:
    from kit.data.publish import publish

    out = publish(
        args.folder,
        args.repo_id,
        revision=args.revision,
        dry_run_dir=args.dry_run,
        token=os.environ.get(args.token_env),
        card=args.card,
        tag=args.tag,
    )
    print(("dry run written to " if args.dry_run else "published: ") + out)
    return 0
