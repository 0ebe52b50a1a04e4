"""The folder check (`check_folder`, the lesson on your own images) measured: on Caltech-101, on a copy of it with
planted faults, and on the 50,000-image generated folder of bench/large_folder.py.

    python bench/check_folder.py caltech --data .../101_ObjectCategories --weights .../mobilenet_v2_..._no_top.h5
    python bench/check_folder.py planted --data ... --weights ...
    python bench/check_folder.py large --weights ...   (after `python bench/large_folder.py` generated the folder)

Each runs in a fresh process and appends one JSON line to bench/check_folder.jsonl: what the check found, the
seconds of each step and the process's peak resident memory.

  caltech   the check of the 97 classes, twice in one process: the first computes the features (and writes the
            feature cache), the second reads them, so its time is the check alone; the top label suspects and
            the contact sheets go to --report for a look
  planted   Caltech-101's 97 classes copied with plant_problems (25 copies of each kind, 50 images filed under a
            wrong class): recall and precision of each finder against what was planted
  large     the 50,000 generated images at 96 px: the near-duplicate search in blocks, five out-of-fold heads
"""
import argparse
import datetime
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "bench" / "check_folder.jsonl"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def summary(check) -> dict:
    import numpy as np
    names, labels = check.files.images.class_names, check.files.images.labels
    study = check.study
    suspects = [dict(path=check.path(i), filed_as=names[labels[i]], given=round(float(check.probabilities[i, labels[i]]), 4),
                     looks_like=names[int(check.probabilities[i].argmax())], top=round(float(check.probabilities[i].max()), 4))
                for i in check.suspects[:15]] if check.probabilities is not None else []
    return dict(counts=check.counts(), threshold=round(check.threshold, 4),
                copies_lowest={k: round(float(v), 4) for k, v in zip(["jpeg50", "half", "crop80"], study.copies.min(axis=0))},
                copies_1pct=round(float(np.quantile(study.copies, 0.01)), 4),
                different_99pct=round(float(np.quantile(study.different, 0.99)), 4),
                different_999pct=round(float(np.quantile(study.different, 0.999)), 4),
                out_of_fold_accuracy=None if check.probabilities is None else round(float(np.mean(check.probabilities.argmax(1) == labels)), 4),
                leak=check.leak, seconds={k: round(v, 1) for k, v in check.seconds.items()},
                near_examples=[(check.path(i), check.path(j), round(s, 4)) for i, j, s in check.near[:12]],
                exact_examples=[[check.path(i) for i in g] for g in check.exact[:12]],
                problems=check.problems, top_suspects=suspects)


def caltech(args) -> dict:
    from transfer_tutorial.check import check_folder
    start = time.perf_counter()
    first = check_folder(args.data, "mobilenet_v2", args.weights, 224, verbose=1)
    first_seconds = time.perf_counter() - start
    start = time.perf_counter()
    check = check_folder(args.data, "mobilenet_v2", args.weights, 224, verbose=1)  # features from the cache
    cached_seconds = time.perf_counter() - start
    check.save(args.report)
    return dict(first_run_seconds=round(first_seconds, 1), cached_run_seconds=round(cached_seconds, 1),
                same_findings=first.counts() == check.counts(), report=str(args.report), **summary(check))


def _pairs_found(pairs, groups_of) -> int:
    return sum(1 for a, b in pairs if groups_of.get(a) is not None and groups_of.get(a) == groups_of.get(b))


def planted(args) -> dict:
    import numpy as np
    from transfer_tutorial.check import PLANTED_COPIES, check_folder, plant_problems
    from transfer_tutorial.data import scan_image_folder
    clean = scan_image_folder(args.data)
    folder = Path(tempfile.mkdtemp()) / "planted"
    truth = plant_problems(clean, folder, copies_per_kind=25, moved=50, seed=1)
    start = time.perf_counter()
    check = check_folder(folder, "mobilenet_v2", args.weights, 224, verbose=1)
    seconds = time.perf_counter() - start
    position = {p: i for i, p in enumerate(check.files.images.paths)}
    exact_group = {i: n for n, g in enumerate(check.exact) for i in g}
    near_pairs = {frozenset((i, j)) for i, j, _ in check.near}
    any_group = {i: n for n, g in enumerate(check.groups) for i in g}
    result = {}
    for kinds, name in [(PLANTED_COPIES[:2], "exact"), (PLANTED_COPIES[2:], "near")]:
        pairs = [(position[c], position[o]) for c, o, kind in truth.copies if kind in kinds]
        found = (_pairs_found(pairs, exact_group) if name == "exact" else sum(frozenset(p) in near_pairs for p in pairs))
        reported = (sum(len(g) * (len(g) - 1) // 2 for g in check.exact) if name == "exact" else len(check.near))
        result[name] = dict(planted=len(pairs), found=found, recall=found / len(pairs), reported_pairs=reported,
                            precision=found / reported if reported else None)
    for kind in PLANTED_COPIES:
        pairs = [(position[c], position[o]) for c, o, k in truth.copies if k == kind]
        result[f"copy: {kind}"] = dict(planted=len(pairs), in_a_group_with_its_original=_pairs_found(pairs, any_group))
    crossing = [(position[c], position[o]) for c, o, _ in truth.copies if check.where[position[c]] != check.where[position[o]]]
    leak_members = {i for g in check.leaks for i in g}
    found = sum(a in leak_members and b in leak_members and any_group[a] == any_group[b] for a, b in crossing)
    result["leaks"] = dict(planted_across_the_split=len(crossing), found=found, recall=found / max(1, len(crossing)),
                           reported_groups=len(check.leaks))
    moved = [position[p] for p, _, _ in truth.moved]
    labels = check.files.images.labels
    ranking = np.argsort(check.probabilities[np.arange(len(labels)), labels], kind="stable")
    suspects = set(check.suspects.tolist())
    result["label errors"] = dict(
        moved=len(moved), in_top_2x=sum(i in set(ranking[:2 * len(moved)].tolist()) for i in moved) / len(moved),
        in_top_1x=sum(i in set(ranking[:len(moved)].tolist()) for i in moved) / len(moved),
        suspects=len(suspects), moved_among_suspects=sum(i in suspects for i in moved),
        suspect_recall=sum(i in suspects for i in moved) / len(moved),
        suspect_precision=sum(i in suspects for i in moved) / max(1, len(suspects)))
    return dict(check_seconds=round(seconds, 1), findings=result, **summary(check))


def large(args) -> dict:
    from transfer_tutorial.check import check_folder
    start = time.perf_counter()
    check = check_folder(args.root, "mobilenet_v2", args.weights, args.image_size, batch_size=64, exclude=(), verbose=1,
                         cache=Path(tempfile.mkdtemp()))
    return dict(check_seconds=round(time.perf_counter() - start, 1), image_size=args.image_size, **summary(check))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["caltech", "planted", "large"])
    parser.add_argument("--data", type=Path, help="the 101_ObjectCategories folder")
    parser.add_argument("--weights", required=True, help="MobileNetV2's ImageNet weights file (no top)")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "transfer_tutorial_50k")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--report", type=Path, default=ROOT / "runs" / "check_caltech")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras
    keras.utils.set_random_seed(0)
    record = dict(what=args.what, date=datetime.date.today().isoformat(),
                  machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", python=platform.python_version(),
                  tensorflow=tf.__version__, backbone="mobilenet_v2", weights=Path(args.weights).name)
    record.update(dict(caltech=caltech, planted=planted, large=large)[args.what](args))
    record["peak_rss_mb"] = round(peak_rss_mb())
    with open(LOG, "a") as f:
        f.write(json.dumps(record, default=str) + "\n")
    print(json.dumps(record, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
