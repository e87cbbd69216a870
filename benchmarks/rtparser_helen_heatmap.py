"""Wei et al.'s landmark-heatmap input, measured: the real-time parser on HELEN's components
with and without the heatmap channel, on the same faces, same protocol.

    facezoo landmarks ../shared/data/helen68/testset -o runs/landmarks_helen_test
    python benchmarks/rtparser_helen_heatmap.py --data ../shared/data/helen68 --split test \\
        --plain runs/rtparser_helen/final.keras --heatmap runs/rtparser_helen_heatmap/final.keras \\
        --landmarks runs/landmarks_helen_test [--json benchmarks/results/rtparser_helen_heatmap.json]

Both models were trained by ``recipes/rtparser.py --dataset helen`` (the heatmap one with
``--heatmap``, drawn from the ground-truth 68 points of the training faces). Here each
test face is aligned by its ground-truth 68 points onto the stn_icnn_celebamask template
(as ``facezoo eval ... --dataset helen_contours`` does) and given at 256x256; the heatmap
model gets its points from facezoo's own landmark model run on the photo
(``facezoo landmarks``, detection included; the face whose points lie nearest the
annotated face is taken), mapped into the crop, and, as an upper bound only, from the
ground truth. HELEN protocol on labels drawn from the contours (skin and hair not scored).
"""

import argparse
import glob
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from facezoo.align import apply, similarity_transform, warp_to_crop  # noqa: E402
from facezoo.classmaps import HELEN  # noqa: E402
from facezoo.data.helen import HelenContours, five_keypoints, rasterise_components  # noqa: E402
from facezoo.data.io import read_pts  # noqa: E402
from facezoo.evaluate import contour_tables  # noqa: E402
from facezoo.metrics import ConfusionMatrix, helen_scores  # noqa: E402
from facezoo.models.rtparser import landmark_heatmap  # noqa: E402
from facezoo.registry import get_preset  # noqa: E402

CROP = (512, 512)


def predicted_points(folder, stem, truth):
    """The points facezoo's landmark pipeline found for the annotated face (nearest centre)."""
    best, distance = None, np.inf
    for path in glob.glob(os.path.join(folder, f"{stem}_face*.pts")):
        points = read_pts(path)
        d = np.linalg.norm(points.mean(0) - truth.mean(0))
        if d < distance:
            best, distance = points, d
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--plain", required=True)
    parser.add_argument("--heatmap", required=True)
    parser.add_argument("--landmarks", required=True, help="what `facezoo landmarks PHOTOS -o DIR` wrote")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    faces = HelenContours(args.data, args.split, unknown=0)
    template = np.asarray(get_preset("stn_icnn_celebamask").alignment["keypoints"]) * CROP
    plain, heat = keras.models.load_model(args.plain), keras.models.load_model(args.heatmap)
    size = tuple(plain.input_shape[1:3])
    _, to_protocol = contour_tables()
    rows = {"without heatmap": ConfusionMatrix(HELEN.num_classes),
            "heatmap from facezoo's landmarks": ConfusionMatrix(HELEN.num_classes),
            "heatmap from ground truth (upper bound)": ConfusionMatrix(HELEN.num_classes)}
    missed = []
    scale = np.array([size[1] / CROP[1], size[0] / CROP[0]])
    for index in tqdm(range(len(faces)), desc="scoring"):
        sample = faces[index]
        transform = similarity_transform(five_keypoints(sample.landmarks), template)
        crop = warp_to_crop(sample.image, transform, CROP)
        labels = rasterise_components(apply(transform, sample.contours), CROP, unknown=0)
        # resized as the recipe's ParsingSequence resizes training faces (PIL bilinear)
        small = np.asarray(Image.fromarray(crop).resize(size[::-1], Image.BILINEAR))[None].astype("float32") / 255.0
        found = predicted_points(args.landmarks, sample.id, sample.landmarks)
        if found is None:
            missed.append(sample.id)
        inputs = {"without heatmap": (plain, None),
                  "heatmap from facezoo's landmarks": (heat, found),
                  "heatmap from ground truth (upper bound)": (heat, sample.landmarks)}
        for name, (model, points) in inputs.items():
            x = small
            if model is heat:
                in_crop = np.zeros((0, 2)) if points is None else (apply(transform, points) + 0.5) * scale - 0.5
                x = np.concatenate([small, landmark_heatmap(in_crop, size)[None, ..., None]], -1)
            logits = keras.ops.convert_to_numpy(model.predict_on_batch(x))
            up = keras.ops.convert_to_numpy(keras.ops.image.resize(logits, CROP))[0]
            rows[name].update(to_protocol[up.argmax(-1)], labels)
    results = {}
    for name, cm in rows.items():
        scores = helen_scores(cm.matrix)
        results[name] = {**scores["groups"], "overall": scores["overall"], "overall_strict": scores["overall_strict"]}
    columns = ("brows", "eyes", "nose", "u_lip", "i_mouth", "l_lip", "mouth", "overall", "overall_strict")
    print(f"{len(faces)} faces of {args.split}; facezoo's landmark pipeline missed {len(missed)} "
          "(their heatmap is empty)")
    print(f"{'input':<42}" + "".join(f"{c[:9]:>10}" for c in columns))
    for name, row in results.items():
        print(f"{name:<42}" + "".join(f"{row[c]:10.4f}" for c in columns))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"data": args.data, "split": args.split, "faces": len(faces), "missed": missed,
                       "plain": args.plain, "heatmap": args.heatmap, "rows": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
