"""Domain errors raised by elsnet_core.

Tree::

    ElsnetError                 base of everything elsnet_core raises on purpose
    ├── InvalidInput            the user's data is wrong; the message says what to fix (no retry)
    │   ├── InvalidVolume       an image cannot be read or is not a usable 3D volume
    │   └── InvalidExemplar     an exemplar label map is unusable (shape, values, no organ)
    ├── Cancelled               ``should_stop()`` returned True during ``fit``
    └── ModelLoadError          a model artefact folder is missing files or is inconsistent

Anything else escaping elsnet_core is an internal or transient failure.
"""

from __future__ import annotations


class ElsnetError(Exception):
    """Base class of all deliberate elsnet_core errors."""


class InvalidInput(ElsnetError):
    """The user's input is wrong; the message says what to fix."""


class InvalidVolume(InvalidInput):
    """An image file cannot be read, or is not a 3D volume."""


class InvalidExemplar(InvalidInput):
    """An exemplar label map does not fit its image or carries no organ."""


class Cancelled(ElsnetError):
    """Training was cancelled by ``should_stop``."""


class ModelLoadError(ElsnetError):
    """A model artefact cannot be loaded (missing config/weights, version mismatch)."""
