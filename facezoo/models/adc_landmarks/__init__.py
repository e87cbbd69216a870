"""Attention-driven cropping for landmarks (Chandran et al. 2020), the holistic baseline, their presets.

Importing this package registers the architecture and its presets (names only); the model
module, and with it Keras, is imported when one of its names is first used (PEP 562).
"""

import importlib

from facezoo.models.adc_landmarks import presets  # noqa: F401  (registers the architecture and its presets)

__all__ = ["ADCLandmarks", "HolisticLandmarks", "downsample", "flip_averaged", "heatmap_loss", "landmark_loss", "mirror_indices", "pooled_coordinates", "_normalised_to_pixels"]


def __getattr__(name):  # PEP 562: the model module (and Keras) is imported on first use
    if name in __all__:
        value = getattr(importlib.import_module("facezoo.models.adc_landmarks.adc_landmarks"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
