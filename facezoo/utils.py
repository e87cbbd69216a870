"""Small helpers shared across facezoo."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_output(path, suffix=""):
    """Yield a temporary path next to ``path``; on success it replaces ``path`` (mode 0644),
    on failure it is removed, so a crash never leaves a half-written file."""
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(handle)
    try:
        yield temp
        os.chmod(temp, 0o644)  # mkstemp creates 0600 files
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
