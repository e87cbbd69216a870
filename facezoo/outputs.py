"""Output folders of ``facezoo parse`` / ``facezoo landmarks``: checked before any work,
never read back as inputs, cleaned of what a killed run left, and resumable.

Example:
    >>> from facezoo import outputs
    >>> outputs.prepare_folder("parsed/")          # creates it; OutputError if it cannot be written
    >>> outputs.is_own_output("parsed/a.overlay.png")   # True when parsed/a.json is facezoo's
    >>> outputs.finished("parsed/", "a", PARSE_FILES, source="in/a.jpg", model="icnn_lfw")
    >>> outputs.stale_face_files("points/", "a", count=1)   # ['points/a_face1.pts'] after 2 faces

Every file facezoo writes goes through :func:`facezoo.utils.atomic_output`: a temporary
``.tmp-<pid>-XXXXXXXX<suffix>`` beside the final name, renamed when complete. A run
killed with SIGKILL (or a power cut) cannot remove its temporary files, so
:func:`prepare_folder` removes those whose process is gone, and those written by
facezoo versions that did not record the process (``.tmp-XXXXXXXX<suffix>``).
"""

import json
import os
import re
import shutil
import tempfile

#: Files ``facezoo parse`` writes for a photo ``<stem>``.
PARSE_FILES = ("{stem}.labels.png", "{stem}.overlay.png", "{stem}.json")
#: Files ``facezoo landmarks`` writes for a photo ``<stem>`` (plus ``<stem>_face<i>.pts``).
LANDMARK_FILES = ("{stem}.json",)
#: ... and with ``--overlay``.
LANDMARK_OVERLAY = "{stem}.overlay.png"
#: Image outputs of ``facezoo parse``: ``<stem>`` + one of these.
_OWN_IMAGE_SUFFIXES = (".labels.png", ".overlay.png")
#: Prefix of facezoo's temporary files; export folders use :data:`EXPORT_PREFIX`.
TEMP_PREFIX = ".tmp-"
EXPORT_PREFIX = ".facezoo-export-"


class OutputError(OSError):
    """The output folder cannot be used (a file, not creatable, not writable)."""


def temp_prefix(kind=TEMP_PREFIX):
    """The prefix of this process's temporary files or folders: ``kind`` and the process
    id, so a later run can tell a killed run's leftovers from a live run's work."""
    return f"{kind}{os.getpid()}-"


def _temp_name(kind):
    """:func:`tempfile.mkstemp` names: the prefix, 8 characters of its alphabet, the suffix."""
    return re.compile(rf"^{re.escape(kind)}(?:(?P<pid>\d+)-)?[a-z0-9_]{{8}}(?:\.[A-Za-z0-9.]+)?$")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def is_temp_file(name, kind=TEMP_PREFIX):
    """Whether ``name`` (a base name) is a facezoo temporary file."""
    return bool(_temp_name(kind).match(name))


def stale_temporaries(folder, kind=TEMP_PREFIX):
    """facezoo's temporary files (or, for :data:`EXPORT_PREFIX`, folders) in ``folder``
    whose writing process no longer runs."""
    pattern, found = _temp_name(kind), []
    for name in sorted(os.listdir(folder)):
        match = pattern.match(name)
        if match is None:
            continue
        pid = match.group("pid")
        if pid is None or (int(pid) != os.getpid() and not _alive(int(pid))):
            found.append(os.path.join(folder, name))
    return found


def remove_stale_temporaries(folder, kind=TEMP_PREFIX):
    """Remove :func:`stale_temporaries`; returns the paths removed."""
    removed = []
    for path in stale_temporaries(folder, kind):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except FileNotFoundError:  # another run cleaned it first
                continue
        removed.append(path)
    return removed


def prepare_folder(folder):
    """Make ``folder`` ready for outputs before any photo is read: create it, prove it is
    writable by writing a file into it, and remove the temporary files of killed runs.

    Returns:
        The paths of the stale temporary files removed.
    Raises:
        OutputError: ``folder`` is a file, cannot be created or cannot be written.
    """
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"output folder {folder!r} is an existing file; pass a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=temp_prefix(), suffix=".probe", dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"cannot write into output folder {folder!r}: {error.strerror or error}") from None
    return remove_stale_temporaries(folder)


def _facezoo_json(path):
    """The parsed JSON at ``path`` when facezoo wrote it, else None."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "facezoo_version" in data else None


def is_own_output(path):
    """Whether ``path`` is something facezoo wrote and must not read as a photo: a
    temporary file, or ``<stem>.labels.png`` / ``<stem>.overlay.png`` beside a facezoo
    ``<stem>.json``. (A user's photo that merely ends in ``.overlay.png`` is still read.)"""
    folder, name = os.path.split(os.fspath(path))
    if is_temp_file(name):
        return True
    for suffix in _OWN_IMAGE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return _facezoo_json(os.path.join(folder, name[: -len(suffix)] + ".json")) is not None
    return False


def finished(folder, stem, files, source, model, model_file=None):
    """Whether photo ``source`` was already done into ``folder`` as ``stem`` by ``model``:
    every one of ``files`` (patterns with ``{stem}``) exists and ``<stem>.json`` records
    the same photo and model: the same preset name, or the same ``model_file`` (a model
    from a file keeps its preset's name, so a fine-tune's outputs never pass for the
    preset's). Outputs are renamed into place only when complete, so existing files are
    whole files."""
    if not all(os.path.isfile(os.path.join(folder, pattern.format(stem=stem))) for pattern in files):
        return False
    record = _facezoo_json(os.path.join(folder, f"{stem}.json"))
    if record is None or record.get("image") != os.fspath(source) or record.get("model_file") != model_file:
        return False
    return model_file is not None or record.get("model") == model


def stale_overlay(folder, stem):
    """``[<stem>.overlay.png]`` when an earlier ``facezoo landmarks --overlay`` run wrote it, as
    its ``<stem>.json`` says (call it before that JSON is replaced), else ``[]``."""
    record = _facezoo_json(os.path.join(folder, f"{stem}.json"))
    path = os.path.join(folder, LANDMARK_OVERLAY.format(stem=stem))
    return [path] if record and record.get("overlay") and os.path.isfile(path) else []


def stale_face_files(folder, stem, count):
    """The ``<stem>_face<i>.pts`` (``i >= count``) that an earlier run of the same photo
    wrote for faces this run did not find, as its ``<stem>.json`` lists them. Call it
    before that JSON is replaced; files no facezoo JSON lists are never included."""
    record = _facezoo_json(os.path.join(folder, f"{stem}.json"))
    faces = record.get("faces") if record else None
    previous = len(faces) if isinstance(faces, list) else 0
    paths = (os.path.join(folder, f"{stem}_face{i}.pts") for i in range(count, previous))
    return [path for path in paths if os.path.isfile(path)]
