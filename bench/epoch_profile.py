"""Where one epoch of the baseline CNN goes: the input pipeline against the network, in one run.

On the course's real training split (full profile: 224 px, batches of 32), three timings of one epoch each:

- the input pipeline alone: `make_dataset` reads, decodes, resizes and batches every training image, nothing else;
- the network alone: the same epoch trained from images in memory (`make_dataset(cache=True)`: decoded once,
  kept as 8-bit pixels), without and with the augmentation layers (they sit inside the model, so they are part
  of the network's time);
- both, as the lesson trained before the cache: `model.fit` on the pipeline.

If the pipeline's share of the epoch (both minus network alone) is over 10%, the lesson should read the images
once into memory; if not, the network is the bound. Appends one line to bench/epoch_profile.jsonl.

    python bench/epoch_profile.py --data DIR
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import tensorflow as tf

from transfer_tutorial.baseline import augmentation_layers, build_baseline, compile_classifier
from transfer_tutorial.data import course_config, course_splits, make_dataset

HERE = Path(__file__).resolve().parent


def one_epoch(model, dataset) -> float:
    "Seconds of one training epoch, after a two-batch warm-up that builds the graph (not counted)."
    model.fit(dataset.take(2), epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    return time.perf_counter() - start


def fresh(config, classes, augment=False):
    keras.utils.set_random_seed(config.seed)
    augmentation = augmentation_layers(config.seed) if augment else None
    return compile_classifier(build_baseline(classes, config.image_size, augmentation=augmentation))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    args = p.parse_args()
    config = course_config("full", data_dir=args.data)
    splits = course_splits(config)
    classes = len(splits["train"].class_names)
    pipeline = make_dataset(splits["train"], config.image_size, config.batch_size, shuffle=True, seed=config.seed)

    start = time.perf_counter()
    batches = sum(1 for _ in pipeline)
    seconds = {"pipeline alone (read, decode, resize, batch)": time.perf_counter() - start}
    # the course's cache: each image decoded once and kept as 8-bit pixels; the first pass fills it
    in_memory = make_dataset(splits["train"], config.image_size, config.batch_size, shuffle=True, seed=config.seed, cache=True)
    start = time.perf_counter()
    sum(1 for _ in in_memory)
    seconds["filling the cache (the first epoch's reading)"] = time.perf_counter() - start
    start = time.perf_counter()
    sum(1 for _ in in_memory)
    seconds["reading the cache (a later epoch's reading)"] = time.perf_counter() - start
    seconds["network alone, no augmentation (in-memory batches)"] = one_epoch(fresh(config, classes), in_memory)
    seconds["network alone, with augmentation (in-memory batches)"] = one_epoch(fresh(config, classes, True), in_memory)
    seconds["pipeline and network, no augmentation (as the lesson trains)"] = one_epoch(fresh(config, classes), pipeline)
    both = seconds["pipeline and network, no augmentation (as the lesson trains)"]
    network = seconds["network alone, no augmentation (in-memory batches)"]
    row = dict(date=str(date.today()), machine=f"{platform.machine()}, {os.cpu_count()} cores", tensorflow=tf.__version__,
               images=len(splits["train"]), batches=batches, image_size=config.image_size, batch_size=config.batch_size,
               seconds={k: round(v, 1) for k, v in seconds.items()},
               pipeline_share_of_epoch=round((both - network) / both, 3),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    print(json.dumps(row, indent=1), flush=True)
    with open(HERE / "epoch_profile.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
