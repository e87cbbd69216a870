"""Architectures, one package each (``models/<family>/``: the model, its presets, and
what else belongs to it only, such as STN-iCNN's training schedule). Importing this
package registers every family's architectures and presets (facezoo.presets) by name,
without importing Keras; the model classes are imported on first use (PEP 562), and
:func:`import_all` imports every one (facezoo does when Keras is imported, so that
``keras.models.load_model`` knows facezoo's classes).

Every model mixes in :class:`facezoo.models.base.FaceModel`: it carries its
:class:`~facezoo.info.ModelInfo`, compiles with its own defaults and takes a new head.
"""

import importlib

from facezoo.models import adc_landmarks, icnn, rtparser, stn_icnn  # noqa: F401  (registers their presets)

#: Public name -> module that defines it.
_EXPORTS = {
    "FaceModel": "facezoo.models.base",
    "TargetError": "facezoo.models.base",
    "ICNN": "facezoo.models.icnn.icnn",
    "STNiCNN": "facezoo.models.stn_icnn.stn_icnn",
    "LocalizationNetwork": "facezoo.models.stn_icnn.stn_icnn",
    "HELEN_PARTS": "facezoo.models.stn_icnn.stn_icnn",
    "ADCLandmarks": "facezoo.models.adc_landmarks.adc_landmarks",
    "HolisticLandmarks": "facezoo.models.adc_landmarks.adc_landmarks",
    "RTParser": "facezoo.models.rtparser.rtparser",
    "Distiller": "facezoo.models.rtparser.rtparser",
}

__all__ = list(_EXPORTS)


def import_all(tolerant=False):
    """Import every model module (registers their classes with Keras). ``tolerant``: skip
    a module that cannot be imported yet (it needs one whose import is in progress) and
    return False if any was skipped."""
    complete = True
    for module in dict.fromkeys(_EXPORTS.values()):
        try:
            importlib.import_module(module)
        except ImportError:
            if not tolerant:
                raise
            complete = False
    return complete


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])
