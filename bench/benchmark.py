"""Measure the course's claims on real data and write them as one Markdown table.

    python bench/benchmark.py --data /path/to/101_ObjectCategories \
        --weights /path/to/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5 --out bench/RESULTS.md

Parts (all by default, or pick with --parts):
  ratio     training a new head for 10 epochs: the tutorial's way (whole frozen model on images every epoch)
            vs. features cached once; MobileNetV2 on the full split, VGG16 (random weights, same cost) on 250 images
  memory    peak resident memory of loading N images into one float32 array, as the tutorial did, vs. streaming
            them with the tf.data pipeline, for N = 1,000 and 6,209 (each in a fresh process)
  speed     feature extraction throughput of every backbone, images per second
  accuracy  test accuracy of the baseline CNN and of MobileNetV2 features + a new softmax, 10 epochs each
On a 2-core CPU all parts take about 45 minutes; `ratio` and `accuracy` take most of it.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARTS = ("ratio", "memory", "speed", "accuracy")

# the tutorial's loading: a list of per-image float32 arrays, np.array() of the list, then a /255 copy
TUTORIAL_LOADING = r"""
import sys, numpy as np
from transfer_tutorial.data import load_image
paths = sys.argv[1:]
data = [load_image(p, 224) for p in paths]
x = np.array(data)
x = x.astype("float32") / 255.0
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
"""
STREAMING = r"""
import sys, numpy as np
from transfer_tutorial.data import ImageList, make_dataset
paths = sys.argv[1:]
for images, labels in make_dataset(ImageList(paths, np.zeros(len(paths), np.int32), ["any"]), 224, 32):
    pass
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
"""


DEPLOY_MARKER = "<!-- deployment: written by bench/deploy_results.py -->"
LARGE_FOLDER_MARKER = "<!-- large folder: written by bench/large_folder.py -->"


def describe_machine() -> str:
    import tensorflow as tf
    import keras
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    mem_kb = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    gpus = tf.config.list_physical_devices("GPU")
    return (f"{datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} cores, {mem_kb / 2**20:.0f} GiB RAM, "
            f"{len(gpus) or 'no'} GPU; TensorFlow {tf.__version__}, Keras {keras.__version__}, Python {platform.python_version()}")


def peak_rss_mb(script: str, paths: list) -> tuple:
    # VmHWM, the child's own peak: ru_maxrss would also count the parent's memory, inherited through fork
    start = time.perf_counter()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return int(done.stdout.strip().splitlines()[-1]) / 1024, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="Caltech-101's 101_ObjectCategories folder")
    parser.add_argument("--weights", required=True, help="MobileNetV2 ImageNet weights file (no top)")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of " + ", ".join(PARTS))
    parser.add_argument("--out", default="bench/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 1 epoch: checks that the script runs, measures nothing")
    args = parser.parse_args()
    epochs, subset, memory_sizes, speed_images = (1, (8, 4), (20,), 16) if args.quick else (10, (200, 50), (1000, None), 160)
    parts = args.parts.split(",")

    import numpy as np
    from transfer_tutorial.data import course_config, course_images, split_by_class
    from transfer_tutorial.transfer import BACKBONES, build_feature_extractor, extract_features, time_frozen_training
    from transfer_tutorial.cli import run_course

    config = course_config("full", data_dir=args.data, backbone="mobilenet_v2", weights=args.weights)
    images = course_images(config)
    splits = split_by_class(images, seed=config.seed)
    rng = np.random.default_rng(0)
    rows, raw = [], {"machine": describe_machine()}
    print(raw["machine"], flush=True)

    if "ratio" in parts:
        mobile = time_frozen_training(build_feature_extractor("mobilenet_v2", args.weights, 224), splits["train"], splits["val"],
                                      epochs=epochs, image_size=224, batch_size=32)
        pick = lambda split, n: split.subset(np.sort(rng.choice(len(split), n, replace=False)))
        vgg = time_frozen_training(build_feature_extractor("vgg16", None, 224), pick(splits["train"], subset[0]),
                                   pick(splits["val"], subset[1]), epochs=epochs, image_size=224, batch_size=32)
        raw["ratio"] = dict(mobilenet_v2=mobile, vgg16=vgg)
        for name, r in (("MobileNetV2", mobile), ("VGG16", vgg)):
            rows.append((f"train a new head {epochs} epochs, {name}, {r['images']:,} train+val images",
                         "tutorial's way (frozen model on images) vs cached features",
                         f"{r['end_to_end_seconds']:,.0f} s vs {r['cached_seconds']:,.0f} s: **{r['speedup']:.1f}x** faster"))
        print(raw["ratio"], flush=True)

    if "memory" in parts:
        raw["memory"] = {}
        order = rng.permutation(len(images))
        for n in (m or len(images) for m in memory_sizes):
            paths = [images.paths[i] for i in order[:n]]
            tutorial_mb, tutorial_s = peak_rss_mb(TUTORIAL_LOADING, paths)
            stream_mb, stream_s = peak_rss_mb(STREAMING, paths)
            raw["memory"][n] = dict(tutorial_mb=tutorial_mb, tutorial_s=tutorial_s, streaming_mb=stream_mb, streaming_s=stream_s)
            rows.append((f"peak memory, {n:,} images at 224x224", "one float32 array (tutorial) vs tf.data streaming",
                         f"{tutorial_mb:,.0f} MB vs **{stream_mb:,.0f} MB**"))
            print(n, raw["memory"][n], flush=True)

    if "speed" in parts:
        raw["speed"] = {}
        sample = images.subset(np.sort(rng.choice(len(images), speed_images, replace=False)))
        for name in BACKBONES:
            extractor = build_feature_extractor(name, None, 224)
            extract_features(extractor, sample.subset(np.arange(min(32, len(sample)))), 224, 32, verbose=0)  # warm-up: graph tracing
            start = time.perf_counter()
            extract_features(extractor, sample, 224, 32, verbose=0)
            raw["speed"][name] = len(sample) / (time.perf_counter() - start)
            rows.append((f"feature extraction, {name}", "images per second, 224x224, batch 32", f"{raw['speed'][name]:.1f}"))
            print(name, raw["speed"][name], flush=True)

    if "accuracy" in parts:
        with tempfile.TemporaryDirectory() as out:
            run_config = course_config("full", data_dir=args.data, backbone="mobilenet_v2", weights=args.weights, epochs=epochs)
            metrics = run_course(run_config, ("scratch", "features"), out, verbose=2)
        raw["accuracy"] = metrics["results"]
        scratch, features = metrics["results"]["scratch"], metrics["results"]["features"]
        rows.append(("test accuracy, baseline CNN from scratch", f"{scratch['epochs']} epochs, {scratch['training_seconds']:,.0f} s",
                     f"**{scratch['test_accuracy']:.1%}** (tutorial: 40.3%)"))
        rows.append(("test accuracy, MobileNetV2 ImageNet features + new softmax", f"{features['epochs']} epochs, {features['training_seconds']:,.0f} s incl. features",
                     f"**{features['test_accuracy']:.1%}** (tutorial's VGG16: 71.6%)"))

    table = "\n".join(["| measurement | setting | result |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)])
    sizes = " / ".join(f"{len(splits[s]):,}" for s in ("train", "val", "test"))
    text = (f"Measured {raw['machine']}; data {Path(args.data).name}, {len(images.class_names)} classes, {len(images):,} images, "
            f"split {sizes}.\n\n{table}\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    old = Path(args.out).read_text() if Path(args.out).exists() else ""
    kept = [old.index(m) for m in (DEPLOY_MARKER, LARGE_FOLDER_MARKER) if m in old]
    if kept:  # the sections of bench/deploy_results.py and bench/large_folder.py come after this one: keep them
        text += "\n" + old[min(kept):]
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))
    print(text)


if __name__ == "__main__":
    main()
