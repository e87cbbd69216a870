"""Attention-driven cropping for landmarks (Chandran et al. 2020), the holistic baseline, their presets."""

from facezoo.models.adc_landmarks.adc_landmarks import (ADCLandmarks, HolisticLandmarks, _normalised_to_pixels,
                                                        downsample, flip_averaged, heatmap_loss, landmark_loss,
                                                        mirror_indices, pooled_coordinates)

__all__ = ["ADCLandmarks", "HolisticLandmarks", "downsample", "flip_averaged", "heatmap_loss", "landmark_loss",
           "mirror_indices", "pooled_coordinates", "_normalised_to_pixels"]

from facezoo.models.adc_landmarks import presets  # noqa: E402,F401  (registers the architecture and its presets)
