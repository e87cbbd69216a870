"""Architectures, one file each."""

from facezoo.models.icnn import ICNN
from facezoo.models.stn_icnn import HELEN_PARTS, LocalizationNetwork, STNiCNN

__all__ = ["ICNN", "STNiCNN", "LocalizationNetwork", "HELEN_PARTS"]
