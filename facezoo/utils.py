"""Small helpers shared across facezoo."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_outputs(paths):
    """:func:`atomic_output` for a dict of paths: yields ``{key: temporary path}``; the files
    are renamed into place only when the block succeeds, and all are removed if it fails."""
    with contextlib.ExitStack() as stack:
        yield {key: stack.enter_context(atomic_output(path, suffix=os.path.splitext(path)[1]))
               for key, path in paths.items()}


@contextlib.contextmanager
def atomic_output(path, suffix=""):
    """Yield a temporary path next to ``path``; on success it replaces ``path`` (mode 0644),
    on failure it is removed, so a crash never leaves a half-written file. Its name
    (``.tmp-<pid>-XXXXXXXX``) records the process, so a later run can remove what a killed
    one left (:func:`facezoo.outputs.remove_stale_temporaries`)."""
    from facezoo.outputs import temp_prefix

    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=temp_prefix(), suffix=suffix, dir=folder)
    os.close(handle)
    try:
        yield temp
        os.chmod(temp, 0o644)  # mkstemp creates 0600 files
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
