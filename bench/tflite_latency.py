"""How much faster is one .tflite file than another, one image at a time? Interleaved rounds, so that the machine's
changing speed falls on every file alike.

quantization_search.py times each variant once, one after the other; on a shared machine two identical files timed
that way have differed by 1.8x. Here every round times every file on the same images (batch of one, the median over
the images), and the figure per file is the median over the rounds. Appends one row to bench/tflite_latency.jsonl.

    python bench/tflite_latency.py --data DIR --model-name finetune float32.tflite int8_0.7.tflite ...
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

from transfer_tutorial.data import course_config, course_splits, make_dataset
from transfer_tutorial.deploy import _tflite_interpreter

HERE = Path(__file__).resolve().parent


def one_image_seconds(interpreter, images) -> list:
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if tuple(inp["shape"]) != images[0][None].shape:
        interpreter.resize_tensor_input(inp["index"], images[0][None].shape)
        interpreter.allocate_tensors()
    seconds = []
    for image in images:
        start = time.perf_counter()
        interpreter.set_tensor(inp["index"], image[None])
        interpreter.invoke()
        interpreter.get_tensor(out["index"])
        seconds.append(time.perf_counter() - start)
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", help=".tflite files; the first is the reference of the ratios")
    p.add_argument("--data", required=True)
    p.add_argument("--model-name", default="finetune")
    p.add_argument("--images", type=int, default=200, help="test images per round")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    config = course_config("full", data_dir=args.data, weights=None, backbone="mobilenet_v2")
    test = course_splits(config)["test"]
    test = test.subset(np.arange(min(args.images, len(test))))
    images = np.concatenate([b.numpy().astype(np.float32) for b, _ in make_dataset(test, 224, 32)])
    interpreters = {f: _tflite_interpreter(f) for f in args.files}
    for interpreter in interpreters.values():  # a warm-up pass each: the first invocations allocate
        one_image_seconds(interpreter, images[:10])
    rounds = {f: [] for f in args.files}
    for _ in range(args.rounds):
        for f, interpreter in interpreters.items():
            rounds[f].append(1000 * float(np.median(one_image_seconds(interpreter, images))))
    reference = float(np.median(rounds[args.files[0]]))
    row = dict(date=str(date.today()), machine=f"{platform.processor() or platform.machine()} {os.cpu_count()} cores",
               model=args.model_name, images=len(images), rounds=args.rounds,
               files={Path(f).stem: dict(ms_median=round(float(np.median(r)), 3), ms_min=round(min(r), 3), ms_max=round(max(r), 3),
                                         speedup_vs_first=round(reference / float(np.median(r)), 3))
                      for f, r in rounds.items()})
    print(json.dumps(row, indent=1), flush=True)
    with open(HERE / "tflite_latency.jsonl", "a") as out:
        out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
