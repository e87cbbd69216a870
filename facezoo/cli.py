"""The ``facezoo`` command line.

    facezoo models                                   list the architectures
    facezoo export stn_icnn --format tflite -o stn_icnn.tflite
    facezoo eval icnn --dataset lfw_pl --data DIR --split test [--json FILE]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cmd_models(args):
    from facezoo.registry import ARCHITECTURES, PRESETS

    print("pretrained (facezoo.load(NAME)):")
    for name, preset in sorted(PRESETS.items()):
        status = "no published weights" if preset.unavailable else preset.license.split(":")[0] + " terms"
        print(f"  {name:22s} {preset.description} [{status}]")
    print("architectures (random initialisation):")
    for name, (_, description) in ARCHITECTURES.items():
        print(f"  {name:22s} {description}")
    return 0


def _cmd_export(args):
    from facezoo.export import export
    from facezoo.registry import model_from_name

    model = model_from_name(args.model)
    result = export(model, args.output, format=args.format, quantize=args.quantize, verbose=False)
    print(result)
    return 0


def _cmd_eval(args):
    from facezoo.evaluate import run_eval_command

    return run_eval_command(args)


def build_parser():
    parser = argparse.ArgumentParser(prog="facezoo", description="Face parsing and landmarks for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the available models")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("export", help="export a model to TFLite, ONNX or a SavedModel, verified against Keras")
    p.add_argument("model", help="model name (see `facezoo models`)")
    p.add_argument("--format", choices=["tflite", "onnx", "saved_model"], default="tflite")
    p.add_argument("-o", "--output", required=True, help="output file (or directory for saved_model)")
    p.add_argument("--quantize", choices=["fp16", "int8"], default=None, help="TFLite only")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("eval", help="evaluate a model on a dataset with the paper's protocol")
    p.add_argument("model", help="model name (see `facezoo models`), a .keras file or a facezoo .npz checkpoint")
    p.add_argument("--dataset", required=True, choices=["helen", "lfw_pl", "celebamask", "300w"])
    p.add_argument("--data", required=True, help="dataset root folder")
    p.add_argument("--split", default="test")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.set_defaults(func=_cmd_eval)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, TypeError, RuntimeError) as error:
        print(f"facezoo {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
