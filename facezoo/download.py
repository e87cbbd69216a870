"""Weight files: their sha256, and fetching them from the Hugging Face Hub into its
standard cache (no publishing here, and nothing about presets: see facezoo.hub).

``HF_ENDPOINT``, ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` are read when a function is
called, so they can be changed at run time. Without network, a file that is not in the
cache fails within a second with a message saying so; nothing waits on time-outs.

Example:
    >>> path = download("facezoo/icnn_lfw", "icnn_lfw.npz")      # cache first, then the Hub
    >>> verify(path, expected_sha256)
    >>> checkpoint, config = fetch("hf://my-org/my_parser")       # a repo written by facezoo publish
"""

import hashlib
import json
import os
import socket
from urllib.parse import urlsplit


class WeightsUnavailableError(RuntimeError):
    """The preset has no published weights, or they cannot be found or verified."""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, expected_sha256):
    """Refuse a weights file whose sha256 differs from the expected one."""
    actual = sha256_of(path)
    if expected_sha256 and actual != expected_sha256:
        raise WeightsUnavailableError(
            f"{path}: sha256 {actual} does not match the registry's {expected_sha256}; the file is damaged or "
            "not this checkpoint, so it was not loaded (delete it and load again)"
        )
    return path


CONFIG_FILE = "config.json"
DEFAULT_ENDPOINT = "https://huggingface.co"
#: Seconds to wait for the Hub's TCP handshake before calling the network unreachable.
PROBE_TIMEOUT = 0.5


def endpoint():
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def cache_dir():
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def offline():
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE")
    return constants.HF_HUB_OFFLINE if flag is None else flag.strip().lower() in ("1", "true", "yes", "on")


def parse_hf_url(url):
    """``hf://org/repo[@revision]`` -> ``(repo_id, revision)``."""
    if not str(url).startswith("hf://"):
        raise ValueError(f"not an hf:// address: {url!r}")
    spec = str(url)[len("hf://"):].strip("/")
    spec, _, revision = spec.partition("@")
    if spec.count("/") != 1 or not all(spec.split("/")):
        raise ValueError(f"expected hf://ORG/REPO or hf://ORG/REPO@REVISION, got {url!r}")
    return spec, (revision or None)


def _reachable(url, timeout=PROBE_TIMEOUT):
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def download(repo_id, filename, revision=None):
    """Local path of ``filename`` from Hub repo ``repo_id``: the cache first, then the Hub.

    Raises:
        WeightsUnavailableError: offline (``HF_HUB_OFFLINE`` or no route to the Hub) and
            not cached, or the Hub has no such repository or file.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    where = f"{filename} of {repo_id}" + (f"@{revision}" if revision else "")
    common = dict(repo_id=repo_id, filename=filename, revision=revision, cache_dir=cache_dir(), endpoint=endpoint())
    try:
        return hf_hub_download(**common, local_files_only=True)
    except LocalEntryNotFoundError:
        pass
    reason = "HF_HUB_OFFLINE is set" if offline() else None
    if reason is None and not _reachable(endpoint()):
        reason = f"the Hub ({endpoint()}) cannot be reached"
    if reason is None:
        try:
            return hf_hub_download(**common)
        except LocalEntryNotFoundError:  # the client's own word for "the network failed"
            reason = f"the Hub ({endpoint()}) did not answer"
        except (RepositoryNotFoundError, EntryNotFoundError) as error:
            raise WeightsUnavailableError(f"cannot fetch {where} from {endpoint()}: {type(error).__name__}") from None
    raise WeightsUnavailableError(
        f"cannot fetch {where}: {reason} and it is not in the Hub cache ({cache_dir()}). Connect and unset "
        "HF_HUB_OFFLINE to download it, or copy the file into that cache, or pass weights=PATH to a local copy"
    )


def fetch(url):
    """Checkpoint path and repo config for ``hf://org/repo[@revision]``, sha256 verified
    against the repo's ``config.json``."""
    repo_id, revision = parse_hf_url(url)
    with open(download(repo_id, CONFIG_FILE, revision), encoding="utf-8") as handle:
        config = json.load(handle)
    if not isinstance(config, dict) or "weights_file" not in config or "sha256" not in config:
        raise WeightsUnavailableError(f"{url}: {CONFIG_FILE} is not a facezoo config (no weights_file/sha256)")
    return verify(download(repo_id, config["weights_file"], revision), config["sha256"]), config


