"""The real-time parser of Wei et al. (2019): the model, distillation and its presets."""

from facezoo.models.rtparser.rtparser import Distiller, RTParser, landmark_heatmap, multiply_adds

__all__ = ["Distiller", "RTParser", "landmark_heatmap", "multiply_adds"]
