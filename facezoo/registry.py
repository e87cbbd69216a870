"""Presets: one entry per published checkpoint, and :func:`load`.

Each :class:`Preset` says what a checkpoint is (architecture and config, task, class
map, input size and preprocessing, the face crop it expects), where its weights are
(file in the package's ``weights/`` and its sha256, Hub repo), what it was trained on
and under which terms, and what it scores under which protocol.

Example:
    >>> import facezoo
    >>> facezoo.list_models(task="parsing")
    ['icnn_lfw', 'stn_icnn_celebamask', 'stn_icnn_helen']
    >>> model = facezoo.load("icnn_lfw")             # shipped weights, works offline
    >>> probs = model.predict(model.preprocess(photo_crop))
    >>> scratch = facezoo.load("icnn_lfw", weights=None)   # same architecture, random init
    >>> mine = facezoo.load("icnn_lfw", weights="hf://my-org/icnn_lfw")  # see facezoo.hub
"""

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from facezoo.classmaps import get_class_map

#: Architectures by name: class name in facezoo.models (imported when a model is built, so
#: that reading the presets does not import Keras) and one line for `facezoo models`.
ARCHITECTURES = {
    "icnn": ("ICNN", "iCNN whole-face parser (Zhou et al. 2015), any input size (presets: 160x160)"),
    "stn_icnn": ("STNiCNN", "STN-iCNN end-to-end parser (Yin et al. 2021), 512x512 faces"),
    "rtparser": ("RTParser", "real-time parser (Wei et al. 2019), 3 classes at 256x256 by default"),
    "adc_landmarks": ("ADCLandmarks", "68 landmarks by attention-driven cropping (Chandran et al. 2020), any size"),
    "holistic_landmarks": ("HolisticLandmarks", "68 landmarks from the whole face resized to 256x256 (baseline)"),
}

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
#: Installed wheels carry the weights inside the package; a source checkout keeps them
#: at the repository root.
WEIGHTS_DIRS = (os.path.join(PACKAGE_DIR, "weights"), os.path.join(os.path.dirname(PACKAGE_DIR), "weights"))

CELEBAMASK_TERMS = "CelebAMask-HQ: non-commercial research purposes only"
LFW_TERMS = "LFW Part Labels: research use (University of Massachusetts, Amherst)"
HELEN_TERMS = "HELEN: research use"
HELEN_300W_TERMS = "HELEN with 300-W annotation: research use"


class UnknownModelError(ValueError):
    """No preset has this name."""


class WeightsUnavailableError(RuntimeError):
    """The preset has no published weights, or they cannot be found or verified."""


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
    def class_names(self):
        return () if self.class_map is None else get_class_map(self.class_map).names

    @property
    def class_colors(self):
        return () if self.class_map is None else get_class_map(self.class_map).colors


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

WEI_2019 = "Wei, Liu, Sun, Ling. Accurate Facial Image Parsing at Real-Time Speed. IEEE TIP 2019"
#: What the two real-time parsers of LFW-PL share (architecture, input, paper).
RTPARSER_LFW = dict(
    architecture="rtparser",
    input_size=(256, 256),
    face_crop="an LFW funneled 250x250 crop (face centred, about 40% of the width), resized to 256x256",
    paper=WEI_2019,
)

#: What the two helen68 landmark presets share: task, face crop, data, terms, template.
HELEN68_LANDMARKS = dict(
    task="landmarks",
    class_map=None,
    input_size=(512, 512),
    face_crop="a face with about half a face size of margin on each side (as 300-W's HELEN crops), padded to a "
              "square; facezoo.landmarks cuts it from photos at their own resolution",
    dataset="HELEN (300-W annotation)",
    training_data="the first 800 of helen68/trainset (the first 870 of HELEN's 2,000 training faces, 68 points by "
                  "300-W), validated on its last 70",
    license=HELEN_300W_TERMS,
    alignment={"keypoints": ((0.3842, 0.3639), (0.6069, 0.3602), (0.4954, 0.4925), (0.4, 0.5988), (0.5946, 0.5957)),
               "box": (0.2493, 0.1125, 0.7406, 0.7565), "source": "mean MTCNN keypoints of 859 training faces"},
)
HELEN68_PROTOCOL = {
    "protocol": "helen68 testset (330 HELEN test faces of 300-W at full resolution), faces padded to a square and "
                "given at R x R; NME = mean point error / outer-eye-corner distance (points 36, 45), percent, in "
                "original pixels; failure = NME > 8 %; predictions averaged with the mirrored face's (flip_test)",
}

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
#: What the two real-time parsers of CelebAMask-HQ share (architecture, classes, paper, framing).
RTPARSER_CELEBAMASK = dict(architecture="rtparser", task="parsing", class_map="celebamask", paper=WEI_2019,
                           **CELEBAMASK_FACES)
CELEBAMASK_PROTOCOL = ("CelebAMask-HQ: per-class F1 from one confusion matrix over the split at 512x512, mean over "
                       "the classes present in the labels or the predictions (necklace has no test pixel: it counts "
                       "as 0 if predicted, else it is left out)")

PRESETS = {
    p.name: p
    for p in (
        Preset(
            name="icnn_lfw",
            architecture="icnn",
            config={"num_classes": 3, "input_shape": (160, 160, 3), "name": "icnn_lfw"},
            description="iCNN, background/skin/hair, trained on LFW Part Labels",
            input_size=(160, 160),
            face_crop="an LFW funneled 250x250 crop (face centred, about 40% of the width), resized to 160x160",
            paper="Zhou, Hu, Zhang. Interlinked Convolutional Neural Networks for Face Parsing. ISNN 2015",
            recipe="python recipes/icnn_lfw.py --data LFW_PL_ROOT --out runs/icnn_lfw",
            weights_file="icnn_lfw.npz",
            sha256="7564a1e078c49af43228eaf1924941ebe6ac232f0112435b6ea0184454c204b9",
            hub_repo="facezoo/icnn_lfw",
            metrics={
                "protocol": LFW_PL_PROTOCOL,
                "test (927 faces)": {"pixel_accuracy": 0.9568, "f1": {"background": 0.9767, "skin": 0.9471,
                                                                      "hair": 0.8353}},
                "validation (500 faces)": {"pixel_accuracy": 0.9563},
                "command": "facezoo eval icnn_lfw --dataset lfw_pl --data LFW_PL_ROOT --split test",
            },
            **LFW_PL_PARSING,
        ),
        Preset(
            name="rtparser_lfw",
            config={"num_classes": 3, "input_size": (256, 256), "dilation": 4, "width": 2.2, "name": "rtparser_lfw"},
            description="real-time parser (Wei et al. 2019), background/skin/hair, 2.2-wide teacher, trained on "
                        "LFW Part Labels",
            recipe="python recipes/rtparser.py --data LFW_PL_ROOT --out runs/rtparser_lfw --width 2.2",
            weights_file="rtparser_lfw.npz",
            sha256="ab53797df5666db1a507a50263ec86b49a5e763a9444f7fd53a601e7db2fc003",
            hub_repo="facezoo/rtparser_lfw",
            metrics={
                "protocol": LFW_PL_PROTOCOL,
                "test (927 faces)": {"pixel_accuracy": 0.9604, "f1": {"background": 0.9790, "skin": 0.9491,
                                                                      "hair": 0.8567}},
                "validation (500 faces)": {"pixel_accuracy": 0.9609},
                "command": "facezoo eval rtparser_lfw --dataset lfw_pl --data LFW_PL_ROOT --split test",
            },
            **LFW_PL_PARSING,
            **RTPARSER_LFW,
        ),
        Preset(
            name="rtparser_lfw_student",
            config={"num_classes": 3, "input_size": (256, 256), "dilation": 4, "width": 1.0,
                    "name": "rtparser_lfw_student"},
            description="rtparser_lfw distilled into a width-1 student (4.3x fewer multiply-adds)",
            recipe="python recipes/rtparser.py --data LFW_PL_ROOT --out runs/rtparser_lfw_w1 --width 1, then "
                   "python recipes/rtparser.py --data LFW_PL_ROOT --out runs/rtparser_lfw_student --student "
                   "--teacher runs/rtparser_lfw/final.keras --unlabelled HELEN68_ROOT/trainset "
                   "--init runs/rtparser_lfw_w1/final.keras --epochs 12 --learning-rate 5e-4 --halve-every 4",
            weights_file="rtparser_lfw_student.npz",
            sha256="3fd969bcf1e524c4a8e86729ab41f823c49abed9722113d81ad66173e289a5f9",
            hub_repo="facezoo/rtparser_lfw_student",
            metrics={
                "protocol": LFW_PL_PROTOCOL,
                "test (927 faces)": {"pixel_accuracy": 0.9549, "f1": {"background": 0.9757, "skin": 0.9436,
                                                                      "hair": 0.8340}},
                "validation (500 faces)": {"pixel_accuracy": 0.9556},
                "command": "facezoo eval rtparser_lfw_student --dataset lfw_pl --data LFW_PL_ROOT --split test",
            },
            **{**LFW_PL_PARSING, "training_data": "LFW Part Labels train split (1,500 faces) and the teacher's soft "
                                                  "labels on 870 unlabelled HELEN photos, validated on LFW-PL's 500 "
                                                  "validation faces",
               "license": LFW_TERMS + "; " + HELEN_TERMS},
            **RTPARSER_LFW,
        ),
        Preset(
            name="stn_icnn_celebamask",
            architecture="stn_icnn",
            config={"input_size": (512, 512), "stage1_size": (128, 128), "crop_size": (81, 81), "crop_scale": 1.6},
            task="parsing",
            description="STN-iCNN, HELEN's 11 classes, trained on a CelebAMask-HQ subset at 512x512",
            class_map="helen",
            training_data="950 faces of a 1,000-face CelebAMask-HQ subset (50 held out for validation), "
                          "classes mapped to HELEN's",
            paper="Yin, Yiu, Hu, Tang. End-to-End Face Parsing via Interlinked Convolutional "
                  "Neural Networks. Cognitive Neurodynamics 2021",
            recipe="python recipes/stn_icnn_celebamask.py --data CELEBAMASK_ROOT --out runs/stn_icnn_celebamask",
            weights_file="stn_icnn_celebamask.npz",
            sha256="b5d938ed2e2b8f5e7eb18c8c890bf28f14d28a2bedd0e46a99ad4ba96a1ed322",
            hub_repo="facezoo/stn_icnn_celebamask",
            metrics={
                "protocol": "HELEN protocol on CelebAMask-HQ labels mapped to HELEN's classes: one confusion "
                            "matrix over the split at 512x512; overall = STN-iCNN code's groups (brows, eyes, "
                            "nose, upper lip, inner mouth, lower lip, mouth), skin and hair excluded",
                "test (100 faces)": {"overall_f1": 0.8960, "overall_strict_f1": 0.8967, "brows": 0.8548,
                                     "eyes": 0.8792, "nose": 0.9187, "u_lip": 0.8934, "i_mouth": 0.9020,
                                     "l_lip": 0.8888, "mouth": 0.9340, "skin": 0.9431, "hair": 0.9120},
                "command": "facezoo eval stn_icnn_celebamask --dataset celebamask --data CELEBAMASK_ROOT --split test",
            },
            **CELEBAMASK_FACES,
        ),
        Preset(
            name="rtparser_celebamask",
            config={"num_classes": 19, "input_size": (512, 512), "dilation": 8, "name": "rtparser_celebamask"},
            description="real-time parser (Wei et al. 2019), all 19 CelebAMask-HQ classes, 512x512",
            training_data="950 faces of a 1,000-face CelebAMask-HQ subset (50 held out for validation)",
            recipe="python recipes/rtparser.py --dataset celebamask --data CELEBAMASK_ROOT "
                   "--out runs/rtparser_celebamask, then the same with --out runs/rtparser_celebamask_ft "
                   "--init runs/rtparser_celebamask/last.keras --epochs 15 --learning-rate 5e-4 --halve-every 5",
            weights_file="rtparser_celebamask.npz",
            sha256="f85bb7c3c75531b70835552fd2d1af417f1fbb652a26267b8228d7216386b87e",
            hub_repo="facezoo/rtparser_celebamask",
            metrics={
                "protocol": CELEBAMASK_PROTOCOL,
                "test (100 faces)": {"mean_f1": 0.8001, "pixel_accuracy": 0.9080,
                                     "f1": {"skin": 0.9442, "hair": 0.9192, "nose": 0.9017, "l_eye": 0.8543,
                                            "r_eye": 0.8366, "l_brow": 0.8305, "r_brow": 0.8224, "eye_g": 0.6887,
                                            "hat": 0.5814, "ear_r": 0.4186, "cloth": 0.5542}},
                "validation (50 faces)": {"mean_f1": 0.7146, "pixel_accuracy": 0.8712},
                "command": "facezoo eval rtparser_celebamask --dataset celebamask --data CELEBAMASK_ROOT --split test",
            },
            **RTPARSER_CELEBAMASK,
        ),
        Preset(
            name="rtparser_celebamask_student",
            config={"num_classes": 19, "input_size": (256, 256), "dilation": 4, "width": 1.0,
                    "name": "rtparser_celebamask_student"},
            description="rtparser_celebamask distilled into a student at 256x256 (4x fewer multiply-adds)",
            training_data="950 faces of a 1,000-face CelebAMask-HQ subset (50 held out for validation) and the "
                          "teacher's soft labels on 870 unlabelled HELEN photos",
            recipe="python recipes/rtparser.py --dataset celebamask --data CELEBAMASK_ROOT --out "
                   "runs/rtparser_celebamask_student --student --teacher runs/rtparser_celebamask_ft/final.keras "
                   "--unlabelled HELEN68_ROOT/trainset --size 256 --dilation 4 --student-width 1 "
                   "--init runs/rtparser_celebamask_ft/final.keras --epochs 16 --learning-rate 5e-4 --halve-every 5 "
                   "(stopped after 9; best validation loss at epoch 8)",
            weights_file="rtparser_celebamask_student.npz",
            sha256="42a27ebf366feeaa60c562c2d666a9506ba51f7fd53611e3dded36d3ad9fa88f",
            hub_repo="facezoo/rtparser_celebamask_student",
            metrics={
                "protocol": CELEBAMASK_PROTOCOL,
                "test (100 faces)": {"mean_f1": 0.7935, "pixel_accuracy": 0.9046},
                "validation (50 faces)": {"mean_f1": 0.7123, "pixel_accuracy": 0.8753},
                "command": "facezoo eval rtparser_celebamask_student --dataset celebamask --data CELEBAMASK_ROOT "
                           "--split test",
            },
            **{**RTPARSER_CELEBAMASK, "license": CELEBAMASK_TERMS + "; " + HELEN_TERMS, "input_size": (256, 256),
               "face_crop": "a CelebA-HQ aligned face (eyes level, face filling the frame), resized to 256x256"},
        ),
        Preset(
            name="adc_landmarks_300w",
            architecture="adc_landmarks",
            config={"name": "adc_landmarks_300w", "input_size": (512, 512), "flip_test": True, "refine_passes": 2},
            description="68 landmarks by attention-driven cropping, any resolution, trained on HELEN (300-W points)",
            paper="Chandran, Bradley, Gross, Beeler. Attention-Driven Cropping for Very High Resolution Facial "
                  "Landmark Detection. CVPR 2020",
            recipe="the four commands of recipes/adc_landmarks_300w.py (holistic network, then three ADC stages: "
                   "--init-global HOLISTIC --epochs 12; --init ... --epochs 16 --learning-rate 5e-4 --halve-every 6; "
                   "--init ... --epochs 12 --learning-rate 2.5e-4 --halve-every 4); 2 regional passes and the "
                   "flip average are inference settings chosen on validation",
            weights_file="adc_landmarks_300w.npz",
            sha256="b6ce5f53ef538e685edcd0c6f716b11f70b7d84bf81234e6fc51108ccdb535d8",
            hub_repo="facezoo/adc_landmarks_300w",
            metrics={**HELEN68_PROTOCOL,
                     "test (330 faces), 512x512": {"nme": 4.86, "failure_rate_8": 8.5},
                     "test (330 faces), full resolution": {"nme": 4.94, "failure_rate_8": 8.5},
                     "command": "facezoo eval adc_landmarks_300w --dataset 300w --data HELEN68_ROOT --split test "
                                "[--resolution full]"},
            **HELEN68_LANDMARKS,
        ),
        Preset(
            name="holistic_landmarks_300w",
            architecture="holistic_landmarks",
            config={"name": "holistic_landmarks_300w", "input_size": (512, 512), "flip_test": True},
            description="68 landmarks from the whole face resized to 256x256 (the baseline of adc_landmarks_300w)",
            paper="the holistic baseline of Chandran et al. 2020",
            recipe="python recipes/adc_landmarks_300w.py --data HELEN68_ROOT --out runs/holistic_landmarks_300w "
                   "--model holistic",
            weights_file="holistic_landmarks_300w.npz",
            sha256="c5ac66b8d885528b6f35f26fa345b52a1db374849e43cda0c412c300c9474a18",
            hub_repo="facezoo/holistic_landmarks_300w",
            metrics={**HELEN68_PROTOCOL,
                     "test (330 faces), 512x512": {"nme": 7.53, "failure_rate_8": 30.3},
                     "test (330 faces), full resolution": {"nme": 7.60, "failure_rate_8": 30.6},
                     "command": "facezoo eval holistic_landmarks_300w --dataset 300w --data HELEN68_ROOT --split test"},
            **HELEN68_LANDMARKS,
        ),
        Preset(
            name="stn_icnn_helen",
            architecture="stn_icnn",
            config={"input_size": (512, 512), "stage1_size": (128, 128), "crop_size": (81, 81), "crop_scale": 1.0},
            task="parsing",
            description="STN-iCNN on HELEN (the paper's setting); no published weights",
            class_map="helen",
            input_size=(512, 512),
            face_crop="a HELEN face resized to 512x512 as in the authors' data preparation",
            dataset="HELEN",
            training_data="HELEN (Smith et al. 2013) exemplars.txt, validated on tuning.txt",
            license=HELEN_TERMS,
            paper="Yin et al. 2021 (as above)",
            recipe="python recipes/stn_icnn_helen.py --data HELEN_ROOT --out runs/stn_icnn_helen",
            unavailable="facezoo could not obtain HELEN's parsing labels (Smith et al. 2013), so no checkpoint "
                        "was trained; train one with the recipe on your copy of HELEN",
        ),
    )
}


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
    import facezoo.models

    return getattr(facezoo.models, ARCHITECTURES[architecture][0])(**config)


def model_from_name(name):
    """A preset with its published weights, or a fresh architecture of that name."""
    if name in PRESETS:
        return load(name, compile=False)
    if name in ARCHITECTURES:
        return build_architecture(name)
    raise _unknown(name, [*PRESETS, *ARCHITECTURES])


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def verify(path, expected_sha256):
    """Refuse a weights file whose sha256 differs from the registry's."""
    actual = sha256_of(path)
    if expected_sha256 and actual != expected_sha256:
        raise WeightsUnavailableError(
            f"{path}: sha256 {actual} does not match the registry's {expected_sha256}; the file is damaged or "
            "not this checkpoint, so it was not loaded (delete it and load again)"
        )
    return path


def resolve_weights(preset):
    """The local path of a preset's verified weights, looked for in order: the package's
    own ``weights/``, the local Hugging Face cache, the Hub (see :mod:`facezoo.hub`)."""
    if preset.unavailable:
        raise WeightsUnavailableError(
            f"{preset.name} has no published weights: {preset.unavailable}. Train them with:\n  {preset.recipe}"
        )
    path = packaged_weights(preset)
    if path is not None:
        return verify(path, preset.sha256)
    if preset.hub_repo:
        from facezoo.hub import fetch_preset_weights

        return fetch_preset_weights(preset)
    raise WeightsUnavailableError(
        f"the weights of {preset.name} ({preset.weights_file}) are not in this installation "
        f"(looked in {', '.join(WEIGHTS_DIRS)}) and it has no Hub repository"
    )


def _attach(model, preset):
    """Give a loaded model its preset, class map and preprocessing."""
    model.preset = preset
    model.class_names = preset.class_names
    model.class_colors = preset.class_colors
    model.preprocess = lambda images: preprocess(images, preset)
    return model


def preprocess(images, preset, resize=True):
    """uint8 RGB image(s) ``(H, W, 3)`` or ``(B, H, W, 3)`` -> float32 model input batch,
    resized to the preset's input size unless ``resize=False`` (models of any size)."""
    from PIL import Image

    preset = get_preset(preset) if isinstance(preset, str) else preset
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"expected RGB image(s) of shape (H, W, 3) or (B, H, W, 3), got {array.shape}")
    height, width = preset.input_size if resize else array.shape[1:3]
    resized = np.stack([
        np.asarray(Image.fromarray(a.astype(np.uint8)).resize((width, height), Image.BILINEAR)) for a in array
    ]).astype(np.float32)
    p = preset.preprocessing
    return (resized * p["scale"] - np.asarray(p["mean"], np.float32)) / np.asarray(p["std"], np.float32)


def load(name, weights="default", compile=True):
    """A ready Keras model for preset ``name``.

    Args:
        name: a preset name (see :func:`list_models`).
        weights: ``"default"`` (the published checkpoint, verified by sha256: from the
            package, else the Hub cache, else the Hub), ``None`` (random initialisation,
            ready for ``fit``), a path to a facezoo ``.npz`` checkpoint or ``.keras`` file of
            the same architecture, or ``"hf://org/repo[@revision]"`` (a repository written
            by ``facezoo publish``; its sha256 is checked against its ``config.json``).
        compile: compile with the preset's training loss, so ``model.fit`` works as is.
    Returns:
        The model, with ``.preset``, ``.class_names``, ``.class_colors`` and
        ``.preprocess(images)`` attached.
    """
    import keras

    from facezoo.checkpoints import load_checkpoint

    preset = get_preset(name)
    if weights is None:
        model = build(preset)
    elif weights == "default":
        model = load_checkpoint(resolve_weights(preset))
    elif isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if path.startswith("hf://"):
            from facezoo.hub import fetch

            path, _ = fetch(path)
        elif not os.path.isfile(path):
            raise FileNotFoundError(f"no weights file {path!r}")
        model = load_checkpoint(path) if path.endswith(".npz") else keras.models.load_model(path)
        expected = build(preset)
        if type(model) is not type(expected) or model.get_config() != expected.get_config():
            raise ValueError(f"{path} holds a different model than {name!r} ({type(model).__name__})")
    else:
        raise ValueError(f"weights must be 'default', None, a path or hf://ORG/REPO, got {weights!r}")
    if compile:
        if preset.architecture == "icnn":
            model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        else:
            model.compile(optimizer="adam")
    return _attach(model, preset)
