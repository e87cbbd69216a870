"""STN-iCNN's training schedule (Yin et al. 2021): the paper's four phases, each a
resumable :func:`facezoo.training.train` run, and the crops the part models pre-train on.

Example:
    >>> from facezoo.models.stn_icnn.schedule import STN_ICNN_SCHEDULE, train_stn_icnn
    >>> train_stn_icnn(config, train_seq, val_seq, "runs/stn", run_name="stn_icnn_helen")
"""

import os

import keras
import numpy as np

from facezoo.models.stn_icnn.stn_icnn import PHASES, STNiCNN
from facezoo.training import ScaledAdam, TrainingSetupError, _check_run_dir, step_halving_schedule, train


def initial_weights(start, config, path):
    """Write ``path`` (a ``.weights.h5``): the weights an STN-iCNN of ``config`` starts from,
    taken from the model ``start``. Same stage-1 and crop sizes and part widths: all of its
    weights. Other sizes (a lite network from the full one): its stage-1 and part iCNN
    weights, which do not depend on the input size, and a fresh localizer, whose dense head
    does. Part iCNNs wider than ``start``'s (``part_channels``) start from its own widened
    (:meth:`~facezoo.models.ICNN.copy_widened_from`), computing what they did. An existing
    file is kept, so a resumed run starts from the same weights.

    Example:
        >>> initial_weights(facezoo.load("stn_icnn_helen"), lite_config, "runs/lite/init.weights.h5")
    """
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        model = STNiCNN(**config)
        if any(w < n for w, n in zip(model.part_channels, start.part_channels)):
            raise ValueError(f"the part iCNNs of the model to start from are wider ({start.part_channels}) than "
                             f"the config's ({model.part_channels}): give the config its part_channels")
        same_sizes = all(tuple(start.get_config()[k]) == tuple(config[k]) for k in ("stage1_size", "crop_size"))
        if same_sizes and model.part_channels == start.part_channels:
            start.save_weights(path)
            return path
        model.stage1.set_weights(start.stage1.get_weights())
        if same_sizes:
            model.localizer.set_weights(start.localizer.get_weights())
        for old, new in zip(start.part_models, model.part_models):
            if new.channels == old.channels:
                new.set_weights(old.get_weights())
            else:
                new.copy_widened_from(old)
        model.save_weights(path)
    return path


class CentroidCrops(keras.utils.PyDataset):
    """Wraps a ``(images, labels)`` PyDataset so that ``x`` also carries the thetas of crops
    centred on the labelled parts: ``({"images", "thetas"}, labels)``. This is how the part
    models are pre-trained (on ground-truth crops) before end-to-end training.

    ``jitter``: the standard deviation, in pixels of the full-resolution image, of a random
    shift added to each crop's centre. Part models trained on exactly centred crops learn
    the centring as a cue and fail on a localizer's crops, which are never exact (HELEN:
    the stn_icnn_helen card's "Where the gap is").
    """

    def __init__(self, sequence, model, jitter=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.sequence = sequence
        self.model = model
        self.jitter = check_crop_jitter(jitter)
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.sequence)

    def __getitem__(self, index):
        images, labels = self.sequence[index]
        thetas = np.asarray(self.model.centroid_thetas(labels), np.float32)
        if self.jitter:
            height, width = self.model.input_size
            shift = self._rng.normal(0.0, self.jitter, thetas.shape[:2] + (2,))
            thetas[..., 0, 2] += shift[..., 0] * 2.0 / (width - 1)  # pixels -> normalised
            thetas[..., 1, 2] += shift[..., 1] * 2.0 / (height - 1)
        return {"images": images, "thetas": thetas}, labels

    def on_epoch_end(self):
        self.sequence.on_epoch_end()


def check_crop_jitter(jitter):
    """``jitter`` as a float number of pixels >= 0; TrainingSetupError otherwise."""
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter < float("inf"):
        raise TrainingSetupError(f"crop jitter must be a finite number of pixels >= 0, got {jitter!r}")
    return float(jitter)


class Phase:
    """One step of a multi-phase schedule: ``epochs`` at ``learning_rate`` (halved every
    ``halve_every`` epochs), with optional per-component multipliers (see ScaledAdam)."""

    def __init__(self, name, epochs, learning_rate, multipliers=None, halve_every=5):
        self.name = name
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.multipliers = dict(multipliers or {})
        self.halve_every = halve_every

    def __repr__(self):
        return f"Phase({self.name!r}, epochs={self.epochs}, learning_rate={self.learning_rate})"


#: The paper's schedule: stage 1, then the localizer with stage 1 frozen, then the part
#: models on ground-truth crops, then everything end to end at lower rates.
STN_ICNN_SCHEDULE = (
    Phase("stage1", 25, 1e-3),
    Phase("localizer", 10, 1e-3),
    Phase("parts", 20, 1e-3),
    Phase("end_to_end", 10, 1e-4, {"stage1/": 0.1, "localizer/": 0.1}),
)


#: A tiny STN-iCNN for `--smoke` runs of the recipes (plumbing, not accuracy).
SMOKE_STN_CONFIG = dict(input_size=(96, 96), stage1_size=(48, 48), crop_size=(21, 21), crop_scale=1.0,
                        channels=(4, 8, 8, 8), localizer_channels=4)


def cpu_schedule(preset):
    """The phases the recipe of ``preset`` runs on a CPU (:data:`~facezoo.models.stn_icnn.presets.CPU_SCHEDULES`)."""
    from facezoo.models.stn_icnn.presets import CPU_SCHEDULES

    return tuple(Phase(*row) for row in CPU_SCHEDULES[preset])


def smoke_schedule(schedule):
    """The same phases, one epoch each."""
    return tuple(Phase(p.name, 1, p.learning_rate, p.multipliers, p.halve_every) for p in schedule)


def check_schedule(schedule):
    """Refuse a schedule that makes no sense, before any training starts."""
    if not schedule:
        raise TrainingSetupError("the schedule has no phase")
    names = [p.name for p in schedule]
    for phase in schedule:
        if phase.name not in PHASES:
            raise TrainingSetupError(f"unknown phase {phase.name!r}; phases: {', '.join(PHASES)}")
        if not isinstance(phase.epochs, int) or phase.epochs < 1:
            raise TrainingSetupError(f"phase {phase.name!r}: epochs must be a positive int, got {phase.epochs!r}")
        step_halving_schedule(phase.learning_rate, 1, phase.halve_every)
    if len(set(names)) != len(names):
        raise TrainingSetupError(f"a phase appears twice in {names}")
    order = list(PHASES)
    if [order.index(n) for n in names] != sorted(order.index(n) for n in names):
        raise TrainingSetupError(f"phases must run in the order {order}, got {names}")
    if "localizer" in names and "stage1" not in names:
        print("note: training the localizer on an untrained stage 1 (no 'stage1' phase in the schedule)")


def train_stn_icnn(model_config, train_data, val_data, out_dir, *, run_name, schedule=STN_ICNN_SCHEDULE,
                   steps_per_epoch=None, run_eagerly=False, verbose=1, init_weights=None, info=None,
                   crop_jitter=0.0):
    """Run the STN-iCNN schedule; each phase resumes or is skipped when already done.

    Phase ``p`` writes ``out_dir/p/`` (checkpoints, log, backup) and, when finished,
    ``out_dir/p.weights.h5``, from which the next phase starts. The end is
    ``out_dir/final.keras``. ``init_weights`` (a ``.weights.h5`` of the same config)
    starts the first phase from trained weights (fine-tuning) instead of scratch. ``info``
    (a :class:`~facezoo.info.ModelInfo`, e.g. the preset's) is given to every phase's
    checkpoints and the final model, so that ``final.keras`` and each ``epoch_NNN.keras`` are
    parsed, evaluated and exported like the preset it trains. ``crop_jitter`` (pixels)
    shifts the part phase's training crops at random (:class:`CentroidCrops`).
    """
    check_schedule(schedule)
    check_crop_jitter(crop_jitter)  # before any phase trains, not when the parts phase starts
    _check_run_dir(out_dir, run_name)
    previous = init_weights
    model = None
    for phase in schedule:
        done = os.path.join(out_dir, f"{phase.name}.weights.h5")
        if os.path.exists(done):
            print(f"phase {phase.name}: already done ({done})")
            previous = done
            continue

        def build(start=previous, name=phase.name):
            net = STNiCNN(**model_config)
            if start:
                net.load_weights(start)
            if info is not None:  # every epoch's checkpoint is then evaluated like the preset
                net.info = info
            return net.set_phase(name)

        feed_train, feed_val = train_data, val_data
        if phase.name == "parts":  # crops centred on the labelled parts (they depend on the config only)
            geometry = STNiCNN(**model_config)
            feed_train = CentroidCrops(train_data, geometry, jitter=crop_jitter)
            feed_val = None if val_data is None else CentroidCrops(val_data, geometry)
        print(f"phase {phase.name}: {phase.epochs} epochs at {phase.learning_rate:g}")
        model = train(
            build, feed_train, feed_val, os.path.join(out_dir, phase.name), run_name=f"{run_name}/{phase.name}",
            epochs=phase.epochs, learning_rate=phase.learning_rate, halve_every=phase.halve_every,
            optimizer=lambda lr, m=phase.multipliers: ScaledAdam(lr, multipliers=m),
            steps_per_epoch=steps_per_epoch, run_eagerly=run_eagerly, verbose=verbose,
        )
        model.save_weights(done)
        previous = done
    final = STNiCNN(**model_config)
    final.load_weights(previous)
    if info is not None:
        final.info = info
    final.save(os.path.join(out_dir, "final.keras"))
    return final
