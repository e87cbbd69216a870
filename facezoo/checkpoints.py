"""Compact checkpoints for shipping: the model's Keras config plus its weights in float16.

A ``.npz`` file holds ``config`` (the JSON of ``keras.saving.serialize_keras_object``)
and the weights ``w0000, w0001, ...`` in ``model.get_weights()`` order, stored as
float16 (half the size of float32; the model cards show it costs no accuracy). Loading
rebuilds the model from its config, in float32.

Example:
    >>> save_checkpoint(model, "weights/icnn_lfw.npz")
    >>> model = load_checkpoint("weights/icnn_lfw.npz")
"""

import json
import os

import numpy as np

from facezoo.utils import atomic_output


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged or not a facezoo checkpoint."""


def save_checkpoint(model, path, dtype="float16"):
    """Write ``model`` to ``path`` (``.npz``) atomically; returns the path."""
    import keras

    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"a checkpoint is an .npz file, got {path!r}")
    config = json.dumps(keras.saving.serialize_keras_object(model))
    arrays = {"config": np.frombuffer(config.encode("utf-8"), dtype=np.uint8)}
    for index, weight in enumerate(model.get_weights()):
        weight = np.asarray(weight)
        arrays[f"w{index:04d}"] = weight.astype(dtype) if weight.dtype.kind == "f" else weight
    with atomic_output(path, suffix=".npz") as temp:
        np.savez_compressed(temp, **arrays)
    return path


def load_checkpoint(path):
    """The float32 Keras model stored in a checkpoint written by :func:`save_checkpoint`."""
    import keras

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file {path!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            config = json.loads(bytes(data["config"]).decode("utf-8"))
            names = sorted(k for k in data.files if k.startswith("w"))
            weights = [data[k] for k in names]
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path}: not a facezoo checkpoint ({error})") from None
    model = keras.saving.deserialize_keras_object(config)
    expected = model.get_weights()
    if len(expected) != len(weights) or any(a.shape != b.shape for a, b in zip(expected, weights)):
        raise CheckpointError(f"{path}: its weights do not fit the model its config describes")
    model.set_weights([w.astype(e.dtype) for w, e in zip(weights, expected)])
    return model
