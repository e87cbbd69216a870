"""facezoo's MTCNN detector against the ``mtcnn`` package's own stages, on the same photos.

    python benchmarks/mtcnn_detection.py --data ../shared/data/helen68 [--limit N] [--threads 1] \\
        [--json benchmarks/results/mtcnn_detection.json]

Both run the package's three networks compiled (``tf.function``) and search each photo at
``MTCNNDetector``'s settings (at most 1024 pixels a side, faces from 20 pixels, O-Net score
0.9); they differ only in what the stages are handed: the package's float64 array of the
photo, which TensorFlow converts again for each pyramid scale and each patch stage, or
facezoo's one float32 tensor per photo (``facezoo.detect._PhotoAsTensor``). Prints, over the
photos of ``helen68/testset``: faces found by each, photos where the counts differ, the
largest box or keypoint difference (pixels) and score difference, and the time per photo of each (one thread, the
two called in turn on every photo, so a slow spell of the machine hits both alike), with their
ratio. Photos are decoded before timing.
"""

import argparse
import glob
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (its testset/ photos are searched)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads (0: its default)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    paths = sorted(glob.glob(os.path.join(args.data, "testset", "*.jpg")))[:args.limit]
    if not paths:
        raise SystemExit(f"no photos under {os.path.join(args.data, 'testset')}")

    import numpy as np
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from facezoo.data.io import read_image
    from facezoo.detect import MTCNNDetector, _compiled_mtcnn

    package = MTCNNDetector()
    package._mtcnn = _compiled_mtcnn(one_photo_tensor=False)  # the package's stages, facezoo's compiled networks
    detectors = {"package": package, "facezoo": MTCNNDetector()}
    seconds, found = {key: 0.0 for key in detectors}, {key: 0 for key in detectors}
    differing, largest, largest_score = [], 0.0, 0.0
    first = read_image(paths[0])
    for detector in detectors.values():
        detector(first)  # tracing
    for index, path in enumerate(paths):
        image = read_image(path)
        faces = {}
        for key in (list(detectors) if index % 2 == 0 else list(detectors)[::-1]):  # alternate who goes first
            start = time.process_time()
            faces[key] = detectors[key](image)
            seconds[key] += time.process_time() - start
            found[key] += len(faces[key])
        if len(faces["package"]) != len(faces["facezoo"]):
            differing.append(os.path.basename(path))
            continue
        for a, b in zip(faces["package"], faces["facezoo"]):
            largest = max(largest, float(np.abs(np.subtract(a.box, b.box)).max()),
                          float(np.abs(a.keypoints - b.keypoints).max()))
            largest_score = max(largest_score, abs(a.score - b.score))
    ms = {key: 1000 * value / len(paths) for key, value in seconds.items()}
    report = {"command": "python benchmarks/mtcnn_detection.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "photos": len(paths), "threads": args.threads, "faces_found": found, "photos_differing": differing,
              "largest_difference_px": largest, "largest_score_difference": largest_score, "cpu_ms_per_photo": ms,
              "ratio_facezoo_to_package": ms["facezoo"] / ms["package"]}
    print(f"{len(paths)} photos; faces found: package {found['package']}, facezoo {found['facezoo']}; "
          f"photos where they differ: {len(differing)}; largest box/keypoint difference {largest:.4f} px "
          f"(the package gives whole pixels), largest score difference {largest_score:.2g}")
    print(f"CPU ms per photo ({args.threads or 'default'} thread(s), called in turn): package stages "
          f"{ms['package']:.1f}, facezoo {ms['facezoo']:.1f} ({report['ratio_facezoo_to_package']:.2f}x)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
