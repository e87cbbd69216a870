"""iCNN's published checkpoints."""

from facezoo.presets import LFW_PL_PARSING, LFW_PL_PROTOCOL, Preset, register_architecture, register_presets

register_architecture("icnn", "facezoo.models.icnn.icnn:ICNN",
                      "iCNN whole-face parser (Zhou et al. 2015), any input size (presets: 160x160)", output="logits")

register_presets(
    Preset(
        name="icnn_lfw",
        architecture="icnn",
        config={"num_classes": 3, "input_shape": (160, 160, 3), "name": "icnn_lfw"},
        description="iCNN, background/skin/hair, trained on LFW Part Labels",
        input_size=(160, 160),
        face_crop="an LFW funneled 250x250 crop (face centred, about 40% of the width), resized to 160x160",
        paper="Zhou, Hu, Zhang. Interlinked Convolutional Neural Networks for Face Parsing. ISNN 2015",
        recipe="python recipes/icnn_lfw.py --data LFW_PL_ROOT --out runs/icnn_lfw",
        weights_file="icnn_lfw.npz",
        sha256="7564a1e078c49af43228eaf1924941ebe6ac232f0112435b6ea0184454c204b9",
        hub_repo="facezoo/icnn_lfw",
        metrics={
            "protocol": LFW_PL_PROTOCOL,
            "test (927 faces)": {"pixel_accuracy": 0.9568, "f1": {"background": 0.9767, "skin": 0.9471,
                                                                  "hair": 0.8353}},
            "validation (500 faces)": {"pixel_accuracy": 0.9563},
            "command": "facezoo eval icnn_lfw --dataset lfw_pl --data LFW_PL_ROOT --split test",
        },
        **LFW_PL_PARSING,
    ),
)


#: How ``recipes/icnn_lfw.py`` trains icnn_lfw: (directory, input size, epochs, learning
#: rate, halve every N epochs); the second stage starts from the first's weights.
TRAINING_STAGES = (("128", 128, 20, 1e-3, 5), ("160", 160, 12, 5e-4, 4))
