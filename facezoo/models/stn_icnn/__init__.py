"""STN-iCNN (Yin et al. 2021): the model, its presets and its training schedule.

Importing this package registers the architecture and its presets (names only); the model
module, and with it Keras, is imported when one of its names is first used (PEP 562).
"""

import importlib

from facezoo.models.stn_icnn import presets  # noqa: F401  (registers the architecture and its presets)

__all__ = ["HELEN_PARTS", "PHASES", "LocalizationNetwork", "STNiCNN", "label_centroids", "parse_parts", "part_centroid_thetas"]


def __getattr__(name):  # PEP 562: the model module (and Keras) is imported on first use
    if name in __all__:
        value = getattr(importlib.import_module("facezoo.models.stn_icnn.stn_icnn"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
