"""Where STN-iCNN's time goes: each stage timed in Keras and as its own TFLite file.

    python benchmarks/stn_icnn_profile.py [--model stn_icnn_celebamask] [--threads 1 2] [--repeats 20]
                                          [--data CELEBAMASK_ROOT] [--json benchmarks/results/stn_icnn_profile.json]
    python benchmarks/stn_icnn_profile.py --threads 1 --no-int8 --convs --repeats 10

The stages are the model's own methods, cut apart at the tensors that pass between them
(so the stages add up to the whole model, up to per-call overhead):

1. ``stage-1 iCNN``: the face pooled to the stage-1 size, the iCNN and its softmax;
2. ``localizer``: stage-1 softmax -> one theta per part;
3. ``SpatialCrop``: the six part crops from the full-resolution face;
4. ``part iCNNs``: the part models on the crops (shared models batched over both sides);
5. ``paste + merge``: SpatialPaste of the part probabilities at full resolution and the
   per-pixel merge with stage 1 (the model's ``_assemble``).

Each stage is timed, one face per call after warm-up (median ms), with Keras
``predict_on_batch`` and as a float32 (and dynamic and int8) TFLite file run in LiteRT with its
default XNNPACK delegate, as an app would run it; one process per thread count. The
LiteRT op profile gives, for the whole float, dynamic and int8 files, the number of XNNPACK
partitions the graph is split into (ops between partitions run in TFLite's own kernels) and its ops by type. The input is a real validation face with ``--data``, or
seeded noise.

``--convs`` adds every convolution of the iCNNs timed alone on uniform noise (a
``tf.function`` of the layer against its own TFLite file under XNNPACK, called in turn),
summed by network and output channels: which convolutions make the float file slower or
faster than TensorFlow.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import warnings
from timing import median_ms  # noqa: E402  (benchmarks/timing.py)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STAGES = ("stage-1 iCNN", "localizer", "SpatialCrop", "part iCNNs", "paste + merge", "whole model")




def layer_macs(layer):
    """Multiply-adds of one image through a Conv2D layer."""
    _, height, width, filters = layer.output.shape
    return height * width * filters * layer.kernel.shape[0] * layer.kernel.shape[1] * layer.kernel.shape[2]


def conv_macs(model):
    """Multiply-adds of a face's convolutions: ``{"stage-1 iCNN": n, "part iCNNs": n}``
    (each part model counted once per part it labels, as the model runs it)."""
    import keras

    def macs(network):
        return sum(layer_macs(layer) for layer in network.layers if isinstance(layer, keras.layers.Conv2D))

    parts = sum(macs(model.part_models[model._model_index[spec.model]]) for spec in model.parts)
    return {"stage-1 iCNN": macs(model.stage1), "part iCNNs": parts}


def _stage_models(model):
    """``{stage: (keras.Model, its list of example inputs)}`` for one face."""
    import keras
    from keras import ops

    class Stage(keras.Model):
        def __init__(self, fn, **kwargs):
            super().__init__(**kwargs)
            self.fn = fn

        def call(self, inputs):
            return self.fn(*inputs)

    def stage1(images):
        return ops.softmax(model.stage1(model.to_stage1(images), training=False), axis=-1)

    def localize(probs):
        return model.localizer(probs, training=False)

    def crop(images, thetas):
        return model.crop(images, thetas)

    def parts(crops):
        return ops.concatenate(model._label_parts(crops, training=False), axis=-1)

    sizes = [len(p.classes) + 1 for p in model.parts]

    def assemble(probs, thetas, logits):
        split, start = [], 0
        for size in sizes:
            split.append(logits[..., start : start + size])
            start += size
        return model._assemble(probs, thetas, split)

    def whole(images):
        return model(images, training=False)

    return {"stage-1 iCNN": stage1, "localizer": localize, "SpatialCrop": crop, "part iCNNs": parts,
            "paste + merge": assemble, "whole model": whole}, Stage


def _example_inputs(model, face):
    from keras import ops

    fns, _ = _stage_models(model)
    probs = fns["stage-1 iCNN"](face)
    thetas = fns["localizer"](probs)
    crops = fns["SpatialCrop"](face, thetas)
    logits = fns["part iCNNs"](crops)
    as_np = ops.convert_to_numpy
    return {"stage-1 iCNN": [face], "localizer": [as_np(probs)], "SpatialCrop": [face, as_np(thetas)],
            "part iCNNs": [as_np(crops)], "paste + merge": [as_np(probs), as_np(thetas), as_np(logits)],
            "whole model": [face]}


def _face(model, data):
    import numpy as np

    if data:
        from facezoo.data import CelebAMask

        faces = CelebAMask(data, "train")
        return model.preprocess(faces[len(faces) - 1].image[None])  # a held-out validation face
    return np.random.default_rng(0).uniform(size=(1, *model.input_size, 3)).astype("float32")


def _export_stage(stage, inputs, path, quantize):
    import keras
    import numpy as np

    from facezoo.export import conversion_options

    stage(inputs)  # built before export
    # batch 1, as timed (with a dynamic batch, XNNPACK could not reshape the paste's matmuls)
    specs = [keras.InputSpec(shape=x.shape, dtype="float32") for x in inputs]
    rng = np.random.default_rng(1)
    calibration = [[x * rng.uniform(0.9, 1.1) for x in inputs] for _ in range(4)] if quantize == "int8" else None
    stage.export(path, format="litert", verbose=False, input_signature=[specs],
                 **conversion_options(quantize, calibration))


def _op_profile(path, threads):
    """The file's ops by type, and how many XNNPACK partitions the default interpreter
    makes of them (each boundary between partitions is an op XNNPACK did not take)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    names = collections.Counter(op["op_name"] for op in interpreter._get_ops_details())
    return {"xnnpack_partitions": names.pop("DELEGATE", 0), "ops": dict(sorted(names.items()))}


def conv_timer(threads, repeats, folder):
    """``time(layer, batch)``: a convolution alone at its input shape with ``batch`` faces, as a
    ``tf.function`` of the layer and as its own TFLite file under XNNPACK, called in turn on
    uniform noise (median ms of each). The ``tf.function``'s time is net of its call: a
    function that only broadcasts one input value to the output's shape is timed beside it and
    subtracted (on this CPU a call costs as much as many of these convolutions)."""
    import keras
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from timing import interleaved_median_ms, litert_call

    count = iter(range(10**6))

    def time(layer, batch):
        shape = (batch, *layer.input.shape[1:])
        inputs = keras.Input(batch_shape=shape)
        conv = keras.layers.Conv2D(layer.filters, layer.kernel_size, padding="same")
        alone = keras.Model(inputs, conv(inputs))
        conv.set_weights(layer.get_weights())
        path = os.path.join(folder, f"conv_{next(count)}.tflite")
        alone.export(path, format="litert", verbose=False, input_signature=[keras.InputSpec(shape=shape, dtype="float32")])
        interpreter = Interpreter(model_path=path, num_threads=threads)
        interpreter.allocate_tensors()
        x = np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")
        spec = [tf.TensorSpec(shape, tf.float32)]
        compiled = tf.function(lambda t: conv(t), input_signature=spec)
        out_shape = (batch, *layer.output.shape[1:])
        call_only = tf.function(lambda t: tf.broadcast_to(t[:1, :1, :1, :1], out_shape), input_signature=spec)
        times = interleaved_median_ms({"tf_function": lambda: compiled(x).numpy(), "call": lambda: call_only(x).numpy(),
                                       "tflite_fp32": litert_call(interpreter, x)}, repeats)
        return {"tf_function": max(times["tf_function"] - times["call"], 1e-3), "tflite_fp32": times["tflite_fp32"]}

    return time


def conv_rows(model, time):
    """Every convolution of the stage-1 and part iCNNs timed alone by ``time(layer, batch)``
    (:func:`conv_timer`) as the model runs it (a part network's batch is the number of parts
    it labels), summed by network and output channels, with their GMAC: which convolutions
    the float file loses its time in, or gains it."""
    import keras

    uses = collections.Counter(model._model_index[spec.model] for spec in model.parts)
    networks = [(model.stage1, 1)] + [(net, uses[i]) for i, net in enumerate(model.part_models)]
    groups = collections.defaultdict(lambda: {"convs": 0, "gmac": 0.0, "tf_function": 0.0, "tflite_fp32": 0.0})
    for network, batch in networks:
        for layer in network.layers:
            if isinstance(layer, keras.layers.Conv2D):
                times = time(layer, batch)
                row = groups[f"{network.name.split('_')[0]} -> {layer.filters} channels"]
                row["convs"] += 1
                row["gmac"] += batch * layer_macs(layer) / 1e9
                row["tf_function"] += times["tf_function"]
                row["tflite_fp32"] += times["tflite_fp32"]
    return dict(sorted(groups.items(), key=lambda item: (item[0].split()[0], int(item[0].split()[2]))))


def worker(name, threads, repeats, data, int8, convs=False):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    warnings.simplefilter("ignore")
    import facezoo
    from ai_edge_litert.interpreter import Interpreter

    model = facezoo.load(name, compile=False)
    face = _face(model, data)
    fns, Stage = _stage_models(model)
    examples = _example_inputs(model, face)
    folder = tempfile.mkdtemp(prefix="facezoo-profile-")
    rows, profiles = {}, {}
    for stage_name in STAGES:
        stage, inputs = Stage(fns[stage_name]), examples[stage_name]
        row = {"keras": median_ms(lambda: stage.predict_on_batch(inputs), repeats)}
        for quantize in (None, "dynamic", "int8") if int8 else (None,):
            key = f"tflite_{quantize or 'fp32'}"
            path = os.path.join(folder, f"{STAGES.index(stage_name)}_{key}.tflite")
            try:
                _export_stage(stage, inputs, path, quantize)
                interpreter = Interpreter(model_path=path, num_threads=threads)
                details = interpreter.get_input_details()
                interpreter.allocate_tensors()
            except Exception as error:  # noqa: BLE001 - reported in the table, not fatal
                row[key], row[f"{key}_error"] = None, f"{type(error).__name__}: {str(error)[:100]}"
                continue
            # The stage's inputs have distinct shapes: match the file's inputs by shape.
            order = [next(d["index"] for d in details if tuple(d["shape"][1:]) == x.shape[1:]) for x in inputs]

            def run():
                for index, x in zip(order, inputs):
                    interpreter.set_tensor(index, x)
                interpreter.invoke()

            row[key] = median_ms(run, repeats)
            if stage_name == "whole model":
                profiles[key] = _op_profile(path, threads)
        rows[stage_name] = row
    result = {"stages": rows, "op_profile": profiles}
    if convs:
        result["convolutions"] = conv_rows(model, conv_timer(threads, repeats, folder))
    print("RESULT " + json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="stn_icnn_celebamask")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--data", default=None, help="CelebAMask-HQ root: profile on a real validation face")
    parser.add_argument("--no-int8", action="store_true", help="float32 files only (no dynamic, no int8)")
    parser.add_argument("--convs", action="store_true",
                        help="also time every convolution alone, tf.function against XNNPACK, summed by output channels")
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return worker(args.model, args.worker, args.repeats, args.data, not args.no_int8, args.convs)

    table = {}
    for threads in args.threads:
        command = [sys.executable, __file__, "--worker", str(threads), "--repeats", str(args.repeats),
                   "--model", args.model] + (["--data", args.data] if args.data else []) + (
                   ["--no-int8"] if args.no_int8 else []) + (["--convs"] if args.convs else [])
        run = subprocess.run(command, capture_output=True, text=True)
        line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"worker with {threads} thread(s) failed:\n{run.stderr[-3000:]}")
        table[threads] = json.loads(line[len("RESULT "):])

    columns = ("keras", "tflite_fp32") + (() if args.no_int8 else ("tflite_dynamic", "tflite_int8"))
    import facezoo

    counts = conv_macs(facezoo.load(args.model, compile=False))
    print(f"{args.model}: convolutions per face, " + ", ".join(f"{k} {v / 1e9:.2f} GMAC" for k, v in counts.items())
          + f", {sum(counts.values()) / 1e9:.2f} in all")
    print(f"{args.model}: median ms per face (of {args.repeats}), one face per call, each stage its own "
          f"Keras model / TFLite file; % = share of the sum of the stages")
    print(f"{'stage':16s} {'thr':>3} " + " ".join(f"{c:>18s}" for c in columns))
    for threads, result in table.items():
        stages = result["stages"]
        totals = {c: sum(stages[s].get(c) or 0 for s in STAGES[:-1]) for c in columns}
        for stage_name in STAGES:
            cells = []
            for c in columns:
                value = stages[stage_name].get(c)
                share = f"({100 * value / totals[c]:.0f}%)" if value is not None and totals[c] and \
                    stage_name != "whole model" else ""
                cells.append(f"{'n/a':>18s}" if value is None else f"{value:11.1f} {share:>6s}")
            print(f"{stage_name:16s} {threads:>3} " + " ".join(cells))
        print(f"{'sum of stages':16s} {threads:>3} " + " ".join(f"{totals[c]:11.1f} {'':>6s}" for c in columns))
    for threads, result in table.items():
        if "convolutions" in result:
            print(f"\nEach convolution alone, {threads} thread(s), summed by network and output channels (ms per face):")
            print(f"{'convolutions':24s} {'n':>3} {'GMAC':>6} {'tf.function':>11} {'XNNPACK':>8} {'XNNPACK/tf':>11}")
            for group, row in result["convolutions"].items():
                print(f"{group:24s} {row['convs']:3d} {row['gmac']:6.3f} {row['tf_function']:11.1f} "
                      f"{row['tflite_fp32']:8.1f} {row['tflite_fp32'] / row['tf_function']:11.2f}")
    for threads, result in table.items():
        for key, profile in result["op_profile"].items():
            print(f"LiteRT op profile, {key}, {threads} thread(s): {profile['xnnpack_partitions']} XNNPACK "
                  f"partition(s) of the file's ops {profile['ops']}")
        for stage_name, row in result["stages"].items():
            for key, value in row.items():
                if key.endswith("_error"):
                    print(f"note: {stage_name}, {threads} thread(s), {key[:-6]}: {value}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(table, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
