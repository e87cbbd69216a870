"""facezoo: face parsing and facial landmarks for Keras 3.

Example:
    >>> import facezoo
    >>> model = facezoo.load("icnn_lfw")                  # shipped weights, offline, ready for fit
    >>> logits = model.predict(model.preprocess(face_crop))
    >>> five = facezoo.load("icnn_lfw", class_names=["background", "skin", "hair", "eyes", "mouth"])
    >>> facezoo.export(model, "icnn_lfw.tflite", format="tflite")
    >>> facezoo.export.read_metadata("icnn_lfw.tflite")["class_names"]
    >>> result = facezoo.parse("photo.jpg")                # detect, align, parse, map back
    >>> faces = facezoo.landmarks("photo.jpg").faces       # 68 points per face, photo pixels
"""

__version__ = "0.1.0"

# Importing these registers facezoo's layers, models and optimizer with Keras, so that
# keras.models.load_model reads facezoo .keras files after a plain `import facezoo`.
from facezoo import export, layers, models, training  # noqa: E402,F401  (facezoo.export is callable)
from facezoo.photos import landmarks, parse  # noqa: E402
from facezoo.registry import list_models, load  # noqa: E402

__all__ = ["export", "landmarks", "list_models", "load", "parse", "__version__"]
