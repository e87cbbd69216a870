"""Fault injection: the faults a user can cause, run as a new user's probe found them
(issue #17), through the real command line ``facezoo.cli.main([...])`` or a subprocess.

Each must end in one clear message, leave the user's files alone and let the rest of
the work finish. Parsing uses ``icnn_lfw --aligned`` on a face crop, so no detector runs
unless the case is about detection.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facezoo
from facezoo.cli import main
from facezoo.data.io import DataError

REPO = Path(__file__).resolve().parent.parent
ASTRONAUT = REPO / "examples" / "astronaut.jpg"  # NASA, public domain
PARSE = ["parse", "--model", "icnn_lfw", "--aligned"]


@pytest.fixture(scope="module")
def crop():
    """An aligned-enough face crop of the example photo, 250 x 250."""
    return np.asarray(Image.open(ASTRONAUT).convert("RGB"))[100:350, 100:350]


def _photos(folder, crop, names=("a.png", "b.png", "c.png")):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(crop).save(folder / name)
    return folder


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width=30000, height=30000):
    """A valid, fully decodable grey PNG of ``width x height`` (900 MP by default) that
    compresses to under a megabyte: what a decompression bomb is."""
    compressor, row = zlib.compressobj(9), b"\x00" * (width + 1)  # filter byte + grey pixels
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
            + _png_chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bomb():
    return bomb_png()


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _listing(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# 1. Exports never delete what they did not create ---------------------------------------------

def test_export_into_a_folder_holding_files_refuses_and_deletes_nothing(tmp_path, capsys, monkeypatch):
    """Found: `export --format saved_model -o DIR` emptied DIR; `-o .` emptied the cwd."""
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    (target / "data").mkdir()
    assert main(["export", "icnn", "--format", "saved_model", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert "thesis.tex" in err and "never deletes" in err and err.count("\n") == 1
    assert _listing(target) == ["data", "thesis.tex"] and (target / "thesis.tex").read_text() == "years of work"

    monkeypatch.chdir(target)
    assert main(["export", "icnn", "--format", "saved_model", "-o", "."]) == 2
    assert _listing(target) == ["data", "thesis.tex"]
    assert main(["export", "icnn", "--format", "tflite", "-o", str(tmp_path)]) == 2  # a folder, not a file
    assert "is a folder" in capsys.readouterr().err


def test_exporting_an_architecture_says_its_weights_are_random(tmp_path, capsys, monkeypatch):
    """Found: `facezoo export icnn` wrote an untrained network without a word."""
    import facezoo.export

    monkeypatch.setattr(facezoo.export, "export", lambda model, path, **kwargs: f"wrote {path}")
    assert main(["export", "icnn", "-o", str(tmp_path / "a.tflite")]) == 0
    assert "icnn is an architecture, not a preset: its weights are random" in capsys.readouterr().err
    assert main(["export", "icnn_lfw", "-o", str(tmp_path / "b.tflite")]) == 0
    assert "random" not in capsys.readouterr().err


def test_saved_model_export_fills_an_empty_folder_replaces_its_own_and_cleans_killed_exports(tmp_path):
    from facezoo.export import SAVED_MODEL_ENTRIES, export
    from facezoo.models import ICNN

    model = ICNN(num_classes=3, input_shape=(32, 32, 3), channels=(4, 8, 8, 8))
    leftover = tmp_path / f".facezoo-export-{_dead_pid()}-abcd1234"  # an export killed with SIGKILL
    leftover.mkdir()
    (leftover / "model.tflite").write_bytes(b"half")
    target = tmp_path / "sm"
    target.mkdir()
    export(model, target, format="saved_model", verbose=False)
    entries = set(os.listdir(target))
    assert "facezoo.json" in entries and "saved_model.pb" in entries and entries <= SAVED_MODEL_ENTRIES
    assert not leftover.exists() and _listing(tmp_path) == ["sm"]
    export(model, target, format="saved_model", verbose=False)  # over its own earlier export: fine
    assert set(os.listdir(target)) == entries
    (target / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        export(model, target, format="saved_model", verbose=False)
    assert (target / "notes.txt").read_text() == "mine" and set(os.listdir(target)) == entries | {"notes.txt"}


# 2. Any unreadable or oversized image is one reported, skipped file ----------------------------

def test_a_decompression_bomb_in_a_folder_is_skipped_and_later_photos_are_parsed(tmp_path, crop, capsys, bomb):
    """Found: a 30000x30000 PNG ended `facezoo parse` with a DecompressionBombError traceback."""
    folder = _photos(tmp_path / "in", crop, ("a.png", "z.png"))
    (folder / "m_bomb.png").write_bytes(bomb)
    out = tmp_path / "out"
    assert main([*PARSE, str(folder), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert "m_bomb.png" in captured.err and "larger than 100,000,000 pixels" in captured.err
    assert "Traceback" not in captured.err
    assert "2 of 3 input(s) done" in captured.out and "1 failed" in captured.out
    assert _listing(out) == sorted(f"{s}.{k}" for s in ("a", "z") for k in ("json", "labels.png", "overlay.png"))


def test_a_decompression_bomb_is_skipped_by_landmarks_too(tmp_path, capsys, bomb):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(bomb)
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(folder / "wall.png")
    assert main(["landmarks", str(folder), "-o", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "bomb.png" in captured.err and "larger than" in captured.err and "Traceback" not in captured.err
    assert json.loads((tmp_path / "out" / "wall.json").read_text())["notes"] == ["no face found"]


def _damaged_images(folder, crop):
    Image.fromarray(crop).save(folder / "good.png")
    data = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 3])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (folder / "flipped.png").write_bytes(bytes(flipped))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("not a photo")
    header = struct.pack(">IIBBBBB", 12000, 9000, 8, 2, 0, 0, 0)  # 108 MP: above ours, below PIL's limit
    (folder / "large.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b""))
    return ["truncated.png", "flipped.png", "empty.jpg", "text.jpg", "large.png"]


def test_every_damaged_image_is_one_data_error_naming_it(tmp_path, crop):
    from facezoo.photos import read_photo

    for name in _damaged_images(tmp_path, crop):
        with pytest.raises(DataError, match=name.replace(".", r"\.")):
            read_photo(tmp_path / name)
    assert read_photo(tmp_path / "good.png")[1] == []


def test_damaged_images_in_a_folder_are_each_skipped(tmp_path, crop, capsys):
    (tmp_path / "in").mkdir()
    bad = _damaged_images(tmp_path / "in", crop)
    assert main([*PARSE, str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert all(f"skipped {tmp_path / 'in' / name}" in captured.err for name in bad)
    assert "1 of 6 input(s) done" in captured.out and (tmp_path / "out" / "good.json").exists()


# 3. Outputs: never read back, resumable, no stale files, no temporary files left --------------

def test_a_folder_parsed_into_itself_twice_never_parses_its_own_outputs(tmp_path, crop, capsys):
    """Found: the second run parsed its own .labels.png/.overlay.png."""
    folder = _photos(tmp_path / "photos", crop, ("a.png", "b.png"))
    Image.fromarray(crop).save(folder / "holiday.overlay.png")  # the user's own photo, oddly named
    expected = sorted(["a.png", "b.png", "holiday.overlay.png"]
                      + [f"{s}.{k}" for s in ("a", "b", "holiday.overlay") for k in ("json", "labels.png", "overlay.png")])
    assert main([*PARSE, str(folder), "-o", str(folder)]) == 0
    assert _listing(folder) == expected
    capsys.readouterr()
    assert main([*PARSE, str(folder), "-o", str(folder)]) == 0
    captured = capsys.readouterr()
    assert _listing(folder) == expected
    assert "left out 6 file(s) facezoo wrote itself" in captured.err
    assert "3 of 3 input(s) done" in captured.out and "3 earlier output(s) replaced" in captured.out


def test_skip_existing_resumes_and_redoes_what_another_model_wrote(tmp_path, crop, capsys):
    """Found: a rerun redid everything."""
    folder = _photos(tmp_path / "in", crop, ("a.png", "b.png"))
    out = tmp_path / "out"
    assert main([*PARSE, str(folder / "a.png"), "-o", str(out)]) == 0
    stamp = (out / "a.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*PARSE, str(folder), "-o", str(out), "--skip-existing"]) == 0
    out_text = capsys.readouterr().out
    assert "1 of 2 input(s) done" in out_text and "1 already done, skipped" in out_text
    assert (out / "a.json").stat().st_mtime_ns == stamp and (out / "b.json").exists()
    assert main(["parse", "--model", "rtparser_lfw_student", "--aligned", str(folder), "-o", str(out),
                 "--skip-existing"]) == 0
    assert "2 of 2 input(s) done" in capsys.readouterr().out, "outputs of another model are not 'done'"
    assert json.loads((out / "a.json").read_text())["model"] == "rtparser_lfw_student"


def test_skip_existing_tells_a_fine_tune_from_its_preset(tmp_path, crop, capsys):
    """Found: outputs of a fine-tune (a model file keeps its preset's name) were kept by
    `--skip-existing` as the preset's own, and a model file's outputs were never resumed."""
    import facezoo

    tuned = tmp_path / "tuned.keras"
    facezoo.load("icnn_lfw").save(tuned)  # as a fine-tune saves itself: same name, its own weights
    folder = _photos(tmp_path / "in", crop, ("a.png", "b.png"))
    out = tmp_path / "out"
    assert main(["parse", "--model", str(tuned), "--aligned", str(folder / "a.png"), "-o", str(out)]) == 0
    record = json.loads((out / "a.json").read_text())
    assert record["model"] == "icnn_lfw" and record["model_file"]["path"] == str(tuned)
    assert len(record["model_file"]["sha256"]) == 64
    capsys.readouterr()
    assert main(["parse", "--model", str(tuned), "--aligned", str(folder), "-o", str(out), "--skip-existing"]) == 0
    assert "1 already done, skipped" in capsys.readouterr().out  # the file's own outputs resume
    retrained = facezoo.load("icnn_lfw")
    retrained.set_weights([w + 0.01 for w in retrained.get_weights()])
    retrained.save(tuned)  # the same path, retrained in place: another model
    assert main(["parse", "--model", str(tuned), "--aligned", str(folder / "a.png"), "-o", str(out),
                 "--skip-existing"]) == 0
    assert "1 of 1 input(s) done" in capsys.readouterr().out
    assert main([*PARSE, str(folder), "-o", str(out), "--skip-existing"]) == 0
    said = capsys.readouterr().out
    assert "2 of 2 input(s) done" in said and "2 earlier output(s) replaced (from another model" in said
    assert "model_file" not in json.loads((out / "a.json").read_text())


def test_a_landmarks_rerun_with_fewer_faces_removes_the_stale_pts(tmp_path):
    """Found: `<stem>_face1.pts` stayed beside a JSON listing one face."""
    from facezoo.detect import Detection
    from facezoo.photos import FaceLandmarks, LandmarkResult

    def result(count):
        faces = [FaceLandmarks(Detection((0, 0, 10, 10)), np.zeros((68, 2)), np.eye(2, 3), 64) for _ in range(count)]
        return LandmarkResult(faces, "m", 100, 100)

    (tmp_path / "photo_face7.pts").write_text("the user's")  # not listed by any facezoo JSON: kept
    result(3).save(tmp_path, "photo")
    assert sorted(p.name for p in tmp_path.glob("photo_face*.pts")) == [f"photo_face{i}.pts" for i in (0, 1, 2, 7)]
    result(1).save(tmp_path, "photo")
    assert _listing(tmp_path) == ["photo.json", "photo_face0.pts", "photo_face7.pts"]
    assert len(json.loads((tmp_path / "photo.json").read_text())["faces"]) == 1
    result(0).save(tmp_path, "photo")
    assert _listing(tmp_path) == ["photo.json", "photo_face7.pts"]


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_run(tmp_path, crop, capsys):
    out = tmp_path / "out"
    out.mkdir()
    dead, legacy = f".tmp-{_dead_pid()}-abcd1234.png", ".tmp-k2j4h5g6.json"  # legacy: before pids were recorded
    live = ".tmp-1-abcd1234.png"  # pid 1 runs: another facezoo may be writing it
    for name in (dead, legacy, live, ".tmp-notes.txt"):
        (out / name).write_text("x")
    assert main([*PARSE, str(_photos(tmp_path / "in", crop, ("a.png",))), "-o", str(out)]) == 0
    assert "removed 2 temporary file(s)" in capsys.readouterr().err
    assert _listing(out) == sorted([live, ".tmp-notes.txt", "a.json", "a.labels.png", "a.overlay.png"])


_SLOW_SECOND_PHOTO = textwrap.dedent("""
    import sys, time
    from facezoo import photos
    overlay, calls = photos.ParseResult.overlay, []

    def slow(self, image, alpha=0.5):  # the second photo hangs mid-save, its temporary files written
        calls.append(1)
        if len(calls) == 2:
            time.sleep(600)
        return overlay(self, image, alpha)

    photos.ParseResult.overlay = slow
    from facezoo.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_a_run_killed_mid_save_then_rerun_finishes_and_leaves_no_temporary_file(tmp_path, crop, capsys):
    """The probe: SIGKILL during a run (no cleanup possible), then the same command again."""
    folder = _photos(tmp_path / "in", crop)
    out = tmp_path / "out"
    command = [*PARSE, str(folder), "-o", str(out), "--skip-existing"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    child = subprocess.Popen([sys.executable, "-c", _SLOW_SECOND_PHOTO, *command], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not ((out / "a.json").exists() and any(n.startswith(f".tmp-{child.pid}-") for n in os.listdir(out))):
            assert child.poll() is None and time.monotonic() < deadline, "the child never reached photo 2"
            time.sleep(0.2)  # photo 1 done, photo 2 hanging in its save
    finally:
        child.kill()
        child.wait()
    assert (out / "a.json").exists() and not (out / "b.json").exists()
    assert [n for n in os.listdir(out) if n.startswith(".tmp-")], "SIGKILL left temporary files"
    assert main(command) == 0
    captured = capsys.readouterr()
    assert "removed 3 temporary file(s)" in captured.err
    assert "2 of 3 input(s) done" in captured.out and "1 already done, skipped" in captured.out
    assert _listing(out) == sorted(f"{s}.{k}" for s in "abc" for k in ("json", "labels.png", "overlay.png"))


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_run_ends_with_a_one_line_summary(tmp_path, crop, capsys, monkeypatch, how):
    """Found: Ctrl-C printed a traceback. Interrupted on photo 2 of 3: photo 1 is kept,
    photo 2 leaves nothing, and the summary says how to go on."""
    from facezoo import photos

    overlay, calls = photos.ParseResult.overlay, []

    def interrupted(self, image, alpha=0.5):
        calls.append(1)
        if len(calls) == 2:
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the signal arrives meanwhile
            raise KeyboardInterrupt
        return overlay(self, image, alpha)

    monkeypatch.setattr(photos.ParseResult, "overlay", interrupted)
    previous = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "out"
    assert main([*PARSE, str(_photos(tmp_path / "in", crop)), "-o", str(out)]) == 130
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    summary = [line for line in captured.out.splitlines() if line.startswith("parse: interrupted")]
    assert len(summary) == 1 and "1 of 3 input(s) done" in summary[0] and "--skip-existing" in summary[0]
    assert _listing(out) == ["a.json", "a.labels.png", "a.overlay.png"]
    assert signal.getsignal(signal.SIGTERM) == previous


# 4. Checkpoints: damaged ones refused naming the file, before any upload -------------------------

@pytest.fixture
def damaged_checkpoints(tmp_path):
    from facezoo.registry import PRESETS, packaged_weights

    data = Path(packaged_weights(PRESETS["icnn_lfw"])).read_bytes()
    truncated, flipped = tmp_path / "truncated.npz", tmp_path / "flipped.npz"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(damaged))
    return {"truncated": (truncated, "truncated"), "bit-flipped": (flipped, "CRC")}


def test_a_damaged_checkpoint_as_weights_names_the_file_and_the_damage(damaged_checkpoints):
    """Found: a raw zipfile.BadZipFile that did not name the file."""
    from facezoo.checkpoints import CheckpointError

    for path, what in damaged_checkpoints.values():
        with pytest.raises(CheckpointError, match=what) as error:
            facezoo.load("icnn_lfw", weights=path, compile=False)
        assert str(path) in str(error.value)


def test_eval_with_a_damaged_checkpoint_is_one_line_not_a_traceback(damaged_checkpoints, tmp_path, capsys):
    from fixtures import make_lfw

    make_lfw(tmp_path / "lfw")
    for path, what in damaged_checkpoints.values():
        assert main(["eval", str(path), "--dataset", "lfw_pl", "--data", str(tmp_path / "lfw")]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and what in err and err.count("\n") == 1


def test_publish_refuses_damaged_or_foreign_checkpoints_before_any_upload(hub_env, damaged_checkpoints, capsys):
    """Found: publish uploaded a truncated checkpoint, or another architecture's, with exit 0."""
    from facezoo.registry import PRESETS, packaged_weights

    foreign = packaged_weights(PRESETS["rtparser_lfw_student"])
    cases = [(path, what) for path, what in damaged_checkpoints.values()] + [(foreign, "different model")]
    for path, what in cases:
        assert main(["publish", "icnn_lfw", "--repo", "me/bad", "--weights", str(path)]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and what in err
    assert hub_env.requests == [] and "me/bad" not in hub_env.repos


@pytest.mark.parametrize("how", ["closed port", "HF_HUB_OFFLINE"])
def test_publish_without_network_is_one_line(monkeypatch, capsys, how):
    """Found: a 25-frame ConnectError traceback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["publish", "icnn_lfw", "--repo", "me/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("cannot be reached" in err if how == "closed port" else how in err)


def test_an_upload_that_fails_midway_is_a_publish_error(hub_env, monkeypatch):
    from huggingface_hub import HfApi

    from facezoo import hub

    def broken(*args, **kwargs):
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(HfApi, "upload_folder", broken)
    with pytest.raises(hub.PublishError, match="ConnectionResetError.*run publish again"):
        hub.publish("icnn_lfw", "me/x")


# 5. No silent wrong results --------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["parse", "x.jpg", "-o", "o", "--max-faces", "0"], ["parse", "x.jpg", "-o", "o", "--max-faces", "-1"],
    ["landmarks", "x.jpg", "-o", "o", "--max-faces", "0"], ["parse", "x.jpg", "-o", "o", "--min-score", "1.5"],
    ["parse", "x.jpg", "-o", "o", "--min-score", "nan"], ["parse", "x.jpg", "-o", "o", "--max-faces", "two"],
    ["eval", "icnn", "--dataset", "lfw_pl", "--data", "d", "--limit", "0"],
    ["eval", "icnn", "--dataset", "lfw_pl", "--data", "d", "--limit", "-1"],
    ["eval", "icnn", "--dataset", "lfw_pl", "--data", "d", "--batch-size", "0"],
    ["eval", "icnn", "--dataset", "300w", "--data", "d", "--resolution", "8"],
])
def test_numeric_options_are_validated(argv, capsys):
    """Found: --max-faces 0 said "no face found"; --limit 0 printed an all-NaN table, exit 0."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    option = next(a for a in argv if a.startswith("--") and a != "--dataset" and a != "--data")
    assert option in capsys.readouterr().err


def test_numeric_arguments_are_validated_in_python_too(crop):
    from facezoo.evaluate import sample_count

    model = facezoo.load("icnn_lfw", compile=False)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_faces"):
            facezoo.parse(crop, model=model, max_faces=bad)
        with pytest.raises(ValueError, match="limit"):
            sample_count([1, 2], bad)
    with pytest.raises(ValueError, match="no samples"):
        sample_count([])


def test_eval_json_is_strict_json(tmp_path, monkeypatch, capsys):
    """Found: `eval --json` wrote NaN (the F1 of a class absent from the split)."""
    from facezoo import evaluate
    from fixtures import make_lfw

    make_lfw(tmp_path / "lfw")
    scores = {"pixel_accuracy": 0.9, "f1": {"skin": 0.8, "hair": float("nan")}, "count": np.int64(2),
              "worst": np.float32("inf")}
    monkeypatch.setattr(evaluate, "load_model_for_eval", lambda name, dataset: None)
    monkeypatch.setattr(evaluate, "evaluate", lambda *args, **kwargs: ("lfw_pl", scores))
    assert main(["eval", "icnn", "--dataset", "lfw_pl", "--data", str(tmp_path / "lfw"), "--json",
                 str(tmp_path / "s.json")]) == 0
    assert "n/a" in capsys.readouterr().out

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    payload = json.loads((tmp_path / "s.json").read_text(), parse_constant=refuse)
    assert payload["scores"] == {"pixel_accuracy": 0.9, "f1": {"skin": 0.8, "hair": None}, "count": 2, "worst": None}


def test_multi_frame_images_say_what_was_read(tmp_path, crop, capsys):
    """Found: a multi-page TIFF or an animated GIF was parsed from its first frame without a note,
    and .gif was accepted by name but skipped in folders."""
    from facezoo.photos import read_photo

    folder = tmp_path / "in"
    folder.mkdir()
    pages = [Image.fromarray(crop), Image.fromarray(crop[::-1]), Image.fromarray(crop[:, ::-1])]
    pages[0].save(folder / "scan.tif", save_all=True, append_images=pages[1:])
    pages[0].save(folder / "anim.gif", save_all=True, append_images=pages[1:2], duration=100)
    assert read_photo(folder / "scan.tif")[1] == ["3 frames (TIFF): only the first was read"]
    gif = Image.open(folder / "anim.gif")
    assert read_photo(gif)[1] == ["2 frames: only frame 0 was read"]
    assert main([*PARSE, str(folder), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 input(s) done" in out and "3 frames (TIFF)" in out and "2 frames (GIF)" in out
    assert json.loads((tmp_path / "out" / "scan.json").read_text())["notes"] == [
        "3 frames (TIFF): only the first was read"]


def test_photos_without_a_face_are_counted_apart_and_min_score_reaches_the_detector(tmp_path, crop, capsys,
                                                                                     monkeypatch):
    """Found: tight crops MTCNN scores 0.86 gave "no face found" under "30 of 30 done"."""
    from facezoo import detect

    def mtcnn(self, image):  # a stand-in MTCNN that scores every face 0.86
        found = detect.Detection((60.0, 60.0, 190.0, 190.0), 0.86,
                                 np.array([[95, 110], [155, 110], [125, 140], [100, 165], [150, 165]], np.float32))
        return [found] if self.min_score <= 0.86 else []

    monkeypatch.setattr(detect.MTCNNDetector, "__call__", mtcnn)
    folder = _photos(tmp_path / "in", crop, ("a.png", "b.png"))
    argv = ["parse", "--model", "icnn_lfw", str(folder), "-o", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "0 of 2 input(s) done" in out and "2 with no face found" in out and "--min-score 0.9" in out
    assert main([*argv, "--min-score", "0.85"]) == 0
    assert "2 of 2 input(s) done" in capsys.readouterr().out


@pytest.mark.parametrize("command, model, other", [("parse", "adc_landmarks_300w", "landmarks"),
                                                   ("landmarks", "icnn_lfw", "parse")])
def test_a_model_of_the_other_task_is_refused_before_any_work(tmp_path, capsys, command, model, other):
    """Found: `parse --model adc_landmarks_300w` failed with "not enough values to unpack"."""
    assert main([command, str(ASTRONAUT), "--model", model, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"use `facezoo {other} --model {model}`" in err and not (tmp_path / "out").exists()


# 6. Errors blame the right thing, before the work starts ----------------------------------------

def test_an_output_that_cannot_be_written_fails_before_the_model_loads(tmp_path, capsys, monkeypatch):
    """Found: reported as "skipped <input>" after parsing, or only after every photo."""
    from facezoo import registry

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the output folder was checked")

    monkeypatch.setattr(registry, "load", no_loading)
    (tmp_path / "file").write_text("x")
    for output, what in ((tmp_path / "file", "is an existing file"), (tmp_path / "file" / "sub", "cannot write")):
        assert main([*PARSE, str(ASTRONAUT), "-o", str(output)]) == 2
        err = capsys.readouterr().err
        assert what in err and str(output) in err and "skipped" not in err
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "locked").mkdir(mode=0o500)
        assert main([*PARSE, str(ASTRONAUT), "-o", str(tmp_path / "locked")]) == 2
        assert "cannot write" in capsys.readouterr().err


def test_a_float_photo_array_out_of_range_is_refused_saying_why():
    from facezoo.photos import as_rgb

    with pytest.raises(DataError, match="NaN or infinite"):
        as_rgb(np.full((8, 8, 3), np.inf, np.float32))
    with pytest.raises(DataError, match=r"\[0, 1\] or \[0, 255\]"):
        as_rgb(np.full((8, 8, 3), 300.0, np.float32))
    assert as_rgb(np.full((8, 8, 3), 1.2, np.float32)).min() == 255  # a resize's overshoot of [0, 1]
