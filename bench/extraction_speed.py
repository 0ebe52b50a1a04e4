"""How fast can this machine turn image files into features, and what stands in the way?

For every backbone, on the same real images, it measures (images per second, after one warm-up batch):
  model alone, predict:      `extractor.predict` on images already decoded into memory
  model alone, tf.function:  the same images through a plain `tf.function` calling the model
  decode alone:              `make_dataset` (read, decode, resize, batch) with no model
  pipeline, predict:         `extract_features`'s way before this benchmark: `predict` on `make_dataset`
  pipeline, tf.function:     the same `make_dataset` through the `tf.function`
and checks that every way gives the same features (max abs difference). The limit of a pipeline in which
decoding and the model share the same cores is 1 / (1/model + 1/decode).

    python bench/extraction_speed.py --data ../shared/data/caltech101/101_ObjectCategories --images 640

Results are printed as a table and appended to bench/extraction_speed.jsonl. Weights are random: the cost of
a forward pass does not depend on the values of the weights.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf

from transfer_tutorial.data import make_dataset, scan_image_folder
from transfer_tutorial.transfer import BACKBONES, build_feature_extractor

HERE = Path(__file__).resolve().parent


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def measure(backbone, images, size, batch):
    extractor = build_feature_extractor(backbone, weights=None, image_size=size)
    ds = make_dataset(images, size, batch)
    n = len(images)
    row = dict(backbone=backbone, images=n, image_size=size, batch_size=batch)

    # decode alone (twice: the first pass also warms the file cache, which every later pass enjoys)
    decoded = np.concatenate([x.numpy() for x, _ in ds])
    _, seconds = timed(lambda: [x for x, _ in ds])
    row["decode_alone"] = n / seconds

    extractor.predict(decoded[:batch], verbose=0)  # warm-up: builds the predict function
    reference, seconds = timed(lambda: extractor.predict(decoded, batch_size=batch, verbose=0))
    row["model_alone_predict"] = n / seconds

    forward = tf.function(lambda x: extractor(x, training=False), reduce_retracing=True)
    forward(decoded[:batch])
    chunks = [decoded[i:i + batch] for i in range(0, n, batch)]
    result, seconds = timed(lambda: np.concatenate([forward(c).numpy() for c in chunks]))
    row["model_alone_function"] = n / seconds
    row["max_abs_diff_function"] = float(np.abs(result - reference).max())

    # predict traces a new function for a dataset's batches (unknown batch size): that one-off cost is measured
    # apart, and the throughput after it, as for the second and later splits the course extracts
    _, row["predict_first_batch_seconds"] = timed(lambda: extractor.predict(ds.take(1), verbose=0))
    result, seconds = timed(lambda: extractor.predict(ds, verbose=0))
    row["pipeline_predict"] = n / seconds
    row["max_abs_diff_pipeline_predict"] = float(np.abs(result - reference).max())

    result, seconds = timed(lambda: np.concatenate([forward(x).numpy() for x, _ in ds]))
    row["pipeline_function"] = n / seconds
    row["max_abs_diff_pipeline_function"] = float(np.abs(result - reference).max())

    best_model = max(row["model_alone_predict"], row["model_alone_function"])
    row["limit"] = 1 / (1 / best_model + 1 / row["decode_alone"])
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=640)
    p.add_argument("--vgg16-images", type=int, default=192, help="VGG16 runs at a few images per second on a CPU")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    p.add_argument("--label", default="", help="what this run measures, e.g. 'before' or 'after'")
    args = p.parse_args()
    everything = scan_image_folder(args.data)  # the course's 97 classes
    order = np.random.default_rng(0).permutation(len(everything))
    machine = f"{next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name')), platform.machine())}, {os.cpu_count()} cores"
    print(f"{machine}; TensorFlow {tf.__version__}")
    print("| backbone | images | model alone (predict) | model alone (tf.function) | decode alone | limit | pipeline (predict) | pipeline (tf.function) | max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for backbone in args.backbones:
        n = args.vgg16_images if backbone == "vgg16" else args.images
        row = measure(backbone, everything.subset(np.sort(order[:n])), args.image_size, args.batch_size)
        row.update(date=str(date.today()), machine=machine, tensorflow=tf.__version__, label=args.label)
        with open(HERE / "extraction_speed.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        diff = max(v for k, v in row.items() if k.startswith("max_abs_diff"))
        print(f"| {backbone} | {n} | {row['model_alone_predict']:.1f} | {row['model_alone_function']:.1f} | {row['decode_alone']:.0f} | "
              f"{row['limit']:.1f} | {row['pipeline_predict']:.1f} | {row['pipeline_function']:.1f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
