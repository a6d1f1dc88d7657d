"""Publish a benchmark folder to the Hugging Face Hub with its dataset card.

The upload folder holds the Hub layout the kit's loader reads (``images/``, ``metadata.csv``, the concept
names, ``unpaired.csv`` for toy benchmarks, how it was made), ``data/*.parquet`` (the configs ``datasets`` and
the Hub's viewer load, :mod:`kit.data.hf_configs`) and ``README.md`` (the rendered card, whose front matter
lists those configs and their features). ``dry_run_dir`` writes exactly that folder, atomically, and
uploads nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from kit.data.cards import render_card
from kit.data.hf_configs import write_configs
from kit.data.layout import MADE_FILES, NAME_FILES
from kit.data.paired import read_paired_folder
from kit.errors import ConfigError
from kit.io import atomic_path

LAYOUT_FILES = ("metadata.csv", *NAME_FILES, "unpaired.csv", *MADE_FILES)


def stage(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    repo_id: str,
    revision: str = "main",
    card: str | None = None,
    cards_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> Path:
    """Write the upload folder of the benchmark in ``folder`` to ``out`` (which must not exist); progress: bars
    over the images decoded and written into the Parquet files."""
    folder, out = Path(folder), Path(out)
    bench = read_paired_folder(folder, verify_images=True, progress=progress)
    out.mkdir(parents=True)
    shutil.copytree(folder / "images", out / "images")
    for name in LAYOUT_FILES:
        if (folder / name).is_file():
            shutil.copy2(folder / name, out / name)
    configs = write_configs(folder, bench, out, progress=progress)
    text = render_card(folder, bench, repo_id, revision, card=card, cards_dir=cards_dir, configs=configs)
    (out / "README.md").write_text(text, encoding="utf-8")
    return out


def publish(
    folder: str | os.PathLike,
    repo_id: str,
    revision: str = "main",
    dry_run_dir: str | os.PathLike | None = None,
    token: str | None = None,
    card: str | None = None,
    tag: str | None = None,
    commit_message: str | None = None,
    cards_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> str:
    """Upload the benchmark in ``folder`` to the dataset repo ``repo_id`` on branch ``revision`` (created if
    needed), optionally tagging the commit ``tag``; return the commit URL. With ``dry_run_dir``, write the
    upload folder there instead and return its path. progress: bars while the upload folder is written."""
    if "/" not in repo_id:
        raise ConfigError(f"repo_id must be 'owner/name', got {repo_id!r}")
    if dry_run_dir is not None:
        with atomic_path(dry_run_dir) as tmp:
            stage(folder, tmp, repo_id, revision, card, cards_dir, progress)
        return str(Path(dry_run_dir))
    from huggingface_hub import HfApi  # here: huggingface_hub takes ~0.8 s to import

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as tmp:
        out = stage(folder, Path(tmp) / "upload", repo_id, revision, card, cards_dir, progress)
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        if revision != "main":
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(out),
            revision=revision,
            commit_message=commit_message or f"Publish {Path(folder).name} (sae-concept-kit)",
        )
    if tag:
        api.create_tag(repo_id, tag=tag, revision=revision, repo_type="dataset")
    return str(getattr(info, "commit_url", info))
