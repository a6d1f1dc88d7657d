"""open_clip encoders, by name (e.g. ``open_clip:ViT-L-14/openai``, the paper's backbone) or from local files.

Names (the part after ``open_clip:``)::

    MODEL/TAG                 open_clip's config MODEL with its pretrained weights TAG (Hub cache first)
    MODEL/random              the architecture with random weights (seeded: the same in every process)
    MODEL@FILE                open_clip's config MODEL with a local checkpoint (.safetensors, .bin, .pt)
    MODEL/TAG@FILE            the same, with the settings of TAG (QuickGELU, preprocessing): local copies of TAG
    hf-hub:ORG/REPO[@REV]     a repository in open_clip's Hub format (open_clip_config.json + weights)
    hf-hub:/path/folder       a folder in that format (also ``local-dir:/path/folder``)

The embedding is the projected image embedding (``model.encode_image``, 768-d for ViT-L/14), not
L2-normalised. OpenAI weights were trained with QuickGELU, so whenever open_clip's pretrained record
says ``quick_gelu`` the model is built with ``force_quick_gelu=True`` (a GELU model with those weights is
silently wrong); for local copies of OpenAI weights give the tag (``ViT-L-14/openai@FILE``) or a ``-quickgelu``
config. Weights from the Hub are looked up in the Hugging Face cache before any request, so a cached model
loads offline; one that is neither cached nor reachable is one :class:`kit.errors.CheckpointError` within
seconds (see :mod:`kit.data.hub`). Local weights are keyed in the embedding cache by the content of their
files, not by their path: other weights in the same place are other embeddings.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch

from kit.data import hub
from kit.embed.registry import TorchEncoder, is_path, register_encoder
from kit.errors import CheckpointError, ConfigError
from kit.io import file_sha256

RANDOM = "random"
RANDOM_SEED = 0
HUB_WEIGHTS = ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
_LOG = logging.getLogger("kit")


def _check_model(model: str) -> None:
    import open_clip

    if model not in open_clip.list_models():
        raise ConfigError(f"open_clip has no model config {model!r} (see open_clip.list_models())")


def open_clip_spec(spec: str) -> dict:
    """``"MODEL/PRETRAINED"`` → keyword arguments of ``open_clip.create_model_and_transforms``."""
    import open_clip

    model, sep, tag = spec.partition("/")
    if not sep or not model or not tag:
        raise ConfigError(f"open_clip encoder needs 'open_clip:MODEL/PRETRAINED' (e.g. 'open_clip:ViT-L-14/openai', "
                          f"'/{RANDOM}' for random weights, 'MODEL@/path/to/checkpoint' for local weights or "
                          f"'hf-hub:ORG/REPO'), got 'open_clip:{spec}'")
    _check_model(model)
    if tag == RANDOM:
        return {"model_name": model, "pretrained": None, "force_quick_gelu": False}
    cfg = open_clip.get_pretrained_cfg(model, tag)
    if not cfg:
        raise ConfigError(f"open_clip has no pretrained weights {tag!r} for {model!r}; "
                          f"known tags: {open_clip.list_pretrained_tags_by_model(model)}")
    return {"model_name": model, "pretrained": tag, "force_quick_gelu": bool(cfg.get("quick_gelu", False))}


def _preprocess_kwargs(cfg: dict) -> dict:
    """A pretrained record's preprocessing as keyword arguments of ``create_model_and_transforms``."""
    names = {"mean": "image_mean", "std": "image_std", "interpolation": "image_interpolation",
             "resize_mode": "image_resize_mode"}
    return {arg: cfg[key] for key, arg in names.items() if cfg.get(key) is not None}


def _tag_weights(spec: str, model: str, tag: str, cfg: dict, cache_dir: str | None) -> str:
    """The local file of the pretrained weights ``tag``: the Hub cache (downloaded when reachable), or, for
    records with only a URL, open_clip's own download folder."""
    local = f"give local weights: open_clip:{model}/{tag}@/path/to/checkpoint"
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])  # "org/repo/" (default file names) or "org/repo/file"
        names = [filename] if filename else list(HUB_WEIGHTS)
        if filename.endswith((".bin", ".pth")):
            names = [filename[:-4] + ".safetensors", filename]
        return hub.hub_file(f"encoder open_clip:{spec}", repo, names, cache_dir=cache_dir, local=local)
    url = cfg.get("url", "")
    target = Path(cache_dir or os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
    if target.is_file():
        return str(target)
    why = hub.unreachable()
    if why:
        raise CheckpointError(f"encoder open_clip:{spec}: the weights ({url}) are not in {target.parent} and the "
                              f"network cannot be used ({why}); download {url} into {target.parent} where there is a "
                              f"network, or {local}")
    import open_clip

    try:
        return open_clip.download_pretrained(cfg, cache_dir=cache_dir)
    except Exception as e:
        raise CheckpointError(f"encoder open_clip:{spec}: could not download {url} ({type(e).__name__}: {e}); "
                              f"{local}") from None


def _local_file(spec: str, path: str) -> Path:
    p = Path(os.path.expanduser(path))
    if not p.is_file():
        raise CheckpointError(f"encoder open_clip:{spec}: checkpoint file {p} not found"
                              + (" (a folder: use open_clip:hf-hub:FOLDER for open_clip's folder layout)"
                                 if p.is_dir() else ""))
    return p


def _hub_folder(spec: str, ident: str, cache_dir: str | None) -> tuple[Path, dict]:
    """``hf-hub:`` / ``local-dir:`` names → (a folder with open_clip_config.json and weights, checkpoint record)."""
    if is_path(ident) or os.path.isdir(os.path.expanduser(ident)):
        folder = Path(os.path.expanduser(ident))
        config = folder / "open_clip_config.json"
        if not config.is_file():
            raise CheckpointError(f"encoder open_clip:{spec}: {config} not found (a folder in open_clip's Hub "
                                  "format holds open_clip_config.json and open_clip_model.safetensors)")
        weights = _folder_weights(folder)
        if weights is None:
            raise CheckpointError(f"encoder open_clip:{spec}: no weights (*.safetensors, *.bin, *.pth) in {folder}")
        return folder, {"source": "local folder", "config_sha256": file_sha256(config),
                        "weights": weights.name, "weights_sha256": file_sha256(weights)}
    repo, _, revision = ident.partition("@")
    if repo.count("/") != 1:
        raise ConfigError(f"encoder open_clip:{spec}: hf-hub: needs ORG/REPO[@REVISION] or a folder path, "
                          f"got {ident!r}")
    revision = revision or None
    local = "give a local folder: open_clip:hf-hub:/path/to/folder"
    what = f"encoder open_clip:{spec}"
    config = hub.hub_file(what, repo, ["open_clip_config.json"], revision, cache_dir=cache_dir, local=local)
    weights = hub.hub_file(what, repo, HUB_WEIGHTS, revision, cache_dir=cache_dir, local=local)
    folder = Path(config).parent
    if Path(weights).parent != folder:
        raise CheckpointError(f"{what}: the config and the weights of {repo} resolve to different snapshots "
                              f"({folder}, {Path(weights).parent}); pin a revision")
    return folder, {"source": "hub", "repo": repo, "revision": revision, "commit": folder.name,
                    "weights": Path(weights).name, "weights_blob": Path(os.path.realpath(weights)).name}


def _folder_weights(folder: Path) -> Path | None:
    """The checkpoint open_clip picks in a folder (its own rule, so the fingerprint is of the file it loads)."""
    try:
        from open_clip.factory import _find_checkpoint_in_dir
    except ImportError:  # pragma: no cover - older/newer open_clip
        found = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) + sorted(folder.glob("*.pth"))
        return found[0] if found else None
    found = _find_checkpoint_in_dir(folder)
    return Path(found) if found else None


class OpenClipEncoder(TorchEncoder):
    """An open_clip CLIP model: images → projected embeddings; texts → projected text embeddings."""

    supports_text = True

    def __init__(self, name: str, model: torch.nn.Module, dim: int, preprocess, tokenizer, checkpoint: dict,
                 device: str = "auto", key_name: str | None = None):
        super().__init__(name, model, dim, preprocess, checkpoint, device, key_name=key_name)
        self.tokenizer = tokenizer
        self.supports_text = tokenizer is not None

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.encode_image(x)

    def _texts(self, texts: list[str]) -> torch.Tensor:
        return self.module.encode_text(self.tokenizer(texts).to(self.device))


def _build(spec: str, what: str, **kw):
    """open_clip.create_model_and_transforms with its errors turned into one kit error naming the encoder."""
    import open_clip

    try:
        model, _, preprocess = open_clip.create_model_and_transforms(**kw, weights_only=True)
    except (RuntimeError, ValueError, KeyError, OSError, TypeError, AssertionError) as e:  # a mismatch asserts
        raise CheckpointError(f"encoder open_clip:{spec}: open_clip could not build the model from {what} "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''})") from None
    return model, preprocess


def load_open_clip(spec: str, device: str = "auto", cache_dir: str | None = None) -> OpenClipEncoder:
    """Build an open_clip model from one of the names in the module docstring (weights: cache first)."""
    import open_clip

    name = f"open_clip:{spec}"
    version = {"library": "open_clip", "open_clip_version": open_clip.__version__}
    for schema in ("hf-hub:", "local-dir:"):
        if spec.startswith(schema):
            folder, record = _hub_folder(spec, spec[len(schema):], cache_dir)
            config = json.loads((folder / "open_clip_config.json").read_text(encoding="utf-8"))
            cfg = config.get("model_cfg", config)
            if "embed_dim" not in cfg:
                raise CheckpointError(f"encoder {name}: {folder / 'open_clip_config.json'} has no model_cfg.embed_dim")
            model, preprocess = _build(spec, str(folder), model_name=f"local-dir:{folder}", pretrained_text=False)
            tokenizer = _tokenizer(name, f"local-dir:{folder}")
            key = name if record["source"] == "hub" else "open_clip:local-dir"
            return OpenClipEncoder(name, model, cfg["embed_dim"], preprocess, tokenizer, {**version, **record},
                                   device, key_name=key)
    head, at, path = spec.partition("@")
    if at:
        model_name, _, tag = head.partition("/")
        _check_model(model_name)
        file = _local_file(spec, path)
        kw: dict = {"force_quick_gelu": False}
        if tag:
            kw = open_clip_spec(head)
            kw.pop("model_name"), kw.pop("pretrained")
            kw.update(_preprocess_kwargs(open_clip.get_pretrained_cfg(model_name, tag)))
        model, preprocess = _build(spec, str(file), model_name=model_name, pretrained=str(file),
                                   pretrained_text=False, **kw)
        checkpoint = {**version, "model_name": model_name, "pretrained": tag or None, "source": "local file",
                      "force_quick_gelu": kw["force_quick_gelu"], "weights_sha256": file_sha256(file)}
        return OpenClipEncoder(name, model, open_clip.get_model_config(model_name)["embed_dim"], preprocess,
                               _tokenizer(name, model_name), checkpoint, device,
                               key_name=f"open_clip:{head}@local")
    kw = open_clip_spec(spec)
    model_name, tag = kw["model_name"], kw["pretrained"]
    checkpoint = {**version, **kw}
    if tag is None:  # random weights, the same in every process (a multi-process run agrees on one model)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            model, preprocess = _build(spec, "random weights", model_name=model_name, pretrained=None,
                                       pretrained_text=False, force_quick_gelu=False)
        checkpoint["init_seed"] = RANDOM_SEED
    else:
        cfg = open_clip.get_pretrained_cfg(model_name, tag)
        file = _tag_weights(spec, model_name, tag, cfg, cache_dir)
        model, preprocess = _build(spec, file, model_name=model_name, pretrained=file, pretrained_text=False,
                                   force_quick_gelu=kw["force_quick_gelu"], **_preprocess_kwargs(cfg))
    dim = open_clip.get_model_config(model_name)["embed_dim"]  # the shared image/text projection width
    return OpenClipEncoder(name, model, dim, preprocess, _tokenizer(name, model_name), checkpoint, device)


def _tokenizer(name: str, model_name: str):
    """open_clip's tokenizer for the model, or None (the encoder then has no text tower) when it cannot be had
    (e.g. a Hugging Face tokenizer that is neither cached nor reachable)."""
    import open_clip

    try:
        return open_clip.get_tokenizer(model_name)
    except Exception as e:
        _LOG.warning(f"encoder {name}: no tokenizer ({type(e).__name__}: {str(e)[:200]}); texts cannot be embedded")
        return None


register_encoder("open_clip", load_open_clip)
