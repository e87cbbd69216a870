"""The ``facezoo`` command line.

    facezoo models                                   list the architectures
    facezoo export stn_icnn --format tflite -o stn_icnn.tflite
    facezoo eval icnn --dataset lfw_pl --data DIR --split test [--json FILE]
    facezoo publish icnn_lfw --repo ORG/REPO [--weights FILE.npz] [--private]
    facezoo parse photo.jpg more_photos/ -o parsed/ [--model NAME] [--aligned] [--json] [--quiet]
    facezoo landmarks photo.jpg -o points/ [--model NAME] [--min-score 0.95]

Start-up is light: nothing imports Keras or TensorFlow until a command needs a model
(``facezoo --help`` and ``facezoo models`` never do), and TensorFlow's log lines are kept
off the terminal unless ``--verbose`` (see :mod:`facezoo.quiet`).
"""

import argparse
import json
import os
import sys


def _cmd_models(args):
    from facezoo.registry import ARCHITECTURES, PRESETS

    print("pretrained (facezoo.load(NAME)):")
    for name, preset in sorted(PRESETS.items()):
        status = "no published weights" if preset.unavailable else preset.license.split(":")[0] + " terms"
        print(f"  {name:25s} {preset.description} [{status}]")
    print("architectures (random initialisation):")
    for name, (_, description) in ARCHITECTURES.items():
        print(f"  {name:25s} {description}")
    return 0


def _cmd_export(args):
    from facezoo.export import export
    from facezoo.registry import model_from_name

    model = model_from_name(args.model)
    calibration = None
    if args.calibration:
        calibration = _preprocessed_faces(model, args.calibration)
    result = export(model, args.output, format=args.format, quantize=args.quantize, verbose=False,
                    representative_data=calibration, sample_inputs=None if calibration is None else calibration[:4])
    print(result)
    return 0


def _preprocessed_faces(model, folder, limit=64):
    """Up to ``limit`` face crops from ``folder``, preprocessed for ``model``."""
    import numpy as np
    from PIL import Image

    from facezoo.data.io import IMAGE_EXTENSIONS, DataError, image_files, read_image
    from facezoo.registry import preprocess

    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--calibration: no folder {folder!r}")
    files = image_files(folder)[:limit]
    if not files:
        raise ValueError(f"--calibration: no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    faces = []
    for path in files:
        try:
            faces.append(read_image(path))
        except DataError as error:
            print(f"--calibration: skipping {os.path.basename(path)}: {error}", file=sys.stderr)
    if not faces:
        raise ValueError(f"--calibration: no readable image in {folder}")
    if getattr(model, "preset", None) is not None:
        return np.concatenate([preprocess(face, model.preset) for face in faces])
    height, width = model.input_shape[1:3]  # a bare architecture: RGB in [0, 1]
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR)) for f in faces]) / 255.0


def _cmd_eval(args):
    from facezoo.evaluate import run_eval_command

    return run_eval_command(args)


def _cmd_publish(args):
    from facezoo.hub import publish

    print(publish(args.model, args.repo, weights=args.weights, private=args.private))
    return 0


def _image_files(inputs):
    """(path, error) pairs for the files named or found in the folders named."""
    from facezoo.data.io import IMAGE_EXTENSIONS, image_files

    for item in inputs:
        if os.path.isdir(item):
            found = image_files(item)
            if not found:
                yield item, f"no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder"
            for path in found:
                yield path, None
        else:
            yield item, None


def _for_each_photo(args, work):
    """Run ``work(path, photo, stem) -> (result, written paths)`` on every input photo with
    a progress bar; a file that fails is reported and skipped. Exit status 1 if any failed.

    Per photo it prints one line naming the files written, or with ``--json`` the
    result's JSON (plus ``"outputs"``) as one line on stdout; ``--quiet`` prints only
    errors."""
    from tqdm import tqdm

    from facezoo.data.io import DataError
    from facezoo.photos import as_rgb

    files = list(_image_files(args.inputs))
    failed, stems = 0, set()
    for path, error in tqdm(files, desc=args.command, unit="photo", disable=len(files) < 2 or args.quiet or args.json):
        if error is None:
            try:
                photo = as_rgb(path)
                base = stem = os.path.splitext(os.path.basename(path))[0]
                copy = 1
                while stem in stems:  # same name from another folder: do not overwrite
                    stem, copy = f"{base}_{copy}", copy + 1
                stems.add(stem)
                result, written = work(path, photo, stem)
                if args.json:
                    print(json.dumps({**result.to_json(), "outputs": written}), flush=True)
                elif not args.quiet:
                    tqdm.write(f"{path}: {'; '.join(result.notes) or _faces(len(result.faces))} -> "
                               + ", ".join(written.values()))
                continue
            except (DataError, ValueError, OSError) as problem:
                error = str(problem)
        failed += 1
        tqdm.write(f"facezoo {args.command}: skipped {path}: {error}", file=sys.stderr)
    if not (args.quiet or args.json):
        print(f"{args.command}: {len(files) - failed} of {len(files)} input(s) done with {args.model} into "
              f"{args.output}" + (f"; {failed} failed" if failed else ""))
    return 1 if failed else 0


def _faces(count):
    return f"{count} face{'s' * (count != 1)}"


def _cmd_parse(args):
    from facezoo.pipeline import FaceParser

    parser = FaceParser(args.model, max_faces=args.max_faces, min_score=args.min_score, aligned=args.aligned)

    def work(path, photo, stem):
        result = parser.parse(photo)
        result.source = path
        return result, result.save(args.output, stem)

    return _for_each_photo(args, work)


def _cmd_landmarks(args):
    from facezoo.pipeline import LandmarkDetector

    detector = LandmarkDetector(args.model, max_faces=args.max_faces, min_score=args.min_score)

    def work(path, photo, stem):
        result = detector.detect(photo)
        result.source = path
        return result, result.save(args.output, stem)

    return _for_each_photo(args, work)


def _score(value):
    score = float(value)
    if not 0.0 <= score <= 1.0:
        raise argparse.ArgumentTypeError(f"a detection confidence in [0, 1], got {value}")
    return score


def _photo_options(p):
    """Options that `parse` and `landmarks` share."""
    p.add_argument("--max-faces", type=int, default=32, help="at most this many faces per photo")
    p.add_argument("--min-score", type=_score, default=None, metavar="S",
                   help="drop detections less confident than S (MTCNN keeps 0.9 and above by default)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print one JSON line per photo on stdout")
    shown.add_argument("--quiet", action="store_true", help="print errors only")


def build_parser():
    parser = argparse.ArgumentParser(prog="facezoo", description="Face parsing and landmarks for Keras 3.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="let TensorFlow's own log lines through")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, **kwargs):
        return sub.add_parser(name, parents=[common], **kwargs)

    p = add("models", help="list the available models")
    p.set_defaults(func=_cmd_models)

    p = add("export", help="export a model to TFLite, ONNX or a SavedModel, verified against Keras")
    p.add_argument("model", help="model name (see `facezoo models`)")
    p.add_argument("--format", choices=["tflite", "onnx", "saved_model"], default="tflite")
    p.add_argument("-o", "--output", required=True, help="output file (or directory for saved_model)")
    p.add_argument("--quantize", choices=["fp16", "int8"], default=None, help="TFLite only")
    p.add_argument("--calibration", default=None, metavar="DIR",
                   help="folder of face crops for int8 calibration and the parity check (up to 64 used)")
    p.set_defaults(func=_cmd_export)

    p = add("eval", help="evaluate a model on a dataset with the paper's protocol")
    p.add_argument("model", help="model name (see `facezoo models`), a .keras file or a facezoo .npz checkpoint")
    p.add_argument("--dataset", required=True, choices=["helen", "lfw_pl", "celebamask", "300w"])
    p.add_argument("--data", required=True, help="dataset root folder")
    p.add_argument("--split", default="test")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.add_argument("--resolution", default=None, type=lambda v: v if v == "full" else int(v),
                   help="300w only: give faces to the model at R x R pixels, or 'full' (their own size)")
    p.set_defaults(func=_cmd_eval)

    p = add("publish", help="upload a checkpoint, its config and model card to the Hugging Face Hub")
    p.add_argument("model", help="preset name (see `facezoo models`)")
    p.add_argument("--repo", required=True, help="Hub repository ORG/REPO (created if missing)")
    p.add_argument("--weights", default=None, help="a facezoo .npz checkpoint to publish instead of the shipped one")
    p.add_argument("--private", action="store_true")
    p.set_defaults(func=_cmd_publish)

    p = add("parse", help="parse the faces in photos: labels PNG, overlay PNG and JSON per photo")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="photos, or folders of photos")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--model", default="stn_icnn_celebamask", help="parsing preset (see `facezoo models`)")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops: skip detection")
    _photo_options(p)
    p.set_defaults(func=_cmd_parse)

    p = add("landmarks", help="68 landmarks of the faces in photos: JSON and one .pts per face")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="photos, or folders of photos")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--model", default="adc_landmarks_300w", help="landmark preset (see `facezoo models`)")
    _photo_options(p)
    p.set_defaults(func=_cmd_landmarks)
    return parser


def main(argv=None):
    from facezoo.quiet import native_logs_silenced

    parser = build_parser()
    args = parser.parse_args(argv)
    with native_logs_silenced(enabled=not args.verbose):
        try:
            return args.func(args)
        except (ValueError, FileNotFoundError, TypeError, RuntimeError, OSError) as error:
            print(f"facezoo {args.command}: error: {error}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
