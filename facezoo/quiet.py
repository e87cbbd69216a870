"""Keep TensorFlow's start-up chatter off the terminal.

TensorFlow's C++ core writes its log lines (oneDNN, CUDA look-ups, ``cuInit`` errors on
machines without a GPU, CPU-feature notices) straight to file descriptor 2, before and
regardless of ``TF_CPP_MIN_LOG_LEVEL`` for some of them, and its Python side logs
through ``absl``/``logging`` and ``warnings``. :func:`native_logs_silenced` points
descriptor 2 at ``/dev/null`` for the duration while Python's ``sys.stderr`` keeps
writing to the real terminal, so facezoo's own messages, errors and progress bars still
show.

Example:
    >>> with native_logs_silenced():
    ...     import tensorflow            # nothing printed
    ...     print("visible", file=sys.stderr)
"""

import contextlib
import io
import logging
import os
import sys
import warnings

#: Python loggers and warning sources that speak for TensorFlow, Keras, absl and MTCNN.
_LOGGERS = ("tensorflow", "absl", "keras", "h5py", "jax")
_WARNING_MODULES = r"(tensorflow|keras|absl|mtcnn|jax|tf2onnx|google|numpy)(\.|$)"


@contextlib.contextmanager
def native_logs_silenced(enabled=True):
    """Within the block, C/C++ output on descriptor 2 is dropped, ``TF_CPP_MIN_LOG_LEVEL``
    is 3 (unless already set), TensorFlow/absl/Keras loggers say errors only and their
    Python warnings are ignored. ``sys.stderr`` still reaches the terminal (or whatever
    it was, e.g. pytest's capture). ``enabled=False`` changes nothing (``--verbose``)."""
    if not enabled:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    saved_stderr = sys.stderr
    try:
        sys.stderr.flush()
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        stderr_fd = None  # sys.stderr is not a file (captured): only descriptor 2 moves
    kept = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        if stderr_fd == 2:
            sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(kept), "wb", buffering=0), encoding=saved_stderr.encoding,
                                          errors="backslashreplace", line_buffering=True, write_through=True)
        os.dup2(devnull, 2)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=_WARNING_MODULES)
            yield
    finally:
        if sys.stderr is not saved_stderr:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = saved_stderr
        os.dup2(kept, 2)
        os.close(kept)
        os.close(devnull)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
