"""Attention-driven cropping for landmarks (Chandran et al. 2020), the holistic baseline, their presets.

Importing this package registers the architecture and its presets (names only); the model
module, and with it Keras, is imported when one of its names is first used (PEP 562).
"""

from facezoo.lazy import lazy_exports
from facezoo.models.adc_landmarks import presets  # noqa: F401  (registers the architecture and its presets)

__all__ = ["ADCLandmarks", "HolisticLandmarks", "contour_neighbours", "downsample", "flip_averaged", "heatmap_loss",
           "landmark_loss", "mirror_indices", "point_error", "pooled_coordinates", "POINT_LOSSES", "WING",
           "_normalised_to_pixels"]

__getattr__, __dir__ = lazy_exports(globals(), "facezoo.models.adc_landmarks.adc_landmarks", __all__)  # the model module on first use
