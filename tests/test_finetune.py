"""Fine-tuning as users do it: a folder of faces with their own classes, a preset with a new
head, fit, save, reload in a new process, parse a photo, export with the classes."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facezoo
from facezoo.classmaps import CELEBAMASK
from facezoo.data import DataError, FolderDataset, sequence_for

FIVE = ["background", "skin", "brows", "eyes", "mouth"]
TO_FIVE = {"skin": "skin", "nose": "skin", "l_brow": "brows", "r_brow": "brows", "l_eye": "eyes", "r_eye": "eyes",
           "u_lip": "mouth", "l_lip": "mouth", "mouth": "mouth"}
PHOTO = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"


def make_folder(root, count=3, size=(40, 40), values=19):
    rng = np.random.default_rng(0)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root / "images" / f"f{i}.jpg")
        Image.fromarray(rng.integers(0, values, size).astype(np.uint8)).save(root / "masks" / f"f{i}.png")
    return root


def test_folder_dataset_remaps_names_and_names_the_file_of_every_problem(tmp_path):
    root = make_folder(tmp_path / "faces")
    faces = FolderDataset(root, FIVE, source_classes=CELEBAMASK.names, label_map=TO_FIVE, unmapped="background")
    stored = np.asarray(Image.open(root / "masks" / "f0.png")).astype(int)
    want = np.zeros_like(stored)
    for source, target in TO_FIVE.items():
        want[stored == CELEBAMASK.index(source)] = FIVE.index(target)
    np.testing.assert_array_equal(faces[0].labels, want)
    assert len(faces) == 3 and faces.class_names == tuple(FIVE)
    with pytest.raises(DataError, match=r"f0.png: values \[.*\] are not in label_map"):
        FolderDataset(root, FIVE, source_classes=CELEBAMASK.names, label_map=TO_FIVE)[0]
    with pytest.raises(DataError, match=r"f0.png: label values .* outside the 5 classes"):
        FolderDataset(root, FIVE)[0]
    with pytest.raises(ValueError, match="source_classes"):
        FolderDataset(root, FIVE, label_map={"skin": "skin"})
    Image.fromarray(np.zeros((20, 40), np.uint8)).save(root / "masks" / "f1.png")
    with pytest.raises(DataError, match="f1.png: image is 40x40 but its label map is 40x20"):
        FolderDataset(root, FIVE, label_map={0: 0}, unmapped=-1)[1]
    (root / "masks" / "f2.png").unlink()
    with pytest.raises(DataError, match=r"f2.jpg: no mask f2.png"):
        FolderDataset(root, FIVE)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(root / "masks" / "extra.png")
    with pytest.raises(DataError, match=r"extra.png: no image extra"):
        FolderDataset(root, FIVE)


def test_preprocess_takes_uint8_and_unit_floats_and_refuses_the_rest():
    info = facezoo.registry.get_preset("icnn_lfw").info
    face = np.random.default_rng(0).integers(0, 256, (50, 40, 3), dtype=np.uint8)
    from_uint8 = info.preprocess(face)
    from_float = info.preprocess(face / np.float32(255))
    assert from_uint8.shape == from_float.shape == (1, 160, 160, 3)
    np.testing.assert_allclose(from_float, from_uint8, atol=1 / 255 + 1e-6)  # uint8 resizing rounds
    with pytest.raises(ValueError, match=r"float images must hold intensities in \[0, 1\]"):
        info.preprocess(face.astype(np.float32))
    with pytest.raises(ValueError, match="8-bit pixels in 0..255"):
        info.preprocess(face.astype(np.uint16) * 256)


def test_five_class_fine_tune_saved_reloaded_in_a_new_process_parses_a_photo_and_exports(tmp_path):
    """The issue's check: a 5-class head fine-tuned, saved, reloaded in a new process, used
    by facezoo.parse on a photo and exported to TFLite whose metadata names its classes."""
    faces = FolderDataset(make_folder(tmp_path / "faces", count=2), FIVE, source_classes=CELEBAMASK.names,
                          label_map=TO_FIVE, unmapped="background")
    model = facezoo.load("icnn_lfw", class_names=FIVE)
    assert model.info.alignment == facezoo.registry.get_preset("icnn_lfw").info.alignment
    history = model.fit(sequence_for(model, faces, batch_size=2), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    model.save(tmp_path / "five.keras")
    script = textwrap.dedent(f"""
        import json, facezoo
        from facezoo.detect import BoxDetector
        model = facezoo.load({str(tmp_path / "five.keras")!r})
        result = facezoo.parse({str(PHOTO)!r}, model=model, detector=BoxDetector([(150, 60, 350, 290)]))
        facezoo.export(model, {str(tmp_path / "five.tflite")!r}, verbose=False)
        print("RESULT", json.dumps({{"classes": result.class_names, "faces": len(result.faces),
                                    "labels": sorted(set(result.labels.ravel().tolist()))}}))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.split("RESULT", 1)[1])
    assert result["classes"] == FIVE and result["faces"] == 1 and max(result["labels"]) < 5
    meta = facezoo.export.read_metadata(tmp_path / "five.tflite")
    assert meta["class_names"] == FIVE and meta["task"] == "parsing" and meta["alignment"]["keypoints"]
    assert meta["normalization"] == model.info.preprocessing and meta["sides"].startswith("subject")


def test_every_preset_loads_ready_for_fit():
    """No preset needs a per-architecture branch: each compiles with its own loss."""
    from facezoo.registry import PRESETS, build

    for name, preset in PRESETS.items():
        model = build(preset)
        model.compile()
        assert model.compiled, name
        assert (model.loss is not None) == (preset.architecture in ("icnn", "rtparser")), name
