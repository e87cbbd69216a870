"""facezoo: face parsing and facial landmarks for Keras 3.

Example:
    >>> import facezoo
    >>> from facezoo.models import STNiCNN
    >>> model = STNiCNN(input_size=(512, 512))
    >>> facezoo.export(model, "stn_icnn.tflite", format="tflite")
"""

__version__ = "0.1.0"

from facezoo.export import export  # noqa: E402

__all__ = ["export", "__version__"]
