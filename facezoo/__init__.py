"""facezoo: face parsing and facial landmarks for Keras 3.

Example:
    >>> import facezoo
    >>> model = facezoo.load("icnn_lfw")                  # shipped weights, offline, ready for fit
    >>> logits = model.predict(model.preprocess(face_crop))
    >>> five = facezoo.load("icnn_lfw", class_names=["background", "skin", "hair", "eyes", "mouth"])
    >>> facezoo.export(model, "icnn_lfw.tflite", format="tflite")        # a callable module
    >>> facezoo.export.read_metadata("icnn_lfw.tflite")["class_names"]
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

#: Public name -> module that defines it (imported on first access, PEP 562). ``facezoo.export``
#: is the callable module itself (``facezoo.export(model, path)``, ``facezoo.export.read_metadata``):
#: it is one of the submodules below.
_EXPORTS = {
    "landmarks": "facezoo.photos",
    "parse": "facezoo.photos",
    "FaceParser": "facezoo.pipeline",
    "LandmarkDetector": "facezoo.pipeline",
    "list_models": "facezoo.registry",
    "load": "facezoo.registry",
}
_SUBMODULES = {"layers", "models", "training", "losses", "metrics", "data", "registry", "photos", "pipeline",
               "align", "detect", "export", "hub", "classmaps", "evaluate", "checkpoints", "receptive_field",
               "info", "presets", "outputs", "download", "quiet", "utils"}

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


def _facezoo_importing():
    """Whether a facezoo submodule is being imported right now: its classes cannot be
    imported from inside that import (a model module's own ``import keras`` is one)."""
    return any(getattr(getattr(module, "__spec__", None), "_initializing", False)
               for name, module in list(sys.modules.items()) if name.startswith("facezoo."))


_pending = False


def _register_with_keras():
    """Import the modules whose classes carry ``@keras.saving.register_keras_serializable``
    (``facezoo.models`` names its classes lazily: ``import_all`` imports them). Inside the
    import of a facezoo module (which imported keras) it is put off to the next import
    after that one (see :class:`_AfterKerasImport`); ``facezoo.load`` registers them too."""
    global _pending
    from facezoo import layers, models, training  # noqa: F401

    if not _facezoo_importing():
        _pending = False
        models.import_all()
    elif not models.import_all(tolerant=True):  # one needs the module whose import is in progress
        _pending = True
        if not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
            sys.meta_path.insert(0, _AfterKerasImport())


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Runs :func:`_register_with_keras` right after ``keras`` itself is imported (finding
    keras without importing it, as TensorFlow does, changes nothing), or, when that was put
    off, on the first import once no facezoo module is being imported."""

    busy = False

    def find_spec(self, fullname, path=None, target=None):
        if _pending and not self.busy and "keras" in sys.modules and not _facezoo_importing():
            self.busy = True
            try:
                _register_with_keras()
            finally:
                self.busy = False
                if not _pending and self in sys.meta_path:
                    sys.meta_path.remove(self)
            return None
        if fullname != "keras" or "keras" in sys.modules:
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
