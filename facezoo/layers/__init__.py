"""Reusable layers (keras.ops only, so they run on the TensorFlow, JAX and PyTorch backends)."""

from facezoo.layers.shape_correction import ShapeCorrection
from facezoo.layers.soft_argmax import SoftArgmax, soft_argmax
from facezoo.layers.spatial_crop import (
    SpatialCrop,
    SpatialPaste,
    affine_sample,
    crop_theta,
    invert_affine,
    paste_planes,
    scale_translation_theta,
)

__all__ = ["ShapeCorrection", "SpatialCrop", "SpatialPaste", "SoftArgmax",
           "affine_sample", "crop_theta", "invert_affine", "paste_planes",
           "scale_translation_theta", "soft_argmax"]
