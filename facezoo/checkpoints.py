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
import zipfile
import zlib

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
    """The float32 Keras model stored in a checkpoint written by :func:`save_checkpoint`.

    Every weight is read in full (so zip CRCs are checked) before the model is built.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: naming the file and what is wrong with it: not a zip archive
            (truncated or another format), a damaged member (bad CRC, bad compressed
            data), no or unreadable ``config``, a config that is not a facezoo model, or
            weights that do not fit it.
    """
    import keras

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file {path!r}")
    config, weights = _read_checkpoint(path)
    try:
        model = keras.saving.deserialize_keras_object(config)
    except Exception as error:  # Keras raises many types for configs it cannot rebuild
        raise CheckpointError(f"{path}: its config does not describe a model facezoo can build "
                              f"({type(error).__name__}: {error})") from None
    if not isinstance(model, keras.Model):
        raise CheckpointError(f"{path}: its config describes a {type(model).__name__}, not a Keras model")
    expected = model.get_weights()
    if len(expected) != len(weights) or any(a.shape != b.shape for a, b in zip(expected, weights)):
        raise CheckpointError(f"{path}: its weights do not fit the model its config describes "
                              f"({len(weights)} arrays stored, {len(expected)} expected)")
    model.set_weights([w.astype(e.dtype) for w, e in zip(weights, expected)])
    return model


def _read_checkpoint(path):
    """``(config dict, [weights])`` from a checkpoint, every byte read and checked."""
    with open(path, "rb") as handle:
        start = handle.read(4)
    if start != b"PK\x03\x04":  # np.load would try to unpickle anything else
        what = "it is empty" if not start else f"it starts with {start!r}"
        raise CheckpointError(f"{path}: not a facezoo checkpoint: not a zip archive, as an .npz checkpoint is "
                              f"({what}; another format, or damaged from its first byte)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "config" not in data.files:
                raise CheckpointError(f"{path}: not a facezoo checkpoint (no 'config' entry; it holds "
                                      f"{', '.join(data.files[:5]) or 'nothing'})")
            config = json.loads(bytes(data["config"]).decode("utf-8"))
            names = sorted(k for k in data.files if k.startswith("w"))
            weights = [data[k] for k in names]
    except CheckpointError:
        raise
    except zipfile.BadZipFile as error:
        raise CheckpointError(f"{path}: damaged or truncated checkpoint ({error})") from None
    except zlib.error as error:
        raise CheckpointError(f"{path}: damaged checkpoint: a weight's compressed data is corrupt ({error})") from None
    except EOFError as error:
        raise CheckpointError(f"{path}: truncated checkpoint ({error or 'the file ends early'})") from None
    except (OSError, ValueError, KeyError) as error:  # a damaged zip directory, unreadable JSON or arrays
        raise CheckpointError(f"{path}: damaged checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: not a facezoo checkpoint (its config is not a Keras object)")
    return config, weights
