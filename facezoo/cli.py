"""The ``facezoo`` command line.

    facezoo models                                   list the architectures
    facezoo export stn_icnn --format tflite -o stn_icnn.tflite
    facezoo eval icnn --dataset lfw_pl --data DIR --split test [--json FILE]
    facezoo publish icnn_lfw --repo ORG/REPO [--weights FILE.npz] [--private]
    facezoo publish my_finetune.keras --repo ORG/REPO
    facezoo --version                                (python -m facezoo works too)
    facezoo parse photo.jpg more_photos/ -o parsed/ [--model NAME] [--aligned] [--min-score 0.8] [--json] [--quiet]
    facezoo parse more_photos/ -o parsed/ --skip-existing    resume: photos already done are left
    facezoo landmarks photo.jpg -o points/ [--model NAME] [--min-score 0.95] [--aligned] [--overlay]

Start-up is light: nothing imports Keras or TensorFlow until a command needs a model
(``facezoo --help``, ``--version`` and ``facezoo models`` never do: the presets name their
classes), and TensorFlow's log lines are kept off the terminal unless ``--verbose`` (see
:mod:`facezoo.quiet`).
"""

import argparse
import contextlib
import json
import os
import signal
import sys
import warnings


def _cmd_models(args):
    from facezoo.registry import ARCHITECTURES, PRESETS

    print("pretrained (facezoo.load(NAME)):")
    for name, preset in sorted(PRESETS.items()):
        # every dataset whose terms bind the weights (a fine-tune carries its start's terms too)
        sources = [part.split(":")[0].strip() for part in preset.license.split(";") if ":" in part]
        sources = [s + ")" * (s.count("(") - s.count(")")) for s in sources]  # "predictor (iBUG 300-W: ...)"
        status = "no published weights" if preset.unavailable else " + ".join(sources) + " terms"
        print(f"  {name:25s} {preset.description} [{status}]")
    print("architectures (random initialisation):")
    for name, description in ARCHITECTURES.descriptions().items():  # names only: imports no model (no Keras)
        print(f"  {name:25s} {description}")
    return 0


def _cmd_export(args):
    from facezoo.export import check_arguments, export
    from facezoo.presets import ARCHITECTURES, PRESETS
    from facezoo.registry import model_from_name

    # the format (from -o's suffix unless given), quantization and target: before the model loads
    args.format = check_arguments(args.output, args.format, args.quantize)
    model = model_from_name(args.model)
    if args.model in ARCHITECTURES and args.model not in PRESETS:
        print(f"facezoo export: note: {args.model} is an architecture, not a preset: its weights are random "
              "(untrained). Export a preset (`facezoo models`) or a trained .keras/.npz file for a useful model",
              file=sys.stderr)
    calibration = check = None
    if args.calibration:
        calibration = check = _preprocessed_faces(model, args.calibration)
        if args.quantize != "int8":
            said = f"checking the file on {min(4, len(check))} face(s) from {args.calibration}"
        elif len(calibration) >= 8:  # the parity check on faces the file was not calibrated on
            calibration, check = calibration[:-4], calibration[-4:]
            said = f"calibrating on {len(calibration)} face(s) from {args.calibration}, checking on 4 others"
        else:
            said = (f"calibrating on {len(calibration)} face(s) from {args.calibration}; fewer than 8, so the check "
                    "reuses them (16 or more make a sounder file)")
        print(f"facezoo export: {said}", file=sys.stderr)
    elif args.quantize == "int8":  # said here in the command line's terms, not as export()'s warning
        print("facezoo export: note: int8 without --calibration DIR calibrates on noise; give a folder of "
              "face crops for a useful file", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="int8 export calibrated on the sample inputs")
        result = export(model, args.output, format=args.format, quantize=args.quantize, verbose=False,
                        representative_data=calibration if args.quantize == "int8" else None,
                        sample_inputs=None if check is None else check[:4])
    print(result)
    return 0


def _preprocessed_faces(model, folder, limit=64):
    """Up to ``limit`` faces from the photos or face crops in ``folder``, as ``model``'s inputs."""
    import numpy as np
    from PIL import Image

    from facezoo.data.io import IMAGE_EXTENSIONS, DataError, image_files, read_image
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
    if getattr(model, "info", None) is not None:
        from facezoo.data.base import Sample
        from facezoo.data.feeding import pad_to_square
        from facezoo.pipeline import FaceParser, LandmarkDetector

        # faces in photos: found and aligned as `facezoo parse` / `landmarks` give them to the model;
        # an image with no face found is taken as a face crop (as `parse --aligned` takes one)
        parsing = model.info.task == "parsing"
        # a model without an alignment template (a bare architecture) takes every image as a crop
        finder = (FaceParser(model) if parsing else LandmarkDetector(model)) if model.info.alignment else None
        aligned = []  # the parser for crops, built once if needed (a heatmap parser's with the finder's landmarks)

        def as_crop(image):
            if not parsing:
                return model.preprocess(pad_to_square(Sample("crop", image))[0].image, resize=True)
            if not aligned:
                aligned.append(FaceParser(model, aligned=True, landmarks=getattr(finder, "landmarker", None)))
            return aligned[0].aligned_input(image)

        inputs, counts = [], [0, 0]
        for face in faces:
            found = finder.face_inputs(face) if finder is not None else []
            counts[not len(found)] += 1
            inputs.append(found if len(found) else as_crop(face))
        print(f"--calibration: {counts[0]} image(s) with faces found and aligned as `facezoo "
              f"{'parse' if parsing else 'landmarks'}` does, {counts[1]} with none found taken as face crops",
              file=sys.stderr)
        return np.concatenate(inputs)[:limit]
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
    """(path, error) pairs for the files named or found in the folders named; what
    facezoo wrote itself (outputs, temporary files) is left out, with a note."""
    from facezoo.data.io import IMAGE_EXTENSIONS, image_files
    from facezoo.outputs import is_own_output

    for item in inputs:
        if not os.path.exists(item):
            yield item, "no such image file or folder"
            continue
        found = image_files(item) if os.path.isdir(item) else [item]
        own = [path for path in found if is_own_output(path)]
        if own:
            print(f"facezoo: left out {len(own)} file(s) facezoo wrote itself in {os.path.dirname(own[0]) or '.'} "
                  f"(e.g. {os.path.basename(own[0])})", file=sys.stderr)
        if os.path.isdir(item) and len(own) == len(found):
            yield item, f"no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder"
        for path in found:
            if path not in own:
                yield path, _unreadable(path)


def _unreadable(path):
    """Why ``path`` cannot be read as an image, from its header alone (cheap: before the
    model loads, so a run of nothing but unreadable files writes nothing), or None."""
    from PIL import Image, UnidentifiedImageError

    if os.path.isfile(path) and os.path.getsize(path) == 0:
        return "an empty file (0 bytes)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path):
                return None
    except Image.DecompressionBombError:
        return None  # an image, too large: the reader says so, with facezoo's limit
    except UnidentifiedImageError:
        return "not an image file (no image format recognised)"
    except (OSError, ValueError) as error:
        return f"cannot be read: {error}"


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (``kill``, a job scheduler) ends the work like Ctrl-C: temporary files are
    removed and the summary is printed."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _nothing_to_do(args):
    """Exit status 1 with each input's problem when no input names an image (a wrong path,
    an empty folder), before the output folder is made or the model loads; else None (the
    inputs found are kept in ``args.files``)."""
    args.files = list(_image_files(args.inputs))
    if any(error is None for _, error in args.files):
        return None
    for path, error in args.files:
        print(f"facezoo {args.command}: {path}: {error}", file=sys.stderr)
    print(f"facezoo {args.command}: nothing to do (no image among the inputs); nothing written", file=sys.stderr)
    return 1


def _prepare_output(args):
    """Check ``-o`` can be written (creating it) and clean what killed runs left there,
    before the model loads, so a bad folder fails at once."""
    from facezoo.outputs import prepare_folder

    removed = prepare_folder(args.output)
    if removed:
        print(f"facezoo {args.command}: removed {len(removed)} temporary file(s) an interrupted run left in "
              f"{args.output}", file=sys.stderr)


def _for_each_photo(args, work, files_per_photo):
    """Run ``work(path, photo, stem, notes) -> (result, written paths)`` on every input
    photo with a progress bar (the inputs listed by :func:`_nothing_to_do`, the output folder
    checked by :func:`_prepare_output`).

    A file that fails is reported and skipped; with ``--skip-existing`` a photo whose
    outputs (``files_per_photo`` patterns) are complete from the same model is skipped.
    The summary counts photos done, photos without a face, skipped and failed ones; Ctrl-C
    or SIGTERM end it early with the same summary. Exit status 1 if any failed, 130 if
    interrupted.

    Per photo it prints one line naming the files written, or with ``--json`` the
    result's JSON (plus ``"outputs"``) as one line on stdout (and no summary); ``--quiet``
    prints only errors (and, if interrupted, the summary on stderr)."""
    from tqdm import tqdm

    from facezoo import outputs
    from facezoo.data.io import DataError
    from facezoo.photos import read_photo

    files = args.files  # listed by _nothing_to_do, before the model loaded
    done, no_face, skipped, replaced, failed, stems = 0, 0, 0, 0, 0, set()
    interrupted = False
    silent = args.quiet or args.json
    with _terminate_as_interrupt():
        try:
            for path, error in tqdm(files, desc=args.command, unit="photo", disable=len(files) < 2 or silent
                                    or not sys.stderr.isatty()):
                if error is None:
                    base = stem = os.path.splitext(os.path.basename(path))[0]
                    copy = 1
                    while stem in stems:  # same name from another folder: do not overwrite
                        stem, copy = f"{base}_{copy}", copy + 1
                    stems.add(stem)
                    if args.skip_existing and outputs.finished(args.output, stem, files_per_photo, path, args.model,
                                                               args.model_file):
                        skipped += 1
                        continue
                    replaced += os.path.exists(os.path.join(args.output, f"{stem}.json"))
                    try:
                        photo, notes = read_photo(path)
                        result, written = work(path, photo, stem, notes)
                        no_face += not result.faces
                        done += bool(result.faces)
                        if args.json:
                            print(json.dumps({**result.to_json(), "outputs": written}), flush=True)
                        elif not args.quiet:
                            said = result.notes if not result.faces else [_faces(len(result.faces)), *result.notes]
                            tqdm.write(f"{path}: {'; '.join(said)} -> {', '.join(written.values())}")
                        continue
                    except (DataError, ValueError, OSError, MemoryError) as problem:
                        error = str(problem)
                failed += 1
                error = error[len(f"{path}: "):] if error.startswith(f"{path}: ") else error  # said once
                tqdm.write(f"facezoo {args.command}: skipped {path}: {error}", file=sys.stderr)
        except KeyboardInterrupt:
            interrupted = True
    parts = [f"{done} of {len(files)} input(s) done with {args.model} into {args.output}"]
    if no_face:
        parts.append(f"{no_face} with no face found" + (
            "" if getattr(args, "aligned", False) else
            f" (MTCNN score below --min-score {args.min_score}; lower it for tight crops, or pass --aligned)"))
    if skipped:
        parts.append(f"{skipped} already done, skipped")
    if replaced:
        parts.append(f"{replaced} earlier output(s) replaced " + (
            "(from another model, or incomplete)" if args.skip_existing else "(--skip-existing keeps them)"))
    if failed:
        parts.append(f"{failed} failed")
    if interrupted:
        print(f"{args.command}: interrupted; " + "; ".join(parts) + "; rerun with --skip-existing to go on",
              file=sys.stderr if silent else sys.stdout)
        return 130
    if not silent:
        print(f"{args.command}: " + "; ".join(parts))
    return 1 if failed else 0


def _faces(count):
    return f"{count} face{'s' * (count != 1)}"


def _model_file(name):
    """What outputs record of a ``--model`` that is not a preset: ``{"path", "sha256"}`` of the
    file (a fine-tune retrained in place is another model), ``{"path"}`` of an hf:// address,
    else None (a preset: its name is recorded)."""
    from facezoo.download import sha256_of
    from facezoo.registry import PRESETS

    if name in PRESETS:
        return None
    if name.startswith("hf://"):
        return {"path": name}
    return {"path": os.path.abspath(name), "sha256": sha256_of(name)}


def _check_task(name, task):
    """ValueError unless preset ``name`` is a ``task`` model (before anything is loaded; a
    model file or hf:// repository is checked once loaded, by facezoo.parse/landmarks)."""
    from facezoo.registry import MODEL_FILES, PRESETS, get_preset

    if name not in PRESETS:
        if name.startswith("hf://"):
            return
        if name.endswith(MODEL_FILES):
            if not os.path.isfile(name):
                raise FileNotFoundError(f"no model file {name!r}")
            return
        if os.path.exists(name):
            raise ValueError(f"--model {name!r} is neither a preset nor a model file ({', '.join(MODEL_FILES)})")
    preset = get_preset(name)
    if preset.task != task:
        other = {"parsing": "parse", "landmarks": "landmarks"}[preset.task]
        raise ValueError(f"{name} is a {preset.task} model, not a {task} one; use `facezoo {other} --model {name}`")


def _cmd_parse(args):
    from facezoo.outputs import PARSE_FILES
    from facezoo.pipeline import FaceParser

    _check_task(args.model, "parsing")
    if args.smoothing and args.aligned:
        raise ValueError("--smoothing follows faces found by the detector; it cannot be used with --aligned")
    if _nothing_to_do(args):
        return 1
    _prepare_output(args)
    parser = FaceParser(args.model, max_faces=args.max_faces, min_score=args.min_score, aligned=args.aligned)
    args.model_file = _model_file(args.model)  # what the outputs record of a model file (hashed once)
    parse = parser.tracker(args.smoothing) if args.smoothing else parser.parse

    def work(path, photo, stem, notes):
        result = parse(photo)
        result.source, result.notes = path, notes + result.notes
        result.model_file = args.model_file
        return result, result.save(args.output, stem)

    return _for_each_photo(args, work, PARSE_FILES)


def _cmd_landmarks(args):
    from facezoo.outputs import LANDMARK_FILES, LANDMARK_OVERLAY
    from facezoo.pipeline import LandmarkDetector

    _check_task(args.model, "landmarks")
    if args.smoothing and args.aligned:
        raise ValueError("--smoothing follows faces found by the detector; it cannot be used with --aligned")
    if _nothing_to_do(args):
        return 1
    _prepare_output(args)
    detector = LandmarkDetector(args.model, max_faces=args.max_faces, min_score=args.min_score, aligned=args.aligned)
    args.model_file = _model_file(args.model)  # what the outputs record of a model file (hashed once)
    detect = detector.tracker(args.smoothing) if args.smoothing else detector.detect

    def work(path, photo, stem, notes):
        result = detect(photo)
        result.source, result.notes = path, notes + result.notes
        result.model_file = args.model_file
        return result, result.save(args.output, stem, overlay=args.overlay)

    return _for_each_photo(args, work, LANDMARK_FILES + ((LANDMARK_OVERLAY,) if args.overlay else ()))


def _whole(minimum):
    """argparse type: a whole number >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _score(text):
    """argparse type: a detection score in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _weight(text):
    """argparse type: a smoothing weight in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def _resolution(text):
    """argparse type for ``eval --resolution``: ``full`` or a whole number >= 16."""
    return text if text == "full" else _whole(16)(text)


def _add_photo_options(p, max_faces_help):
    """Options shared by ``parse`` and ``landmarks``."""
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="photos, or folders of photos")
    p.add_argument("-o", "--output", required=True, help="output folder (created; checked writable before any work)")
    p.add_argument("--max-faces", type=_whole(1), default=32, help=max_faces_help)
    p.add_argument("--min-score", type=_score, default=0.9,
                   help="smallest MTCNN confidence accepted as a face (default 0.9; tight crops can score 0.85)")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave photos whose outputs are complete from the same model (resume an interrupted run)")
    p.add_argument("--smoothing", type=_weight, default=0.0, metavar="W",
                   help="the inputs are the frames of one video, in name order (zero-padded numbers, as "
                        "`ffmpeg -i clip.mp4 frames/%%05d.png` writes them): each face's box, keypoints and "
                        "landmarks are averaged with the previous frame's, weight W in [0, 1) (default 0: "
                        "photos are independent)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print one JSON line per photo on stdout (no summary)")
    shown.add_argument("--quiet", action="store_true", help="print errors only")


def build_parser():
    from facezoo import __version__

    parser = argparse.ArgumentParser(prog="facezoo", description="Face parsing and landmarks for Keras 3.")
    parser.add_argument("--version", action="version", version=f"facezoo {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="let TensorFlow's own log lines through")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, **kwargs):
        return sub.add_parser(name, parents=[common], **kwargs)

    p = add("models", help="list the available models")
    p.set_defaults(func=_cmd_models)

    p = add("export", help="export a model to TFLite, ONNX or a SavedModel, verified against Keras")
    p.add_argument("model", help="model name (see `facezoo models`) or a saved model file (.keras/.npz)")
    p.add_argument("--format", choices=["tflite", "onnx", "saved_model"], default=None,
                   help="default: from the output's suffix (.tflite, .onnx; a directory: saved_model)")
    p.add_argument("-o", "--output", required=True, help="output file (or directory for saved_model)")
    p.add_argument("--quantize", choices=["fp16", "dynamic", "int8"], default=None,
                   help="TFLite only: fp16 weights; dynamic = int8 weights, no calibration; int8 = calibrated "
                        "(refused when the file loses classes, as STN-iCNN's does, or moves a landmark model's "
                        "points, as the landmark models' do: use dynamic there)")
    p.add_argument("--calibration", default=None, metavar="DIR",
                   help="folder of photos or face crops for int8 calibration and the parity check (up to 64 "
                        "faces: those found are aligned as parse/landmarks do, an image with none found is taken "
                        "as a crop)")
    p.set_defaults(func=_cmd_export)

    p = add("eval", help="evaluate a model on a dataset with the paper's protocol")
    p.add_argument("model", help="model name (see `facezoo models`), a .keras file or a facezoo .npz checkpoint")
    p.add_argument("--dataset", required=True,
                   choices=["helen", "helen_contours", "lfw_pl", "celebamask", "300w", "helen194"],
                   help="300w: 68 landmarks (.pts beside each image); helen194: HELEN's own 194 contour points "
                        "(annotation/ of a helen68 folder); the others parse")
    p.add_argument("--data", required=True, help="dataset root folder")
    p.add_argument("--split", default="test")
    p.add_argument("--batch-size", type=_whole(1), default=8)
    p.add_argument("--limit", type=_whole(1), default=None, help="evaluate only the first N samples")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.add_argument("--resolution", default=None, type=_resolution,
                   help="landmarks only: give faces to the model at R x R pixels, or 'full' (their own size)")
    p.add_argument("--heatmap-points", default="detected", choices=["detected", "ground_truth"],
                   help="a parser with a landmark-heatmap input (Wei et al.): draw it from facezoo's landmark "
                        "model (adc_landmarks_300w) on the face the model's template puts in each crop "
                        "(default) or from the dataset's own 68 points (an upper bound)")
    p.set_defaults(func=_cmd_eval)

    p = add("publish", help="upload a checkpoint, its config and model card to the Hugging Face Hub")
    p.add_argument("model", help="preset name (see `facezoo models`), or a .keras/.npz file of a facezoo model "
                                 "(a fine-tune: its classes and preprocessing travel with it)")
    p.add_argument("--repo", required=True, help="Hub repository ORG/REPO (created if missing)")
    p.add_argument("--weights", default=None, help="a facezoo .npz checkpoint to publish instead of the shipped one")
    p.add_argument("--private", action="store_true")
    p.set_defaults(func=_cmd_publish)

    p = add("parse", help="parse the faces in photos: labels PNG, overlay PNG and JSON per photo")
    _add_photo_options(p, "parse at most this many faces per photo")
    p.add_argument("--model", default="stn_icnn_celebamask",
                   help="parsing preset or a saved model file (.keras/.npz) (default stn_icnn_celebamask; see "
                        "`facezoo models`)")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops: skip detection")
    p.set_defaults(func=_cmd_parse)

    p = add("landmarks", help="landmarks of the faces in photos (iBUG's 68, or HELEN's 194 contour points with "
                              "--model adc_landmarks_helen194): JSON and one .pts per face")
    _add_photo_options(p, "at most this many faces per photo")
    p.add_argument("--model", default="adc_landmarks_300w",
                   help="landmark preset or a saved model file (.keras/.npz) (default adc_landmarks_300w; "
                        "adc_landmarks_300w_fast takes a third of the time; adc_landmarks_helen194 gives HELEN's 194 "
                        "contour points; see `facezoo models`)")
    p.add_argument("--aligned", action="store_true",
                   help="inputs are face crops framed as the preset's are (a face with about half a face of margin): "
                        "skip detection")
    p.add_argument("--overlay", action="store_true",
                   help="also write <stem>.overlay.png: the photo with the points drawn (PNG: about 1.5 s "
                        "more per 12-megapixel photo)")
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
        except KeyboardInterrupt:
            print(f"facezoo {args.command}: interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
