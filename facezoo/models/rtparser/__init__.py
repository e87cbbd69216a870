"""The real-time parser of Wei et al. (2019): the model, distillation and its presets.

Importing this package registers the architecture and its presets (names only); the model
module, and with it Keras, is imported when one of its names is first used (PEP 562).
"""

from facezoo.lazy import lazy_exports
from facezoo.models.rtparser import presets  # noqa: F401  (registers the architecture and its presets)

__all__ = ["Distiller", "RTParser", "landmark_heatmap", "multiply_adds"]

__getattr__, __dir__ = lazy_exports(globals(), "facezoo.models.rtparser.rtparser", __all__)  # the model module on first use
