"""DINOv2 encoders through transformers: ``dinov2:facebook/dinov2-small`` (384-d), ``-base``, ``-large``, ``-giant``.

The embedding is the CLS token after the final layer norm (``Dinov2Model(...).pooler_output``).
``dinov2:REPO@REVISION`` pins a Hub revision; the commit actually loaded is recorded in the provenance.
The model class is fixed (``Dinov2Model``), so no code from the Hub repository is ever run.
Preprocessing follows the repository's image-processor config (resize the short side, centre crop,
normalise), rebuilt as torchvision transforms so DataLoader workers can run it.
"""

from __future__ import annotations

import torch
from torchvision import transforms as T

from kit.embed.registry import TorchEncoder, register_encoder, state_dict_hash
from kit.errors import ConfigError

_RESAMPLE = {0: T.InterpolationMode.NEAREST, 1: T.InterpolationMode.LANCZOS, 2: T.InterpolationMode.BILINEAR,
             3: T.InterpolationMode.BICUBIC, 4: T.InterpolationMode.BOX, 5: T.InterpolationMode.HAMMING}


def processor_transform(processor) -> T.Compose:
    """A transformers image processor (BitImageProcessor-like) → the same steps as torchvision transforms."""
    steps = []
    if processor.do_resize:
        size = processor.size
        if "shortest_edge" in size:
            target = size["shortest_edge"]
        elif "height" in size and "width" in size:
            target = (size["height"], size["width"])
        else:
            raise ConfigError(f"image processor size {size!r} is not understood (need shortest_edge or height/width)")
        steps.append(T.Resize(target, interpolation=_RESAMPLE[int(processor.resample)], antialias=True))
    if getattr(processor, "do_center_crop", False):
        crop = processor.crop_size
        steps.append(T.CenterCrop((crop["height"], crop["width"])))
    steps.append(T.PILToTensor())
    if not processor.do_rescale or abs(processor.rescale_factor - 1 / 255) > 1e-12:
        raise ConfigError(f"image processor rescales by {processor.rescale_factor} (do_rescale="
                          f"{processor.do_rescale}); only the usual 1/255 is supported")
    steps.append(T.ConvertImageDtype(torch.float32))
    if processor.do_normalize:
        steps.append(T.Normalize(mean=list(processor.image_mean), std=list(processor.image_std)))
    return T.Compose(steps)


class Dinov2Encoder(TorchEncoder):
    """A transformers Dinov2Model: images → CLS token after the final layer norm, float32[B, hidden_size]."""

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(pixel_values=x).pooler_output


def load_dinov2(spec: str, device: str = "auto", model=None, processor=None,
                cache_dir: str | None = None) -> Dinov2Encoder:
    """``spec = "REPO[@REVISION]"``; ``model``/``processor`` may be given already built (tests, local weights)."""
    from transformers import AutoImageProcessor, Dinov2Model

    repo, _, revision = spec.partition("@")
    if not repo:
        raise ConfigError("dinov2 encoder needs a Hub repository, e.g. 'dinov2:facebook/dinov2-small'")
    revision = revision or None
    injected = model is not None
    if model is None:
        model = Dinov2Model.from_pretrained(repo, revision=revision, cache_dir=cache_dir, use_safetensors=True)
    elif not isinstance(model, Dinov2Model):
        raise ConfigError(f"dinov2 encoder: model must be a transformers Dinov2Model, got {type(model).__name__}")
    if processor is None:
        processor = AutoImageProcessor.from_pretrained(repo, revision=revision, cache_dir=cache_dir)
    checkpoint = {"library": "transformers", "repo": repo, "revision": revision,
                  "commit": getattr(model.config, "_commit_hash", None)}
    if injected:  # the weights are not the Hub's: fingerprint them so the cache cannot confuse the two
        checkpoint["injected_weights_sha256"] = state_dict_hash(model)
    return Dinov2Encoder(f"dinov2:{spec}", model, model.config.hidden_size, processor_transform(processor),
                         checkpoint, device)


register_encoder("dinov2", load_dinov2)
