"""The kit's version, recorded in every result file."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sae-concept-kit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
