"""The index of presets and :func:`load`.

Presets live beside their models (``facezoo/models/<family>/presets.py``) and register
themselves when :mod:`facezoo.models` is imported (naming their classes, so that reading
the index imports no Keras: ``facezoo models`` and ``--help`` stay light); this module only looks them up, finds
and verifies their weights (:mod:`facezoo.download`) and gives the model its
:class:`~facezoo.info.ModelInfo`. It has no branch for any architecture: each one owns
its training defaults (``compile()``) and its new head (``with_classes``).

Example:
    >>> import facezoo
    >>> facezoo.list_models(task="landmarks")
    ['adc_landmarks_300w', 'holistic_landmarks_300w']
    >>> model = facezoo.load("icnn_lfw")              # shipped weights, works offline, ready for fit
    >>> logits = model.predict(model.preprocess(photo_crop))
    >>> scratch = facezoo.load("icnn_lfw", weights=None)              # same architecture, random init
    >>> five = facezoo.load("icnn_lfw", class_names=["background", "skin", "hair", "eyes", "mouth"])
    >>> mine = facezoo.load("hf://my-org/my_parser")                  # a published fine-tune
    >>> again = facezoo.load("my_parser.keras")                       # or a saved one
"""

import difflib
import json
import os

import facezoo.models  # noqa: F401  (registers every family's architectures and presets, by name: no Keras)
from facezoo.download import WeightsUnavailableError, download, sha256_of, verify  # noqa: F401
from facezoo.presets import ARCHITECTURES, PRESETS, Preset  # noqa: F401

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
#: Installed wheels carry the weights inside the package; a source checkout keeps them
#: at the repository root.
WEIGHTS_DIRS = (os.path.join(PACKAGE_DIR, "weights"), os.path.join(os.path.dirname(PACKAGE_DIR), "weights"))
#: What :func:`load` accepts as a model file.
MODEL_FILES = (".keras", ".npz")


class UnknownModelError(ValueError):
    """No preset has this name."""


def list_models(task=None):
    """Names of the presets, optionally of one ``task`` (``"parsing"`` or ``"landmarks"``)."""
    return sorted(name for name, p in PRESETS.items() if task is None or p.task == task)


def _unknown(name, known):
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.4)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return UnknownModelError(f"unknown model {name!r}.{hint} Available: {', '.join(sorted(known))}")


def get_preset(name):
    if name in PRESETS:
        return PRESETS[name]
    raise _unknown(name, PRESETS)


def build_architecture(architecture, **config):
    """A freshly initialised model of ``architecture`` (see :data:`ARCHITECTURES`)."""
    if architecture not in ARCHITECTURES:
        raise _unknown(architecture, ARCHITECTURES)
    return ARCHITECTURES[architecture][0](**config)  # imports the model's module (and Keras) now


def model_from_name(name):
    """A preset with its published weights, a model file or ``hf://`` repository, or a
    fresh architecture of that name."""
    if name in ARCHITECTURES and name not in PRESETS:
        return build_architecture(name)
    if name not in PRESETS and not (name.startswith("hf://") or name.endswith(MODEL_FILES)):
        raise _unknown(name, [*PRESETS, *ARCHITECTURES])
    return load(name, compile=False)


def build(preset):
    """The preset's architecture, randomly initialised."""
    return build_architecture(preset.architecture, **preset.config)


def packaged_weights(preset):
    """Path of the preset's weights inside the package (or source tree), or None."""
    if not preset.weights_file:
        return None
    for folder in WEIGHTS_DIRS:
        path = os.path.join(folder, preset.weights_file)
        if os.path.isfile(path):
            return path
    return None


def resolve_weights(preset):
    """The local path of a preset's verified weights, looked for in order: the package's
    own ``weights/``, the local Hugging Face cache, the Hub (see :mod:`facezoo.download`)."""
    if preset.unavailable:
        raise WeightsUnavailableError(
            f"{preset.name} has no published weights: {preset.unavailable}. Train them with:\n  {preset.recipe}"
        )
    path = packaged_weights(preset)
    if path is not None:
        return verify(path, preset.sha256)
    if preset.hub_repo:
        return verify(download(preset.hub_repo, preset.weights_file), preset.sha256)
    raise WeightsUnavailableError(
        f"the weights of {preset.name} ({preset.weights_file}) are not in this installation "
        f"(looked in {', '.join(WEIGHTS_DIRS)}) and it has no Hub repository"
    )


def preprocess(images, preset, resize=None):
    """Image(s) -> the float32 input batch of ``preset`` (a name, a Preset or a model's
    ModelInfo): see :meth:`facezoo.info.ModelInfo.preprocess` (resized by default for
    parsers, not for landmark models)."""
    if isinstance(preset, str):
        preset = get_preset(preset)
    info = preset.info if isinstance(preset, Preset) else preset
    return info.preprocess(images, resize=resize)


def read_model_file(path):
    """The model in a ``.keras`` file or a facezoo ``.npz`` checkpoint."""
    import keras

    from facezoo.checkpoints import load_checkpoint

    facezoo.models.import_all()  # every facezoo class known to Keras before it reads the file
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file {path!r}")
    if not path.endswith(MODEL_FILES):
        raise ValueError(f"{path}: a model file is a .keras file or a facezoo .npz checkpoint")
    return load_checkpoint(path) if path.endswith(".npz") else keras.models.load_model(path)


def _load_published(url):
    """A model published by ``facezoo publish`` (its checkpoint carries its info; older
    repositories carry it in config.json)."""
    from facezoo.checkpoints import load_checkpoint
    from facezoo.download import fetch

    path, config = fetch(url)
    model = load_checkpoint(path)
    if "_facezoo_info" not in model.__dict__ and isinstance(config.get("info"), dict):
        model.info = config["info"]
    return model


def differing_settings(model, preset):
    """The entries of the preset's config that ``model``'s config lacks or differs in
    (tuples compared as the lists a checkpoint stores)."""
    stored = json.loads(json.dumps(model.get_config()))
    return {k: v for k, v in json.loads(json.dumps(preset.config)).items() if stored.get(k) != v}


def _with_preset_settings(model, preset):
    """A checkpoint under its preset's config: presets may share a file and differ in
    settings that shape no weight (``FaceModel.with_settings``)."""
    differing = differing_settings(model, preset)
    return model.with_settings(**differing) if differing else model


def load(name, weights="default", compile=True, num_classes=None, class_names=None, class_colors=None, **config):
    """A ready Keras model: a preset, a model file or a published repository.

    Args:
        name: a preset name (see :func:`list_models`), a ``.keras``/``.npz`` file, or
            ``"hf://org/repo[@revision]"`` (any model written by ``facezoo publish``, a
            fine-tune included: no registry entry needed).
        weights: for presets: ``"default"`` (the published checkpoint, verified by sha256:
            from the package, else the Hub cache, else the Hub), ``None`` (random
            initialisation), a path to a ``.npz``/``.keras`` of the same architecture, or
            ``"hf://org/repo"`` holding such a checkpoint.
        compile: ``model.compile()`` with the architecture's own defaults, so ``fit`` works.
        num_classes, class_names, class_colors: give the model a fresh head for another
            class set, keeping every other trained layer (``model.with_classes``);
            ``config`` passes more of the new config (e.g. STN-iCNN's ``parts``).
    Returns:
        The model; ``model.info`` says what it is (classes, input size, normalisation,
        alignment...), ``model.preprocess(images)`` prepares its input.
    """
    name = os.fspath(name)
    if name.startswith("hf://") or name.endswith(MODEL_FILES):
        if weights != "default":
            raise ValueError(f"{name} is a model with its own weights; weights={weights!r} does not apply")
        model = _load_published(name) if name.startswith("hf://") else read_model_file(name)
    else:
        preset = get_preset(name)
        if weights is None:
            model = build(preset)
        elif weights == "default":
            model = _with_preset_settings(read_model_file(resolve_weights(preset)), preset)
        elif isinstance(weights, (str, os.PathLike)):
            path = os.fspath(weights)
            model = _load_published(path) if path.startswith("hf://") else read_model_file(path)
            expected = build(preset)
            differing = type(model) is not type(expected) or model.weights_config_differences(expected)
            if differing:
                differing = "" if differing is True else f"; differing: {', '.join(differing)}"
                raise ValueError(f"{path} holds a different model than {name!r} ({type(model).__name__}"
                                 f"{differing}); load the file itself: facezoo.load({path!r})")
            # (it keeps its own inference settings: a fine-tune's choice, e.g. another paste size)
        else:
            raise ValueError(f"weights must be 'default', None, a path or hf://ORG/REPO, got {weights!r}")
        if "_facezoo_info" not in model.__dict__:  # shipped checkpoints: the preset describes them
            model.info = preset.model_info(model.info)
        model.preset = preset
    if num_classes is not None or class_names is not None or config:
        model = model.with_classes(class_names, num_classes=num_classes, class_colors=class_colors, **config)
    elif class_colors is not None:
        raise ValueError("class_colors come with class_names=[...] (a new head)")
    if compile:
        model.compile()
    return model
