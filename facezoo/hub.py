"""Hugging Face Hub: publish a preset's checkpoint, and fetch one into the standard cache.

A facezoo Hub repository holds three files:

* ``<name>.npz`` -- the checkpoint (:mod:`facezoo.checkpoints`),
* ``config.json`` -- the preset (architecture, config, class map, preprocessing, the
  checkpoint's file name and sha256),
* ``README.md`` -- the model card, with the YAML metadata the Hub reads.

Example:
    >>> from facezoo.hub import publish
    >>> publish("icnn_lfw", "my-org/icnn_lfw")          # needs HF_TOKEN or `hf auth login`
    >>> model = facezoo.load("icnn_lfw", weights="hf://my-org/icnn_lfw")

``HF_ENDPOINT``, ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` are read when a function is
called, so they can be changed at run time. Without network, a checkpoint that is not in
the cache fails within a second with a message saying so; nothing waits on time-outs.
"""

import json
import os
import shutil
import socket
import tempfile
from urllib.parse import urlsplit

from facezoo.registry import WeightsUnavailableError, get_preset, packaged_weights, resolve_weights, sha256_of

CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
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


def fetch_preset_weights(preset):
    """The preset's registered checkpoint from its Hub repo, verified against the registry."""
    from facezoo.registry import verify

    if not preset.hub_repo:
        raise WeightsUnavailableError(f"{preset.name} has no Hub repository in the registry")
    return verify(download(preset.hub_repo, preset.weights_file), preset.sha256)


def fetch(url):
    """Checkpoint path and repo config for ``hf://org/repo[@revision]``, sha256 verified
    against the repo's ``config.json``."""
    from facezoo.registry import verify

    repo_id, revision = parse_hf_url(url)
    with open(download(repo_id, CONFIG_FILE, revision), encoding="utf-8") as handle:
        config = json.load(handle)
    if not isinstance(config, dict) or "weights_file" not in config or "sha256" not in config:
        raise WeightsUnavailableError(f"{url}: {CONFIG_FILE} is not a facezoo config (no weights_file/sha256)")
    return verify(download(repo_id, config["weights_file"], revision), config["sha256"]), config


def preset_config(preset, weights_file, sha256):
    """The ``config.json`` published beside a checkpoint."""
    import facezoo

    return {
        "library": "facezoo", "facezoo_version": facezoo.__version__, "preset": preset.name,
        "architecture": preset.architecture, "config": preset.config, "task": preset.task,
        "class_names": list(preset.class_names), "class_colors": [list(c) for c in preset.class_colors],
        "input_size": list(preset.input_size), "preprocessing": preset.preprocessing, "face_crop": preset.face_crop,
        "alignment": preset.alignment,
        "weights_file": weights_file, "sha256": sha256, "training_data": preset.training_data,
        "license": preset.license, "paper": preset.paper, "metrics": preset.metrics,
    }


def _yaml_list(values):
    return "".join(f"\n- {v}" for v in values)


def model_card(preset, repo_id, sha256):
    """README.md for the Hub: YAML metadata, then the shipped model card (or a summary)."""
    pipeline = "image-segmentation" if preset.task == "parsing" else "keypoint-detection"
    slug = preset.dataset.lower().replace(" ", "-")
    metric_types = {"pixel_accuracy": "accuracy", "overall_f1": "f1", "mean_f1": "f1", "nme": "nme"}
    scores = [(split, metric, values[metric]) for split, values in preset.metrics.items() if isinstance(values, dict)
              for metric in metric_types if metric in values]
    results = "".join(
        f"  - task:\n      type: {pipeline}\n    dataset:\n      name: {preset.dataset} {split}\n"
        f"      type: {slug}\n    metrics:\n    - type: {metric_types[metric]}\n      name: {metric}\n"
        f"      value: {value}\n"
        for split, metric, value in scores
    )
    tags = ["facezoo", "keras", "face-parsing" if preset.task == "parsing" else "facial-landmarks",
            preset.architecture.replace("_", "-")]
    header = (
        f"---\nlibrary_name: facezoo\nlicense: other\nlicense_name: {slug}-terms\n"
        f"tags:{_yaml_list(tags)}\npipeline_tag: {pipeline}\ndatasets:{_yaml_list([slug])}\n"
        f"metrics:{_yaml_list(sorted({metric_types[metric] for _, metric, _ in scores}))}\n"
        + (f"model-index:\n- name: {preset.name}\n  results:\n{results}" if scores else "")
        + "---\n\n"
    )
    card = None
    for folder in (os.path.dirname(path) for path in [packaged_weights(preset)] if path):
        card_path = os.path.join(folder, f"{preset.name}.md")
        if os.path.isfile(card_path):
            with open(card_path, encoding="utf-8") as handle:
                card = handle.read()
    if card is None:
        card = (f"# {preset.name}\n\n{preset.description}.\n\nTraining data: {preset.training_data}. "
                f"Terms: {preset.license}.\n\nPaper: {preset.paper}.\n\nRecipe: `{preset.recipe}`\n")
    usage = (
        "\n## Use with facezoo\n\n```python\nimport facezoo\n"
        f'model = facezoo.load("{preset.name}", weights="hf://{repo_id}")\n'
        "probabilities = model.predict(model.preprocess(face_crops))\n```\n\n"
        f"The checkpoint's sha256 (`{sha256}`) is in `config.json`; facezoo refuses a file that does not match.\n"
    )
    return header + card.rstrip() + "\n" + usage


class PublishError(RuntimeError):
    """Publishing failed before or while uploading: no network, refused by the Hub."""


def check_publishable(name, weights):
    """Refuse, before anything is uploaded, a checkpoint that ``facezoo.load(name,
    weights=...)`` would refuse for whoever downloads it: damaged or truncated
    (:class:`~facezoo.checkpoints.CheckpointError`), or another architecture or
    configuration than preset ``name`` (ValueError). Every weight is read."""
    from facezoo.registry import load

    load(name, weights=weights, compile=False)


#: Packages whose exceptions mean "the connection failed" (the Hub client has used each).
_NETWORK_PACKAGES = ("httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3")


def _network_error(error):
    """Whether ``error`` comes from the network (whatever HTTP library the Hub client uses)."""
    return isinstance(error, OSError) or type(error).__module__.split(".")[0] in _NETWORK_PACKAGES


def _check_hub_reachable():
    if offline():
        raise PublishError("cannot publish: HF_HUB_OFFLINE is set; unset it and connect to upload")
    if not _reachable(endpoint()):
        raise PublishError(f"cannot publish: the Hub ({endpoint()}) cannot be reached; nothing was uploaded")


def publish(name, repo_id, weights=None, token=None, private=False, commit_message=None):
    """Upload preset ``name``'s checkpoint, ``config.json`` and model card to ``repo_id``.

    Before anything is sent, a ``weights`` file is loaded in full and compared with the
    preset (:func:`check_publishable`) and the Hub is probed, so a damaged or foreign
    checkpoint, or no network, ends in one clear error and nothing uploaded.

    Args:
        weights: a facezoo ``.npz`` checkpoint to publish instead of the registered one
            (for example a fine-tuned copy of the same architecture).
    Returns:
        The URL of the commit.
    Raises:
        FileNotFoundError: ``weights`` is not an existing ``.npz`` file.
        CheckpointError, ValueError: the checkpoint is damaged or not this preset's model.
        PublishError: offline, the Hub cannot be reached, or it refused the upload.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    preset = get_preset(name)
    if weights is None:
        weights = resolve_weights(preset)  # verified against the registry's sha256
    else:
        weights = os.fspath(weights)
        if not weights.endswith(".npz") or not os.path.isfile(weights):
            raise FileNotFoundError(f"publish needs a facezoo .npz checkpoint, got {weights!r}")
        check_publishable(name, weights)
    _check_hub_reachable()
    weights_file = f"{preset.name}.npz"
    sha256 = sha256_of(weights)
    api = HfApi(endpoint=endpoint(), token=token)
    with tempfile.TemporaryDirectory(prefix="facezoo-publish-") as staging:
        shutil.copyfile(weights, os.path.join(staging, weights_file))
        with open(os.path.join(staging, CONFIG_FILE), "w", encoding="utf-8") as handle:
            json.dump(preset_config(preset, weights_file, sha256), handle, indent=2)
        with open(os.path.join(staging, CARD_FILE), "w", encoding="utf-8") as handle:
            handle.write(model_card(preset, repo_id, sha256))
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            info = api.upload_folder(repo_id=repo_id, folder_path=staging,
                                     commit_message=commit_message or f"facezoo: publish {preset.name}")
        except HfHubHTTPError as error:
            raise PublishError(f"the Hub ({endpoint()}) refused to publish {repo_id}: "
                               f"{str(error).splitlines()[0]}") from None
        except Exception as error:
            if not _network_error(error):
                raise
            raise PublishError(f"publishing {repo_id} to {endpoint()} failed: {type(error).__name__}: {error}; "
                               "the upload may be incomplete, run publish again") from None
    return getattr(info, "commit_url", str(info))

