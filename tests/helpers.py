"""Small model configurations that keep the suite fast, and the repository's scripts as modules."""

import importlib.util
import sys
from pathlib import Path

from facezoo.models import STNiCNN

REPO = Path(__file__).resolve().parent.parent

SMALL_STN = dict(input_size=(96, 96), stage1_size=(48, 48), crop_size=(21, 21), channels=(4, 8, 8, 8), localizer_channels=4)


def randomised(model, seed=0):
    """``model`` with weights and BatchNorm statistics unlike any fresh initialisation (the
    variances and scales positive, so that its outputs stay finite)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for variable in model.weights:
        positive = "variance" in variable.path or "gamma" in variable.path
        values = rng.uniform(0.5, 1.5, variable.shape) if positive else rng.normal(0, 0.2, variable.shape)
        variable.assign(values.astype("float32"))
    return model


def small_stn(**overrides):
    return STNiCNN(**{**SMALL_STN, **overrides})


def script_module(folder, name):
    """``REPO/folder/name.py`` (a recipe or benchmark) imported as a module, with its folder
    on the path while it loads (scripts import their neighbours, e.g. benchmarks/timing.py)."""
    sys.path.insert(0, str(REPO / folder))
    try:
        spec = importlib.util.spec_from_file_location(f"{folder}_{name}", REPO / folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / folder))
    return module
