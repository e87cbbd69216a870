"""STN-iCNN's published checkpoints (and the HELEN one its recipe trains)."""

from facezoo.presets import (CELEBAMASK_FACES, CELEBAMASK_TERMS, HELEN_CONTOUR_FACES, HELEN_CONTOURS_PROTOCOL,
                             HELEN_TERMS, Preset, register_architecture,
                             register_presets)

register_architecture("stn_icnn", "facezoo.models.stn_icnn.stn_icnn:STNiCNN",
                      "STN-iCNN end-to-end parser (Yin et al. 2021), 512x512 faces", output="probabilities")

PAPER = "Yin, Yiu, Hu, Tang. End-to-End Face Parsing via Interlinked Convolutional Neural Networks. " \
        "Cognitive Neurodynamics 2021"
#: a fifth of the full network's convolutions: stage 1 at 64x64, 33x33 crops over the same
#: ~130-pixel windows (crop_scale 3.93 = 1.6 x 81 / 33); parts pasted and merged at 256x256,
#: then upsampled. Against 41x41 crops (crop_scale 3.2, the first lite files): 0.20-0.22x instead
#: of 0.32-0.33x the full model's float TFLite time on one thread, for -0.014 (CelebAMask-HQ)
#: and -0.011 (HELEN) validation F1; pasting at 256 instead of 512: 0.86x for -0.0013 (the lite cards)
LITE_CONFIG = {"input_size": (512, 512), "stage1_size": (64, 64), "crop_size": (33, 33), "crop_scale": 3.93,
               "paste_size": (256, 256)}
HELEN_FACE_CROP = ("a face aligned by its eyes, nose tip and mouth corners onto stn_icnn_celebamask's template "
                   "(CelebA-HQ framing), 512x512")
HELEN_TRAINING_DATA = ("the first 800 of helen68/trainset, components rasterised from HELEN's 194-point contours "
                       "(facezoo.data.HelenContours), skin, hair and background filled in by stn_icnn_celebamask "
                       "where sure and unknown elsewhere (recipes/helen_faces.py), validated on its last 70")
HELEN_STN_FACES = {**HELEN_CONTOUR_FACES, "license": HELEN_TERMS + "; " + CELEBAMASK_TERMS + " (its initial weights "
                                                     "and skin/hair fill come from a CelebAMask-HQ model)"}
CELEBAMASK_TRAINING_DATA = ("950 faces of a 1,000-face CelebAMask-HQ subset (50 held out for validation), "
                            "classes mapped to HELEN's")

register_presets(
    Preset(
        name="stn_icnn_celebamask",
        architecture="stn_icnn",
        config={"input_size": (512, 512), "stage1_size": (128, 128), "crop_size": (81, 81), "crop_scale": 1.6},
        task="parsing",
        description="STN-iCNN, HELEN's 11 classes, trained on a CelebAMask-HQ subset at 512x512",
        class_map="helen",
        training_data=CELEBAMASK_TRAINING_DATA,
        paper=PAPER,
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
        name="stn_icnn_celebamask_lite",
        architecture="stn_icnn",
        config=LITE_CONFIG,
        task="parsing",
        description="STN-iCNN for phones: stn_icnn_celebamask at a fifth of its convolutions (stage 1 at "
                    "64x64, 33x33 part crops), fine-tuned from it on the same CelebAMask-HQ subset",
        class_map="helen",
        training_data=CELEBAMASK_TRAINING_DATA,
        paper=PAPER,
        recipe="python recipes/stn_icnn_celebamask.py --data CELEBAMASK_ROOT --out runs/stn_icnn_celebamask_lite "
               "--preset stn_icnn_celebamask_lite",
        weights_file="stn_icnn_celebamask_lite.npz",
        sha256="2d18ba35e4505ca2accd473093f66a07d5c1ee93808f7a7bc77217eedd37a3dc",
        hub_repo="facezoo/stn_icnn_celebamask_lite",
        metrics={
            "protocol": "as stn_icnn_celebamask's",
            "test (100 faces)": {"overall_f1": 0.8590, "overall_strict_f1": 0.8736, "brows": 0.8183,
                                 "eyes": 0.8409, "nose": 0.9233, "u_lip": 0.8385, "i_mouth": 0.8268,
                                 "l_lip": 0.8510, "mouth": 0.9128, "skin": 0.9224, "hair": 0.8826},
            "command": "facezoo eval stn_icnn_celebamask_lite --dataset celebamask --data CELEBAMASK_ROOT --split test",
        },
        **CELEBAMASK_FACES,
    ),
    Preset(
        name="stn_icnn_helen",
        architecture="stn_icnn",
        config={"input_size": (512, 512), "stage1_size": (128, 128), "crop_size": (81, 81), "crop_scale": 1.6},
        task="parsing",
        description="STN-iCNN on HELEN's components (labels drawn from HELEN's own 194-point contours), "
                    "fine-tuned from stn_icnn_celebamask, whose skin and hair it keeps",
        input_size=(512, 512),
        face_crop=HELEN_FACE_CROP,
        training_data=HELEN_TRAINING_DATA,
        paper=PAPER,
        recipe="python recipes/stn_icnn_helen.py --data HELEN68_ROOT --out runs/stn_icnn_helen",
        weights_file="stn_icnn_helen.npz",
        sha256="911e5a16db3eb1b29fe759b77526beff93b487f48c9d74673dd7bebd2aa97dfe",
        hub_repo="facezoo/stn_icnn_helen",
        metrics={
            "protocol": HELEN_CONTOURS_PROTOCOL,
            "test (330 faces)": {"overall": 0.8534, "strict": 0.8528, "brows": 0.8199, "eyes": 0.8592,
                                 "nose": 0.9056, "u_lip": 0.7811, "i_mouth": 0.8451, "l_lip": 0.8429,
                                 "mouth": 0.9152},
            "validation (70 faces)": {"overall": 0.8425, "strict": 0.8499},
            "command": "facezoo eval stn_icnn_helen --dataset helen_contours --data HELEN68_ROOT --split test",
        },
        **HELEN_STN_FACES,
    ),
    Preset(
        name="stn_icnn_helen_lite",
        architecture="stn_icnn",
        config=LITE_CONFIG,
        task="parsing",
        description="STN-iCNN on HELEN's components for phones: stn_icnn_helen at a fifth of its convolutions "
                    "(stage 1 at 64x64, 33x33 part crops), fine-tuned from it",
        input_size=(512, 512),
        face_crop=HELEN_FACE_CROP,
        training_data=HELEN_TRAINING_DATA,
        paper=PAPER,
        recipe="python recipes/stn_icnn_helen.py --data HELEN68_ROOT --out runs/stn_icnn_helen_lite "
               "--preset stn_icnn_helen_lite --augment aligned",
        weights_file="stn_icnn_helen_lite.npz",
        sha256="ce0f878bc23bd79f70f51f8e5f31fe530972714c6742c403b87c166bc3ed41dd",
        hub_repo="facezoo/stn_icnn_helen_lite",
        metrics={
            "protocol": HELEN_CONTOURS_PROTOCOL,
            "test (330 faces)": {"overall": 0.8185, "strict": 0.8209, "brows": 0.7861, "eyes": 0.8096,
                                 "nose": 0.8872, "u_lip": 0.7303, "i_mouth": 0.7964, "l_lip": 0.8153,
                                 "mouth": 0.8949},
            "validation (70 faces)": {"overall": 0.8088, "strict": 0.8195},
            "command": "facezoo eval stn_icnn_helen_lite --dataset helen_contours --data HELEN68_ROOT --split test",
        },
        **HELEN_STN_FACES,
    ),
)


#: How the recipes train each preset on a 2-core CPU: the paper's four phases (see
#: facezoo.models.stn_icnn.schedule.STN_ICNN_SCHEDULE) with fewer epochs, as
#: (phase, epochs, Adam's rate, per-component rate multipliers).
END_TO_END_MULTIPLIERS = {"stage1/": 0.1, "localizer/": 0.1}
CPU_SCHEDULES = {
    "stn_icnn_celebamask": (("stage1", 20, 1e-3), ("localizer", 6, 1e-3), ("parts", 5, 1e-3),
                            ("end_to_end", 2, 1e-4, END_TO_END_MULTIPLIERS)),
    # stage 1 and part iCNNs start from stn_icnn_celebamask's weights, at new input sizes
    "stn_icnn_celebamask_lite": (("stage1", 4, 5e-4), ("localizer", 4, 1e-3), ("parts", 4, 5e-4),
                                 ("end_to_end", 3, 1e-4, END_TO_END_MULTIPLIERS)),
    # fine-tuned from stn_icnn_celebamask, hence fewer epochs at a lower rate
    "stn_icnn_helen": (("stage1", 6, 5e-4), ("localizer", 3, 5e-4), ("parts", 3, 5e-4),
                       ("end_to_end", 6, 1e-4, END_TO_END_MULTIPLIERS)),
    # stage 1 and part iCNNs start from stn_icnn_helen's weights, as the CelebAMask-HQ lite one
    "stn_icnn_helen_lite": (("stage1", 4, 5e-4), ("localizer", 4, 1e-3), ("parts", 4, 5e-4),
                            ("end_to_end", 3, 1e-4, END_TO_END_MULTIPLIERS)),
}
