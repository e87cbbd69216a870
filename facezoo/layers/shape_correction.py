"""A learnt linear correction of a whole landmark shape, blind to where the face is, how large
and how turned: the last stage of a landmark model, fitted in closed form on its own predictions.

Why: a network's points can be biased as a whole (for example, trained partly on another
annotator's convention) in ways that depend on the shape rather than on any one crop; a ridge
regression from the predicted shape to its error, in a similarity-normalised frame, removes what
is systematic and nothing else.
"""

import keras
import numpy as np
from keras import ops

#: Below this squared scale a shape is degenerate (all points on one spot): no correction.
_EPSILON = 1e-12
#: The correction fades out, linearly, as the share of the reference shape that a shape's
#: similarity explains (the squared cosine between them, R^2) falls from FULL_FROM to NONE_BELOW:
#: it was fitted on faces (ADC's predictions of its 800 training faces: R^2 0.875 or more, printed
#: by the recipe's --fit-shape-correction), and on a shape that is nothing like one (noise, a
#: mirrored face: R^2 near 0) the frame's 1 / |a + ib| would magnify it.
NONE_BELOW, FULL_FROM = 0.5, 0.7


def _explained(z, scale, reference):
    """R^2 = |a + ib|^2 |z|^2 / |reference|^2 ``(B, 1)``, the share of the reference shape that the
    centred shape ``z``'s similarity explains (``scale`` = ``a^2 + b^2``)."""
    spread = ops.sum(ops.square(z), axis=(1, 2))[:, None]
    return scale * spread / ops.maximum(ops.sum(ops.square(reference)), _EPSILON)


def _turned(z, a, b):
    """``(a + ib) z`` for points ``z`` ``(B, K, 2)`` as complex numbers, ``a``, ``b`` ``(B, 1)``."""
    return ops.stack([a * z[..., 0] - b * z[..., 1], b * z[..., 0] + a * z[..., 1]], axis=-1)


def similarity_frame(points, reference):
    """``(frame, centre, a, b)``: ``points`` ``(B, K, 2)`` centred (``centre`` ``(B, 1, 2)``) and
    mapped by the similarity ``z -> (a + ib) z`` that puts them closest onto ``reference``
    ``(K, 2)`` (least squares, closed form); a degenerate shape gets ``a = b = 0``."""
    points = ops.cast(points, "float32")
    reference = ops.cast(reference, "float32")
    centre = ops.mean(points, axis=1, keepdims=True)
    z = points - centre
    x, y = z[..., 0], z[..., 1]
    rx, ry = reference[:, 0], reference[:, 1]
    norm = ops.maximum(ops.sum(x * x + y * y, axis=1, keepdims=True), _EPSILON)
    a = ops.sum(x * rx + y * ry, axis=1, keepdims=True) / norm
    b = ops.sum(x * ry - y * rx, axis=1, keepdims=True) / norm
    return _turned(z, a, b), centre, a, b


@keras.saving.register_keras_serializable(package="facezoo")
class ShapeCorrection(keras.layers.Layer):
    """``points`` ``(B, K, 2)`` -> corrected points, in the same pixels.

    Each shape is centred and mapped onto ``reference`` by its least-squares similarity
    ``q = (a + ib) z``; there it is corrected by ``q @ matrix + bias`` (flattened ``(2K,)``) and
    the correction mapped back. With ``matrix`` and ``bias`` zero (the start) the layer is the
    identity. :meth:`fit` sets all three in closed form (ridge regression); none is trainable:
    gradient steps (Adam's, which move every entry alike) walked a fitted matrix off its optimum
    (validation NME 3.41 -> 3.64 % in six epochs), so a model trains its networks under a fixed
    correction and is refitted after.

    A shape unlike a face (noise, a mirrored face) gets less of the correction or none
    (``NONE_BELOW``, ``FULL_FROM``). The layer computes in float32 under any dtype policy
    (points in pixels do not survive bfloat16).

    Example:
        >>> layer = ShapeCorrection(68)
        >>> layer.fit(predicted_points, true_points, ridge=0.3)   # numpy (N, 68, 2), pixels
        >>> corrected = layer(points)
        >>> # refitting a model's own correction on your faces (after fine-tuning, say):
        >>> model.shape_correction.reset()                          # its points uncorrected
        >>> model.shape_correction.fit(model.predict(faces), true_points, ridge=1.0)
    """

    def __init__(self, num_points, **kwargs):
        kwargs["dtype"] = "float32"  # pixel coordinates: never bfloat16 / float16
        super().__init__(**kwargs)
        self.num_points = int(num_points)
        size = 2 * self.num_points
        self.reference = self.add_weight(name="reference", shape=(self.num_points, 2), initializer="zeros",
                                         trainable=False)
        self.matrix = self.add_weight(name="matrix", shape=(size, size), initializer="zeros", trainable=False)
        self.bias = self.add_weight(name="bias", shape=(size,), initializer="zeros", trainable=False)

    def call(self, points):
        points = ops.cast(points, "float32")
        reference = ops.cast(self.reference, "float32")
        frame, centre, a, b = similarity_frame(points, reference)
        flat = ops.reshape(frame, (-1, 2 * self.num_points))
        delta = ops.reshape(ops.matmul(flat, self.matrix) + self.bias, (-1, self.num_points, 2))
        # back from the frame: multiply by 1 / (a + ib); zero scale (a degenerate shape) corrects nothing
        scale = a * a + b * b
        inverse = ops.where(scale > _EPSILON, 1.0 / ops.maximum(scale, _EPSILON), 0.0)
        explained = _explained(points - centre, scale, reference)  # how face-like (NONE_BELOW, FULL_FROM)
        inverse = inverse * ops.clip((explained - NONE_BELOW) / (FULL_FROM - NONE_BELOW), 0.0, 1.0)
        return points + _turned(delta, a * inverse, -b * inverse)

    def face_likeness(self, points):
        """R^2 ``(B,)`` of each shape against the fitted reference: 1 for the reference's shape
        under any similarity, near 0 for noise (the fade-out's measure)."""
        frame, centre, a, b = similarity_frame(points, self.reference)
        points = ops.cast(points, "float32")
        return _explained(points - centre, a * a + b * b, ops.cast(self.reference, "float32"))[:, 0]

    def reset(self):
        """Back to the identity (before :meth:`fit` on a model's own points: they must be its
        uncorrected ones)."""
        for weight in (self.reference, self.matrix, self.bias):
            weight.assign(ops.zeros(weight.shape))

    def fit(self, predicted, true, ridge=0.3):
        """Set the reference shape (generalised Procrustes mean of ``predicted``, unit RMS) and
        the ridge regression from each normalised predicted shape to its error. ``predicted``
        and ``true`` are ``(N, K, 2)`` arrays, each face's pair in one pixel frame (any
        similarity of it). Returns the mean point error before and after, in reference units."""
        predicted, true = np.asarray(predicted, np.float64), np.asarray(true, np.float64)
        if predicted.shape != true.shape or predicted.shape[1:] != (self.num_points, 2):
            raise ValueError(f"predicted and true must both be (N, {self.num_points}, 2); got {predicted.shape} "
                             f"and {true.shape}")
        if len(predicted) < 2:
            raise ValueError("fitting a shape correction needs at least two faces")
        reference = procrustes_mean(predicted)
        features, errors = normalised_pairs(predicted, true, reference)
        matrix, bias = ridge_regression(features, errors, ridge)
        self.reference.assign(reference.astype("float32"))
        self.matrix.assign(matrix.astype("float32"))
        self.bias.assign(bias.astype("float32"))
        residual = (errors - features @ matrix - bias).reshape(-1, self.num_points, 2)
        return (float(np.linalg.norm(errors.reshape(residual.shape), axis=-1).mean()),
                float(np.linalg.norm(residual, axis=-1).mean()))

    def get_config(self):
        return {**super().get_config(), "num_points": self.num_points}


def ridge_regression(features, targets, ridge):
    """``(matrix, bias)`` with ``targets ~ features @ matrix + bias`` (``(N, F)``, ``(N, T)``
    arrays), least squares plus ``ridge`` times the matrix's squared norm (the bias is free)."""
    mean_features, mean_targets = features.mean(0), targets.mean(0)
    centred = features - mean_features
    gram = centred.T @ centred + ridge * np.eye(centred.shape[1])
    matrix = np.linalg.solve(gram, centred.T @ (targets - mean_targets))
    return matrix, mean_targets - mean_features @ matrix


def procrustes_mean(shapes, iterations=3):
    """The mean of ``shapes`` ``(N, K, 2)`` after each is mapped onto it by a similarity,
    centred, of unit RMS radius (generalised Procrustes analysis, a few rounds)."""
    def unit(shape):
        shape = shape - shape.mean(0)
        return shape / max(np.sqrt((shape ** 2).sum(1).mean()), np.sqrt(_EPSILON))

    reference = unit(shapes[0])
    for _ in range(iterations):
        reference = unit(ops.convert_to_numpy(similarity_frame(shapes, reference)[0]).mean(0))
    return reference


def normalised_pairs(predicted, true, reference):
    """Flattened ``(N, 2K)`` predicted shapes in the reference frame and their errors there
    (the true points mapped by each predicted shape's own similarity)."""
    frame, centre, a, b = similarity_frame(predicted, reference)
    target = _turned(ops.cast(true, "float32") - centre, a, b)
    frame, target = (ops.convert_to_numpy(t).astype(np.float64).reshape(len(predicted), -1) for t in (frame, target))
    return frame, target - frame
