"""Receptive fields checked against values computed by hand."""

import keras
import pytest
from keras import layers

from facezoo.receptive_field import normalized_receptive_field, receptive_field


def _chain(*stack, size=64):
    return keras.Sequential([keras.Input((size, size, 3)), *stack])


@pytest.mark.parametrize("stack, expected", [
    ([layers.Conv2D(4, 3, padding="same")], 3),
    ([layers.Conv2D(4, 3, padding="same"), layers.Conv2D(4, 3, padding="same")], 5),       # 3 + 2
    ([layers.Conv2D(4, 3, strides=2, padding="same"), layers.Conv2D(4, 3, padding="same")], 7),  # 3 + 2*2
    ([layers.Conv2D(4, 3, dilation_rate=2, padding="same")], 5),                            # k_eff 5
    ([layers.Conv2D(4, 3, dilation_rate=2, padding="same"), layers.Conv2D(4, 3, padding="same")], 7),
    ([layers.MaxPooling2D(2), layers.Conv2D(4, 3, padding="same")], 6),                     # 2 + 2*2
    ([layers.Conv2D(4, 5, padding="same"), layers.BatchNormalization(), layers.ReLU(),
      layers.AveragePooling2D(2), layers.Conv2D(4, 3, dilation_rate=3, padding="same")], 5 + 1 + 6 * 2),
])
def test_chains(stack, expected):
    assert receptive_field(_chain(*stack)) == (expected, expected)


def test_branches_take_the_largest_and_upsampling_divides_the_jump():
    inputs = keras.Input((32, 32, 3))
    a = layers.Conv2D(4, 3, padding="same")(inputs)                                  # r 3
    b = layers.Conv2D(4, 3, strides=2, padding="same")(inputs)                       # r 3, j 2
    b = layers.Conv2D(4, 3, padding="same")(b)                                       # r 7, j 2
    b = layers.UpSampling2D(2)(b)                                                    # r 7, j 1
    merged = layers.Concatenate()([a, b])                                            # r 7, j 1
    out = layers.Conv2D(2, 3, padding="same")(merged)                                # r 9
    model = keras.Model(inputs, out)
    assert receptive_field(model) == (9, 9)
    assert normalized_receptive_field(model, 32) == pytest.approx(9 / 32)


def test_rectangular_kernels_and_nested_models():
    inner = keras.Sequential([keras.Input((16, 16, 3)), layers.Conv2D(4, (3, 5), padding="same")])
    outer = keras.Sequential([keras.Input((16, 16, 3)), inner, layers.Conv2D(4, 3, padding="same")])
    assert receptive_field(outer) == (5, 7)


def test_unknown_layers_are_refused():
    model = _chain(layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(2))
    with pytest.raises(ValueError, match="unknown effect"):
        receptive_field(model)


def test_custom_layers_declare_their_step_and_icnn_is_measurable():
    from facezoo.models import ICNN
    from facezoo.models.icnn import NearestUpsample2x

    model = _chain(layers.Conv2D(4, 3, strides=2, padding="same"), NearestUpsample2x(),
                   layers.Conv2D(4, 3, padding="same"))
    assert receptive_field(model) == (5, 5)  # r 3, j 2 -> j 1 -> 3 + 2
    height, width = receptive_field(ICNN(num_classes=3, input_shape=(64, 64, 3)))
    assert height == width and height > 64  # the 1/8 row sees past the whole face
