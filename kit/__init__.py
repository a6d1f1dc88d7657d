"""sae-concept-kit: measure how interpretable a sparse autoencoder on vision embeddings is.

Stages (see DESIGN.md): ``kit.data`` → ``kit.embed`` → ``kit.sae`` → ``kit.matching`` / ``kit.tapas`` /
``kit.metrics`` → ``kit.evaluate`` (tidy rows) → ``kit.studies``, ``kit.sanity``, ``kit.findings``, ``kit.score``;
``kit.pipeline`` chains the stages for the chapters. The core data types live in ``kit.types``; errors in
``kit.errors``.
"""

from kit._version import __version__
from kit.errors import CheckpointError, ConfigError, DataError, KitError
from kit.types import ConceptTable, Embeddings, Matching, PairedBenchmark

__all__ = [
    "__version__",
    "KitError",
    "DataError",
    "ConfigError",
    "CheckpointError",
    "ConceptTable",
    "PairedBenchmark",
    "Embeddings",
    "Matching",
]
