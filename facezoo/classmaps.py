"""Class maps are data: names, colours, and the merges each evaluation protocol uses.

Side convention, the same in every class map: ``l_``/``r_`` are the *subject's* left and
right (the subject's left eye lies on the image's right), as in CelebAMask-HQ and HELEN's
own annotation. HELEN's class *indices* keep Smith et al.'s order (label 2 is the brow on
the image's left, i.e. the subject's right brow ``r_brow``).

The 68 iBUG landmarks have the same kind of mirror, :data:`FLIP_68`, and HELEN's 194 contour
points :data:`FLIP_194`.

Example:
    >>> from facezoo.classmaps import CLASS_MAPS
    >>> cm = CLASS_MAPS["helen"]
    >>> cm.names[4], cm.colors[4]
    ('r_eye', (0, 0, 255))
    >>> cm.index("nose")
    6
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClassMap:
    """A label scheme: class ``i`` is called ``names[i]`` and drawn in ``colors[i]``.

    ``groups`` name sets of classes (e.g. "eyes" = both eyes, "face" = every facial
    part but hair): a protocol scores some of them together (``overall_groups``), and
    ``ParseResult.mask(group)`` selects them.
    """

    name: str
    names: tuple
    colors: tuple
    groups: dict = field(default_factory=dict)
    overall_groups: tuple = ()

    def __post_init__(self):
        if len(self.names) != len(self.colors):
            raise ValueError(f"{self.name}: {len(self.names)} names but {len(self.colors)} colours")
        for group, members in self.groups.items():
            unknown = [m for m in members if m not in self.names]
            if unknown:
                raise ValueError(f"{self.name}: group {group!r} names unknown classes {unknown}")

    @property
    def num_classes(self):
        return len(self.names)

    def index(self, class_name):
        """Index of ``class_name``; a ValueError lists the valid names."""
        try:
            return self.names.index(class_name)
        except ValueError:
            raise ValueError(
                f"unknown class {class_name!r} for the {self.name} class map; "
                f"valid names: {', '.join(self.names)}"
            ) from None

    def indices(self, name):
        """The class indices a class name or a group name stands for; a ValueError lists
        both when ``name`` is neither."""
        if name in self.groups:
            return [self.names.index(n) for n in self.groups[name]]
        if name in self.names:
            return [self.names.index(name)]
        raise ValueError(f"{name!r} is neither a class nor a group of the {self.name} class map; classes: "
                         f"{', '.join(self.names)}; groups: {', '.join(self.groups) or 'none'}")

    def palette(self):
        """``(num_classes, 3)`` uint8 colour table, for drawing label maps."""
        return np.asarray(self.colors, dtype=np.uint8)

    def to_dict(self):
        return {"name": self.name, "names": list(self.names), "colors": [list(c) for c in self.colors]}


HELEN = ClassMap(
    name="helen",
    names=("background", "skin", "r_brow", "l_brow", "r_eye", "l_eye", "nose",
           "u_lip", "i_mouth", "l_lip", "hair"),
    colors=((0, 0, 0), (255, 204, 153), (0, 255, 0), (0, 160, 0), (0, 0, 255), (0, 0, 160),
            (255, 255, 0), (255, 0, 0), (255, 0, 255), (160, 0, 0), (102, 51, 0)),
    # The STN-iCNN "overall" F1: facial components only, skin and hair excluded.
    groups={
        "brows": ("r_brow", "l_brow"),
        "eyes": ("r_eye", "l_eye"),
        "nose": ("nose",),
        "u_lip": ("u_lip",),
        "i_mouth": ("i_mouth",),
        "l_lip": ("l_lip",),
        "mouth": ("u_lip", "i_mouth", "l_lip"),
        "lips": ("u_lip", "l_lip"),
        "face": ("skin", "r_brow", "l_brow", "r_eye", "l_eye", "nose", "u_lip", "i_mouth", "l_lip"),
    },
    overall_groups=("brows", "eyes", "nose", "u_lip", "i_mouth", "l_lip", "mouth"),
)

LFW_PL = ClassMap(
    name="lfw_pl",
    names=("background", "skin", "hair"),
    colors=((0, 0, 255), (0, 255, 0), (255, 0, 0)),  # the dataset's own label colours
    groups={"face": ("skin",)},
)

CELEBAMASK = ClassMap(
    name="celebamask",
    names=("background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow",
           "l_ear", "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l",
           "neck", "cloth"),
    colors=((0, 0, 0), (204, 0, 0), (76, 153, 0), (204, 204, 0), (51, 51, 255), (204, 0, 204),
            (0, 255, 255), (255, 204, 204), (102, 51, 0), (255, 0, 0), (102, 204, 0),
            (255, 255, 0), (0, 0, 153), (0, 0, 204), (255, 51, 153), (0, 204, 204),
            (0, 51, 0), (255, 153, 51), (0, 204, 0)),
    # For result.mask(group); CelebAMask-HQ's protocol scores every class on its own.
    groups={
        "brows": ("l_brow", "r_brow"),
        "eyes": ("l_eye", "r_eye"),
        "ears": ("l_ear", "r_ear"),
        "lips": ("u_lip", "l_lip"),
        "mouth": ("mouth", "u_lip", "l_lip"),
        "face": ("skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth",
                 "u_lip", "l_lip"),
    },
)

# CelebAMask-HQ index -> HELEN index (both name sides by the subject); ears go to skin as in HELEN's face-skin region; glasses keep what they cover (eyes
# are labelled under eye_g in CelebAMask-HQ only where visible, so eye_g -> skin);
# hat, earring, necklace, neck and cloth are background in HELEN's scheme.
CELEBAMASK_TO_HELEN = {
    "background": "background", "skin": "skin", "nose": "nose", "eye_g": "skin",
    "l_eye": "l_eye", "r_eye": "r_eye", "l_brow": "l_brow", "r_brow": "r_brow",
    "l_ear": "skin", "r_ear": "skin", "mouth": "i_mouth", "u_lip": "u_lip", "l_lip": "l_lip",
    "hair": "hair", "hat": "background", "ear_r": "background", "neck_l": "background",
    "neck": "background", "cloth": "background",
}

#: iBUG 68-point mirror: index i of a flipped face is point FLIP_68[i] of the original.
FLIP_68 = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 16, -1))  # brows
    + [27, 28, 29, 30] + [35, 34, 33, 32, 31]  # nose
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer mouth
    + [64, 63, 62, 61, 60, 67, 66, 65],  # inner mouth
    dtype=np.int64,
)

#: HELEN's 194-point mirror (Le et al.'s contours; facezoo.data.helen.CONTOURS): index i of a
#: flipped face is point FLIP_194[i] of the original. Jaw and nose run from one side to the
#: other (reversed); the lip lines are closed, started at the image-left corner, so a flip
#: reverses them around it: the inner line's other corner is 100, the outer line's falls
#: between 71 and 72 (71 on 329 of 800 training faces, 72 on 232), so 58 pairs with 71; the
#: eyes and brows are drawn in mirrored directions, so each pairs with the other side's
#: point of the same index. Chosen among every reversal and rotation of each contour as the
#: one the mean training shape matches best (tests/test_helen_contours.py checks it on the data).
FLIP_194 = np.array(
    list(range(40, -1, -1))  # jaw
    + list(range(57, 40, -1))  # nose
    + [58 + (13 - k) % 28 for k in range(28)]  # outer lip line
    + [86 + (14 - k) % 28 for k in range(28)]  # inner lip line
    + list(range(134, 154)) + list(range(114, 134))  # eyes
    + list(range(174, 194)) + list(range(154, 174)),  # brows
    dtype=np.int64,
)

#: The mirror of each point scheme facezoo knows, by its number of points.
MIRRORS = {68: FLIP_68, 194: FLIP_194}

#: The iBUG 68-point scheme's contours, as (first, last, closed): jaw, brows, nose bridge,
#: nostrils, eyes, outer and inner lips (what a landmark overlay joins, and what an
#: along-contour loss follows).
IBUG68_CONTOURS = ((0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
                   (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True))
#: HELEN's 194 points (Le et al.; facezoo.data.helen.CONTOURS): jaw, lower nose, outer and inner
#: lip lines, the subject's left and right eyes, left and right brows.
HELEN194_CONTOURS = ((0, 40, False), (41, 57, False), (58, 85, True), (86, 113, True), (114, 133, True),
                     (134, 153, True), (154, 173, True), (174, 193, True))
#: The contours of each point scheme facezoo knows, by its number of points.
CONTOURS = {68: IBUG68_CONTOURS, 194: HELEN194_CONTOURS}

CLASS_MAPS = {cm.name: cm for cm in (HELEN, LFW_PL, CELEBAMASK)}


def get_class_map(name):
    """The :class:`ClassMap` called ``name`` (``"helen"``, ``"lfw_pl"``, ``"celebamask"``)."""
    if isinstance(name, ClassMap):
        return name
    try:
        return CLASS_MAPS[name]
    except KeyError:
        raise ValueError(f"unknown class map {name!r}; known: {', '.join(CLASS_MAPS)}") from None


def remap_table(source, target, mapping):
    """A lookup table ``lut`` so that ``lut[source_label]`` is the target label.

    ``mapping`` maps source class names to target class names and must cover every
    source class.
    """
    source, target = get_class_map(source), get_class_map(target)
    missing = [n for n in source.names if n not in mapping]
    if missing:
        raise ValueError(f"mapping {source.name} -> {target.name} misses classes {missing}")
    return np.array([target.index(mapping[n]) for n in source.names], dtype=np.int32)


def flip_permutation(class_map):
    """Index permutation that swaps ``l_*`` and ``r_*`` classes (for horizontal flips)."""
    class_map = get_class_map(class_map)
    perm = np.arange(class_map.num_classes)
    for i, name in enumerate(class_map.names):
        for a, b in (("l_", "r_"), ("r_", "l_")):
            if name.startswith(a) and b + name[2:] in class_map.names:
                perm[i] = class_map.index(b + name[2:])
    return perm
