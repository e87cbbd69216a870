"""Theoretical receptive fields of Keras convolutional models, and the Normalized Receptive
Field of Wei et al. (IEEE TIP 2019): ``NRF = r / s``, the receptive field ``r`` of an
output unit divided by the input size ``s``.

For a chain of layers with kernel ``k``, dilation ``d`` and stride ``t`` the receptive field
and the jump (distance in input pixels between neighbouring units) grow as

    k_eff = d (k - 1) + 1,    r_out = r_in + (k_eff - 1) j_in,    j_out = j_in t

starting from ``r = 1, j = 1`` at the input. An upsampling by ``f`` divides the jump by
``f``; where branches merge (add, concatenate, ...) the largest receptive field is kept.
Element-wise layers (batch norm, activations, dropout, ...) change nothing.

Example:
    >>> receptive_field(model)              # (height, width) in input pixels
    (91, 91)
    >>> normalized_receptive_field(model, input_size=128)
    0.7109375
"""

import keras

_ELEMENTWISE = (
    keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
    keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.Softmax, keras.layers.LayerNormalization,
    keras.layers.GroupNormalization, keras.layers.Rescaling, keras.layers.PReLU, keras.layers.ELU,
    keras.layers.InputLayer, keras.layers.Identity,
)
_MERGE = (keras.layers.Add, keras.layers.Concatenate, keras.layers.Multiply, keras.layers.Average,
          keras.layers.Maximum, keras.layers.Minimum, keras.layers.Subtract)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _layer_step(layer, fields):
    """(r, j) per axis after ``layer``, from the (r, j) of its inputs."""
    if isinstance(layer, _MERGE) or len(fields) > 1:
        return tuple(max((f[axis] for f in fields), key=lambda rj: rj[0]) for axis in (0, 1))
    (field,) = fields
    if isinstance(layer, _ELEMENTWISE):
        return field
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            raise ValueError(f"{layer.name}: transposed convolutions are not supported")
        kernel, stride, dilation = _pair(layer.kernel_size), _pair(layer.strides), _pair(layer.dilation_rate)
    elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        kernel, stride, dilation = _pair(layer.pool_size), _pair(layer.strides or layer.pool_size), (1, 1)
    elif isinstance(layer, keras.layers.UpSampling2D):
        return tuple((r, j / f) for (r, j), f in zip(field, _pair(layer.size)))
    elif isinstance(layer, (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)):
        return field
    elif getattr(layer, "receptive_field_step", None):  # custom layers say what they do
        return layer.receptive_field_step(field)
    else:
        raise ValueError(f"{layer.name} ({type(layer).__name__}): unknown effect on the receptive field")
    return tuple(
        (r + (d * (k - 1)) * j, j * t) for (r, j), k, t, d in zip(field, kernel, stride, dilation)
    )


def _model_fields(model, input_fields):
    """Propagate (r, j) through a functional model; returns the fields of its outputs."""
    if isinstance(model, keras.Sequential):
        model = getattr(model, "_functional", None) or model  # Keras 3 keeps its graph there
    if not hasattr(model, "operations") or not getattr(model, "inputs", None):
        raise ValueError(f"{model.name}: receptive fields need a functional or Sequential model")
    known = {id(t): f for t, f in zip(model.inputs, input_fields)}
    for layer in model.operations:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        for node in layer._inbound_nodes:
            inputs = [t for t in keras.tree.flatten(node.arguments.args) if id(t) in known]
            if not inputs:
                continue
            fields = [known[id(t)] for t in inputs]
            if isinstance(layer, keras.Model):
                outputs = _model_fields(layer, fields)
            else:
                outputs = [_layer_step(layer, fields)] * len(node.outputs)
            for tensor, field in zip(node.outputs, outputs):
                known[id(tensor)] = field
    return [known[id(t)] for t in model.outputs]


def receptive_field(model, output=0):
    """Theoretical receptive field ``(height, width)``, in input pixels, of a unit of the
    model's ``output``-th output. Raises ValueError for layers whose effect is unknown."""
    start = ((1, 1.0), (1, 1.0))
    fields = _model_fields(model, [start] * len(model.inputs))
    (rh, _), (rw, _) = fields[output]
    return int(rh), int(rw)


def normalized_receptive_field(model, input_size, output=0):
    """``r / s``: the receptive field over the input size (the larger of both axes)."""
    height, width = _pair(input_size)
    rh, rw = receptive_field(model, output)
    return max(rh / height, rw / width)
