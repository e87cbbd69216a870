"""Losses (keras.ops only): part cross-entropy and theta regression for STN-iCNN, the
Statistical Contextual loss of the real-time parser, cross-entropy plus soft Dice for
parsing with many small classes, and the Wing loss for landmark coordinates."""

import math

import keras
from keras import ops


def sparse_cross_entropy(labels, logits, mask=None):
    """Mean pixel cross-entropy of integer ``labels (..., )`` against ``logits (..., L)``.

    Negative labels are unknown (e.g. HELEN's pixels its contours cannot tell,
    ``facezoo.data.helen.IGNORE``) and left out of the mean, as are pixels where ``mask``
    (same shape as labels, 0/1) is 0.
    """
    labels = ops.cast(labels, "int32")
    log_probs = ops.log_softmax(logits, axis=-1)
    onehot = ops.one_hot(ops.maximum(labels, 0), ops.shape(logits)[-1], dtype=log_probs.dtype)
    nll = -ops.sum(onehot * log_probs, axis=-1)
    known = ops.cast(labels >= 0, nll.dtype)
    mask = known if mask is None else known * ops.cast(mask, nll.dtype)
    return ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0)


def smooth_l1(pred, target, beta=1.0, mask=None):
    """PyTorch's ``SmoothL1Loss`` (Huber with ``beta``), mean over unmasked entries."""
    diff = ops.abs(pred - target)
    loss = ops.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    if mask is None:
        return ops.mean(loss)
    mask = ops.cast(ops.broadcast_to(mask, ops.shape(loss)), loss.dtype)
    return ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1.0)


def wing(errors, width, curvature):
    """Wing loss (Feng et al., CVPR 2018) of each entry of ``errors``: ``width * log(1 + |e| /
    curvature)`` below ``width``, ``|e| - C`` above it (``C`` joins the two). Far from the target it
    is L1; for small and medium errors its gradient is steeper (up to ``width / curvature`` at
    zero), where L1, weighed evenly against a few large errors, gives landmarks little pull.

    Example:
        >>> loss = ops.mean(wing(predicted - target, width=10.0, curvature=2.0))  # pixels
    """
    errors = ops.abs(errors)
    join = width - width * math.log1p(width / curvature)
    return ops.where(errors < width, width * ops.log1p(errors / curvature), errors - join)


def theta_regression(pred_theta, target_theta, valid=None, beta=1.0):
    """Smooth L1 between the free entries (scales, translations) of ``(B, P, 2, 3)`` thetas.

    ``valid (B, P)`` marks parts present in the labels (a part with no labelled pixel has
    no centroid and no target).
    """
    def free(theta):
        return ops.stack(
            [theta[..., 0, 0], theta[..., 1, 1], theta[..., 0, 2], theta[..., 1, 2]], axis=-1
        )

    mask = None if valid is None else ops.expand_dims(ops.cast(valid, "float32"), -1)
    return smooth_l1(free(pred_theta), free(target_theta), beta=beta, mask=mask)


@keras.saving.register_keras_serializable(package="facezoo")
class PixelCrossEntropy(keras.losses.Loss):
    """Mean pixel cross-entropy of label maps ``(B, H, W)`` (or ``(B, H, W, 1)``) against
    logits ``(B, H, W, L)``; negative labels are unknown and left out
    (:func:`sparse_cross_entropy`). The parsers' ``compile(loss="auto")``.

    Example:
        >>> model.compile(optimizer="adam", loss=PixelCrossEntropy())
    """

    def __init__(self, name="pixel_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        if len(y_true.shape) == len(y_pred.shape):  # (B, H, W, 1) labels
            y_true = ops.squeeze(y_true, -1)
        return sparse_cross_entropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="facezoo")
class StatisticalContextualLoss(keras.losses.Loss):
    """Statistical Contextual (SC) loss, after Wei et al. (IEEE TIP 2019), on pixel
    embeddings ``z_i`` (a learned low-dimensional projection of a feature map; the model
    outputs it beside its logits) and labels ``y_i`` resized to the embedding's grid:

        c_k     = mean of z_i over the pixels i of class k in the batch (classes present)
        L_intra = mean_i || z_i - c_{y_i} ||^2                       (pull to the centre)
        L_inter = mean_k max(0, m - min_{l != k} || c_k - c_l ||)^2   (push the closest
                                                                      centres m apart)
        L_SC    = intra_weight * L_intra + inter_weight * L_inter

    The paper's exact formula is not available to us; this is the closest faithful form of
    its description (class statistics, an intra-class term, an inter-class margin term
    between the closest centres, in a learned projection).

    Example:
        >>> model.compile(optimizer="adam", loss={"logits": SparseCategoricalCrossentropy(from_logits=True),
        ...                                       "embedding": StatisticalContextualLoss(num_classes=3)},
        ...               loss_weights={"logits": 1.0, "embedding": 0.1})
    """

    def __init__(self, num_classes, margin=1.0, intra_weight=1.0, inter_weight=1.0, name="sc_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes, self.margin = int(num_classes), float(margin)
        self.intra_weight, self.inter_weight = float(intra_weight), float(inter_weight)

    def call(self, y_true, y_pred):
        embedding = ops.cast(y_pred, "float32")
        height, width, dims = embedding.shape[1], embedding.shape[2], embedding.shape[3]
        labels = ops.cast(y_true, "float32")
        if len(labels.shape) == 3:
            labels = labels[..., None]
        if labels.shape[1] != height or labels.shape[2] != width:
            labels = ops.image.resize(labels, (height, width), interpolation="nearest")
        onehot = ops.reshape(ops.one_hot(ops.cast(labels[..., 0], "int32"), self.num_classes), (-1, self.num_classes))
        points = ops.reshape(embedding, (-1, dims))
        counts = ops.sum(onehot, axis=0)
        centres = ops.matmul(ops.transpose(onehot), points) / ops.maximum(counts, 1.0)[:, None]
        intra = ops.mean(ops.sum(ops.square(points - ops.matmul(onehot, centres)), axis=-1))

        present = ops.cast(counts > 0, "float32")
        distances = ops.sum(ops.square(centres[:, None, :] - centres[None, :, :]), axis=-1)
        others = present[None, :] * (1.0 - ops.eye(self.num_classes))
        big = ops.max(distances) + 1e6
        nearest = ops.sqrt(ops.min(ops.where(others > 0, distances, big), axis=1) + 1e-12)
        has_rival = present * ops.cast(ops.sum(others, axis=1) > 0, "float32")
        hinge = ops.square(ops.relu(self.margin - nearest)) * has_rival
        inter = ops.sum(hinge) / ops.maximum(ops.sum(has_rival), 1.0)
        return self.intra_weight * intra + self.inter_weight * inter

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "margin": self.margin,
                "intra_weight": self.intra_weight, "inter_weight": self.inter_weight}


def soft_dice(labels, logits, smooth=1.0):
    """Per-class soft Dice ``(L,)`` of ``softmax(logits)`` against integer ``labels``,
    pooled over every pixel of the batch:

        dice_k = (2 * sum_i p_ik * y_ik + smooth) / (sum_i p_ik + sum_i y_ik + smooth)

    ``smooth`` (in pixels) makes a class absent from both the labels and the prediction
    score 1, so it neither rewards nor punishes the model. Pixels with a negative (unknown)
    label are left out of both sums."""
    labels = ops.cast(labels, "int32")
    known = ops.expand_dims(ops.cast(labels >= 0, logits.dtype), -1)
    onehot = ops.one_hot(ops.maximum(labels, 0), ops.shape(logits)[-1], dtype=logits.dtype) * known
    return soft_dice_of_probabilities(ops.softmax(logits, axis=-1) * known, onehot, smooth)


def soft_dice_of_probabilities(probabilities, targets, smooth=1.0):
    """:func:`soft_dice` between two maps of class probabilities ``(..., L)``, ``targets``
    one-hot labels or soft ones (a teacher's), pooled over every pixel."""
    num_classes = ops.shape(probabilities)[-1]
    probabilities = ops.reshape(probabilities, (-1, num_classes))
    targets = ops.reshape(ops.cast(targets, probabilities.dtype), (-1, num_classes))
    overlap = ops.sum(probabilities * targets, axis=0)
    total = ops.sum(probabilities, axis=0) + ops.sum(targets, axis=0)
    return (2.0 * overlap + smooth) / (total + smooth)


@keras.saving.register_keras_serializable(package="facezoo")
class DiceCrossEntropy(keras.losses.Loss):
    """Pixel cross-entropy plus ``dice_weight * (1 - mean_k soft_dice_k)`` (:func:`soft_dice`).

    Cross-entropy is dominated by the large classes (background, skin, hair); the Dice term
    weighs every class equally, as the mean F1 it approximates does, so small parts
    (earrings, brows, eyes) are not traded away for a fraction of a percent of background.

    Example:
        >>> model.compile(optimizer="adam", loss=DiceCrossEntropy(dice_weight=1.0))
    """

    def __init__(self, dice_weight=1.0, smooth=1.0, name="dice_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dice_weight, self.smooth = float(dice_weight), float(smooth)

    def call(self, y_true, y_pred):
        if len(y_true.shape) == len(y_pred.shape):  # (B, H, W, 1) labels
            y_true = ops.squeeze(y_true, -1)
        cross_entropy = sparse_cross_entropy(y_true, y_pred)
        if not self.dice_weight:
            return cross_entropy
        return cross_entropy + self.dice_weight * (1.0 - ops.mean(soft_dice(y_true, y_pred, self.smooth)))

    def get_config(self):
        return {**super().get_config(), "dice_weight": self.dice_weight, "smooth": self.smooth}
