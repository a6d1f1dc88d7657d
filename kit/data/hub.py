"""Download a published benchmark from the Hugging Face Hub at a pinned revision.

Only data files are fetched (``allow_patterns``): the loader script those repositories ship is never
downloaded, let alone imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from kit.errors import ConfigError, DataError

BENCHMARKS = {
    # name: (repo id, default revision, revisions known to the kit)
    "syncub": ("jokl/syncub", "v1.0", ("v1.0",)),
    "syncoco": ("jokl/syncoco", "v2.0", ("v1.0", "v2.0")),
}
# data files only (fnmatch: "*" also crosses folders); never "*.py"
DATA_PATTERNS = ["*.csv", "*.txt", "*.md", "*.json", "*.png", "*.jpg", "*.jpeg", "*.webp"]


def download(name: str, revision: str | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """Fetch ``name``'s data files at ``revision`` (default: the kit's pinned one) into the Hub cache."""
    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}")
    repo_id, default, known = BENCHMARKS[name]
    revision = default if revision is None else revision
    if revision not in known:
        raise ConfigError(
            f"{name}: revision {revision!r} is not one the kit knows ({list(known)}); "
            f"pin a tag the loader was checked against"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = snapshot_download(
            repo_id=repo_id, repo_type="dataset", revision=revision, allow_patterns=DATA_PATTERNS, cache_dir=cache_dir
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as e:
        raise DataError(
            f"{name}: could not download {repo_id}@{revision} from the Hub (no network and no cached copy?): {e}"
        ) from None
    return Path(path)
