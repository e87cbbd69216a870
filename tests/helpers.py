"""Small model configurations that keep the suite fast."""

from facezoo.models import STNiCNN

SMALL_STN = dict(input_size=(96, 96), stage1_size=(48, 48), crop_size=(21, 21), channels=(4, 8, 8, 8), localizer_channels=4)


def small_stn(**overrides):
    return STNiCNN(**{**SMALL_STN, **overrides})
