"""Losses (keras.ops only): part cross-entropy and theta regression for STN-iCNN."""

from keras import ops


def sparse_cross_entropy(labels, logits, mask=None):
    """Mean pixel cross-entropy of integer ``labels (..., )`` against ``logits (..., L)``.

    ``mask`` (same shape as labels, 0/1) leaves pixels out of the mean.
    """
    labels = ops.cast(labels, "int32")
    log_probs = ops.log_softmax(logits, axis=-1)
    onehot = ops.one_hot(labels, ops.shape(logits)[-1], dtype=log_probs.dtype)
    nll = -ops.sum(onehot * log_probs, axis=-1)
    if mask is None:
        return ops.mean(nll)
    mask = ops.cast(mask, nll.dtype)
    return ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0)


def smooth_l1(pred, target, beta=1.0, mask=None):
    """PyTorch's ``SmoothL1Loss`` (Huber with ``beta``), mean over unmasked entries."""
    diff = ops.abs(pred - target)
    loss = ops.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    if mask is None:
        return ops.mean(loss)
    mask = ops.cast(ops.broadcast_to(mask, ops.shape(loss)), loss.dtype)
    return ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1.0)


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
