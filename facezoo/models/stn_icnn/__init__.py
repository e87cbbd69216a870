"""STN-iCNN (Yin et al. 2021): the model, its presets and its training schedule."""

from facezoo.models.stn_icnn.stn_icnn import (HELEN_PARTS, PHASES, LocalizationNetwork, STNiCNN, label_centroids,
                                              parse_parts, part_centroid_thetas)

__all__ = ["HELEN_PARTS", "PHASES", "LocalizationNetwork", "STNiCNN", "label_centroids", "parse_parts",
           "part_centroid_thetas"]

from facezoo.models.stn_icnn import presets  # noqa: E402,F401  (registers the architecture and its presets)
