"""STN-iCNN (Yin et al. 2021): the model, its presets and its training schedule.

Importing this package registers the architecture and its presets (names only); the model
module, and with it Keras, is imported when one of its names is first used (PEP 562).
"""

from facezoo.lazy import lazy_exports
from facezoo.models.stn_icnn import presets  # noqa: F401  (registers the architecture and its presets)

__all__ = ["HELEN_PARTS", "PHASES", "LocalizationNetwork", "STNiCNN", "label_centroids", "parse_parts", "part_centroid_thetas"]

__getattr__, __dir__ = lazy_exports(globals(), "facezoo.models.stn_icnn.stn_icnn", __all__)  # the model module on first use
