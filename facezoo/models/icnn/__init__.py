"""iCNN (Zhou, Hu, Zhang 2015): the model and its presets."""

from facezoo.models.icnn.icnn import ICNN, NearestUpsample2x

__all__ = ["ICNN", "NearestUpsample2x"]

from facezoo.models.icnn import presets  # noqa: E402,F401  (registers the architecture and its presets)
