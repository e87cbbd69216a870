"""Architectures, one file each."""

from facezoo.models.adc_landmarks import ADCLandmarks, HolisticLandmarks
from facezoo.models.icnn import ICNN
from facezoo.models.rtparser import Distiller, RTParser
from facezoo.models.stn_icnn import HELEN_PARTS, LocalizationNetwork, STNiCNN

__all__ = ["ICNN", "STNiCNN", "LocalizationNetwork", "HELEN_PARTS", "ADCLandmarks", "HolisticLandmarks",
           "RTParser", "Distiller"]
