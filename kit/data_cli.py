"""``kit data render|build|verify`` and ``kit publish``: the benchmark stages from the command line.

- ``kit data render toy-syncub OUT``: render one of the kit's procedural benchmarks (offline);
- ``kit data build OUT --cub FOLDER`` (or ``--coco FOLDER``, ``--toy FOLDER``): edit base images with an image
  editor, verify the edits with a probe on the embeddings and write the kept pairs in the Hub layout;
- ``kit data verify FOLDER``: check a folder in the Hub layout (every metadata row; ``--decode``: every image);
- ``kit publish FOLDER OWNER/NAME``: upload a benchmark folder and its dataset card (or ``--dry-run DIR``).

It stands above :mod:`kit.data` and :mod:`kit.embed`, not inside the data package: ``kit data build`` hands the
builder an encoder (the edits are verified on embeddings), and the data stage itself never imports the one after it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np

from kit.cli_args import (
    HelpFormatter,
    check_device,
    check_folder,
    existing_folder,
    fail,
    folder,
    log,
    non_negative_int,
    positive_int,
    show_progress,
)
from kit.data.build import EDITORS, BuildConfig, build, load_editor
from kit.data.coco import coco_instances
from kit.data.cub import load_cub
from kit.data.files import read_csv
from kit.data.paired import read_paired_folder
from kit.data.publish import publish
from kit.data.toy_birds import render_toy_syncub
from kit.data.toy_scenes import render_toy_syncoco
from kit.data.unpaired import load_toy_images
from kit.embed import embed_images, load_encoder

TOYS = ("toy-syncub", "toy-syncoco")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kit data …`` and ``kit publish`` to the kit's command line."""
    data = subparsers.add_parser("data", help="render, build or verify a paired benchmark",
                                 description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    sub = data.add_subparsers(dest="data_command", metavar="STEP", required=True)

    r = sub.add_parser("render", help="render one of the kit's procedural benchmarks (offline)",
                       description="Render toy-synCUB (birds drawn from parts, CUB-style attribute swaps) or "
                                   "toy-synCOCO (scenes with one object category removed) into a folder in the "
                                   "Hub layout, atomically.", formatter_class=HelpFormatter)
    r.add_argument("benchmark", choices=TOYS, help="which benchmark")
    r.add_argument("out", metavar="OUT", type=folder, help="the folder to write (replaced if it holds a render)")
    r.add_argument("--pairs", type=positive_int, default=2000, metavar="N", help="edited pairs")
    r.add_argument("--images", type=positive_int, default=3000, metavar="N", help="unpaired labelled images")
    r.add_argument("--size", type=positive_int, default=96, metavar="PX", help="image side in pixels")
    r.add_argument("--seed", type=non_negative_int, default=0, help="sampling seed")
    r.add_argument("--workers", type=positive_int, default=2, metavar="N", help="rendering processes")
    r.set_defaults(func=_render)

    b = sub.add_parser("build", help="build a paired benchmark from annotated images with an image editor",
                       description="Choose edits from the annotations (attribute swaps within a family for "
                                   "--cub/--toy, one category removed for --coco), edit the images with a "
                                   "diffusers pipeline, keep the pairs a linear probe on the encoder's "
                                   "embeddings verifies, and write them in the Hub layout. An interrupted build "
                                   "resumes from OUT.partial/.", formatter_class=HelpFormatter)
    b.add_argument("out", metavar="OUT", type=folder, help="the benchmark folder to write (must not exist)")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--cub", type=existing_folder, metavar="DIR", help="an extracted CUB_200_2011 folder")
    src.add_argument("--coco", type=existing_folder, metavar="DIR", help="a COCO 2017 folder (annotations/, "
                                                                          "<split>2017/)")
    src.add_argument("--toy", type=existing_folder, metavar="DIR", help="a rendered toy-synCUB folder (its "
                                                                         "unpaired images)")
    b.add_argument("--split", choices=("train", "val"), default="val", help="COCO split")
    d = BuildConfig()
    b.add_argument("--editor", choices=sorted(EDITORS), default=d.editor, help="image editor")
    b.add_argument("--editor-model", type=existing_folder, metavar="DIR",
                   help="a local folder of the editor's pipeline (default: the Hub's)")
    b.add_argument("--revision", help="Hub revision of the editor's weights (pin it for a release)")
    b.add_argument("--encoder", default="toy", help="the encoder whose embeddings verify the edits")
    b.add_argument("--size", type=positive_int, default=d.size, metavar="PX", help="edited image side")
    b.add_argument("--steps", type=positive_int, metavar="N",
                   help="the editor's inference steps (default: the editor's own setting)")
    b.add_argument("--max-other-flips", type=non_negative_int, default=d.max_other_flips, metavar="N",
                   help="verification: other concepts allowed to flip")
    b.add_argument("--chunk", type=positive_int, default=d.chunk, metavar="N", help="images edited at a time")
    b.add_argument("--seed", type=non_negative_int, default=d.seed, help="seed of the edit choice and editor")
    b.add_argument("--device", default="auto", help="cuda, cpu or auto")
    b.set_defaults(func=_build)

    v = sub.add_parser("verify", help="check a benchmark folder in the Hub layout",
                       description="Read and check every metadata row of a benchmark folder (columns, lists, "
                                   "indices, names, unique pair ids, images inside the folder, labels that "
                                   "differ in exactly the edited concepts); --decode also decodes every image.",
                       formatter_class=HelpFormatter)
    v.add_argument("folder", type=existing_folder, help="the benchmark folder")
    v.add_argument("--decode", action="store_true", help="open and decode every image (slow)")
    v.set_defaults(func=_verify)

    p = subparsers.add_parser(
        "publish",
        help="upload a paired benchmark and its dataset card to the Hugging Face Hub",
        description="Upload a paired benchmark folder (Hub layout) with its rendered card.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("folder", type=existing_folder,
                   help="the benchmark folder (images/, metadata.csv, attributes.txt or categories.txt)")
    p.add_argument("repo_id", help="the dataset repository, owner/name")
    p.add_argument("--revision", default="main", help="branch to commit to (created if missing)")
    p.add_argument("--tag", help="tag the commit, e.g. v1.0, so loaders can pin it")
    p.add_argument(
        "--card",
        choices=["syncub", "syncoco", "toy-syncub", "toy-syncoco"],
        help="card template (default: chosen from the folder)",
    )
    p.add_argument("--dry-run", metavar="DIR", type=folder, help="write the exact upload folder to DIR and upload "
                                                                 "nothing")
    p.add_argument(
        "--token-env",
        default="HF_TOKEN",
        metavar="VAR",
        help="environment variable holding the Hub token",
    )
    p.set_defaults(func=_publish)


def _replaceable(out: Path) -> None:
    """A render may replace ``out`` only when it is absent, empty or a render of the kit."""
    check_folder(out, "OUT")
    if out.is_dir() and any(out.iterdir()) and not (out / "render_config.json").is_file():
        fail(f"OUT {out} holds other files (it is not a rendered benchmark); choose another folder")


def _render(args: argparse.Namespace) -> int:
    _replaceable(args.out)
    fn = render_toy_syncub if args.benchmark == "toy-syncub" else render_toy_syncoco
    out = fn(args.out, n_pairs=args.pairs, n_images=args.images, seed=args.seed, size=args.size,
             workers=args.workers, progress=show_progress())
    log.info(f"rendered {args.benchmark}: {args.pairs} pairs, {args.images} unpaired images")
    print(Path(out).resolve())
    return 0


def _build(args: argparse.Namespace) -> int:
    out = check_folder(args.out, "OUT")
    if out.exists():
        fail(f"OUT {out} exists; build into a new folder")
    check_device(args.device)
    cfg = dataclasses.replace(BuildConfig(), editor=args.editor, revision=args.revision, size=args.size,
                              max_other_flips=args.max_other_flips, chunk=args.chunk, seed=args.seed,
                              call={"num_inference_steps": args.steps} if args.steps else {})
    kw: dict = {}
    if args.coco:
        table, kw["counts"], kw["areas"] = coco_instances(args.coco, args.split)
        kind = "removal"
    elif args.cub:
        table = load_cub(args.cub, seed=args.seed)
        # the class of an image is its folder: images/001.Black_footed_Albatross/….jpg
        folders = [Path(p).parent.name for p in table.images]
        kw["classes"] = np.array([f.split(".", 1)[0] for f in folders])
        kw["class_names"] = [f.split(".", 1)[-1].replace("_", " ") for f in folders]
        kind = "swap"
    else:
        table = load_toy_images(args.toy)
        extra = read_csv(Path(args.toy) / "unpaired.csv", "image list")[0]
        if "class_id" not in extra.columns:
            fail(f"--toy {args.toy}: unpaired.csv has no class_id column (a toy-synCUB render has one)")
        kw["classes"] = extra["class_id"].to_numpy()
        kw["class_names"] = list(extra.get("class_name", extra["class_id"]))
        kind = "swap"
    encoder = load_encoder(args.encoder, device=args.device)
    editor = load_editor(cfg.editor, device=args.device, model_id=args.editor_model, revision=cfg.revision)
    folder_out = build(table, out, kind=kind, config=cfg, editor=editor, device=args.device,
                       embed=lambda ims: embed_images(ims, encoder, num_workers=0, progress=False).X,
                       progress=show_progress(), **kw)
    log.info(f"built a {kind} benchmark")
    print(Path(folder_out).resolve())
    return 0


def _verify(args: argparse.Namespace) -> int:
    bench = read_paired_folder(args.folder, verify_images=args.decode, progress=show_progress())
    log.info(f"{args.folder}: {bench.n_pairs} pairs over {len(bench.concepts)} concepts, every row valid"
             + (" and every image decoded" if args.decode else ""))
    print(f"ok {bench.n_pairs} pairs")
    return 0


def _publish(args: argparse.Namespace) -> int:
    out = publish(
        args.folder,
        args.repo_id,
        revision=args.revision,
        dry_run_dir=args.dry_run,
        token=os.environ.get(args.token_env),
        card=args.card,
        tag=args.tag,
        progress=show_progress(),
    )
    print(("dry run written to " if args.dry_run else "published: ") + str(out))
    return 0
