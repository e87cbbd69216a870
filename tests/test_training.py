"""Training: exact resume, refusals before training, multi-worker tf.distribute, recipes."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from facezoo.data import CelebAMask, ParsingSequence
from facezoo.models import ICNN, STNiCNN
from facezoo.models.stn_icnn.schedule import Phase, check_schedule
from facezoo.presets import PRESETS
from facezoo.training import ScaledAdam, TrainingSetupError, step_halving_schedule, train
from fixtures import make_celebamask_merged
from helpers import randomised, script_module

REPO = Path(__file__).resolve().parents[1]


class Killed(Exception):
    pass


class KillAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Killed()


def _sequence(root):
    data = CelebAMask(root, "train")
    return ParsingSequence(data, batch_size=2, image_size=(16, 16), shuffle=True, seed=1)


def _run(root, out, epochs, callbacks=None):
    keras.utils.set_random_seed(0)
    return train(
        lambda: ICNN(num_classes=19, input_shape=(16, 16, 3), channels=(2, 2, 2, 2)),
        _sequence(root), None, str(out), run_name="unit", epochs=epochs, learning_rate=1e-2, halve_every=1,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), callbacks=callbacks, verbose=0,
    )


def test_killed_run_resumes_with_the_same_optimizer_state_and_schedule(tmp_path):
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()  # threaded CPU reductions differ run to run
    make_celebamask_merged(tmp_path / "data", split="train", count=6, size=(16, 16))
    straight = _run(tmp_path / "data", tmp_path / "a", epochs=3)
    with pytest.raises(Killed):
        _run(tmp_path / "data", tmp_path / "b", epochs=3, callbacks=[KillAfter(1)])
    resumed = _run(tmp_path / "data", tmp_path / "b", epochs=3)
    steps = [int(keras.ops.convert_to_numpy(m.optimizer.iterations.value)) for m in (straight, resumed)]
    assert steps == [9, 9]
    # The halving schedule continued where it was: lr after 9 steps at 3 steps/epoch, halved each epoch.
    assert float(keras.ops.convert_to_numpy(resumed.optimizer.learning_rate)) == pytest.approx(1e-2 / 8)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    rows = (tmp_path / "b" / "log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]  # no epoch trained twice
    assert (tmp_path / "b" / "epoch_003.keras").exists() and (tmp_path / "b" / "last.keras").exists()


def test_run_directory_of_another_recipe_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps({"run": "icnn_lfw"}))
    with pytest.raises(TrainingSetupError, match="holds a run of 'icnn_lfw', not 'unit'"):
        train(lambda: None, [0], None, str(tmp_path / "run"), run_name="unit", epochs=1, learning_rate=1e-3)


@pytest.mark.parametrize(
    "schedule, message",
    [
        ((Phase("stage1", 2, 0.0),), "learning_rate"),
        ((Phase("stage1", 2, 5.0),), "learning_rate"),
        ((Phase("stage1", 0, 1e-3),), "epochs"),
        ((Phase("stage1", 2, 1e-3, halve_every=0),), "halve_every"),
        ((Phase("stage3", 2, 1e-3),), "unknown phase"),
        ((Phase("parts", 2, 1e-3), Phase("stage1", 2, 1e-3)), "order"),
        ((Phase("stage1", 2, 1e-3), Phase("stage1", 2, 1e-3)), "twice"),
        ((), "no phase"),
    ],
)
def test_senseless_schedules_are_refused(schedule, message):
    with pytest.raises(TrainingSetupError, match=message):
        check_schedule(schedule)


def test_step_halving_schedule_and_scaled_adam():
    schedule = step_halving_schedule(1e-3, steps_per_epoch=10, halve_every=5)
    assert float(schedule(49)) == pytest.approx(1e-3) and float(schedule(50)) == pytest.approx(5e-4)
    frozen, free = keras.Variable(np.ones(3, "float32"), name="a"), keras.Variable(np.ones(3, "float32"), name="b")
    opt = ScaledAdam(0.1, multipliers={frozen.path: 0.0})
    opt.apply([np.ones(3, "float32"), np.ones(3, "float32")], [frozen, free])
    np.testing.assert_array_equal(frozen.numpy(), 1.0)
    assert np.all(free.numpy() < 1.0)
    assert ScaledAdam.from_config(opt.get_config()).multipliers == {frozen.path: 0.0}


WORKER = textwrap.dedent(
    """
    import os, sys, json
    sys.path.insert(0, {tests!r})
    import keras, numpy as np
    from facezoo.data import CelebAMask, ParsingSequence, to_tf_dataset
    from facezoo.models import ICNN
    from facezoo.training import make_strategy, train
    import tensorflow as tf
    strategy = make_strategy()
    assert isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy), strategy
    seq = ParsingSequence(CelebAMask({data!r}, "train"), batch_size=2, image_size=(16, 16))
    ds = to_tf_dataset(seq)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    ds = ds.with_options(options)
    keras.utils.set_random_seed(0)
    model = train(lambda: ICNN(num_classes=19, input_shape=(16, 16, 3), channels=(2, 2, 2, 2)), ds, None,
                  {out!r}, run_name="mw", epochs=2, learning_rate=1e-2, steps_per_epoch=2, strategy=strategy,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), verbose=0)
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    np.savez({out!r} + f"/weights_{{task}}.npz", *model.get_weights())
    print("WORKER-DONE", task)
    """
)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_localhost_end_with_identical_weights(tmp_path):
    make_celebamask_merged(tmp_path / "data", split="train", count=4, size=(16, 16))
    out = tmp_path / "run"
    out.mkdir()
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    script = WORKER.format(tests=str(Path(__file__).parent), data=str(tmp_path / "data"), out=str(out))
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow",
               "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=600)[0])
        finally:
            proc.kill()
    for index, (proc, text) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0 and f"WORKER-DONE {index}" in text, text[-3000:]
    a, b = (np.load(out / f"weights_{i}.npz") for i in range(2))
    assert len(a.files) == len(b.files) > 0
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    start = ICNN(num_classes=19, input_shape=(16, 16, 3), channels=(2, 2, 2, 2))
    assert any(not np.allclose(w, a[k]) for w, k in zip(start.get_weights(), a.files))  # it did train
    assert (out / "last.keras").exists() and (out / "worker_1" / "last.keras").exists()


@pytest.mark.parametrize("recipe, data", [
    ("icnn_lfw", "lfw_pl"),
    # its phases run through train_stn_icnn as the HELEN recipe's smoke test does
    pytest.param("stn_icnn_celebamask", "celebamask_subset", marks=pytest.mark.large),
])
def test_recipe_smoke_runs(recipe, data, data_root, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(REPO / "recipes" / f"{recipe}.py"), "--data", str(data_root / data),
         "--out", str(tmp_path / "run"), "--smoke"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (tmp_path / "run" / "final.keras").exists()


def test_helen_recipe_smoke_on_a_fixture_in_helens_annotation_layout(tmp_path):
    from fixtures import make_helen_contours

    make_helen_contours(tmp_path / "helen", train=("1_1", "2_1", "3_1", "4_1", "5_1", "6_1"), test=("7_1",))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(REPO / "recipes" / "stn_icnn_helen.py"), "--data", str(tmp_path / "helen"),
         "--out", str(tmp_path / "run"), "--smoke", "--crop-jitter", "3", "--theta-weight", "50",
         "--part-dice", "0.5", "--part-channels", "4", "8", "8", "12",  # only the coarsest row wider: cheap
         "--augment", "aligned", "--preset", "stn_icnn_helen_lite"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (tmp_path / "run" / "final.keras").exists()
    for phase in ("stage1", "localizer", "parts", "end_to_end"):
        assert (tmp_path / "run" / f"{phase}.weights.h5").exists()
    final = keras.models.load_model(tmp_path / "run" / "final.keras", compile=False)
    assert final.loss_weights["theta"] == 50  # --theta-weight reached the model's loss
    assert final.loss_weights["part_dice"] == 0.5 and final.part_channels == (4, 8, 8, 12)  # so did these
    assert json.loads((tmp_path / "run" / "run.json").read_text())["run"] == "stn_icnn_helen_lite"
    cached = np.load(tmp_path / "run" / "cache" / "train" / "1_1.npz")
    assert cached["image"].shape == (512, 512, 3) and cached["landmarks"].shape == (68, 2)
    assert {2, 3, 4, 5, 6, 7, 9} <= set(np.unique(cached["labels"]))  # the components, drawn from the contours


def test_recipe_refuses_a_wrong_layout_before_training(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    (tmp_path / "empty").mkdir()
    result = subprocess.run(
        [sys.executable, str(REPO / "recipes" / "icnn_lfw.py"), "--data", str(tmp_path / "empty"),
         "--out", str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0 and "parts_train.txt: split list missing" in result.stderr
    assert not (tmp_path / "run").exists()


def test_rtparser_recipe_smoke_teacher_with_sc_then_student_with_unlabelled_faces(data_root, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    recipe = str(REPO / "recipes" / "rtparser.py")
    base = [sys.executable, recipe, "--data", str(data_root / "lfw_pl"), "--smoke"]
    result = subprocess.run(base + ["--out", str(tmp_path / "teacher")], env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "val_embedding_loss" in result.stdout  # the SC loss was part of the training
    result = subprocess.run(base + ["--out", str(tmp_path / "student"), "--student", "--teacher",
                                    str(tmp_path / "teacher" / "final.keras"), "--unlabelled",
                                    str(data_root / "helen68" / "trainset")],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (tmp_path / "student" / "final.keras").exists()


def test_rtparser_recipe_smoke_on_celebamask_with_19_classes_and_the_dice_term(data_root, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(REPO / "recipes" / "rtparser.py"), "--dataset", "celebamask",
                             "--data", str(data_root / "celebamask_subset"), "--smoke", "--out", str(tmp_path / "cm")],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "val_logits_mean_iou" in result.stdout  # the best epoch is picked by mean IoU
    run = json.loads((tmp_path / "cm" / "best.keras").with_name("run.json").read_text())
    assert run["run"] == "rtparser_celebamask"
    model = keras.models.load_model(tmp_path / "cm" / "final.keras")
    assert model.output_shape[-1] == 19
    wrong = subprocess.run([sys.executable, str(REPO / "recipes" / "rtparser.py"), "--dataset", "celebamask",
                            "--data", str(data_root / "celebamask_subset"), "--smoke", "--out", str(tmp_path / "s"),
                            "--student", "--teacher", str(data_root / "missing.keras")],
                           env=env, capture_output=True, text=True, timeout=300)
    assert wrong.returncode != 0 and "--student needs --teacher" in wrong.stderr


def test_landmark_recipe_smoke_holistic_then_adc_from_its_global_network(data_root, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    base = [sys.executable, str(REPO / "recipes" / "adc_landmarks_300w.py"), "--data", str(data_root / "helen68"),
            "--smoke"]
    holistic = subprocess.run(base + ["--out", str(tmp_path / "holistic"), "--model", "holistic"], env=env,
                              capture_output=True, text=True, timeout=900)
    assert holistic.returncode == 0, holistic.stdout[-2000:] + holistic.stderr[-3000:]
    adc = subprocess.run(base + ["--out", str(tmp_path / "adc"), "--init-global",
                                 str(tmp_path / "holistic" / "final.keras")],
                         env=env, capture_output=True, text=True, timeout=900)
    assert adc.returncode == 0, adc.stdout[-2000:] + adc.stderr[-3000:]
    wrong = subprocess.run(base + ["--out", str(tmp_path / "x"), "--model", "holistic", "--init-global",
                                   str(tmp_path / "holistic" / "final.keras")],
                           env=env, capture_output=True, text=True, timeout=300)
    assert wrong.returncode != 0 and "--init-global is for --model adc" in wrong.stderr
    # a further stage starts every weight from the ADC run, on a new schedule, with more
    # faces from a point list (machine-made points, as recipes/dlib_pseudo_landmarks.py writes)
    from facezoo.data import read_pts
    from facezoo.data.point_list import frame_like_300w

    names = sorted(p.name for p in (data_root / "helen68" / "trainset").glob("*.pts"))[:3]
    faces = []
    for name in names:
        points = read_pts(data_root / "helen68" / "trainset" / name).tolist()
        faces.append({"image": name[:-4] + ".jpg", "crop": frame_like_300w(points), "points": points})
    listing = tmp_path / "extra.json"
    listing.write_text(json.dumps({"source": "test", "points_per_face": 68, "faces": faces}))
    # ... and deeper (residual blocks that start as the identity, ADCLandmarks.copy_deepened_from)
    again = subprocess.run(base + ["--out", str(tmp_path / "adc2"), "--init", str(tmp_path / "adc" / "final.keras"),
                                   "--learning-rate", "1e-4", "--halve-every", "2", "--global-blocks", "1",
                                   "--regional-blocks", "1",
                                   "--extra", f"{data_root / 'helen68' / 'trainset'}={listing}"],
                           env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "training faces: 4 HELEN + 2 " in again.stdout  # the smoke run keeps 4 + 2
    deeper = keras.models.load_model(tmp_path / "adc2" / "final.keras")
    assert (deeper.global_blocks, deeper.regional_blocks) == (1, 1)
    # a further stage from the deeper model keeps its blocks without repeating the flags
    # (and, as no weight depends on it, at another crop size: step 9's fine-tuning; and with a
    # narrower regional network, which starts fresh on the copied global network)
    further = subprocess.run(base + ["--out", str(tmp_path / "adc6"), "--init", str(tmp_path / "adc2" / "final.keras"),
                                     "--crop-size", "12", "--region-fraction", "0.125", "--regional-channels", "4", "4",
                                     "4", "--global-multiplier", "0"],
                             env=env, capture_output=True, text=True, timeout=900)
    assert further.returncode == 0, further.stdout[-2000:] + further.stderr[-3000:]
    assert "the regional network (4, 4, 4) starts fresh" in further.stdout
    kept = keras.models.load_model(tmp_path / "adc6" / "final.keras")
    assert (kept.global_blocks, kept.regional_blocks) == (1, 1)
    assert (kept.crop_size, kept.region_fraction, kept.regional_channels) == (12, 0.125, (4, 4, 4))
    for ours, theirs in zip(kept.global_network.trainable_weights, deeper.global_network.trainable_weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))  # copied, then frozen (multiplier 0)
    smaller = subprocess.run(base + ["--out", str(tmp_path / "adc8"), "--init", str(tmp_path / "adc2" / "final.keras"),
                                     "--crop-size", "12", "--region-fraction", "0.125"],
                             env=env, capture_output=True, text=True, timeout=900)
    assert smaller.returncode == 0, smaller.stdout[-2000:] + smaller.stderr[-3000:]
    assert "starts fresh" not in smaller.stdout  # every weight from --init (step 9's path)
    fine_tuned = keras.models.load_model(tmp_path / "adc8" / "final.keras")
    assert (fine_tuned.crop_size, fine_tuned.regional_channels) == (12, deeper.regional_channels)
    both = subprocess.run(base + ["--out", str(tmp_path / "adc9"), "--init", str(tmp_path / "adc" / "final.keras"),
                                  "--global-blocks", "1", "--crop-size", "12"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert both.returncode != 0 and "give --crop-size/--region-fraction in a further run" in both.stderr
    holistic_deeper = subprocess.run(base + ["--out", str(tmp_path / "adc7"), "--global-blocks", "1", "--init-global",
                                             str(tmp_path / "holistic" / "final.keras")],
                                     env=env, capture_output=True, text=True, timeout=300)
    assert holistic_deeper.returncode != 0 and "deepen a trained ADC model (--init)" in holistic_deeper.stderr
    bad = subprocess.run(base + ["--out", str(tmp_path / "adc4"), "--extra", str(listing)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "expected ROOT=LIST.json" in bad.stderr
    wrong_root = subprocess.run(base + ["--out", str(tmp_path / "adc5"), "--extra", f"{tmp_path}={listing}"],
                                env=env, capture_output=True, text=True, timeout=300)
    assert wrong_root.returncode != 0 and "no such photo (is " in wrong_root.stderr  # before any training
    holistic_file = str(tmp_path / "holistic" / "final.keras")
    mixed = subprocess.run(base + ["--out", str(tmp_path / "adc3"), "--init", holistic_file],
                           env=env, capture_output=True, text=True, timeout=900)
    assert mixed.returncode != 0
    assert "holds a HolisticLandmarks; this run trains ADCLandmarks" in mixed.stdout + mixed.stderr


def _recipe(name):
    """A recipe script imported as a module."""
    return script_module("recipes", name)


def test_rtparser_recipe_init_copies_every_weight_and_refuses_another_shape(tmp_path):
    from facezoo.models import RTParser

    recipe = _recipe("rtparser")
    trained = RTParser(num_classes=3, input_size=(64, 64), width=0.25)
    for variable in trained.weights:  # weights unlike any fresh initialisation
        variable.assign(np.random.default_rng(0).normal(size=variable.shape).astype("float32") * 0.1)
    trained.save(tmp_path / "trained.keras")
    images = np.random.default_rng(1).random((1, 64, 64, 3)).astype("float32")

    # A teacher with an SC embedding head starts from a model without one: the rest is copied.
    model = recipe.initialised(RTParser(num_classes=3, input_size=(64, 64), width=0.25, embedding_dims=4),
                               str(tmp_path / "trained.keras"))
    np.testing.assert_allclose(np.asarray(model(images)["logits"]), np.asarray(trained(images)), atol=1e-5)
    with pytest.raises(SystemExit, match="does not fit"):
        recipe.initialised(RTParser(num_classes=3, input_size=(64, 64), width=0.5), str(tmp_path / "trained.keras"))


def test_rtparser_recipe_default_students_need_4x_fewer_multiply_adds_than_their_teachers():
    from facezoo.models import RTParser
    from facezoo.models.rtparser import multiply_adds
    from facezoo.models.rtparser.presets import RECIPE_DATASETS

    assert _recipe("rtparser").DATASETS is RECIPE_DATASETS  # the recipe trains what the presets file says
    for name, spec in RECIPE_DATASETS.items():
        teacher = RTParser(num_classes=spec["num_classes"], input_size=(spec["size"],) * 2, width=spec["width"],
                           dilation=spec["dilation"])
        student = RTParser(num_classes=spec["num_classes"], input_size=(spec["student"]["size"],) * 2,
                           width=spec["student"]["width"], dilation=spec["student"]["dilation"])
        assert multiply_adds(teacher) >= 4 * multiply_adds(student), name


def test_rtparser_recipe_refuses_a_student_without_4x_fewer_multiply_adds(data_root, tmp_path):
    from facezoo.models import RTParser

    RTParser(num_classes=3, input_size=(256, 256)).save(tmp_path / "teacher.keras")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(REPO / "recipes" / "rtparser.py"), "--data", str(data_root / "lfw_pl"),
                             "--out", str(tmp_path / "s"), "--student", "--teacher", str(tmp_path / "teacher.keras"),
                             "--student-width", "0.6"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "at least 4x wanted" in result.stderr
    assert not (tmp_path / "s" / "log.csv").exists()


def test_stn_icnn_helen_recipe_continues_one_phase_with_its_multipliers():
    recipe = _recipe("stn_icnn_helen")
    phases = {p.name: p for p in recipe.CPU_SCHEDULE}
    (phase,) = recipe.continuation(recipe.CPU_SCHEDULE, "end_to_end", epochs=8, learning_rate=2e-5, halve_every=4)
    assert (phase.name, phase.epochs, phase.learning_rate, phase.halve_every) == ("end_to_end", 8, 2e-5, 4)
    assert phase.multipliers == phases["end_to_end"].multipliers and phase.multipliers  # stage 1, localizer slowed
    (kept,) = recipe.continuation(recipe.CPU_SCHEDULE, "parts")
    assert (kept.epochs, kept.learning_rate) == (phases["parts"].epochs, phases["parts"].learning_rate)
    with pytest.raises(SystemExit, match="no phase 'end2end'.*end_to_end"):
        recipe.continuation(recipe.CPU_SCHEDULE, "end2end")


def test_stn_icnn_lite_recipe_starts_from_the_teachers_icnns_with_a_fresh_localizer(tmp_path):
    from facezoo.models import STNiCNN
    from facezoo.models.stn_icnn.schedule import SMOKE_STN_CONFIG

    recipe = _recipe("stn_icnn_celebamask")
    teacher = STNiCNN(**SMOKE_STN_CONFIG)
    rng = np.random.default_rng(0)
    for variable in teacher.weights:  # weights unlike any fresh initialisation
        variable.assign(rng.normal(size=variable.shape).astype("float32") * 0.1)
    teacher.save(tmp_path / "teacher.keras")
    lite_config = {**SMOKE_STN_CONFIG, "stage1_size": (24, 24), "crop_size": (11, 11), "crop_scale": 2.0}
    path = recipe.lite_initial_weights(str(tmp_path / "run"), lite_config, source=str(tmp_path / "teacher.keras"))
    lite = STNiCNN(**lite_config)
    lite.load_weights(path)
    for old, new in zip([teacher.stage1, *teacher.part_models], [lite.stage1, *lite.part_models]):
        for a, b in zip(old.get_weights(), new.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert len(lite.localizer.weights) < len(teacher.localizer.weights)  # a smaller map: fewer blocks
    assert not lite.localizer.head.get_weights()[0].any()  # its zero initialisation, not the teacher's

    # The HELEN recipe decides by the sizes: resized for a lite config, a plain copy otherwise.
    helen = _recipe("stn_icnn_helen")
    resized = STNiCNN(**lite_config)
    resized.load_weights(helen.initial_weights(str(tmp_path / "lite"), str(tmp_path / "teacher.keras"), lite_config))
    np.testing.assert_array_equal(resized.stage1.get_weights()[0], teacher.stage1.get_weights()[0])
    assert not resized.localizer.head.get_weights()[0].any()
    same = STNiCNN(**SMOKE_STN_CONFIG)
    same.load_weights(helen.initial_weights(str(tmp_path / "same"), str(tmp_path / "teacher.keras"), SMOKE_STN_CONFIG))
    np.testing.assert_array_equal(same.localizer.head.get_weights()[0], teacher.localizer.head.get_weights()[0])



def test_wider_part_icnns_start_from_the_narrow_ones_computing_the_same(tmp_path):
    from facezoo.models import STNiCNN
    from facezoo.models.stn_icnn.schedule import SMOKE_STN_CONFIG, initial_weights

    teacher = randomised(STNiCNN(**SMOKE_STN_CONFIG))
    wide_config = {**SMOKE_STN_CONFIG, "part_channels": [2 * c for c in SMOKE_STN_CONFIG["channels"]]}
    wide = STNiCNN(**wide_config)
    wide.load_weights(initial_weights(teacher, wide_config, str(tmp_path / "wide" / "init.weights.h5")))
    np.testing.assert_array_equal(wide.localizer.head.get_weights()[0], teacher.localizer.head.get_weights()[0])
    np.testing.assert_array_equal(wide.stage1.get_weights()[0], teacher.stage1.get_weights()[0])
    faces = np.random.default_rng(1).uniform(0, 1, (2, *SMOKE_STN_CONFIG["input_size"], 3)).astype("float32")
    expected = np.asarray(teacher(faces))  # eager calls: tracing predict_on_batch would triple the test's time
    assert np.isfinite(expected).all() and expected.std() > 0.01  # a real output to compare with
    np.testing.assert_allclose(np.asarray(wide(faces)), expected, atol=1e-3)  # rounding through random weights
    # the other way round is refused, not silently copied
    with pytest.raises(ValueError, match="wider"):
        initial_weights(wide, SMOKE_STN_CONFIG, str(tmp_path / "narrow" / "init.weights.h5"))


def test_every_stn_icnn_phase_checkpoint_carries_the_info_it_is_given(tmp_path):
    """So that ``facezoo eval`` can score any epoch of a run, not only its final.keras."""
    import dataclasses

    from facezoo.models.stn_icnn.schedule import SMOKE_STN_CONFIG, train_stn_icnn

    class Faces(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            rng = np.random.default_rng(index)
            return rng.random((2, 96, 96, 3)).astype("float32"), rng.integers(0, 11, (2, 96, 96)).astype("int32")

    model = STNiCNN(**SMOKE_STN_CONFIG)
    info = dataclasses.replace(model.info, name="helen_run", face_crop="aligned by a test")
    train_stn_icnn(SMOKE_STN_CONFIG, Faces(), None, str(tmp_path), run_name="unit",
                   schedule=(Phase("end_to_end", 1, 1e-4),), steps_per_epoch=1, run_eagerly=True, verbose=0, info=info)
    for path in (tmp_path / "end_to_end" / "epoch_001.keras", tmp_path / "final.keras"):
        loaded = keras.models.load_model(path, compile=False)
        assert (loaded.info.name, loaded.info.face_crop) == ("helen_run", "aligned by a test"), path


def test_centroid_crops_jitter_shifts_only_the_training_crops_translation():
    """Exact crops without jitter; with it, each crop's centre moves by about ``jitter``
    pixels along each axis of a non-square face, its scale stays, and a bad value is
    refused (by train_stn_icnn too, before any phase trains)."""
    from facezoo.models.stn_icnn.schedule import CentroidCrops, SMOKE_STN_CONFIG, train_stn_icnn

    config = {**SMOKE_STN_CONFIG, "input_size": (96, 160)}
    model = STNiCNN(**config)
    labels = np.zeros((256, 96, 160), np.int32)
    labels[:, 20:30, 10:40] = model.class_names.index("r_brow")
    labels[:, 60:70, 60:90] = model.class_names.index("u_lip")

    class Faces(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return np.zeros((256, 96, 160, 3), np.float32), labels

    exact = model.centroid_thetas(labels)
    x, _ = CentroidCrops(Faces(), model)[0]
    np.testing.assert_array_equal(x["thetas"], exact)
    x, _ = CentroidCrops(Faces(), model, jitter=4.0, seed=0)[0]
    np.testing.assert_allclose(x["thetas"][..., :, :2], exact[..., :, :2])  # scales untouched
    shift_x = (x["thetas"] - exact)[..., 0, 2] * (160 - 1) / 2.0  # back to pixels
    shift_y = (x["thetas"] - exact)[..., 1, 2] * (96 - 1) / 2.0
    for shift in (shift_x, shift_y):
        assert 3.6 < shift.std() < 4.4 and abs(shift.mean()) < 0.5, (shift_x.std(), shift_y.std())
    for bad in (-1, float("nan"), True):
        with pytest.raises(TrainingSetupError, match="jitter"):
            CentroidCrops(Faces(), model, jitter=bad)
    with pytest.raises(TrainingSetupError, match="jitter"):
        train_stn_icnn(config, Faces(), None, "/nonexistent/run", run_name="unit",
                       schedule=(Phase("stage1", 1, 1e-3), Phase("parts", 1, 1e-3)), crop_jitter=-2)


def _tiny_adc_file(path, **settings):
    """A tiny, untrained 68-point ADC model saved at ``path`` (a recipe's --init); with
    ``shape_correction=True`` its correction is fitted (a shift), so that it is not the identity."""
    from facezoo.models import ADCLandmarks

    model = ADCLandmarks(global_size=32, global_channels=(4, 4, 8), crop_size=16, regional_channels=(4, 4, 8),
                         **settings)
    images = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype("float32")
    predicted = np.asarray(model(images))
    if model.shape_correction is not None:
        model.shape_correction.fit(predicted, predicted + np.array([1.5, -2.0]), ridge=0.3)
    model.save(path)
    return model


def test_landmark_recipe_deepens_a_corrected_model_under_its_correction_and_keeps_its_point_loss(data_root,
                                                                                                 tmp_path):
    if not (data_root / "helen68" / "trainset").is_dir():
        pytest.skip("helen68 is not in the data folder")
    init = _tiny_adc_file(tmp_path / "corrected.keras", shape_correction=True, point_loss="wing")
    run = _landmark_recipe(data_root, "--out", tmp_path / "run", "--init", tmp_path / "corrected.keras",
                           "--global-blocks", "1", "--smoke")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    deeper = keras.models.load_model(tmp_path / "run" / "final.keras")
    assert deeper.global_blocks == 1 and deeper.point_loss == "wing"  # the loss comes with --init
    for ours, theirs in zip(deeper.shape_correction.weights, init.shape_correction.weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))  # copied, and fixed in training
    fresh = _landmark_recipe(data_root, "--out", tmp_path / "x", "--init", tmp_path / "corrected.keras",
                             "--regional-channels", "4", "4", "4", "--smoke", timeout=300)
    assert fresh.returncode != 0 and "change its regional network from the model before its correction" in fresh.stderr


def _landmark_recipe(data_root, *args, timeout=600):
    """recipes/adc_landmarks_300w.py on helen68 with ``args``, in a subprocess."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / "recipes" / "adc_landmarks_300w.py"), "--data",
                           str(data_root / "helen68"), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_landmark_recipe_fits_a_shape_correction_without_training(data_root, tmp_path):
    if not (data_root / "helen68" / "trainset").is_dir():
        pytest.skip("helen68 is not in the data folder")
    model = _tiny_adc_file(tmp_path / "tiny.keras")
    result = _landmark_recipe(data_root, "--out", tmp_path / "run", "--init", tmp_path / "tiny.keras",
                              "--fit-shape-correction", "--smoke")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    fitted = keras.models.load_model(tmp_path / "run" / "final.keras")
    assert np.abs(np.array(fitted.shape_correction.matrix)).max() > 0
    for network in ("global_network", "regional_network"):  # no network weight changed
        for a, b in zip(getattr(fitted, network).get_weights(), getattr(model, network).get_weights()):
            np.testing.assert_array_equal(a, b)
    table = json.loads((tmp_path / "run" / "correction.json").read_text())
    assert table["training_faces"] == 8 and str(table["ridge"]) in table["cross_validation"]
    assert len(table["validation"]) == 2  # both presets' settings, one correction


def test_landmark_recipe_refuses_an_along_contour_weight_outside_0_1_before_reading_data(tmp_path):
    run = _landmark_recipe(tmp_path / "no_data", "--out", tmp_path / "y", "--along-contour-weight", "2", timeout=300)
    assert run.returncode != 0 and "must be in [0, 1], got 2.0" in run.stderr
    assert not (tmp_path / "y").exists()


def test_landmark_recipe_starts_helens_194_points_from_a_68_point_model(data_root, tmp_path):
    if not (data_root / "helen68" / "annotation").is_dir():
        pytest.skip("helen68 with annotation/ is not in the data folder")
    _tiny_adc_file(tmp_path / "tiny68.keras")
    run = _landmark_recipe(data_root, "--out", tmp_path / "run", "--init", tmp_path / "tiny68.keras",
                           "--scheme", "helen194", "--along-contour-weight", "0.25", "--point-loss", "wing", "--smoke")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "heads for 194 points" in run.stdout
    trained = keras.models.load_model(tmp_path / "run" / "final.keras")
    assert trained.num_points == 194 and trained.name == "adc_landmarks_helen194"
    assert trained.along_contour_weight == 0.25 and trained.point_loss == "wing"
    template = PRESETS["adc_landmarks_helen194"].alignment  # the preset's framing: usable as the preset is
    np.testing.assert_array_equal(trained.info.alignment["keypoints"], template["keypoints"])
    wrong = _landmark_recipe(data_root, "--out", tmp_path / "x", "--scheme", "helen194", "--model", "holistic",
                             "--smoke", timeout=300)
    assert wrong.returncode != 0 and "trains ADC on HELEN's faces alone" in wrong.stderr
