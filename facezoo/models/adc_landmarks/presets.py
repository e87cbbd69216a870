"""The landmark models' published checkpoints (ADC and its holistic baseline)."""

from facezoo.presets import (CELEBAMASK_TERMS, HELEN_300W_TERMS, HELEN_TERMS, LFW_TERMS, Preset,
                             register_architecture, register_presets)

register_architecture("adc_landmarks", "facezoo.models.adc_landmarks.adc_landmarks:ADCLandmarks",
                      "68 landmarks by attention-driven cropping (Chandran et al. 2020), any size", output="points")
register_architecture("holistic_landmarks", "facezoo.models.adc_landmarks.adc_landmarks:HolisticLandmarks",
                      "68 landmarks from the whole face resized to 256x256 (baseline)", output="points")

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

#: The network both ADC presets share (one checkpoint; they differ in inference settings).
ADC_NETWORK = {"global_blocks": 2, "regional_blocks": 1, "crop_size": 24, "region_fraction": 0.05,
               "shape_correction": True}
ADC_SHA256 = "3cded22d2eb317576815313b1fd114c00bc007756ce554325c2a78c64207b1d6"
#: The ADC presets' data: HELEN's 800 faces and dlib's points on photos of two other sets.
ADC_TRAINING_DATA = (HELEN68_LANDMARKS["training_data"] + "; plus dlib's 68 points (calibrated to 300-W) on 1,989 "
                     "LFW-PL train/validation and 988 CelebAMask-HQ train photos")
ADC_LICENSE = (HELEN_300W_TERMS + "; dlib's predictor (iBUG 300-W: no commercial use) labelled the extra faces; "
               + LFW_TERMS + "; " + CELEBAMASK_TERMS)  # the strictest, CelebAMask-HQ's, binds the whole

HELEN68_PROTOCOL = {
    "protocol": "helen68 testset (330 HELEN test faces of 300-W at full resolution), faces padded to a square and "
                "given at R x R; NME = mean point error / outer-eye-corner distance (points 36, 45), percent, in "
                "original pixels; failure = NME > 8 %; predictions averaged with the mirrored face's (flip_test)",
}

#: HELEN's own 194 points (adc_landmarks_helen194): how it was trained and what it scores.
HELEN194_RECIPE = ("recipes/adc_landmarks_300w.py --scheme helen194 --init ADC_68.keras --epochs 24 --learning-rate "
                   "5e-4 --halve-every 8 (ADC_68.keras: the shipped adc_landmarks_300w; every layer but the heads "
                   "copied, the global head's channels mixed by facezoo.data.helen.contour_combination, the "
                   "regional head from zero), then the same with --init the result --fit-shape-correction; 2 "
                   "regional passes and the flip average as adc_landmarks_300w's")
HELEN194_SHA256 = "764cc40a81be57b3009d91f8a61a6420171ad7eb4dc3c01648530fbb0ec4b7b2"
HELEN194_METRICS = {
    "protocol": "helen68 testset (330 HELEN test faces at full resolution) with HELEN's own 194-point annotation, "
                "faces padded to a square and given at R x R; NME = mean point error / outer-eye-corner distance "
                "(points 144, 124), percent, in original pixels; failure = NME > 8 %; flip average on",
    "test (330 faces), 512x512": {"nme": 3.63, "failure_rate_8": 1.2},
    "test (330 faces), full resolution": {"nme": 3.65, "failure_rate_8": 1.2},
    "command": "facezoo eval adc_landmarks_helen194 --dataset helen194 --data HELEN68_ROOT --split test "
               "[--resolution full]",
}

register_presets(
    Preset(
        name="adc_landmarks_300w",
        architecture="adc_landmarks",
        config={"name": "adc_landmarks_300w", "input_size": (512, 512), "flip_test": True, "refine_passes": 2,
                **ADC_NETWORK},
        description="68 landmarks by attention-driven cropping, any resolution, trained on HELEN (300-W points)",
        paper="Chandran, Bradley, Gross, Beeler. Attention-Driven Cropping for Very High Resolution Facial "
              "Landmark Detection. CVPR 2020",
        recipe="the sixteen commands of recipes/adc_landmarks_300w.py (holistic network, then three ADC stages: "
               "--init-global HOLISTIC --epochs 12; --init ... --epochs 16 --learning-rate 5e-4 --halve-every 6; "
               "--init ... --epochs 12 --learning-rate 2.5e-4 --halve-every 4; then three semi-supervised ones "
               "with --extra point lists from recipes/dlib_pseudo_landmarks.py: --epochs 2 --learning-rate 5e-4, "
               "--epochs 2 --learning-rate 2.5e-4 --halve-every 1; --epochs 6 --learning-rate 5e-4 --halve-every 2; "
               "and deeper from there: --global-blocks 2 --regional-blocks 1 --epochs 6 --learning-rate 5e-4 "
               "--halve-every 2; then smaller crops: --crop-size 32 --region-fraction 0.0666667 --epochs 6 "
               "--learning-rate 5e-4 --halve-every 2; and again: --crop-size 24 --region-fraction 0.05, the same "
               "schedule); then HELEN's faces alone (--epochs 6 --learning-rate 1e-4 --halve-every 2), the "
               "shape correction fitted (--fit-shape-correction), six more epochs under it, and it refitted; "
               "22 more epochs under it (--epochs 22 --learning-rate 2.5e-4 --halve-every 6, the same --extra "
               "point lists) and it refitted again; 2 "
               "regional passes and the flip average are inference settings chosen on validation",
        weights_file="adc_landmarks_300w.npz",
        sha256=ADC_SHA256,
        hub_repo="facezoo/adc_landmarks_300w",
        metrics={**HELEN68_PROTOCOL,
                 "test (330 faces), 512x512": {"nme": 3.42, "failure_rate_8": 1.5},
                 "test (330 faces), full resolution": {"nme": 3.43, "failure_rate_8": 1.2},
                 "command": "facezoo eval adc_landmarks_300w --dataset 300w --data HELEN68_ROOT --split test "
                            "[--resolution full]"},
        **{**HELEN68_LANDMARKS, "training_data": ADC_TRAINING_DATA, "license": ADC_LICENSE},
    ),
    Preset(
        name="adc_landmarks_300w_fast",
        architecture="adc_landmarks",
        config={"name": "adc_landmarks_300w_fast", "input_size": (512, 512), "flip_test": False, "refine_passes": 1,
                **ADC_NETWORK},
        description="adc_landmarks_300w's weights for video: one regional pass, no flip average (about a third "
                    "of its time)",
        paper="Chandran, Bradley, Gross, Beeler. Attention-Driven Cropping for Very High Resolution Facial "
              "Landmark Detection. CVPR 2020",
        recipe="adc_landmarks_300w's (the same checkpoint; its preset's inference settings are the difference)",
        weights_file="adc_landmarks_300w.npz",  # the same weights, other settings
        sha256=ADC_SHA256,
        hub_repo="facezoo/adc_landmarks_300w",
        metrics={**HELEN68_PROTOCOL,
                 "protocol": HELEN68_PROTOCOL["protocol"].replace("; predictions averaged with the mirrored "
                                                                  "face's (flip_test)", "; no flip average"),
                 "test (330 faces), 512x512": {"nme": 3.55, "failure_rate_8": 1.5},
                 "test (330 faces), full resolution": {"nme": 3.58, "failure_rate_8": 1.8},
                 "command": "facezoo eval adc_landmarks_300w_fast --dataset 300w --data HELEN68_ROOT --split test "
                            "[--resolution full]"},
        **{**HELEN68_LANDMARKS,
           "training_data": ADC_TRAINING_DATA, "license": ADC_LICENSE},
    ),
    Preset(
        name="adc_landmarks_helen194",
        architecture="adc_landmarks",
        config={"name": "adc_landmarks_helen194", "num_points": 194, "input_size": (512, 512), "flip_test": True,
                "refine_passes": 2, **ADC_NETWORK},
        description="HELEN's own 194 contour points (jaw, lower nose, lip lines, eyes, brows) by attention-driven "
                    "cropping, any resolution, trained on HELEN",
        paper="Chandran, Bradley, Gross, Beeler. Attention-Driven Cropping for Very High Resolution Facial "
              "Landmark Detection. CVPR 2020; points: Le, Brandt, Lin, Bourdev, Huang. Interactive Facial Feature "
              "Localization. ECCV 2012",
        recipe=HELEN194_RECIPE,
        weights_file="adc_landmarks_helen194.npz",
        sha256=HELEN194_SHA256,
        hub_repo="facezoo/adc_landmarks_helen194",
        metrics=HELEN194_METRICS,
        **{**HELEN68_LANDMARKS,
           "dataset": "HELEN (Le et al.'s 194-point contours)",
           "training_data": "the first 800 of helen68/trainset with HELEN's own 194-point annotation, validated on "
                            "its last 70; started from adc_landmarks_300w",
           "license": HELEN_TERMS + "; " + ADC_LICENSE},  # started from adc_landmarks_300w: its terms travel
    ),
    Preset(
        name="holistic_landmarks_300w",
        architecture="holistic_landmarks",
        config={"name": "holistic_landmarks_300w", "input_size": (512, 512), "flip_test": True,
                "shape_correction": True},
        description="68 landmarks from the whole face resized to 256x256 (the baseline of adc_landmarks_300w)",
        paper="the holistic baseline of Chandran et al. 2020",
        recipe="python recipes/adc_landmarks_300w.py --data HELEN68_ROOT --out runs/holistic_landmarks_300w "
               "--model holistic, then the same with --out runs/holistic_corrected --init "
               "runs/holistic_landmarks_300w/final.keras --fit-shape-correction",
        weights_file="holistic_landmarks_300w.npz",
        sha256="6e637f8bac3467a943476ed2a4bd479b4b9126de8b54c4e29500d64843fa89a0",
        hub_repo="facezoo/holistic_landmarks_300w",
        metrics={**HELEN68_PROTOCOL,
                 "test (330 faces), 512x512": {"nme": 6.92, "failure_rate_8": 24.2},
                 "test (330 faces), full resolution": {"nme": 6.97, "failure_rate_8": 25.2},
                 "command": "facezoo eval holistic_landmarks_300w --dataset 300w --data HELEN68_ROOT --split test"},
        **HELEN68_LANDMARKS,
    ),
)


#: How ``recipes/adc_landmarks_300w.py`` trains both presets: input side, epochs, Adam's
#: rate halved every ``halve_every`` epochs, the last ``validation`` training faces held
#: out, and the global network's rate multiplier when it starts from a trained holistic model.
TRAINING = dict(size=512, epochs=25, learning_rate=1e-3, halve_every=10, validation=70, global_multiplier=0.1)
