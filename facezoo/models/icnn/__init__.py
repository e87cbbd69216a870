"""iCNN (Zhou, Hu, Zhang 2015): the model and its presets.

Importing this package registers the architecture and its presets (names only); the model
module, and with it Keras, is imported when one of its names is first used (PEP 562).
"""

import importlib

from facezoo.models.icnn import presets  # noqa: F401  (registers the architecture and its presets)

__all__ = ["ICNN", "NearestUpsample2x"]


def __getattr__(name):  # PEP 562: the model module (and Keras) is imported on first use
    if name in __all__:
        value = getattr(importlib.import_module("facezoo.models.icnn.icnn"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
