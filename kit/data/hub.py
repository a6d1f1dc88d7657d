"""The Hugging Face Hub: published benchmarks at pinned revisions, and model files, cache first.

Only data files of a benchmark are fetched (``allow_patterns``): the loader script those repositories ship is
never downloaded, let alone imported (a cached copy of the whole repository, script included, is read for its
data files only).

Offline first. Whatever is asked is looked up in the local Hub cache (``HF_HUB_CACHE``, by default
``HF_HOME/hub``) before any request: a cached benchmark or model loads without a network and without waiting.
What is not cached fails within seconds with one kit error that names it and says how to provide it when the
Hub cannot be used — ``HF_HUB_OFFLINE=1`` is set, or one request to the Hub's address (``HF_ENDPOINT``) gets
no answer within :data:`PROBE_TIMEOUT_S` — instead of the libraries' minute of retries and their raw errors.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from kit.errors import CheckpointError, ConfigError, DataError

BENCHMARKS = {
    # name: (repo id, default revision, revisions known to the kit). The default is the release the paper's
    # numbers were computed on (the reference code pins synCOCO v1.0; v2.0 is a later release with ~30 more pairs).
    "syncub": ("jokl/syncub", "v1.0", ("v1.0",)),
    "syncoco": ("jokl/syncoco", "v1.0", ("v1.0", "v2.0")),
}
# data files only (fnmatch: "*" also crosses folders); never "*.py"
DATA_PATTERNS = ["*.csv", "*.txt", "*.md", "*.json", "*.png", "*.jpg", "*.jpeg", "*.webp"]
_INCLUDE = "--include " + " ".join(f"'{p}'" for p in DATA_PATTERNS)
PROBE_TIMEOUT_S = float(os.environ.get("KIT_HUB_PROBE_TIMEOUT", "5"))
_PROBE: dict[str, tuple[float, str | None]] = {}  # endpoint → (time, reason it is unreachable or None)


def _first_line(e: Exception | None) -> str:
    text = str(e).strip() if e is not None else ""
    return f"{type(e).__name__}: {text.splitlines()[0][:300]}" if text else type(e).__name__


def hub_cache() -> str:
    """The Hub cache folder in use (``HF_HUB_CACHE``, by default ``HF_HOME/hub``)."""
    from huggingface_hub import constants  # here: huggingface_hub takes ~0.8 s to import

    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):  # read now: huggingface_hub read it once, when it was imported
        return os.path.join(os.path.expanduser(os.environ["HF_HOME"]), "hub")
    return constants.HF_HUB_CACHE


def offline_mode() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set, now or when huggingface_hub was imported."""
    from huggingface_hub import constants  # here: huggingface_hub takes ~0.8 s to import

    env = (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").strip().upper()
    return env in {"1", "ON", "YES", "TRUE"} or bool(constants.HF_HUB_OFFLINE)


def unreachable() -> str | None:
    """Why the Hub cannot be used now (offline mode, or no answer to one request), or None when it answers.

    One HEAD request to the endpoint, with no retry, through huggingface_hub's own session (so proxies and
    certificates are those of the downloads); the answer is remembered for a minute.
    """
    from huggingface_hub import constants  # here: huggingface_hub takes ~0.8 s to import

    if offline_mode():
        return "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", constants.ENDPOINT).rstrip("/")
    seen = _PROBE.get(endpoint)
    if seen is not None and time.monotonic() - seen[0] < 60:
        return seen[1]
    from huggingface_hub.utils import get_session  # here: huggingface_hub takes ~0.8 s to import

    reason = None
    try:
        get_session().head(endpoint, timeout=PROBE_TIMEOUT_S, follow_redirects=False)
    except Exception as e:  # DNS, refused, timeout, proxy: all mean "not now"
        reason = f"no answer from {endpoint} within {PROBE_TIMEOUT_S:g} s ({type(e).__name__})"
    _PROBE[endpoint] = (time.monotonic(), reason)
    return reason


def how_to_provide(repo_id: str, repo_type: str = "model", revision: str | None = None,
                   files: list[str] | None = None, local: str | None = None, include: str = "") -> str:
    """The sentence of an error that tells how to make ``repo_id`` available without a network."""
    rev = f" --revision {revision}" if revision else ""
    kind = " --repo-type dataset" if repo_type == "dataset" else ""
    what = (" " + " ".join(files) if files else "") + (f" {include}" if include else "")
    text = (f"to provide it, run `hf download {repo_id}{what}{kind}{rev}` where the Hub is reachable and copy that "
            f"Hub cache here (HF_HOME or HF_HUB_CACHE; this process reads {hub_cache()})")
    return text + (f", or {local}" if local else "")


def cached_file(repo_id: str, filenames: list[str], revision: str | None = None,
                repo_type: str = "model", cache_dir: str | os.PathLike | None = None) -> str | None:
    """The local path of the first of ``filenames`` found in the Hub cache at ``revision``, without a request."""
    from huggingface_hub import hf_hub_download  # here: huggingface_hub takes ~0.8 s to import

    for name in filenames:
        try:
            return hf_hub_download(repo_id, name, revision=revision, repo_type=repo_type, local_files_only=True,
                                   cache_dir=cache_dir or hub_cache())
        except Exception:  # not cached (or the cache is unreadable): try the next name
            continue
    return None


def hub_file(what: str, repo_id: str, filenames: list[str], revision: str | None = None,
             repo_type: str = "model", local: str | None = None, cache_dir: str | os.PathLike | None = None) -> str:
    """The first of ``filenames`` (alternatives, e.g. safetensors before .bin) of a Hub repository: from the
    cache, else downloaded; a :class:`kit.errors.CheckpointError` naming ``what`` and how to provide it when it
    is neither cached nor reachable. local: how to give the same thing as local files (the error says so)."""
    path = cached_file(repo_id, filenames, revision, repo_type, cache_dir)
    if path is not None:
        return path
    where = f"{repo_id}{'@' + revision if revision else ''}"
    why = unreachable()
    if why:
        raise CheckpointError(f"{what}: {' or '.join(filenames)} of {where} is not in the Hugging Face cache and the "
                              f"Hub cannot be used ({why}); "
                              + how_to_provide(repo_id, repo_type, revision, filenames[:1], local)) from None
    from huggingface_hub import hf_hub_download  # here: huggingface_hub takes ~0.8 s to import
    from huggingface_hub.errors import EntryNotFoundError

    last: Exception | None = None
    for name in filenames:
        try:
            return hf_hub_download(repo_id, name, revision=revision, repo_type=repo_type,
                                   cache_dir=cache_dir or hub_cache())
        except EntryNotFoundError as e:  # this alternative does not exist: the next one may
            last = e
        except Exception as e:  # repository unknown, gated, revision unknown, network lost
            last = e
            break
    raise CheckpointError(f"{what}: could not download {' or '.join(filenames)} of {where} from the Hub "
                          f"({_first_line(last)}); "
                          + how_to_provide(repo_id, repo_type, revision, filenames[:1], local)) from None


def download(name: str, revision: str | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """Fetch ``name``'s data files at ``revision`` (default: the kit's pinned one) into the Hub cache; a cached
    copy is used without any request."""
    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}")
    repo_id, default, known = BENCHMARKS[name]
    revision = default if revision is None else revision
    if revision not in known:
        raise ConfigError(
            f"{name}: revision {revision!r} is not one the kit knows ({list(known)}); "
            f"pin a tag the loader was checked against"
        )
    from huggingface_hub import snapshot_download  # here: huggingface_hub takes ~0.8 s to import
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    cache_dir = cache_dir if cache_dir is not None else hub_cache()
    kw = dict(repo_id=repo_id, repo_type="dataset", revision=revision, allow_patterns=DATA_PATTERNS,
              cache_dir=cache_dir)
    local = f"download the dataset folder and pass it as the benchmark (benchmark=/path/to/{name})"
    try:
        return Path(snapshot_download(**kw, local_files_only=True))
    except Exception:  # not cached (or incompletely): ask the Hub, if it can be reached
        pass
    why = unreachable()
    if why:
        raise DataError(f"{name}: {repo_id}@{revision} is not in the Hugging Face cache and the Hub "
                        f"cannot be used ({why}); "
                        + how_to_provide(repo_id, "dataset", revision, None, local, include=_INCLUDE)) from None
    try:
        path = snapshot_download(**kw)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as e:
        raise DataError(
            f"{name}: could not download {repo_id}@{revision} from the Hub (no network and no cached copy?): "
            f"{_first_line(e)}; "
            + how_to_provide(repo_id, "dataset", revision, None, local, include=_INCLUDE)
        ) from None
    return Path(path)
