"""Which TensorFlow Lite int8 conversion keeps the Keras model's answers? Chosen on the validation split.

Converts one trained model (a `.keras` file saved by `transfer-tutorial run`, with its class list) to TFLite in
several int8 ways and measures, for each, the file size, the top-1 agreement with the Keras model and the
accuracy on the validation split (the choice) and on the test split (for reference). Every run is appended to
bench/quantization_runs.jsonl.

    python bench/quantization_search.py --model transfer_tutorial_run/features.keras --data DIR --weights FILE
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf

from transfer_tutorial.data import course_config, course_splits, make_dataset
from transfer_tutorial.deploy import _export_saved_model, _tflite_from_saved_model, _tflite_interpreter
from transfer_tutorial.evaluation import load_model

HERE = Path(__file__).resolve().parent


def representative(splits, size, count):
    # training images only: the validation and test splits stay unseen by the calibration
    rng = np.random.default_rng(0)
    chosen = splits["train"].subset(np.sort(rng.choice(len(splits["train"]), count, replace=False)))
    def images():
        for batch, _ in make_dataset(chosen, size, 1):
            yield [tf.cast(batch, tf.float32)]
    return images


VARIANTS = {
    # name: converter settings
    "float32": dict(course=None),  # the references: the course's float32 and float16 files
    "float16": dict(course="float16"),
    "dynamic": dict(course=True),  # the course's own int8 (export_model): int8 weights, activations quantized on the fly
    "dynamic_old_quantizer": dict(new_dynamic=False),  # the same, with TensorFlow's earlier quantizer
    "full_int8": dict(calibrate=True),  # int8 weights and activations, float input and output
    "int16x8": dict(calibrate=True, ops16x8=True),  # int8 weights, int16 activations
    # full int8, but the layers whose quantization error is large against their own step (RMSE / scale above
    # the cut, measured by TFLite's QuantizationDebugger on the calibration images) left in float: the
    # TensorFlow tutorial "Inspecting quantization errors with quantization debugger"
    "full_int8_selective": dict(calibrate=True, selective=0.7),
    "full_int8_selective_0.5": dict(calibrate=True, selective=0.5),
    "full_int8_selective_0.85": dict(calibrate=True, selective=0.85),  # fewer tensors left in float: faster, less exact
    "full_int8_selective_1.0": dict(calibrate=True, selective=1.0),
    "full_int8_selective_1.3": dict(calibrate=True, selective=1.3),
    # full int8 with the depthwise convolutions left in float (TFLite's QuantizationDebugger's selective quantization)
    "full_int8_float_depthwise": dict(calibrate=True, denylisted_ops=["DEPTHWISE_CONV_2D"]),
}


def suspects(converter, images, cut):
    "The tensors whose int8 error is large against their quantization step, on the calibration images."
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=images)
    debugger.run()
    table = io.StringIO()
    debugger.layer_statistics_dump(table)
    table.seek(0)
    rows = list(csv.DictReader(table))
    chosen = [r["tensor_name"] for r in rows if float(r["scale"]) > 0
              and np.sqrt(float(r["mean_squared_error"])) / float(r["scale"]) > cut]
    print(f"{len(chosen)} of {len(rows)} quantized tensors left in float (RMSE / scale > {cut}): {chosen}", flush=True)
    return chosen


def convert(saved_model, settings, images):
    if "course" in settings:
        return _tflite_from_saved_model(saved_model, "int8-dynamic" if settings["course"] is True else settings["course"])
    if settings.get("selective"):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = images
        chosen = suspects(converter, images, settings["selective"])
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=images,
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=chosen))
        return debugger.get_nondebug_quantized_model()
    if settings.get("denylisted_ops"):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = images
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=images,
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=settings["denylisted_ops"]))
        return debugger.get_nondebug_quantized_model()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if settings.get("new_dynamic") is False:
        converter.experimental_new_dynamic_range_quantizer = False
    if settings.get("calibrate"):
        converter.representative_dataset = images
    if settings.get("ops16x8"):
        converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if settings.get("calibrate")
                                               else tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def timed_answers(path, images, batch_size) -> tuple:
    "Every image's top-1 class from the .tflite file at `path`, and the seconds of each interpreter call."
    interpreter = _tflite_interpreter(str(path))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    answers, seconds = [], []
    for batch, _ in make_dataset(images, tuple(inp["shape"][1:3]), batch_size):
        batch = batch.numpy().astype(np.float32)
        if tuple(interpreter.get_input_details()[0]["shape"]) != batch.shape:
            interpreter.resize_tensor_input(inp["index"], batch.shape)
            interpreter.allocate_tensors()
        start = time.perf_counter()
        interpreter.set_tensor(inp["index"], batch)
        interpreter.invoke()
        seconds.append(time.perf_counter() - start)
        answers.append(interpreter.get_tensor(out["index"]).argmax(axis=1))
    return np.concatenate(answers), seconds


def top1(path, images, batch_size=32):
    answers, seconds = timed_answers(path, images, batch_size)
    return answers, sum(seconds) / len(images)


def batch1_ms(path, images, count=300):
    "Median time of one image through the interpreter (batch of one), over the first `count` images."
    return float(np.median(timed_answers(path, images.subset(np.arange(min(count, len(images)))), 1)[1]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--calibration-images", type=int, default=200)
    p.add_argument("--model-name", default="features", help="what the model is, for the table: features or finetune")
    p.add_argument("--limit", type=int, default=None, help="only the first N images of each split (for slow kernels)")
    args = p.parse_args()
    config = course_config("full", data_dir=args.data, weights=args.weights, backbone="mobilenet_v2")
    splits = course_splits(config)
    if args.limit:
        splits = {**splits, **{s: splits[s].subset(np.arange(min(args.limit, len(splits[s])))) for s in ("val", "test")}}
    model, class_names = load_model(args.model)
    size = model.input_shape[1:3]
    keras_top1 = {s: model.predict(make_dataset(splits[s], size, 32), verbose=0).argmax(axis=1) for s in ("val", "test")}
    work = Path(tempfile.mkdtemp())
    _export_saved_model(model, work / "saved_model")
    float32 = work / "float32.tflite"
    float32.write_bytes(_tflite_from_saved_model(work / "saved_model", None))
    for name in args.variants:
        start = time.perf_counter()
        path = work / f"{name}.tflite"
        path.write_bytes(convert(work / "saved_model", VARIANTS[name], representative(splits, size, args.calibration_images)))
        convert_seconds = time.perf_counter() - start
        row = dict(date=str(date.today()), machine=f"{platform.processor() or platform.machine()} {os.cpu_count()} cores",
                   model=args.model_name, variant=name, images_per_split=len(splits["val"]), calibration_images=args.calibration_images if VARIANTS[name].get("calibrate") else 0,
                   MB=path.stat().st_size / 2**20, share_of_float32=path.stat().st_size / float32.stat().st_size,
                   convert_seconds=round(convert_seconds, 1))
        for split in ("val", "test"):
            answers, per_image = top1(path, splits[split])
            row[f"{split}_agreement"] = float((answers == keras_top1[split]).mean())
            row[f"{split}_accuracy"] = float((answers == splits[split].labels).mean())
            row[f"{split}_keras_accuracy"] = float((keras_top1[split] == splits[split].labels).mean())
        row["ms_per_image_batch32"] = round(1000 * per_image, 2)  # timed on the test split
        row["ms_per_image_batch1"] = round(1000 * batch1_ms(path, splits["test"]), 2)
        print(json.dumps(row), flush=True)
        with open(HERE / "quantization_runs.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
