"""Paired benchmarks (synCUB, synCOCO), base datasets (CUB-200-2011, COCO 2017), the kit's offline
procedural twins (toy-synCUB, toy-synCOCO), building new benchmarks with an image editor, and publishing.

Heavy dependencies (diffusers, datasets, huggingface_hub) are imported only by the functions that use them.
"""

from kit.data.build import BuildConfig, build, load_editor
from kit.data.coco import coco_instances, load_coco
from kit.data.cub import load_cub
from kit.data.paired import load_paired, read_paired_folder
from kit.data.publish import publish
from kit.data.toy_birds import ToyBirdsConfig, render_toy_syncub
from kit.data.toy_scenes import ToyScenesConfig, render_toy_syncoco
from kit.data.unpaired import load_toy_images

__all__ = [
    "load_paired",
    "read_paired_folder",
    "render_toy_syncub",
    "render_toy_syncoco",
    "ToyBirdsConfig",
    "ToyScenesConfig",
    "load_toy_images",
    "load_cub",
    "load_coco",
    "coco_instances",
    "build",
    "BuildConfig",
    "load_editor",
    "publish",
]
