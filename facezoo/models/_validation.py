"""Argument checks shared by the model constructors (clear errors before any graph is built)."""

SUPPORTED_CHANNELS = (1, 3, 4)


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_channels(channels):
    """Images are grey (1), RGB (3) or RGB plus one extra channel such as a heatmap (4)."""
    if channels not in SUPPORTED_CHANNELS:
        raise ValueError(
            f"images must have 1 (grey), 3 (RGB) or 4 (RGB + extra) channels, got {channels!r}"
        )
    return channels
