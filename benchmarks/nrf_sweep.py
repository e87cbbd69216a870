"""Does the best Normalized Receptive Field hold across input sizes? (Wei et al. 2019)

    python benchmarks/nrf_sweep.py --data ../shared/data/lfw_pl [--sizes 128 256] [--dilations 1 2 4 8]
        [--epochs 6] [--json benchmarks/results/nrf_sweep.json] [--plot benchmarks/results/nrf_sweep.png]

For each input size s and context dilation d, an RTParser (3 classes) is trained from
scratch on the LFW-PL train split for a few epochs (same schedule for all: Adam 1e-3
halved every 2 epochs, flips and the paper's augmentation, cross-entropy only) and scored
on the validation split with the LFW-PL protocol (mean F1 of skin and hair, and pixel
accuracy, at the labels' 250x250). Its receptive field r comes from
facezoo.receptive_field, so each point is (r / s, F1). The table and a PNG plot show
F1 against r/s for both sizes: if the best r/s is the same at both sizes, the NRF,
not the absolute receptive field, is what matters.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_one(data, size, dilation, epochs, batch_size, limit):
    import keras

    from facezoo.data import Augmenter, LFWPartLabels, ParsingSequence
    from facezoo.evaluate import evaluate_parsing
    from facezoo.models import RTParser
    from facezoo.receptive_field import normalized_receptive_field, receptive_field

    train_set, val_set = LFWPartLabels(data, "train"), LFWPartLabels(data, "val")
    if limit:
        train_set.records, val_set.records = train_set.records[:limit], val_set.records[: max(2, limit // 3)]
    model = RTParser(num_classes=3, input_size=(size, size), dilation=dilation)
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 2 * len(train_set) // batch_size, 0.5, True)
    model.compile(keras.optimizers.Adam(schedule), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sequence = ParsingSequence(train_set, batch_size, (size, size), augment=Augmenter("lfw_pl", flip=0.5),
                               shuffle=True)
    model.fit(sequence, epochs=epochs, verbose=0)
    scores = evaluate_parsing(model, val_set, "lfw_pl", progress=False)
    f1 = scores["f1"]
    return {"size": size, "dilation": dilation, "receptive_field": receptive_field(model)[0],
            "nrf": normalized_receptive_field(model, size), "pixel_accuracy": scores["pixel_accuracy"],
            "mean_f1_skin_hair": (f1["skin"] + f1["hair"]) / 2}


def plot(rows, path):
    """F1 against r/s, one line per input size, drawn with PIL (no plotting dependency)."""
    from PIL import Image, ImageDraw

    width, height, margin = 640, 420, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    xs, ys = [r["nrf"] for r in rows], [r["mean_f1_skin_hair"] for r in rows]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = (y1 - y0) * 0.1 or 0.01

    def point(r):
        x = margin + (r["nrf"] - x0) / ((x1 - x0) or 1) * (width - 2 * margin)
        y = height - margin - (r["mean_f1_skin_hair"] - y0 + pad) / (y1 - y0 + 2 * pad) * (height - 2 * margin)
        return x, y

    draw.line([(margin, margin), (margin, height - margin), (width - margin, height - margin)], fill="black")
    draw.text((width // 2 - 60, height - margin + 25), "normalized receptive field r/s", fill="black")
    draw.text((5, margin - 30), "mean F1 (skin, hair), LFW-PL val", fill="black")
    draw.text((margin - 45, height - margin - 5), f"{y0 - pad:.3f}", fill="black")
    draw.text((margin - 45, margin - 5), f"{y1 + pad:.3f}", fill="black")
    draw.text((margin - 10, height - margin + 8), f"{x0:.2f}", fill="black")
    draw.text((width - margin - 20, height - margin + 8), f"{x1:.2f}", fill="black")
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for index, size in enumerate(sorted({r["size"] for r in rows})):
        line = sorted((r for r in rows if r["size"] == size), key=lambda r: r["nrf"])
        color = colors[index % len(colors)]
        draw.line([point(r) for r in line], fill=color, width=2)
        for r in line:
            x, y = point(r)
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=color)
        draw.text((width - margin - 90, margin + 18 * index), f"input {size}x{size}", fill=color)
    image.save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="LFW-PL root")
    parser.add_argument("--sizes", nargs="+", type=int, default=[128, 256])
    parser.add_argument("--dilations", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N faces only (smoke)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)
    from tqdm import tqdm

    rows = []
    runs = [(s, d) for s in args.sizes for d in args.dilations]
    for size, dilation in tqdm(runs, desc="nrf sweep", unit="model"):
        rows.append(run_one(args.data, size, dilation, args.epochs, args.batch_size, args.limit))
    print(f"RTParser on LFW-PL, {args.epochs} epochs each, scored on the validation split")
    print(f"{'size':>5} {'dilation':>8} {'r':>5} {'r/s':>6} {'pixel acc':>9} {'F1 skin+hair':>12}")
    for r in rows:
        print(f"{r['size']:>5} {r['dilation']:>8} {r['receptive_field']:>5} {r['nrf']:6.2f} "
              f"{r['pixel_accuracy']:9.4f} {r['mean_f1_skin_hair']:12.4f}")
    for size in args.sizes:
        best = max((r for r in rows if r["size"] == size), key=lambda r: r["mean_f1_skin_hair"])
        print(f"best at {size}x{size}: r/s = {best['nrf']:.2f} (dilation {best['dilation']})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
