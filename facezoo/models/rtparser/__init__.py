"""The real-time parser of Wei et al. (2019): the model, distillation and its presets."""

from facezoo.models.rtparser.rtparser import Distiller, RTParser, landmark_heatmap, multiply_adds

__all__ = ["Distiller", "RTParser", "landmark_heatmap", "multiply_adds"]

from facezoo.models.rtparser import presets  # noqa: E402,F401  (registers the architecture and its presets)
