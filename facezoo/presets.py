"""Presets: what one published checkpoint is, and the index every model family adds its
own presets to (``register_presets``, called from ``facezoo/models/<family>/presets.py``).

Each :class:`Preset` says what a checkpoint is (architecture and config, task, class
map, input size and preprocessing, the face crop it expects), where its weights are
(file in the package's ``weights/`` and its sha256, Hub repo), what it was trained on
and under which terms, and what it scores under which protocol. This module holds no
preset itself, only what several families share (dataset terms, framings, protocols).

Example (a family's presets module):
    >>> from facezoo.presets import Preset, register_architecture, register_presets
    >>> register_architecture("icnn", "facezoo.models.icnn.icnn:ICNN", "iCNN whole-face parser (Zhou et al. 2015)")
    >>> register_presets(Preset(name="icnn_lfw", architecture="icnn", ...))
"""

import importlib
from dataclasses import dataclass, field
from typing import Optional

from facezoo.classmaps import get_class_map


class ModelClass:
    """A model class named by ``"module:Class"``, imported when it is first used (building
    a model), so that reading the presets (``facezoo models``, ``--help``) does not import
    Keras. ``output`` (what the model returns: ``"logits"``, ``"probabilities"``,
    ``"points"``) is known without importing it."""

    def __init__(self, reference, output=None):
        if isinstance(reference, str):
            module, _, name = reference.partition(":")
            if not module or not name:
                raise ValueError(f"a model class is named 'package.module:Class', got {reference!r}")
            self.module, self.name, self._class = module, name, None
        else:
            self.module, self.name, self._class = reference.__module__, reference.__name__, reference
        self._output = output

    @property
    def reference(self):
        return f"{self.module}:{self.name}"

    def resolve(self):
        """The class itself (imports its module)."""
        if self._class is None:
            self._class = getattr(importlib.import_module(self.module), self.name)
        return self._class

    @property
    def output(self):
        return self._output if self._output is not None else self.resolve().OUTPUT

    @property
    def __name__(self):
        return self.name

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __eq__(self, other):
        if isinstance(other, ModelClass):
            return self.reference == other.reference
        if isinstance(other, type):
            return self.reference == f"{other.__module__}:{other.__name__}"
        return NotImplemented

    def __hash__(self):
        return hash(self.reference)

    def __repr__(self):
        return f"ModelClass({self.reference!r})"


class _Architectures(dict):
    """name -> (model class, one line for `facezoo models`); the class is resolved (imported)
    when an entry is read, so ``ARCHITECTURES[name][0]`` is the class itself. ``lazy(name)``
    gives the unresolved :class:`ModelClass`, ``descriptions()`` reads without importing."""

    def __getitem__(self, name):
        model_class, description = dict.__getitem__(self, name)
        return model_class.resolve(), description

    def get(self, name, default=None):
        return self[name] if name in self else default

    def items(self):
        return [(name, self[name]) for name in self]

    def values(self):
        return [self[name] for name in self]

    def lazy(self, name):
        return dict.__getitem__(self, name)[0]

    def descriptions(self):
        """name -> one line, importing nothing."""
        return {name: description for name, (_, description) in dict.items(self)}


#: Architectures by name: (class, one line for `facezoo models`), filled by each family.
#: Families register their class by name (``"module:Class"``): it is imported when read.
ARCHITECTURES = _Architectures()
#: Presets by name, filled by each family's presets module.
PRESETS = {}

CELEBAMASK_TERMS = "CelebAMask-HQ: non-commercial research purposes only"
LFW_TERMS = "LFW Part Labels: research use (University of Massachusetts, Amherst)"
HELEN_TERMS = "HELEN: research use"
HELEN_300W_TERMS = "HELEN with 300-W annotation: research use"


@dataclass(frozen=True)
class Preset:
    name: str
    architecture: str
    config: dict
    task: str
    description: str
    class_map: str
    input_size: tuple
    face_crop: str
    dataset: str
    training_data: str
    license: str
    paper: str
    recipe: str
    weights_file: Optional[str] = None
    sha256: Optional[str] = None
    hub_repo: Optional[str] = None
    metrics: dict = field(default_factory=dict)
    unavailable: Optional[str] = None
    #: Where the training faces have their five MTCNN keypoints (``keypoints``, fractions
    #: of the image, x then y, in facezoo.detect.KEYPOINT_NAMES order) and their mean face
    #: box (``box``); facezoo.parse aligns photos onto it. From benchmarks/alignment_templates.py.
    alignment: Optional[dict] = None
    preprocessing: dict = field(default_factory=lambda: {"scale": 1 / 255.0, "mean": [0.0, 0.0, 0.0],
                                                         "std": [1.0, 1.0, 1.0], "color": "RGB"})

    @property
    def info(self):
        """The :class:`~facezoo.info.ModelInfo` of this preset's model, without building it."""
        from facezoo.info import ModelInfo

        model_class = ARCHITECTURES.lazy(self.architecture)
        return self.model_info(ModelInfo(name=self.name, task=self.task, input_size=self.input_size,
                                         class_names=self.class_names, output=model_class.output))

    def model_info(self, base):
        """``base`` (a model's own :class:`~facezoo.info.ModelInfo`) with what this preset
        says: name, classes and colours, input size, normalisation, framing, terms."""
        return base.replace(name=self.name, task=self.task, input_size=tuple(self.input_size),
                            class_names=tuple(self.class_names), class_colors=tuple(self.class_colors),
                            preprocessing=dict(self.preprocessing), alignment=self.alignment,
                            face_crop=self.face_crop, license=self.license, dataset=self.dataset)

    @property
    def class_names(self):
        return () if self.class_map is None else get_class_map(self.class_map).names

    @property
    def class_colors(self):
        return () if self.class_map is None else get_class_map(self.class_map).colors


def register_architecture(name, model_class, description, output=None):
    """Make ``model_class`` buildable by name (``facezoo eval NAME``, ``facezoo models``).

    ``model_class`` is the class or, so that registering imports no Keras, its name
    ``"package.module:Class"`` (imported when a model is built); ``output`` is the class's
    ``OUTPUT`` (``"logits"``, ``"probabilities"``, ``"points"``), given with a name so
    that a preset's info needs no import."""
    model_class = ModelClass(model_class, output=output)
    if name in ARCHITECTURES and ARCHITECTURES.lazy(name) != model_class:
        raise ValueError(f"architecture {name!r} is already registered for {ARCHITECTURES.lazy(name).name}")
    dict.__setitem__(ARCHITECTURES, name, (model_class, description))


def register_presets(*presets):
    """Add presets to the index; a name may be registered once, for one architecture that
    is registered."""
    for preset in presets:
        if preset.architecture not in ARCHITECTURES:
            raise ValueError(f"preset {preset.name!r}: architecture {preset.architecture!r} is not registered")
        if preset.name in PRESETS and PRESETS[preset.name] != preset:
            raise ValueError(f"preset {preset.name!r} is already registered")
        PRESETS[preset.name] = preset
    return presets


#: What the presets trained on LFW Part Labels share.
LFW_PL_PARSING = dict(
    task="parsing",
    class_map="lfw_pl",
    dataset="LFW Part Labels",
    training_data="LFW Part Labels train split (1,500 faces), validated on its 500 validation faces",
    license=LFW_TERMS,
    alignment={"keypoints": ((0.4137, 0.4555), (0.5849, 0.4498), (0.5009, 0.553), (0.428, 0.6424), (0.5813, 0.6375)),
               "box": (0.3075, 0.258, 0.6868, 0.7677), "source": "mean MTCNN keypoints of 1494 training faces"},
)

LFW_PL_PROTOCOL = ("LFW-PL: pixel accuracy and per-class F1 from one confusion matrix over the split, scored at the "
                   "labels' 250x250 resolution")

#: What the presets trained on the CelebAMask-HQ subset share (framing, terms, template).
CELEBAMASK_FACES = dict(
    input_size=(512, 512),
    face_crop="a CelebA-HQ aligned face (eyes level, face filling the frame), 512x512",
    dataset="CelebAMask-HQ",
    license=CELEBAMASK_TERMS,
    alignment={"keypoints": (
                   (0.3788, 0.4746), (0.6201, 0.475), (0.4966, 0.6248), (0.3906, 0.7303), (0.607, 0.7301)),
               "box": (0.2416, 0.1944, 0.7646, 0.9086), "source": "mean MTCNN keypoints of 984 training faces"},
)

#: What the presets trained on HELEN's contour components share: classes, data, framing
#: (stn_icnn_celebamask's template: they start from, or are labelled by, that model) and terms.
HELEN_CONTOUR_FACES = dict(
    class_map="helen",
    dataset="HELEN (Le et al. 2012 contours)",
    alignment=CELEBAMASK_FACES["alignment"],
    license=HELEN_TERMS + "; " + CELEBAMASK_TERMS + " (its skin/hair labels come from a CelebAMask-HQ model)",
)

#: How those presets are scored (`facezoo eval NAME --dataset helen_contours`).
HELEN_CONTOURS_PROTOCOL = ("HELEN protocol on HELEN's components rasterised from Le et al.'s 194-point contours "
                           "(not Smith et al.'s masks), each face aligned by its 68 ground-truth points onto the "
                           "template; one confusion matrix over the split; skin and hair not scored")

CELEBAMASK_PROTOCOL = ("CelebAMask-HQ: per-class F1 from one confusion matrix over the split at 512x512, mean over "
                       "the classes present in the labels or the predictions (necklace has no test pixel: it counts "
                       "as 0 if predicted, else it is left out)")
