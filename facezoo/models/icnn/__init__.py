"""iCNN (Zhou, Hu, Zhang 2015): the model and its presets.

Importing this package registers the architecture and its presets (names only); the model
module, and with it Keras, is imported when one of its names is first used (PEP 562).
"""

from facezoo.lazy import lazy_exports
from facezoo.models.icnn import presets  # noqa: F401  (registers the architecture and its presets)

__all__ = ["ICNN", "NearestUpsample2x"]

__getattr__, __dir__ = lazy_exports(globals(), "facezoo.models.icnn.icnn", __all__)  # the model module on first use
