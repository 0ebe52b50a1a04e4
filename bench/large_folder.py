"""A folder far larger than Caltech-101: scan, split and extract features of 50,000 images, timed, with peak memory.

    python bench/large_folder.py --weights /path/to/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5

generates (once) 50,000 small JPEGs in 200 class folders with the data lesson's sample drawing (a shape of a
class-specific kind and colour on noise), then measures in one fresh process, stage by stage:

  scan      `scan_image_folder` with its per-file check (every file decoded once)
  split     `split_by_class`, 70/15/15 per class
  extract   one pass of the backbone over every image at a small size (`extract_features`, the feature
            cache written into a temporary folder), then the cache read back

and prints wall seconds and the process's peak resident memory after each stage, the bytes per image of the
features in memory and on disk, and writes the same as a section of bench/RESULTS.md (--results) and one JSON
line per run to bench/large_folder.jsonl. Nothing here runs in the test suite; on a 2-core CPU the whole run
takes about 10 minutes, most of it the backbone.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- large folder: written by bench/large_folder.py -->"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def generate(root: Path, classes: int, per_class: int, size: int, seed: int = 0) -> float:  # seconds it took to generate
    "JPEG files in `classes` sub-folders, drawn like the sample dataset; kept and reused when complete."
    import numpy as np
    from transfer_tutorial.data import SAMPLE_SHAPES, _draw_sample
    done, spec = root / ".complete", dict(classes=classes, per_class=per_class, size=size, seed=seed)
    if done.is_file():
        recorded = json.loads(done.read_text())
        if recorded["spec"] == spec:
            return recorded["seconds"]
    start = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    shapes = list(SAMPLE_SHAPES.values())
    for c in range(classes):
        shape = shapes[c % len(shapes)][0]
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))  # 200 classes: kinds of shape x random colours
        folder = root / f"class_{c:03d}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            _draw_sample(shape, colour, size, rng).save(folder / f"{i:04d}.jpg", quality=90)
    seconds = time.perf_counter() - start
    done.write_text(json.dumps(dict(spec=spec, seconds=round(seconds, 1))))
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "transfer_tutorial_50k",
                        help="where the generated folder is kept between runs")
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--per-class", type=int, default=250)
    parser.add_argument("--file-size", type=int, default=64, help="width and height of the generated JPEGs")
    parser.add_argument("--image-size", type=int, default=96, help="the backbone's input size for the extraction")
    parser.add_argument("--backbone", default="mobilenet_v2")
    parser.add_argument("--weights", default=None, help="a weights file; default: random weights (same cost)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--log", type=Path, default=ROOT / "bench" / "large_folder.jsonl")
    args = parser.parse_args(argv)

    generate_seconds = generate(args.root, args.classes, args.per_class, args.file_size)
    rows = []

    def stage(name, seconds, **extra):
        rows.append(dict(stage=name, seconds=round(seconds, 1), peak_rss_mb=round(peak_rss_mb()), **extra))
        print(f"{name:>10}: {seconds:7.1f} s, peak RSS so far {peak_rss_mb():,.0f} MB {extra or ''}", flush=True)

    import tensorflow as tf  # noqa: F401  (imported first, so its own memory is counted before the stages)
    from transfer_tutorial.data import scan_image_folder, split_by_class
    from transfer_tutorial.transfer import build_feature_extractor, extract_features
    stage("start", 0.0, note="Python, TensorFlow and the course imported")

    start = time.perf_counter()
    images = scan_image_folder(args.root, exclude=())
    stage("scan", time.perf_counter() - start, images=len(images), classes=len(images.class_names))

    start = time.perf_counter()
    splits = split_by_class(images)
    stage("split", time.perf_counter() - start, **{k: len(v) for k, v in splits.items()})

    extractor = build_feature_extractor(args.backbone, args.weights, args.image_size)
    cache = Path(tempfile.mkdtemp(prefix="large_folder_cache_"))
    try:
        start = time.perf_counter()
        features, _ = extract_features(extractor, images, args.image_size, args.batch_size, verbose=0, cache=cache)
        seconds = time.perf_counter() - start
        on_disk = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
        stage("extract", seconds, images_per_second=round(len(images) / seconds, 1),
              feature_bytes_per_image=features.nbytes // len(images), cache_bytes_per_image=on_disk // len(images))
        del features
        start = time.perf_counter()
        again, _ = extract_features(extractor, images, args.image_size, args.batch_size, verbose=0, cache=cache)
        stage("cache read", time.perf_counter() - start, features=list(again.shape))
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    run = dict(date=datetime.date.today().isoformat(), machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
               python=platform.python_version(), tensorflow=tf.__version__, backbone=args.backbone,
               weights=Path(args.weights).name if args.weights else None, image_size=args.image_size, batch_size=args.batch_size,
               files=f"{len(images):,} JPEGs of {args.file_size} x {args.file_size} px in {len(images.class_names)} folders",
               generate_seconds=round(generate_seconds, 1), stages=rows)
    with args.log.open("a") as f:
        f.write(json.dumps(run) + "\n")
    table = "\n".join(["| stage | wall seconds | peak RSS of the process so far | details |", "|---|---|---|---|"] + [
        f"| {r['stage']} | {r['seconds']:,.1f} | {r['peak_rss_mb']:,} MB | "
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int) else f"{k.replace('_', ' ')} {v}"
                    for k, v in r.items() if k not in ("stage", "seconds", "peak_rss_mb")) + " |" for r in rows])
    section = (f"{MARKER}\n## A folder of {len(images):,} images (bench/large_folder.py)\n\n"
               f"{run['date']}, {run['machine']}, TensorFlow {run['tensorflow']}: {run['files']} (generated in "
               f"{generate_seconds:,.0f} s, once), {args.backbone} at {args.image_size} px, batch {args.batch_size}, "
               f"weights {run['weights'] or 'random (same cost)'}. One process, stages in order:\n\n{table}\n")
    text = args.results.read_text() if args.results.is_file() else ""
    if MARKER in text:  # replace this script's section, keep everything else
        head, tail = text.split(MARKER, 1)
        following = tail.find("\n<!-- ", 1)
        text = head.rstrip("\n") + "\n" + (tail[following:] if following >= 0 else "")
    args.results.write_text(text.rstrip("\n") + "\n\n" + section)
    print(section)


if __name__ == "__main__":
    sys.exit(main())
