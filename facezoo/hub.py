"""Hugging Face Hub: publish a model (a preset, or any facezoo model such as a fine-tune).

A facezoo Hub repository holds three files:

* ``<name>.npz`` -- the checkpoint (:mod:`facezoo.checkpoints`; its config carries the
  model's :class:`~facezoo.info.ModelInfo`),
* ``config.json`` -- architecture, config, the model info (classes, preprocessing,
  alignment...), the checkpoint's file name and sha256, and for presets their data,
  terms and metrics,
* ``README.md`` -- the model card, with the YAML metadata the Hub reads.

Example:
    >>> from facezoo.hub import publish
    >>> publish("icnn_lfw", "my-org/icnn_lfw")          # needs HF_TOKEN or `hf auth login`
    >>> publish(my_finetuned_model, "my-org/my_parser")  # or a .keras file
    >>> model = facezoo.load("hf://my-org/my_parser")   # no registry entry needed

Fetching lives in :mod:`facezoo.download` (the registry uses it without importing this
module); its functions are re-exported here.
"""

import json
import os
import shutil
import tempfile

from facezoo.download import (CONFIG_FILE, DEFAULT_ENDPOINT, PROBE_TIMEOUT, WeightsUnavailableError,  # noqa: F401
                              _reachable, cache_dir, download, endpoint, fetch, offline, parse_hf_url, sha256_of)
from facezoo.info import OUTPUTS
from facezoo.registry import get_preset, packaged_weights, resolve_weights

CARD_FILE = "README.md"


def preset_config(preset, weights_file, sha256, info=None):
    """The ``config.json`` published beside a checkpoint: the preset's facts and the model
    info (``info``, default the preset's), which ``facezoo.load("hf://...")`` reads."""
    import facezoo

    info = preset.info if info is None else info
    return {
        "library": "facezoo", "facezoo_version": facezoo.__version__, "preset": preset.name,
        "architecture": preset.architecture, "config": preset.config, "task": info.task,
        "info": info.to_dict(),
        "class_names": list(info.class_names), "class_colors": [list(c) for c in info.class_colors],
        "input_size": list(info.input_size), "preprocessing": info.preprocessing, "face_crop": info.face_crop,
        "alignment": info.alignment,
        "weights_file": weights_file, "sha256": sha256, "training_data": preset.training_data,
        "license": preset.license, "paper": preset.paper, "metrics": preset.metrics,
    }


def model_preset(model, description=None, training_data=None, license=None):
    """A :class:`~facezoo.presets.Preset` describing any facezoo model (a fine-tune, say)
    for its config.json and model card; what it does not know says so."""
    from facezoo.presets import ARCHITECTURES, Preset

    architecture = next((name for name, (cls, _) in ARCHITECTURES.items() if type(model) is cls), None)
    if architecture is None:
        raise ValueError(f"publish takes facezoo models; {type(model).__name__} is not a registered architecture")
    info = model.info
    return Preset(
        name=info.name, architecture=architecture, config=model.architecture_config(), task=info.task,
        description=description or f"a facezoo {architecture} model, {info.task} "
                                   f"({', '.join(info.class_names) or f'{info.num_points} points'})",
        class_map=None, input_size=info.input_size, face_crop=info.face_crop or "not stated",
        dataset=info.dataset or "custom", training_data=training_data or "not stated",
        license=license or info.license or "not stated", paper="", recipe="not published",
        preprocessing=dict(info.preprocessing), alignment=info.alignment,
    )


def _yaml_list(values):
    return "".join(f"\n- {v}" for v in values)


def model_card(preset, repo_id, sha256, info=None):
    """README.md for the Hub: YAML metadata, then the shipped model card (or a summary)."""
    info = preset.info if info is None else info
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
        + (f"metrics:{_yaml_list(sorted({metric_types[metric] for _, metric, _ in scores}))}\n" if scores else "")
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
        f'model = facezoo.load("hf://{repo_id}")\n'
        f"{info.output} = model.predict(model.preprocess(face_crops))   # {OUTPUTS[info.output]}\n```\n\n"
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


def publish(model, repo_id, weights=None, token=None, private=False, commit_message=None, **card):
    """Upload a model's checkpoint, ``config.json`` and model card to ``repo_id``.

    Before anything is sent, a ``weights`` file is loaded in full and compared with the
    preset (:func:`check_publishable`) and the Hub is probed, so a damaged or foreign
    checkpoint, or no network, ends in one clear error and nothing uploaded.

    Args:
        model: a preset name (its registered checkpoint, or ``weights``), a facezoo model
            (a fine-tune, for example), or a ``.keras``/``.npz`` file of one. The model's
            info (classes, preprocessing, alignment) travels in its checkpoint, so
            ``facezoo.load("hf://" + repo_id)`` rebuilds it without a registry entry.
        weights: with a preset name: a facezoo ``.npz`` checkpoint of the same
            architecture to publish instead of the registered one.
        card: ``description``, ``training_data``, ``license`` for a model's card.
    Returns:
        The URL of the commit.
    Raises:
        FileNotFoundError: ``weights`` is not an existing ``.npz`` file.
        CheckpointError, ValueError: the checkpoint is damaged or not this preset's model.
        PublishError: offline, the Hub cannot be reached, or it refused the upload.

    Example:
        >>> publish(facezoo.load("my_parser.keras"), "me/my_parser", training_data="120 faces of ...")
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from facezoo.checkpoints import save_checkpoint
    from facezoo.registry import MODEL_FILES, differing_settings, read_model_file

    if isinstance(model, (str, os.PathLike)) and os.fspath(model).endswith(MODEL_FILES):
        model = read_model_file(model)  # a damaged file is refused here, before any upload
    with tempfile.TemporaryDirectory(prefix="facezoo-publish-") as staging:
        if isinstance(model, str):
            preset = get_preset(model)
            shared = None
            if weights is None:
                weights = resolve_weights(preset)  # verified against the registry's sha256
                stored = read_model_file(weights)
                differing = differing_settings(stored, preset)
                if differing:  # another preset's file (settings aside): this preset's settings go into it
                    shared = stored.with_settings(**differing)
            else:
                weights = os.fspath(weights)
                if not weights.endswith(".npz") or not os.path.isfile(weights):
                    raise FileNotFoundError(f"publish needs a facezoo .npz checkpoint, got {weights!r}")
                check_publishable(model, weights)
            info = preset.info
            weights_file = f"{preset.name}.npz"
            if shared is not None:
                save_checkpoint(shared, os.path.join(staging, weights_file))
            else:  # the very file given, or the one the registry's sha256 names
                shutil.copyfile(weights, os.path.join(staging, weights_file))
        else:
            if weights is not None:
                raise ValueError("weights= is for publishing a preset name with other weights; a model carries its own")
            preset, info = model_preset(model, **card), model.info
            weights_file = f"{info.name}.npz"
            save_checkpoint(model, os.path.join(staging, weights_file))
        _check_hub_reachable()
        sha256 = sha256_of(os.path.join(staging, weights_file))
        with open(os.path.join(staging, CONFIG_FILE), "w", encoding="utf-8") as handle:
            json.dump(preset_config(preset, weights_file, sha256, info), handle, indent=2)
        with open(os.path.join(staging, CARD_FILE), "w", encoding="utf-8") as handle:
            handle.write(model_card(preset, repo_id, sha256, info))
        api = HfApi(endpoint=endpoint(), token=token)
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            result = api.upload_folder(repo_id=repo_id, folder_path=staging,
                                       commit_message=commit_message or f"facezoo: publish {preset.name}")
        except HfHubHTTPError as error:
            raise PublishError(f"the Hub ({endpoint()}) refused to publish {repo_id}: "
                               f"{str(error).splitlines()[0]}") from None
        except Exception as error:
            if not _network_error(error):
                raise
            raise PublishError(f"publishing {repo_id} to {endpoint()} failed: {type(error).__name__}: {error}; "
                               "the upload may be incomplete, run publish again") from None
    return getattr(result, "commit_url", str(result))
