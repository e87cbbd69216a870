"""Training with ``model.fit`` under a ``tf.distribute`` strategy, resumable.

* Strategy: ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names several workers,
  ``MirroredStrategy`` on one machine otherwise.
* Learning rate: Adam, halved every ``halve_every`` epochs (as STN-iCNN does), as a
  step-based schedule stored in the optimizer, so a resumed run continues it exactly.
* Every epoch: a checkpoint ``epoch_NNN.keras``, ``last.keras``, a CSV log, and a backup
  (``keras.callbacks.BackupAndRestore``) from which a killed run resumes with the same
  weights, optimizer state and epoch.

Example:
    >>> result = train(lambda: ICNN(num_classes=3), train_seq, val_seq, "runs/icnn_lfw",
    ...                epochs=30, learning_rate=1e-3, loss=part_loss)
"""

import json
import os

import keras


class TrainingSetupError(ValueError):
    """A training run was asked for something that cannot work; raised before training."""


@keras.saving.register_keras_serializable(package="facezoo")
class ScaledAdam(keras.optimizers.Adam):
    """Adam with a learning-rate multiplier per component, for fine-tuning pre-trained parts
    more gently: ``multipliers`` maps a variable-path fragment (e.g. ``"stage1/"``) to a
    factor; the first fragment found in a variable's path wins, others get 1.

    Example:
        >>> ScaledAdam(1e-4, multipliers={"stage1/": 0.1, "localizer/": 0.1})
    """

    def __init__(self, learning_rate=0.001, multipliers=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.multipliers = dict(multipliers or {})
        for key, factor in self.multipliers.items():
            if not isinstance(factor, (int, float)) or factor < 0:
                raise TrainingSetupError(f"learning-rate multiplier for {key!r} must be >= 0, got {factor!r}")

    def _multiplier(self, variable):
        path = getattr(variable, "path", variable.name)
        for fragment, factor in self.multipliers.items():
            if fragment in path:
                return factor
        return 1.0

    def update_step(self, gradient, variable, learning_rate):
        factor = self._multiplier(variable)
        super().update_step(gradient, variable, learning_rate * factor)

    def get_config(self):
        config = super().get_config()
        config["multipliers"] = dict(self.multipliers)
        return config


def make_strategy():
    """The tf.distribute strategy for this process (see module docstring)."""
    import tensorflow as tf

    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    workers = config.get("cluster", {}).get("worker", [])
    if len(workers) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy()


def step_halving_schedule(learning_rate, steps_per_epoch, halve_every=5):
    """Adam's rate, halved every ``halve_every`` epochs (staircase)."""
    if not learning_rate or learning_rate <= 0 or learning_rate > 1:
        raise TrainingSetupError(f"learning_rate must be in (0, 1], got {learning_rate!r}")
    if halve_every is not None and halve_every < 1:
        raise TrainingSetupError(f"halve_every must be a positive number of epochs, got {halve_every!r}")
    if halve_every is None:
        return learning_rate
    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=steps_per_epoch * halve_every, decay_rate=0.5, staircase=True
    )


class SyncEpoch(keras.callbacks.Callback):
    """Tell the training data which epoch begins, so that a resumed run shuffles and
    augments exactly as the uninterrupted run would have."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        target = getattr(self.data, "sequence", self.data)
        if hasattr(target, "set_epoch"):
            target.set_epoch(epoch)


def _first_batch(data):
    """One local batch of a PyDataset or tf.data dataset, without starting an epoch."""
    if isinstance(data, keras.utils.PyDataset):
        return data[0]
    return next(iter(data.take(1)))


def _build_for_multi_worker(model, data, strategy):
    """Work around keras-team/keras#20585 (open): under MultiWorkerMirroredStrategy,
    ``fit`` first all-reduces a distributed input batch just to build the model, and
    that reduction fails in eager mode. We build model, loss, metrics and optimizer from
    one local batch instead and skip that step for this model only."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    with strategy.scope():
        model._symbolic_build(data_batch=_first_batch(data))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    _patch_scalar_log_reduction()


def _patch_scalar_log_reduction():
    """Second half of keras-team/keras#20585: Keras averages each worker's scalar logs
    (the loss) with ``strategy.reduce("MEAN", v, axis=0)``, which fails on 0-d values.
    Reduce those with ``axis=None``; everything else goes to Keras unchanged."""
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if getattr(tf_trainer.reduce_per_replica, "_facezoo_patched", False):
        return
    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and reduction in ("mean", "auto"):
            def reduce(v):
                rank = getattr(getattr(v, "values", [v])[0], "shape", None)
                if rank is not None and len(rank) == 0:
                    return strategy.reduce("MEAN", v, axis=None)
                return original(v, strategy, reduction)

            return tf.nest.map_structure(reduce, values)
        return original(values, strategy, reduction)

    reduce_per_replica._facezoo_patched = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def _worker_dir(out_dir, strategy):
    """Under MultiWorkerMirroredStrategy only the chief writes to ``out_dir``."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return out_dir
    if resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0):
        return out_dir
    return os.path.join(out_dir, f"{resolver.task_type}_{resolver.task_id}")


def _check_run_dir(out_dir, run_name):
    """A run directory belongs to one recipe: refuse to resume another recipe's run."""
    os.makedirs(out_dir, exist_ok=True)
    marker = os.path.join(out_dir, "run.json")
    if os.path.exists(marker):
        with open(marker, encoding="utf-8") as handle:
            previous = json.load(handle).get("run")
        if previous != run_name:
            raise TrainingSetupError(
                f"{out_dir} holds a run of {previous!r}, not {run_name!r}: choose another --out directory"
            )
    else:
        with open(marker, "w", encoding="utf-8") as handle:
            json.dump({"run": run_name}, handle)


def train(
    build_model,
    train_data,
    val_data,
    out_dir,
    *,
    run_name,
    epochs,
    learning_rate,
    halve_every=5,
    loss=None,
    loss_weights=None,
    metrics=None,
    optimizer=None,
    strategy=None,
    steps_per_epoch=None,
    monitor=None,
    callbacks=None,
    run_eagerly=False,
    verbose=1,
):
    """Build (inside the strategy's scope), compile and fit a model; resumable.

    Args:
        build_model: ``() -> keras.Model``, called inside the strategy scope; its weights may
            already be initialised from a previous stage.
        train_data, val_data: PyDatasets (or tf.data datasets) of ``(images, targets)``.
        out_dir: run directory (checkpoints, ``log.csv``, the resume backup).
        run_name: recipe name; a run directory of another recipe is refused.
        loss: compile loss (None for models that bring their own, like STNiCNN); with
            ``loss_weights`` for models with several outputs.
        optimizer: ``schedule -> optimizer`` (default Adam).
        monitor: ``(metric, "max"|"min")``: also keep the best epoch as ``best.keras``.
        callbacks: extra Keras callbacks.
        run_eagerly: no graph tracing (for smoke runs on tiny data).
    Returns:
        The trained model (its ``history`` in ``model.history``).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise TrainingSetupError(f"epochs must be a positive int, got {epochs!r}")
    strategy = strategy or (make_strategy() if keras.backend.backend() == "tensorflow" else None)
    out_dir = _worker_dir(out_dir, strategy)
    _check_run_dir(out_dir, run_name)
    steps = steps_per_epoch or len(train_data)
    schedule = step_halving_schedule(learning_rate, steps, halve_every)

    def build_and_compile():
        model = build_model()
        opt = optimizer(schedule) if optimizer else keras.optimizers.Adam(schedule)
        model.compile(optimizer=opt, loss=loss, loss_weights=loss_weights, metrics=metrics, jit_compile=False,
                      run_eagerly=run_eagerly)
        return model

    if strategy is not None:
        with strategy.scope():
            model = build_and_compile()
    else:
        model = build_and_compile()

    if strategy is not None:
        _build_for_multi_worker(model, train_data, strategy)
    callbacks = list(callbacks or []) + [
        SyncEpoch(train_data),
        keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup"), save_freq="epoch", delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(os.path.join(out_dir, "epoch_{epoch:03d}.keras")),
        keras.callbacks.ModelCheckpoint(os.path.join(out_dir, "last.keras")),
        keras.callbacks.CSVLogger(os.path.join(out_dir, "log.csv"), append=True),
    ]
    if monitor:
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                os.path.join(out_dir, "best.keras"), monitor=monitor[0], mode=monitor[1], save_best_only=True
            )
        )
    model.fit(
        train_data,
        validation_data=val_data,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        # Our sequences shuffle themselves, seeded by the epoch; Keras' own batch shuffle
        # draws from the global RNG and would make a resumed run see other batches.
        shuffle=False,
        verbose=verbose,
    )
    return model
