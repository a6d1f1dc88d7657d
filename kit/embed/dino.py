"""DINOv2 encoders through transformers: ``dinov2:facebook/dinov2-small`` (384-d), ``-base``, ``-large``, ``-giant``.

The embedding is the CLS token after the final layer norm (``Dinov2Model(...).pooler_output``).
``dinov2:REPO@REVISION`` pins a Hub revision; the commit actually loaded is recorded in the provenance.
``dinov2:/path/to/folder`` loads a folder written by ``save_pretrained`` (``config.json`` and
``model.safetensors``; ``preprocessor_config.json`` when present, else DINOv2's own preprocessing: shortest
side 256 bicubic, centre crop 224, ImageNet mean and std); its files' content, not its path, keys the cache.
Hub models are looked up in the Hugging Face cache before any request (a cached model loads offline); one
neither cached nor reachable is one :class:`kit.errors.CheckpointError` within seconds (:mod:`kit.data.hub`).
The model class is fixed (``Dinov2Model``), so no code from the Hub repository is ever run.
Preprocessing follows the image-processor config (resize the short side, centre crop, normalise), rebuilt
as torchvision transforms so DataLoader workers can run it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
from torchvision import transforms as T

from kit.data import hub
from kit.embed.registry import TorchEncoder, is_path, register_encoder, state_dict_hash
from kit.errors import CheckpointError, ConfigError
from kit.io import file_sha256

_RESAMPLE = {0: T.InterpolationMode.NEAREST, 1: T.InterpolationMode.LANCZOS, 2: T.InterpolationMode.BILINEAR,
             3: T.InterpolationMode.BICUBIC, 4: T.InterpolationMode.BOX, 5: T.InterpolationMode.HAMMING}
# facebook/dinov2-*'s preprocessor_config.json (the same for every size)
DINOV2_PREPROCESSING = dict(size={"shortest_edge": 256}, resample=3, do_center_crop=True,
                            crop_size={"height": 224, "width": 224}, do_rescale=True, rescale_factor=1 / 255,
                            do_normalize=True, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _get(processor, key, default=None):
    """An image-processor setting; sizes (dicts, or transformers' SizeDict dataclass) as plain dicts."""
    value = getattr(processor, key, default)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return dict(value) if hasattr(value, "keys") and not isinstance(value, dict) else value


def processor_transform(processor) -> T.Compose:
    """A transformers image processor (BitImageProcessor-like, slow or fast) → the same steps as torchvision
    transforms."""
    steps = []
    if _get(processor, "do_resize", True):
        size = {k: v for k, v in (_get(processor, "size") or {}).items() if v is not None}
        if "shortest_edge" in size:
            target = size["shortest_edge"]
        elif "height" in size and "width" in size:
            target = (size["height"], size["width"])
        else:
            raise ConfigError(f"image processor size {size!r} is not understood (need shortest_edge or height/width)")
        resample = _get(processor, "resample", 3)
        resample = int(getattr(resample, "value", resample))
        steps.append(T.Resize(target, interpolation=_RESAMPLE[resample], antialias=True))
    if _get(processor, "do_center_crop", False):
        crop = _get(processor, "crop_size")
        steps.append(T.CenterCrop((crop["height"], crop["width"])))
    steps.append(T.PILToTensor())
    factor = _get(processor, "rescale_factor", 1 / 255)
    if not _get(processor, "do_rescale", True) or abs(factor - 1 / 255) > 1e-12:
        raise ConfigError(f"image processor rescales by {factor} (do_rescale="
                          f"{_get(processor, 'do_rescale')}); only the usual 1/255 is supported")
    steps.append(T.ConvertImageDtype(torch.float32))
    if _get(processor, "do_normalize", True):
        steps.append(T.Normalize(mean=list(_get(processor, "image_mean")), std=list(_get(processor, "image_std"))))
    return T.Compose(steps)


class Dinov2Encoder(TorchEncoder):
    """A transformers Dinov2Model: images → CLS token after the final layer norm, float32[B, hidden_size]."""

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(pixel_values=x).pooler_output


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:300]}" if text else type(e).__name__


def _from_pretrained(name: str, source: str, revision: str | None, cache_dir: str | None, local: bool):
    """(model, processor or None) — the Hub cache first (no request), then the Hub when it can be reached."""
    from transformers import AutoImageProcessor, Dinov2Model

    def load(local_only: bool):
        kw = dict(revision=revision, cache_dir=cache_dir or hub.hub_cache(), local_files_only=local_only)
        model, info = Dinov2Model.from_pretrained(source, use_safetensors=None if local else True,
                                                  output_loading_info=True, **kw)
        missing = list(info.get("missing_keys") or [])
        if missing:
            raise CheckpointError(f"encoder {name}: the checkpoint lacks {len(missing)} weight(s) of a Dinov2Model "
                                  f"(e.g. {missing[:3]}); is it a DINOv2 model?")
        if local and not (Path(source) / "preprocessor_config.json").is_file():
            return model, None
        return model, AutoImageProcessor.from_pretrained(source, **kw)

    if local:
        try:
            return load(True)
        except CheckpointError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(f"encoder {name}: transformers cannot load the folder {source} ({_first_line(e)}); "
                                  "it needs config.json and model.safetensors written by save_pretrained") from None
    try:
        return load(True)
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError):  # not (fully) cached: ask the Hub, if it can be reached
        pass
    where = f"{source}{'@' + revision if revision else ''}"
    provide = hub.how_to_provide(source, "model", revision, ["config.json", "model.safetensors",
                                                             "preprocessor_config.json"],
                                 local="give a local folder: dinov2:/path/to/folder (from save_pretrained)")
    why = hub.unreachable()
    if why:
        raise CheckpointError(f"encoder {name}: {where} is not in the Hugging Face cache and the Hub cannot be used "
                              f"({why}); {provide}") from None
    try:
        return load(False)
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"encoder {name}: could not load {where} from the Hub ({_first_line(e)}); "
                              f"{provide}") from None


def _cached_commit(repo: str, revision: str | None) -> str | None:
    """The commit of the cached snapshot a Hub model was read from (transformers does not always record it)."""
    path = hub.cached_file(repo, ["config.json"], revision)
    return Path(path).parent.name if path and Path(path).parent.parent.name == "snapshots" else None


def load_dinov2(spec: str, device: str = "auto", model=None, processor=None,
                cache_dir: str | None = None) -> Dinov2Encoder:
    """``spec = "REPO[@REVISION]"`` or a local folder; ``model``/``processor`` may be given already built (tests)."""
    from transformers import BitImageProcessor, Dinov2Model

    name = f"dinov2:{spec}"
    local = is_path(spec) or os.path.isdir(os.path.expanduser(spec))
    if local:
        repo, revision = os.path.expanduser(spec), None
        if not Path(repo).is_dir():
            raise CheckpointError(f"encoder {name}: no such folder {repo}")
    else:
        repo, _, revision = spec.partition("@")
        revision = revision or None
    if not repo:
        raise ConfigError("dinov2 encoder needs a Hub repository, e.g. 'dinov2:facebook/dinov2-small', "
                          "or a folder, e.g. 'dinov2:/path/to/folder'")
    injected = model is not None
    if model is None:
        model, loaded = _from_pretrained(name, repo, revision, cache_dir, local)
        processor = processor if processor is not None else loaded
    elif not isinstance(model, Dinov2Model):
        raise ConfigError(f"dinov2 encoder: model must be a transformers Dinov2Model, got {type(model).__name__}")
    if processor is None:
        if not local and not injected:  # pragma: no cover - _from_pretrained returns one for Hub models
            raise CheckpointError(f"encoder {name}: no image processor")
        processor = BitImageProcessor(**DINOV2_PREPROCESSING)
    key_name = name
    if local and not injected:
        folder = Path(repo)
        weights = [folder / f for f in WEIGHT_FILES if (folder / f).is_file()]
        files = [folder / "config.json", *weights[:1], folder / "preprocessor_config.json"]
        checkpoint = {"library": "transformers", "source": "local folder",
                      "files_sha256": {p.name: file_sha256(p) for p in files if p.is_file()}}
        key_name = "dinov2:local"
    else:
        checkpoint = {"library": "transformers", "repo": repo, "revision": revision,
                      "commit": getattr(model.config, "_commit_hash", None) or _cached_commit(repo, revision)}
    if injected:  # the weights are not the Hub's: fingerprint them so the cache cannot confuse the two
        checkpoint["injected_weights_sha256"] = state_dict_hash(model)
    return Dinov2Encoder(name, model, model.config.hidden_size, processor_transform(processor),
                         checkpoint, device, key_name=key_name)


register_encoder("dinov2", load_dinov2)
