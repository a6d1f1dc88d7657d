"""Image (and text) embeddings from named encoders, batched, cached on disk and resumable.

- :func:`load_encoder` — ``"toy"`` (the kit's offline encoder), ``"open_clip:ViT-L-14/openai"``,
  ``"dinov2:facebook/dinov2-small"``; new families via :func:`register_encoder`.
- :func:`embed_images` — images (paths or PIL) → ``Embeddings`` ``X: float32[N, d]``.
- :func:`embed_texts` — texts → ``float32[T, d]`` (CLIP-like encoders).
- :func:`embed_benchmark` — a ``PairedBenchmark`` → (originals, edits) ``Embeddings``.
"""

from kit.embed.registry import Encoder, TorchEncoder, known_prefixes, load_encoder, register_encoder
from kit.embed import clip as _clip  # noqa: F401  (registers "open_clip")
from kit.embed import dino as _dino  # noqa: F401  (registers "dinov2")
from kit.embed import toy as _toy  # noqa: F401  (registers "toy")
from kit.embed.extract import EmbedConfig, embed_benchmark, embed_images, embed_texts
from kit.embed.world import world_stats  # noqa: F401  (kit.embed.world_stats: chapter 03's statistics)

__all__ = ["Encoder", "TorchEncoder", "EmbedConfig", "load_encoder", "register_encoder", "known_prefixes",
           "embed_images", "embed_texts", "embed_benchmark"]
