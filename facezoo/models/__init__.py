"""Architectures, one package each (``models/<family>/``: the model, its presets, and
what else belongs to it only, such as STN-iCNN's training schedule). Importing this
package registers every family's architectures and presets (facezoo.presets).

Every model mixes in :class:`facezoo.models.base.FaceModel`: it carries its
:class:`~facezoo.info.ModelInfo`, compiles with its own defaults and takes a new head.
"""

from facezoo.models.adc_landmarks import ADCLandmarks, HolisticLandmarks
from facezoo.models.base import FaceModel, TargetError
from facezoo.models.icnn import ICNN
from facezoo.models.rtparser import Distiller, RTParser
from facezoo.models.stn_icnn import HELEN_PARTS, LocalizationNetwork, STNiCNN

__all__ = ["FaceModel", "TargetError", "ICNN", "STNiCNN", "LocalizationNetwork", "HELEN_PARTS", "ADCLandmarks",
           "HolisticLandmarks", "RTParser", "Distiller"]
