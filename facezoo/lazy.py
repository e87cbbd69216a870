"""PEP 562 lazy exports: a package names what one of its modules defines without
importing that module (and with it Keras) until a name is first used.

Example (in a model family's ``__init__.py``):
    >>> __all__ = ["ICNN"]
    >>> __getattr__, __dir__ = lazy_exports(globals(), "facezoo.models.icnn.icnn", __all__)
"""

import importlib


def lazy_exports(namespace, module, names):
    """The ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is
    ``namespace``: a name of ``names`` imports ``module`` once and stays in the package."""

    def __getattr__(name):
        if name in names:
            value = getattr(importlib.import_module(module), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")

    def __dir__():
        return sorted([*namespace, *names])

    return __getattr__, __dir__
