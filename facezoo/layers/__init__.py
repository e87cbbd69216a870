"""Reusable layers (keras.ops only, so they run on the TensorFlow, JAX and PyTorch backends)."""

from facezoo.layers.spatial_crop import (
    SpatialCrop,
    SpatialPaste,
    affine_sample,
    crop_theta,
    invert_affine,
)

__all__ = ["SpatialCrop", "SpatialPaste", "affine_sample", "crop_theta", "invert_affine"]
