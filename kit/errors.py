"""The kit's error classes.

Every message names what is wrong: the file, row, column or parameter. The command line turns a
:class:`KitError` into one line on stderr and a non-zero exit.
"""

from __future__ import annotations


class KitError(Exception):
    """Base class of every error the kit raises on purpose."""


class DataError(KitError, ValueError):
    """Input data is malformed: shapes, labels, values, files, metadata rows."""


class ConfigError(KitError, ValueError):
    """A parameter or configuration value is invalid or unknown."""


class CheckpointError(KitError, ValueError):
    """A checkpoint or cache on disk does not match what is asked of it."""
