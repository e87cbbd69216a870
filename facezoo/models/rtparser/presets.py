"""The real-time parser's published checkpoints: two teachers and their students, and HELEN's heatmap parser."""

from facezoo.presets import (CELEBAMASK_FACES, CELEBAMASK_PROTOCOL, CELEBAMASK_TERMS, HELEN_CONTOUR_FACES,
                             HELEN_CONTOURS_PROTOCOL, HELEN_TERMS, LFW_PL_PARSING,
                             LFW_PL_PROTOCOL, LFW_TERMS, Preset, register_architecture, register_presets)

register_architecture("rtparser", "facezoo.models.rtparser.rtparser:RTParser",
                      "real-time parser (Wei et al. 2019), 3 classes at 256x256 by default", output="logits")

WEI_2019 = "Wei, Liu, Sun, Ling. Accurate Facial Image Parsing at Real-Time Speed. IEEE TIP 2019"

#: What the two real-time parsers of LFW-PL share (architecture, input, paper).
RTPARSER_LFW = dict(
    architecture="rtparser",
    input_size=(256, 256),
    face_crop="an LFW funneled 250x250 crop (face centred, about 40% of the width), resized to 256x256",
    paper=WEI_2019,
)

#: What the two real-time parsers of CelebAMask-HQ share (architecture, classes, paper, framing).
RTPARSER_CELEBAMASK = dict(architecture="rtparser", task="parsing", class_map="celebamask", paper=WEI_2019,
                           **CELEBAMASK_FACES)

register_presets(
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
)


register_presets(
    Preset(
        name="rtparser_helen",
        architecture="rtparser",
        config={"num_classes": 11, "input_size": (256, 256), "dilation": 4, "width": 1.0, "heatmap_channel": True,
                "name": "rtparser_helen"},
        task="parsing",
        description="real-time parser (Wei et al. 2019) on HELEN's components (labels drawn from HELEN's own "
                    "194-point contours), with the landmark-heatmap input channel, 256x256",
        input_size=(256, 256),
        face_crop="a face aligned by its eyes, nose tip and mouth corners onto stn_icnn_celebamask's template "
                  "(CelebA-HQ framing), 256x256; a fourth channel: the heatmap of its 68 landmarks "
                  "(facezoo.models.rtparser.landmark_heatmap), from adc_landmarks_300w at inference",
        training_data="the first 800 of helen68/trainset, components rasterised from HELEN's 194-point contours, "
                      "skin, hair and background filled in by stn_icnn_celebamask where sure and unknown elsewhere "
                      "(recipes/helen_faces.py), heatmaps from their 68 ground-truth points; validated on the last 70",
        paper=WEI_2019,
        recipe="python recipes/rtparser.py --dataset helen --data HELEN68_ROOT --out runs/rtparser_helen_heatmap "
               "--sc-weight 0 --heatmap",
        weights_file="rtparser_helen.npz",
        sha256="8a4494ca3dea9c5650d05d513a89348803c8309ddaf8c33f598eb997c059571c",
        hub_repo="facezoo/rtparser_helen",
        metrics={
            "protocol": HELEN_CONTOURS_PROTOCOL + "; the heatmap from adc_landmarks_300w (its weights of "
                                                  "2026-12-07, recipe step 16) on the face the template puts in "
                                                  "the crop",
            "test (330 faces)": {"overall": 0.8231, "strict": 0.8199, "brows": 0.7784, "eyes": 0.8406,
                                 "nose": 0.8795, "u_lip": 0.7540, "i_mouth": 0.8158, "l_lip": 0.7940,
                                 "mouth": 0.8944},
            "validation (70 faces)": {"overall": 0.8128, "strict": 0.8170},
            "test photos through facezoo parse (330), with adc_landmarks_300w's first weights": {
                "overall": 0.7930, "strict": 0.7916},
            "command": "facezoo eval rtparser_helen --dataset helen_contours --data HELEN68_ROOT --split test",
        },
        **HELEN_CONTOUR_FACES,
    ),
)


#: How ``recipes/rtparser.py`` trains on each dataset (the presets above come from it).
#: Per dataset: run name, classes, network input, batch, the teacher's channel multiplier
#: and the student's network (the width-1 LFW-PL parser under-fits, 95.2 % on validation
#: with a training accuracy below it; 2.2 reaches 96.1 % and leaves width 1 as a 4.3x
#: lighter student; on CelebAMask-HQ the student is the teacher's network at half the
#: resolution, 4x lighter, because channels cost the small classes and resolution did
#: not), the preset whose face framing (and
#: stored size) unlabelled photos are aligned to, the Dice term's weight (19 classes, many
#: of them tiny, are scored by their mean F1) and the validation metric that picks the best
#: epoch; epochs and halving period (celebamask: fewer, 4x larger faces, for a 2-core CPU);
#: the context block's dilation, the one whose normalized receptive field r/s is nearest 1
#: (facezoo.receptive_field): 4 at 256 px (r/s 1.01), 8 at 512 px (0.88; 4 would give 0.51).
RECIPE_DATASETS = {
    "lfw_pl": dict(name="rtparser_lfw", num_classes=3, size=256, batch_size=16, width=2.2,
                   student=dict(width=1.0, size=256, dilation=4), framing="icnn_lfw",
                   stored_size=(250, 250), dice_weight=0.0, monitor="pixel_accuracy", epochs=30, halve_every=8,
                   dilation=4),
    # HELEN's components from its contours (recipes/helen_faces.py: 512x512 aligned crops,
    # skin/hair filled in by stn_icnn_celebamask, unknown pixels left out of the loss), at 256.
    # Batch 8: 800 faces give 100 steps an epoch; at 16 (50 steps) BatchNorm's moving variance
    # (momentum 0.99, from 1) was still ~10x the activations' own after 8 epochs, and every
    # validation face came out as skin.
    "helen": dict(name="rtparser_helen", num_classes=11, size=256, batch_size=8, width=1.0,
                  student=dict(width=0.4, size=256, dilation=4), framing="stn_icnn_celebamask",
                  stored_size=(512, 512), dice_weight=1.0, monitor="mean_iou", epochs=16, halve_every=5,
                  dilation=4),
    "celebamask": dict(name="rtparser_celebamask", num_classes=19, size=512, batch_size=8, width=1.0,
                       student=dict(width=1.0, size=256, dilation=4),
                       framing="stn_icnn_celebamask", stored_size=(512, 512), dice_weight=1.0, monitor="mean_iou",
                       epochs=16, halve_every=5, dilation=8),
}
