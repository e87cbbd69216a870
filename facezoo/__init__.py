"""facezoo: face parsing and facial landmarks for Keras 3.

Example:
    >>> import facezoo
    >>> model = facezoo.load("icnn_lfw")                  # shipped weights, offline
    >>> probs = model.predict(model.preprocess(face_crop))
    >>> facezoo.export(model, "icnn_lfw.tflite", format="tflite")
    >>> result = facezoo.parse("photo.jpg")                # detect, align, parse, map back
    >>> parser = facezoo.FaceParser("icnn_lfw")            # loaded once, for many photos or video
    >>> faces = facezoo.landmarks("photo.jpg").faces       # 68 points per face, photo pixels

``import facezoo`` is light: the names below are imported on first use, so the command
line starts without Keras or TensorFlow. facezoo's layers and models are registered with
Keras as soon as Keras is imported (before or after facezoo), so
``keras.models.load_model`` reads facezoo ``.keras`` files after a plain ``import facezoo``.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys

__version__ = "0.1.0"

#: Public name -> module that defines it (imported on first access, PEP 562).
_EXPORTS = {
    "export": "facezoo.export",
    "landmarks": "facezoo.photos",
    "parse": "facezoo.photos",
    "FaceParser": "facezoo.pipeline",
    "LandmarkDetector": "facezoo.pipeline",
    "list_models": "facezoo.registry",
    "load": "facezoo.registry",
}
_SUBMODULES = {"layers", "models", "training", "losses", "metrics", "data", "registry", "photos", "pipeline",
               "align", "detect", "export", "hub", "classmaps", "evaluate", "checkpoints", "receptive_field"}

__all__ = ["FaceParser", "LandmarkDetector", "export", "landmarks", "list_models", "load", "parse", "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"facezoo.{name}")
    else:
        raise AttributeError(f"module 'facezoo' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])


def _register_with_keras():
    """Import the modules whose classes carry ``@keras.saving.register_keras_serializable``."""
    from facezoo import layers, models, training  # noqa: F401


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Runs :func:`_register_with_keras` right after ``keras`` itself is imported (finding
    keras without importing it, as TensorFlow does, changes nothing)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader, self)
        return spec


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, loader, finder):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self.loader
        self.loader.exec_module(module)
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        _register_with_keras()


if "keras" in sys.modules:
    _register_with_keras()
elif not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AfterKerasImport())
