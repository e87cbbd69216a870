"""facezoo: face parsing and facial landmarks for Keras 3.

Example:
    >>> import facezoo
    >>> model = facezoo.load("icnn_lfw")                  # shipped weights, offline
    >>> probs = model.predict(model.preprocess(face_crop))
    >>> facezoo.export(model, "icnn_lfw.tflite", format="tflite")
    >>> result = facezoo.parse("photo.jpg")                # detect, align, parse, map back
    >>> faces = facezoo.landmarks("photo.jpg").faces       # 68 points per face, photo pixels
"""

__version__ = "0.1.0"

# Importing these registers facezoo's layers, models and optimizer with Keras, so that
# keras.models.load_model reads facezoo .keras files after a plain `import facezoo`.
from facezoo import layers, models, training  # noqa: E402,F401
from facezoo.export import export  # noqa: E402
from facezoo.photos import landmarks, parse  # noqa: E402
from facezoo.registry import list_models, load  # noqa: E402

__all__ = ["export", "landmarks", "list_models", "load", "parse", "__version__"]
