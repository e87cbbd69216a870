"""HELEN's components drawn from a face's 68 landmarks, mixed into a HELEN parser's
probabilities as a prior, scored as `facezoo eval --dataset helen_contours` scores the parser.

    python benchmarks/stn_icnn_contour_prior.py --data ../shared/data/helen68 [--model stn_icnn_helen] \
        [--split val] [--weights 0 0.3 0.45 0.6] [--sigma 2 [1.5 3 ...]] [--json out.json] [--time 10]

Why: HELEN's component labels are polygons through its annotators' 194 contour points, which
run outside the visible eyelids and lip edges where a pixel network follows the image. A
face's 68 points (iBUG's scheme) predict those contours linearly (:class:`ContourPrior`, a
ridge regression in the frame where each face's 68 points sit closest, by a similarity, to
their mean shape); the polygons they draw, blurred by ``--sigma`` pixels, are mixed in as
``(1 - w) p + w q``, ``q`` giving what the drawn classes leave to the others as ``p`` shares
it. The brows are not drawn: iBUG's brows are one line along their top edge.

The map is fitted on the training faces' own annotation (the first 800 of helen68's training
folders; its ridge by 5-fold cross-validation on them). Scored faces (validation by default:
the last 70 training faces) are aligned by their 68 points onto the model's template, labels
drawn from the contours, as ``facezoo eval --dataset helen_contours`` does. Two sources of the
68 points: ``detected`` (facezoo's ``adc_landmarks_300w`` on the aligned crop, as the heatmap
parser ``rtparser_helen`` gets them: deployable) and ``ground_truth`` (the faces' annotated
points: the prior's upper bound through 68 points).

``--error-scale S [S ...]`` (with ``--contour-model``): what better contours would give. For each
S, the contour model's points are moved towards the annotated ones, ``true + S (predicted -
true)`` (S = 0.5: every point's error halved, its direction kept), and drawn as the third
source is: how small the contours' error must be for a target score.

``--time N``: the cost per photo on the first N photos of the split (decoded beforehand,
medians of three passes): ``facezoo.FaceParser`` alone against it plus what the prior adds
(``facezoo.LandmarkDetector`` on the faces it found, the mix of each).
"""

import argparse
import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras import ops

from facezoo.classmaps import HELEN
from facezoo.data.helen import NUM_CONTOUR_POINTS, rasterise_components
from facezoo.layers.shape_correction import _turned, procrustes_mean, ridge_regression, similarity_frame

#: Ridges tried by :func:`fit_on_helen` (in the frame's units: unit RMS radius).
RIDGES = (0.01, 0.1, 1.0, 10.0)

#: The classes a prior from iBUG's 68 points draws: their brows are one line along the top
#: edge, so the brows' polygons are left to the parser (with them the validation score fell).
PRIOR_CLASSES = ("nose", "l_eye", "r_eye", "u_lip", "i_mouth", "l_lip")
#: What HELEN's own 194 points draw (``--contour-model``): every component, their brows being whole.
DRAWN = PRIOR_CLASSES + ("l_brow", "r_brow")


class ContourPrior:
    """A ridge regression from 68 landmarks to HELEN's 194 contour points, in the frame where
    each face's 68 points sit closest (by a similarity) to their mean shape, so that a face's
    position, size and roll do not enter the fit.

    Args:
        reference: ``(68, 2)`` mean shape (centred, unit RMS radius).
        matrix, bias: ``(136, 388)`` and ``(388,)``: the frame's flattened 68 points to the
            frame's flattened 194 points.
    """

    def __init__(self, reference, matrix, bias):
        self.reference = np.asarray(reference, np.float32)
        self.matrix = np.asarray(matrix, np.float64)
        self.bias = np.asarray(bias, np.float64)
        inputs, outputs = 2 * len(self.reference), 2 * NUM_CONTOUR_POINTS
        if self.matrix.shape != (inputs, outputs) or self.bias.shape != (outputs,):
            raise ValueError(f"a contour prior maps {inputs} coordinates to {outputs}; got matrix "
                             f"{self.matrix.shape}, bias {self.bias.shape}")

    @classmethod
    def fit(cls, points, contours, ridge=1.0):
        """Fit on faces' ``points`` ``(N, 68, 2)`` and their ``contours`` ``(N, 194, 2)`` (pixels,
        each pair in one frame). ``ridge`` is in the frame's units (unit RMS radius)."""
        points, contours = np.asarray(points, np.float64), np.asarray(contours, np.float64)
        if points.ndim != 3 or contours.shape != (len(points), NUM_CONTOUR_POINTS, 2) or len(points) < 2:
            raise ValueError(f"fitting needs N >= 2 faces' (N, K, 2) points and (N, {NUM_CONTOUR_POINTS}, 2) "
                             f"contours; got {points.shape} and {contours.shape}")
        reference = procrustes_mean(points)
        return cls(reference, *ridge_regression(*_framed(points, reference, contours), ridge))

    def contours(self, points):
        """HELEN's 194 contour points ``(N, 194, 2)`` of faces' 68 ``points`` ``(N, 68, 2)``, in
        the same pixels."""
        points = np.asarray(points, np.float64)
        frame, centre, a, b = (ops.convert_to_numpy(t).astype(np.float64)
                               for t in similarity_frame(points, self.reference))
        mapped = (frame.reshape(len(points), -1) @ self.matrix + self.bias).reshape(len(points), -1, 2)
        scale = np.maximum(a * a + b * b, 1e-12)
        return ops.convert_to_numpy(_turned(mapped, a / scale, -b / scale)).astype(np.float64) + centre

    def mix(self, probabilities, points, class_names, weight=0.45, sigma=2.0, classes=PRIOR_CLASSES):
        """``probabilities`` ``(H, W, C)`` of one face with the prior drawn from its 68 ``points``
        (pixels of that grid) mixed in (:func:`mix_contours`)."""
        if np.shape(points) != self.reference.shape:
            raise ValueError(f"the contour prior is drawn from {len(self.reference)} (x, y) points; got shape "
                             f"{np.shape(points)}")
        return mix_contours(probabilities, self.contours(np.asarray(points)[None])[0], class_names, weight, sigma,
                            classes)


def mix_contours(probabilities, contours, class_names, weight=0.45, sigma=2.0, classes=PRIOR_CLASSES):
    """``probabilities`` ``(H, W, C)`` of one face with HELEN's components drawn from its 194
    ``contours`` (pixels of that grid) mixed in: ``(1 - weight) p + weight q``, where ``q`` is
    each of ``classes``' polygon blurred by a Gaussian of ``sigma`` pixels, and what those
    leave shared among the other classes as ``p`` shares it. ``class_names`` must hold HELEN's
    names for ``classes``."""
    from PIL import Image, ImageFilter

    probabilities = np.asarray(probabilities, np.float32)
    height, width, count = probabilities.shape
    names = list(class_names)
    missing = [c for c in classes if c not in names]
    if missing:
        raise ValueError(f"the parser has no class {missing} for the contour prior (classes: {names})")
    drawn = rasterise_components(contours, (height, width), unknown=-1)
    prior = np.zeros_like(probabilities)
    for name in classes:
        area = drawn == HELEN.index(name)
        if area.any():
            blurred = Image.fromarray(area.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(sigma))
            prior[..., names.index(name)] = np.asarray(blurred, np.float32) / 255.0
    chosen = [names.index(c) for c in classes]
    others = [i for i in range(count) if i not in chosen]
    left = np.clip(1.0 - prior[..., chosen].sum(-1, keepdims=True), 0.0, 1.0)
    share = probabilities[..., others]
    prior[..., others] = left * share / np.maximum(share.sum(-1, keepdims=True), 1e-6)
    return (1.0 - weight) * probabilities + weight * prior


def _framed(points, reference, contours):
    """Flattened ``(N, 2K)`` points and ``(N, 388)`` contours, both in the points' own frame."""
    frame, centre, a, b = similarity_frame(points, reference)
    target = _turned(ops.cast(contours, "float32") - centre, a, b)
    return tuple(ops.convert_to_numpy(t).astype(np.float64).reshape(len(points), -1) for t in (frame, target))


def annotated_faces(root, split="train"):
    """``(points (N, 68, 2), contours (N, 194, 2))`` of a :class:`~facezoo.data.HelenContours`
    split, in photo pixels, read from the annotation files alone (no image decoded)."""
    from facezoo.data.helen import HelenContours, read_helen_annotation
    from facezoo.data.io import read_pts

    points, contours = [], []
    for _, image_path, annotation_path in HelenContours(root, split).records:
        points.append(read_pts(os.path.splitext(image_path)[0] + ".pts"))
        contours.append(read_helen_annotation(annotation_path)[1])
    return np.stack(points), np.stack(contours)


def fit_on_helen(root, split="train", folds=5):
    """``(prior, ridge, errors)``: a prior fitted on a HELEN split's annotated faces, its
    ridge the one of :data:`RIDGES` with the lowest mean contour-point error (pixels,
    ``errors`` for each) over ``folds``-fold cross-validation on those faces."""
    points, contours = annotated_faces(root, split)
    fold = np.arange(len(points)) % folds
    errors = {}
    for ridge in RIDGES:
        per_fold = []
        for k in range(folds):
            prior = ContourPrior.fit(points[fold != k], contours[fold != k], ridge)
            per_fold.append(np.linalg.norm(prior.contours(points[fold == k]) - contours[fold == k], axis=-1).mean())
        errors[ridge] = float(np.mean(per_fold))
    ridge = min(errors, key=errors.get)
    return ContourPrior.fit(points, contours, ridge), ridge, errors


def pipeline_times(name, photos, prior, weight, sigma, passes=3):
    """Median ms per photo of ``facezoo.FaceParser(name).parse`` and of what the prior would add
    to it: ``facezoo.LandmarkDetector`` on the faces the parser found, and the mix of each
    face's probabilities (timed on its own, the probabilities computed beforehand)."""
    import time

    import facezoo
    from facezoo.align import apply, warp_to_crop
    from facezoo.photos import read_photo

    parser = facezoo.FaceParser(name)
    landmarker = facezoo.LandmarkDetector(detector=parser.detector)
    images = [read_photo(p)[0] for p in photos]
    parser.parse(images[0]), landmarker.detect(images[0])  # warm-up
    times = {"parse": [], "landmarks": [], "mix": []}
    for _ in range(passes):
        for image in images:
            start = time.perf_counter()
            result = parser.parse(image)
            parsed = time.perf_counter()
            found = landmarker.locate(image, [face.detection for face in result.faces]).faces
            located = time.perf_counter()
            faces = [(parser.probabilities(warp_to_crop(image, face.transform, parser.info.input_size)[None])[0],
                      apply(face.transform, points.landmarks)) for face, points in zip(result.faces, found)]
            mixing = time.perf_counter()
            for probabilities, points in faces:
                prior.mix(probabilities, points, parser.info.class_names, weight=weight, sigma=sigma)
            times["parse"].append(parsed - start)
            times["landmarks"].append(located - parsed)
            times["mix"].append(time.perf_counter() - mixing)
    medians = {step: 1000 * float(np.median(t)) for step, t in times.items()}
    total = sum(medians.values())
    print(f"{len(images)} photos x {passes}, ms per photo (medians): parse {medians['parse']:.0f}, "
          f"+ landmarks {medians['landmarks']:.0f}, + mix {medians['mix']:.0f} = {total:.0f} "
          f"({total / medians['parse']:.2f}x the parser alone)")
    return {**medians, "with_prior": total, "ratio": total / medians["parse"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (with annotation/)")
    parser.add_argument("--model", default="stn_icnn_helen")
    parser.add_argument("--split", default="val", help="val (the default: how a setting is chosen) or test")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.3, 0.45, 0.6])
    parser.add_argument("--sigma", type=float, nargs="+", default=[2.0],
                        help="the prior's Gaussian blur(s), pixels of the crop")
    parser.add_argument("--time", type=int, default=0, metavar="N", help="also time the pipeline on N photos")
    parser.add_argument("--json", help="write the scores here")
    parser.add_argument("--contour-model", metavar="PRESET_OR_FILE",
                        help="also a third source: the 194 contour points straight from this landmark model "
                             "(e.g. adc_landmarks_helen194) on the aligned crop, every component drawn, brows too")
    parser.add_argument("--error-scale", type=float, nargs="+", default=[], metavar="S",
                        help="also the contour model's points with their error scaled by S (see above)")
    args = parser.parse_args(argv)
    if args.error_scale and not args.contour_model:
        parser.error("--error-scale scales the error of --contour-model's points")

    import keras
    from tqdm import tqdm

    import facezoo
    from facezoo.evaluate import aligned_helen_contours, contour_tables
    from facezoo.metrics import ConfusionMatrix, helen_scores
    from facezoo.pipeline import aligned_face_points

    prior, ridge, ridge_errors = fit_on_helen(args.data)
    print(f"map fitted on the training faces; ridge {ridge} (5-fold contour error, px: "
          + ", ".join(f"{r}: {e:.2f}" for r, e in ridge_errors.items()) + ")")

    model = facezoo.load(args.model, compile=False)
    faces = aligned_helen_contours(model, args.data, args.split)
    landmarker = facezoo.LandmarkDetector()
    label_table, prediction_table = contour_tables()
    sources = (("detected", "ground_truth") + (("contours",) if args.contour_model else ())
               + tuple(f"contours x{scale:g}" for scale in args.error_scale))
    contour_landmarker = facezoo.LandmarkDetector(args.contour_model) if args.contour_model else None
    settings = [(w, sigma) for w in args.weights for sigma in (args.sigma if w else args.sigma[:1])]
    matrices = {(s, w, sigma): ConfusionMatrix(len(model.class_names)) for s in sources for w, sigma in settings}
    missed = 0
    for index in tqdm(range(len(faces)), desc=f"helen_contours/{args.split}", unit="face"):
        sample = faces[index]
        outputs = model(sample.image[None].astype(np.float32) / 255.0)
        if model.info.output == "logits":  # the prior mixes probabilities
            outputs = keras.ops.softmax(outputs)
        probabilities = keras.ops.convert_to_numpy(outputs)[0]
        true = label_table[sample.labels]
        detected = aligned_face_points(landmarker, model.info, sample.image)
        missed += detected is None
        mixes = {"detected": (detected, prior.mix), "ground_truth": (sample.landmarks, prior.mix)}
        if contour_landmarker is not None:
            contours = aligned_face_points(contour_landmarker, model.info, sample.image)
            missed += contours is None
            draw = lambda p, c, names, **kw: mix_contours(p, c, names, classes=DRAWN, **kw)  # noqa: E731
            mixes["contours"] = (contours, draw)
            for scale in args.error_scale:
                mixes[f"contours x{scale:g}"] = (
                    None if contours is None else sample.contours + scale * (contours - sample.contours), draw)
        for source, (face_points, mix) in mixes.items():
            for weight, sigma in settings:
                mixed = probabilities if face_points is None or weight == 0 else mix(
                    probabilities, face_points, model.class_names, weight=weight, sigma=sigma)
                matrices[(source, weight, sigma)].update(prediction_table[mixed.argmax(-1)], true)

    print(f"{args.model} on helen_contours/{args.split} ({len(faces)} faces; landmarks missed on {missed})")
    results = []
    for (source, weight, sigma), matrix in matrices.items():
        scores = helen_scores(matrix.matrix)
        results.append({"points": source, "weight": weight, "sigma": sigma, "overall": scores["overall"],
                        "strict": scores["overall_strict"], "groups": scores["groups"]})
        groups = " ".join(f"{k} {v:.3f}" for k, v in scores["groups"].items())
        print(f"{source:>14} weight {weight:.2f} sigma {sigma:.1f}: overall {scores['overall']:.4f} "
              f"strict {scores['overall_strict']:.4f} | {groups}", flush=True)
    timing = None
    if args.time:
        chosen = max(args.weights)  # the cost does not depend on the weight
        timing = pipeline_times(args.model, [r[1] for r in faces.records[:args.time]], prior, chosen, args.sigma[0])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": args.model, "split": args.split, "faces": len(faces),
                       "ridge": ridge, "ridge_errors_px": ridge_errors, "missed": missed, "results": results,
                       "ms_per_photo": timing}, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
