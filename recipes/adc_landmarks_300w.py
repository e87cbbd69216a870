"""Recipe: 68-point landmarks by attention-driven cropping, and the holistic baseline.

    # 1. the holistic baseline (its network is also ADC's global network)
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/holistic_landmarks_300w \
        --model holistic
    # 2. ADC: global network started from step 1, regional network trained on top
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_landmarks_300w \
        --init-global runs/holistic_landmarks_300w/final.keras --epochs 12
    # 3. and 4. ADC, every weight from the previous step, both networks at full rate (the
    #    first release of adc_landmarks_300w was the end of step 4)
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_landmarks_300w_stage3 \
        --init runs/adc_landmarks_300w/final.keras --epochs 16 --learning-rate 5e-4 --halve-every 6
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_landmarks_300w_stage4 \
        --init runs/adc_landmarks_300w_stage3/final.keras --epochs 12 --learning-rate 2.5e-4 --halve-every 4
    # 5. and 6. semi-supervised: dlib's points on 2,977 unlabelled photos of LFW-PL and
    #    CelebAMask-HQ (recipes/dlib_pseudo_landmarks.py) beside HELEN's 800 faces, two
    #    epochs at 5e-4, then two from there at 2.5e-4 and 1.25e-4
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_landmarks_300w_pseudo \
        --init runs/adc_landmarks_300w_stage4/final.keras --epochs 2 --learning-rate 5e-4 --halve-every 3 \
        --extra ../shared/data/lfw_pl=runs/pseudo/lfw_pl_dlib68.json \
        --extra ../shared/data/celebamask_subset=runs/pseudo/celebamask_dlib68.json
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_landmarks_300w_pseudo2 \
        --init runs/adc_landmarks_300w_pseudo/final.keras --epochs 2 --learning-rate 2.5e-4 --halve-every 1 \
        --extra ../shared/data/lfw_pl=runs/pseudo/lfw_pl_dlib68.json \
        --extra ../shared/data/celebamask_subset=runs/pseudo/celebamask_dlib68.json
    # 7. six more epochs on the same faces from step 6 at 5e-4, halved every two (the
    #    shipped adc_landmarks_300w until step 8; the run started from step 6's
    #    float16 checkpoint, facezoo.load(...).save("runs/adc_landmarks_300w_pseudo2/final.keras"))
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_landmarks_300w_pseudo3 \
        --init runs/adc_landmarks_300w_pseudo2/final.keras --epochs 6 --learning-rate 5e-4 --halve-every 2 \
        --extra ../shared/data/lfw_pl=runs/pseudo/lfw_pl_dlib68.json \
        --extra ../shared/data/celebamask_subset=runs/pseudo/celebamask_dlib68.json
    # 8. deeper: two residual blocks after the global network, one after the regional one,
    #    starting as the identity (so from step 7's function), six epochs on the same faces
    #    (shipped until step 9; runs/adc_step7.keras = step 7 as it shipped:
    #    git show dfe59fe:weights/adc_landmarks_300w.npz > step7.npz, then
    #    python -c "import facezoo; facezoo.load('step7.npz').save('runs/adc_step7.keras')")
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_deep \
        --init runs/adc_step7.keras --global-blocks 2 --regional-blocks 1 --epochs 6 --learning-rate 5e-4 \
        --halve-every 2 --extra ../shared/data/lfw_pl=runs/pseudo/lfw_pl_dlib68.json \
        --extra ../shared/data/celebamask_subset=runs/pseudo/celebamask_dlib68.json
    # 9. smaller crops: 32 samples over a fifteenth of the side (the same density as 48 over a
    #    tenth; no weight depends on it), six epochs on the same faces (shipped until step 10)
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_fast32 \
        --init runs/adc_deep/final.keras --crop-size 32 --region-fraction 0.0666667 --epochs 6 \
        --learning-rate 5e-4 --halve-every 2 --extra ../shared/data/lfw_pl=runs/pseudo/lfw_pl_dlib68.json \
        --extra ../shared/data/celebamask_subset=runs/pseudo/celebamask_dlib68.json
    # 10. and again: 24 samples over a twentieth, six epochs from step 9 (shipped as
    #    adc_landmarks_300w and, with other inference settings, adc_landmarks_300w_fast until step 14; the run
    #    started from step 9's float16 checkpoint: facezoo.load(...).save("runs/adc_step9.keras"))
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_crop24 \
        --init runs/adc_step9.keras --crop-size 24 --region-fraction 0.05 --epochs 6 \
        --learning-rate 5e-4 --halve-every 2 --extra ../shared/data/lfw_pl=runs/pseudo/lfw_pl_dlib68.json \
        --extra ../shared/data/celebamask_subset=runs/pseudo/celebamask_dlib68.json
    # 11. HELEN's faces alone, six epochs at 1e-4 from step 10 (runs/adc_step10.keras = step 10 as
    #     it shipped: git show 337482b:weights/adc_landmarks_300w.npz > step10.npz, then
    #     python -c "import facezoo; facezoo.load('step10.npz').save('runs/adc_step10.keras')")
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_helen_only \
        --init runs/adc_step10.keras --epochs 6 --learning-rate 1e-4 --halve-every 2
    # 12. the shape correction: a last, linear stage on the whole shape, fitted in closed form on
    #     the 800 training faces' predictions under both ADC presets' settings (the ridge chosen
    #     by 5-fold cross-validation on them: the faces the networks were trained on, whose points
    #     are a little better than unseen faces', so the validation faces judge the result); no
    #     network weight changes
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_helen_only_corrected \
        --init runs/adc_helen_only/final.keras --fit-shape-correction
    # 13. and 14. the networks trained six epochs under that (fixed) correction, then it is refitted
    #     (shipped until step 16)
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_joint \
        --init runs/adc_helen_only_corrected/final.keras --epochs 6 --learning-rate 1e-4 --halve-every 2
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_step14 \
        --init runs/adc_joint/final.keras --fit-shape-correction
    # 15. and 16. 22 more epochs under step 14's (fixed) correction on HELEN's and the dlib-labelled faces,
    #     then the correction refitted (the shipped adc_landmarks_300w and adc_landmarks_300w_fast; the run
    #     started from step 14 as it shipped: git show 5e5c7d6:weights/adc_landmarks_300w.npz > step14.npz,
    #     then python -c "import facezoo; facezoo.load('step14.npz').save('runs/adc_step14.keras')")
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_long \
        --init runs/adc_step14.keras --epochs 22 --learning-rate 2.5e-4 --halve-every 6 \
        --extra ../shared/data/lfw_pl=runs/pseudo/lfw_pl_dlib68.json \
        --extra ../shared/data/celebamask_subset=runs/pseudo/celebamask_dlib68.json
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc_long_fit22 \
        --init runs/adc_long/final.keras --fit-shape-correction
    # the holistic baseline's correction (holistic_landmarks_300w: step 1's networks, unchanged; a
    #     model that has a correction is refitted from scratch, so the shipped file serves as --init:
    #     python -c "import facezoo; facezoo.load('holistic_landmarks_300w').save('runs/holistic.keras')")
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --model holistic \
        --out runs/holistic_corrected --init runs/holistic.keras --fit-shape-correction
    # HELEN's own 194 contour points (adc_landmarks_helen194), the same faces and split: every
    #     layer of the shipped adc_landmarks_300w but the heads (the global head's channels mixed by
    #     facezoo.data.helen.contour_combination, the regional head from zero), 24 epochs; then its
    #     shape correction (runs/adc_shipped.keras = the shipped 68-point model:
    #     python -c "import facezoo; facezoo.load('adc_landmarks_300w').save('runs/adc_shipped.keras')")
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc194 --scheme helen194 \
        --init runs/adc_shipped.keras --epochs 24 --learning-rate 5e-4 --halve-every 8
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out runs/adc194_fit --scheme helen194 \
        --init runs/adc194/final.keras --fit-shape-correction
    python recipes/adc_landmarks_300w.py --data ../shared/data/helen68 --out /tmp/smoke --smoke

Trains on the first 800 faces of helen68/trainset (HELEN faces with 300-W's 68 points,
at most 512 px) and keeps the epoch with the lowest loss on its last 70 faces; the
330-face testset is never touched. ``--extra ROOT=LIST.json`` adds the faces of a
:class:`~facezoo.data.PointList` (machine-made points, framed like HELEN's crops) to the
training faces; validation stays on HELEN's 70. Faces are padded to a centred square (black) and
resized to 512x512, augmented with horizontal flips (68-point indices swapped), rotation
+-15 deg, scale 0.85-1.15, shift +-5 % and Gaussian noise; Adam 1e-3 halved every 10
epochs, batch 8, 25 epochs by default. With ``--init-global`` the global network's
learning rate is 0.1x (ScaledAdam). Writes ``final.keras``. Resumable: rerun to continue.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from facezoo.data import (Augmenter, ConcatDataset, HelenContourPoints, Landmarks300W, ParsingSequence,  # noqa: E402
                          PointList)
from facezoo.data.feeding import pad_to_square  # noqa: E402
from facezoo.data.helen import contour_combination  # noqa: E402
from facezoo.data.io import DataError  # noqa: E402
from facezoo.evaluate import predict_landmarks  # noqa: E402
from facezoo.layers.shape_correction import ShapeCorrection  # noqa: E402
from facezoo.metrics import landmark_scores  # noqa: E402
from facezoo.models import ADCLandmarks, HolisticLandmarks  # noqa: E402
from facezoo.models.adc_landmarks import POINT_LOSSES  # noqa: E402
from facezoo.models.adc_landmarks.presets import TRAINING  # noqa: E402
from facezoo.presets import PRESETS  # noqa: E402
from facezoo.training import ScaledAdam, train  # noqa: E402

MODELS = {"adc": ADCLandmarks, "holistic": HolisticLandmarks}
#: Inference settings a shape correction is fitted under, jointly: those of each model's presets.
CORRECTED_SETTINGS = {"adc": ({"flip_test": True, "refine_passes": 2}, {"flip_test": False, "refine_passes": 1}),
                      "holistic": ({"flip_test": True}, {"flip_test": False})}
RIDGES, FOLDS = (0.1, 0.3, 1.0, 3.0), 5


def square(sample):
    return pad_to_square(sample)[0]
# beside the presets they trained: facezoo/models/adc_landmarks/presets.py
SIZE, EPOCHS, LEARNING_RATE, HALVE_EVERY, VALIDATION, GLOBAL_MULTIPLIER = (
    TRAINING[key] for key in ("size", "epochs", "learning_rate", "halve_every", "validation", "global_multiplier"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with trainset/ and testset/ (.jpg + .pts)")
    parser.add_argument("--out", required=True, help="run directory (checkpoints, logs, resume backups)")
    parser.add_argument("--model", choices=sorted(MODELS), default="adc")
    parser.add_argument("--scheme", choices=sorted(SCHEMES), default="300w",
                        help="the points: 300-W's 68 (default) or HELEN's own 194 contour points (the same faces, "
                             "the same split); --init from a 68-point ADC model starts a 194-point one from it")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--init-global", default=None, metavar="HOLISTIC.keras",
                        help="ADC only: start the global network from a trained holistic model")
    parser.add_argument("--init", default=None, metavar="MODEL.keras",
                        help="start every weight from a trained model of the same kind (a new schedule)")
    parser.add_argument("--global-multiplier", type=float, default=None,
                        help=f"ADC: learning-rate multiplier of the global network "
                             f"(default {GLOBAL_MULTIPLIER} with --init-global, else 1)")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--halve-every", type=int, default=HALVE_EVERY)
    parser.add_argument("--extra", action="append", default=[], metavar="ROOT=LIST.json",
                        help="more training faces: a PointList file and the folder its photos are under")
    parser.add_argument("--global-blocks", type=int, default=None,
                        help="ADC: residual blocks after the global network's layers (default: those of --init, "
                             "else 0; with --init from a model with fewer, it starts computing what that model does)")
    parser.add_argument("--regional-blocks", type=int, default=None, help="ADC: the same for the regional network")
    parser.add_argument("--crop-size", type=int, default=None,
                        help="ADC: pixels per side of each landmark's crop (default: that of --init, else 48); no "
                             "weight's shape depends on it, so a trained model can be fine-tuned at another crop size")
    parser.add_argument("--region-fraction", type=float, default=None,
                        help="ADC: side of each crop as a fraction of the image side (default: that of --init, else "
                             "0.1); with --crop-size, crop_size / 480 keeps the pixels per crop pixel of 48 / 0.1")
    parser.add_argument("--regional-channels", type=int, nargs="+", default=None,
                        help="ADC: widths of the regional network's layers (default: those of --init, else 32 48 64 "
                             "64); with --init from other widths, only its global network is copied and the regional "
                             "network starts fresh (a cheaper regional stage)")
    parser.add_argument("--along-contour-weight", type=float, default=None,
                        help="ADC: weight of each point's error along its contour in the loss, against 1 across it "
                             "(default: that of --init, else 1: the plain L1 error); below 1 for points that slide "
                             "along their contours, as HELEN's 194 do")
    parser.add_argument("--point-loss", choices=POINT_LOSSES, default=None,
                        help="ADC: the points' loss, L1 or the Wing loss (Feng et al. 2018: steeper for small "
                             "errors; default: that of --init, else l1)")
    parser.add_argument("--fit-shape-correction", action="store_true",
                        help="no training: fit --init's shape correction (a linear stage on the whole shape) in "
                             "closed form on the training faces' predictions; writes final.keras and correction.json")
    parser.add_argument("--smoke", action="store_true", help="a few steps on a tiny subset (for tests)")
    args = parser.parse_args(argv)
    if args.along_contour_weight is not None and not 0.0 <= args.along_contour_weight <= 1.0:
        parser.error(f"--along-contour-weight must be in [0, 1], got {args.along_contour_weight}")

    faces, val_set = SCHEMES[args.scheme](args.data)
    if args.scheme != "300w" and (args.model != "adc" or args.extra or args.init_global):
        parser.error(f"--scheme {args.scheme} trains ADC on HELEN's faces alone (no --model holistic, --extra, "
                     "--init-global)")
    size, epochs = SIZE, args.epochs
    config = {}
    if args.init_global and args.model != "adc":
        parser.error("--init-global is for --model adc")
    for flag, path in (("--init-global", args.init_global), ("--init", args.init)):
        if path and not os.path.isfile(path):
            parser.error(f"{flag}: no file {path}")
    if args.init and args.init_global:
        parser.error("--init and --init-global exclude each other")
    blocks = {"global_blocks": args.global_blocks, "regional_blocks": args.regional_blocks}
    crops = {"crop_size": args.crop_size, "region_fraction": args.region_fraction,
             "regional_channels": None if args.regional_channels is None else tuple(args.regional_channels)}
    if args.model != "adc" and any(v is not None for v in (*blocks.values(), *crops.values(),
                                                           args.along_contour_weight, args.point_loss)):
        parser.error("--global-blocks, --regional-blocks, --crop-size, --region-fraction, --regional-channels, "
                     "--along-contour-weight and --point-loss are for --model adc")
    if any(v is not None for v in blocks.values()):
        if args.init_global:
            parser.error("--global-blocks/--regional-blocks deepen a trained ADC model (--init), not a holistic one")
    trained = keras.models.load_model(args.init) if args.init else None
    if trained is not None and type(trained) is not MODELS[args.model]:
        raise SystemExit(f"--init: {args.init} holds a {type(trained).__name__}; "
                         f"this run trains {MODELS[args.model].__name__}")
    points = len(faces[0].landmarks)
    new_scheme = trained is not None and trained.num_points != points
    if new_scheme and (args.fit_shape_correction or args.model != "adc"):
        parser.error(f"--init has {trained.num_points} points, --scheme {args.scheme} {points}: train ADC first")
    if args.fit_shape_correction:
        if trained is None or args.extra or args.along_contour_weight is not None or args.point_loss is not None:
            parser.error("--fit-shape-correction fits --init's correction on HELEN's training faces, no training "
                         "(no --extra, --along-contour-weight, --point-loss)")
        if args.smoke:
            faces.records, val_set.records = faces.records[:8], val_set.records[:2]
        fit_shape_correction(trained, faces, val_set, CORRECTED_SETTINGS[args.model], args.out)
        return 0
    fresh_regional = deepened = False
    if trained is not None and args.model == "adc":  # the blocks --init has, unless deepened further
        for key, value in blocks.items():
            blocks[key] = getattr(trained, key, 0) if value is None else value
        for key, value in crops.items():
            crops[key] = getattr(trained, key) if value is None else value
        fresh_regional = tuple(crops["regional_channels"]) != tuple(trained.regional_channels)
        if fresh_regional and blocks["global_blocks"] != trained.global_blocks:
            parser.error("--regional-channels keeps --init's global network: give no other --global-blocks")
        deepened = (blocks["global_blocks"], blocks["regional_blocks"]) != (trained.global_blocks,
                                                                             trained.regional_blocks)
        if deepened and not fresh_regional and (crops["crop_size"], crops["region_fraction"]) != (
                trained.crop_size, trained.region_fraction):
            parser.error("deepening starts from --init's exact function: give --crop-size/--region-fraction in a "
                         "further run")
    if trained is not None and trained.shape_correction is not None and not new_scheme:
        if args.model == "adc" and fresh_regional:  # a new regional network makes the correction stale
            parser.error("--init has a shape correction: change its regional network from the model before its "
                         "correction, then fit one (--fit-shape-correction)")
        config["shape_correction"] = True  # the networks train under it, deepened too (refit it after)
    config.update({k: v for k, v in blocks.items() if v})
    config.update({k: v for k, v in crops.items() if v is not None})
    along = args.along_contour_weight
    if along is None and trained is not None:
        along = getattr(trained, "along_contour_weight", 1.0)
    if along not in (None, 1.0):
        config["along_contour_weight"] = along
    point_loss = args.point_loss or (getattr(trained, "point_loss", "l1") if trained is not None else "l1")
    if point_loss != "l1":
        config["point_loss"] = point_loss
    if args.smoke:
        faces.records, val_set.records = faces.records[:4], val_set.records[:2]
        args.batch_size, size, epochs = 2, 64, 1
        config = {**({"global_size": 32, "global_channels": (4, 4, 8), "crop_size": 16, "regional_channels": (4, 4, 8)}
                     if args.model == "adc" else {"network_size": 32, "channels": (4, 4, 8)}), **config}
    extras = []
    for spec in args.extra:
        root, sep, listing = spec.partition("=")
        if not sep or not os.path.isfile(listing) or not os.path.isdir(root):
            parser.error(f"--extra {spec!r}: expected ROOT=LIST.json, an existing folder and list file")
        try:
            extras.append(PointList(root, listing))
        except DataError as error:
            parser.error(f"--extra {spec!r}: {error}")
        if extras[-1].points_per_face != 68:
            parser.error(f"--extra {spec!r}: {extras[-1].points_per_face} points per face, this recipe trains 68")
        if args.smoke:
            extras[-1].records = extras[-1].records[:2]
    if extras:
        print(f"training faces: {len(faces)} HELEN + " + " + ".join(f"{len(e)} {e.root}" for e in extras))
        faces = ConcatDataset(faces, *extras)
    augmenter = Augmenter(flip=0.5, max_rotation=15, scale_range=(0.85, 1.15), max_shift=0.05, noise_std=4)
    train_seq = ParsingSequence(faces, args.batch_size, (size, size), augment=lambda s, rng: augmenter(square(s), rng),
                                shuffle=True, target="landmarks", workers=2)
    val_seq = ParsingSequence(val_set, args.batch_size, (size, size), augment=lambda s, rng: square(s),
                              target="landmarks")
    name = f"{args.model}_landmarks_{args.scheme}"
    combination = contour_combination(args.data) if new_scheme else None

    def build():
        model = MODELS[args.model](name=name, input_size=(size, size), num_points=points, **config)
        if name in PRESETS:  # the preset's framing and terms travel in the run's files, so they work as it does
            model.info = PRESETS[name].model_info(model.info).replace(input_size=model.info.input_size)
        if args.init_global:  # the global network starts as the trained holistic network
            holistic = keras.models.load_model(args.init_global)
            model(np.zeros((1, size, size, 3), "float32"))
            model.global_network.set_weights(holistic.network.get_weights())
        if trained is not None:
            model(np.zeros((1, size, size, 3), "float32"))
            if new_scheme:  # every layer but the heads; the global head mixes the 68 points' channels
                model.copy_with_points_from(trained, combination)
                print(f"--init: {args.init}'s networks, heads for {points} points (global: affine mixes of its "
                      f"{trained.num_points}; regional: zero)")
            elif isinstance(model, ADCLandmarks) and fresh_regional:  # another regional network: global only
                model.global_network.set_weights(trained.global_network.get_weights())
                print(f"--init: the global network from {args.init}; the regional network "
                      f"{model.regional_channels} starts fresh")
            elif isinstance(model, ADCLandmarks) and (trained.global_blocks, trained.regional_blocks) != (
                    model.global_blocks, model.regional_blocks):
                model.copy_deepened_from(trained)  # the new blocks start as the identity
            else:
                model.set_weights(trained.get_weights())
        return model

    optimizer = None
    multiplier = args.global_multiplier
    if multiplier is None:  # fine-tune a pre-trained global network gently
        multiplier = GLOBAL_MULTIPLIER if args.init_global else 1.0
    if args.model == "adc" and multiplier != 1.0:
        optimizer = lambda lr: ScaledAdam(lr, multipliers={"global": multiplier})  # noqa: E731
    train(build, train_seq, val_seq, args.out, run_name=name, epochs=epochs, learning_rate=args.learning_rate,
          halve_every=args.halve_every, monitor=("val_loss", "min"), optimizer=optimizer, run_eagerly=args.smoke)
    keras.models.load_model(os.path.join(args.out, "best.keras")).save(os.path.join(args.out, "final.keras"))
    return 0


def helen68_faces(root):
    """300-W's 68 points on helen68's training faces, and its last VALIDATION of them."""
    faces, val_set = Landmarks300W(root, "train"), Landmarks300W(root, "train")
    faces.records, val_set.records = faces.records[:-VALIDATION], faces.records[-VALIDATION:]
    return faces, val_set


def helen194_faces(root):
    """HELEN's 194 contour points on the same faces, split alike."""
    return HelenContourPoints(root, "train"), HelenContourPoints(root, "val")


SCHEMES = {"300w": helen68_faces, "helen194": helen194_faces}


def fit_shape_correction(trained, faces, val_set, settings, out):
    """``trained`` with its :class:`ShapeCorrection` fitted on ``faces``' predictions under every
    one of ``settings`` at once (one correction serves the presets that share the weights);
    the ridge is chosen by cross-validation over the training faces. Writes ``out/final.keras``
    and ``out/correction.json`` (the table it prints)."""
    model = type(trained).from_config({**trained.get_config(), "shape_correction": True})
    model(np.zeros((1, *model.input_size, 3), "float32"))
    for layer in trained.layers:  # every network as trained; the correction starts as the identity
        if layer.name != "shape_correction":
            model.get_layer(layer.name).set_weights(layer.get_weights())
    predictions = {}
    for setting in settings:
        variant = model.with_settings(**setting)
        predictions[str(setting)] = (predict_landmarks(variant, faces), predict_landmarks(variant, val_set))
    train_true = next(iter(predictions.values()))[0][1]
    folds = np.array_split(np.arange(len(train_true)), min(FOLDS, len(train_true)))

    def nme(layer, predicted, true):
        return landmark_scores(keras.ops.convert_to_numpy(layer(predicted)), true)["nme_inter_ocular"]

    table = {"training_faces": len(train_true), "validation_faces": len(val_set), "cross_validation": {}}
    print(f"{FOLDS}-fold cross-validation on {len(train_true)} training faces, NME % (settings pooled)")
    for ridge in RIDGES:
        scores = []
        for fold in folds:
            rest = np.setdiff1d(np.arange(len(train_true)), fold)
            layer = ShapeCorrection(model.num_points)
            layer.fit(np.concatenate([p[0][0][rest] for p in predictions.values()]),
                      np.concatenate([train_true[rest]] * len(predictions)), ridge)
            scores += [nme(layer, p[0][0][fold], train_true[fold]) * len(fold) for p in predictions.values()]
        table["cross_validation"][ridge] = float(sum(scores) / (len(train_true) * len(predictions)))
        print(f"  ridge {ridge:g}: {table['cross_validation'][ridge]:.3f}")
    uncorrected = [landmark_scores(p[0][0], train_true)["nme_inter_ocular"] for p in predictions.values()]
    table["uncorrected_training"] = float(np.mean(uncorrected))
    ridge = min(RIDGES, key=table["cross_validation"].get)
    model.shape_correction.fit(np.concatenate([p[0][0] for p in predictions.values()]),
                               np.concatenate([train_true] * len(predictions)), ridge)
    likeness = np.concatenate([keras.ops.convert_to_numpy(model.shape_correction.face_likeness(p[0][0]))
                               for p in predictions.values()])
    table["ridge"], table["validation"], table["training_face_likeness_min"] = ridge, {}, float(likeness.min())
    print(f"uncorrected on the training faces {table['uncorrected_training']:.3f}; ridge {ridge:g}; their "
          f"face likeness (R^2) {likeness.min():.3f} or more; validation:")
    for setting, (_, (predicted, true)) in predictions.items():
        before = landmark_scores(predicted, true)
        after = landmark_scores(keras.ops.convert_to_numpy(model.shape_correction(predicted)), true)
        table["validation"][setting] = {"before": before, "after": after}
        print(f"  {setting}: NME {before['nme_inter_ocular']:.3f} -> {after['nme_inter_ocular']:.3f} %, "
              f"failures {before['failure_rate_8']:.2f} -> {after['failure_rate_8']:.2f} %")
    os.makedirs(out, exist_ok=True)
    model.save(os.path.join(out, "final.keras"))
    with open(os.path.join(out, "correction.json"), "w") as handle:
        json.dump(table, handle, indent=1)
    return model


if __name__ == "__main__":
    sys.exit(main())
