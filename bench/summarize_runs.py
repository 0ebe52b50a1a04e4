"""Write the tables of every recorded run into bench/RUNS.md, from the .jsonl files the benchmarks append to.

    python bench/summarize_runs.py

finetune_runs.jsonl (bench/finetune_search.py), head_runs.jsonl (bench/head_search.py),
quantization_runs.jsonl (bench/quantization_search.py) and extraction_speed.jsonl (bench/extraction_speed.py) keep
every run, the best and the worst alike; this only formats them, so no number in RUNS.md is typed by hand.
"""
import json
import statistics
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rows(name):
    path = HERE / name
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def lr_text(r):
    "The learning rate, or the rates per block (first layer of each group: its rate)."
    if "rates" not in r:
        return f"{r['learning_rate']:g}"
    return ", ".join(f"{k.replace('_expand', '')} {v:g}" for k, v in r["rates"].items())


def pct(x) -> str:  # "-" where a run has no such figure (a refit on train + val has no validation accuracy)
    return "-" if x is None else f"{x:.1%}"


def finetune_tables(runs):
    out = ["## Fine-tuning recipes (bench/finetune_search.py)", "",
           "MobileNetV2 with ImageNet weights, Caltech-101 split 4,341 / 934 / 934, chosen on validation; test for reference.",
           "`course` is the lessons' own `fit_head_on_features` + `fine_tune`; the others are the search's variants, trained on "
           "cached activations at the input of `block_14_expand` (`block_13_expand` for `ft13`). From 2026-12-06 the runs also give "
           "mirror test-time augmentation (TTA: the mean of the probabilities for the image and its mirror image) on val and test.", "",
           "| date | recipe | seed | first trained layer | lr | schedule | label smoothing | mirror | epochs run of max (best) | head val | val | test | val TTA | test TTA | seconds |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        head = f"{r['head_val_accuracy']:.1%}" if r.get("head_val_accuracy") is not None else "-"
        tta = " | ".join(pct(r.get(k)) for k in ("val_tta_accuracy", "test_tta_accuracy"))
        out.append(f"| {r['date']} | {r['recipe']} | {r['seed']} | {r['first_trained'] or 'none (head only)'} | {lr_text(r)} | "
                   f"{r.get('schedule', 'constant')} | {r['label_smoothing']} | {'yes' if r['flips'] else 'no'} | {r['epochs_run']} of {r.get('max_epochs', '?')} ({r['best_epoch'] or '-'}) | {head} | "
                   f"{pct(r['val_accuracy'])} | {r['test_accuracy']:.1%} | {tta} | {r['seconds']:.0f} |")
    by_day = defaultdict(list)  # runs of the lessons' code, by day and by the fine-tuning length asked for
    for r in runs:
        if r["recipe"] == "course" and r.get("version") == 2:
            by_day[(r["date"], r["max_epochs"], r.get("patience", 2))].append(r)
    for (day, max_epochs, patience), course in by_day.items():
        def med(key):
            return statistics.median(r[key] for r in course)
        gains = ", ".join(f"{100 * (r['test_accuracy'] - r['head_test_accuracy']):+.1f}" for r in course)
        out += ["", f"The lessons' recipe on {day} (at most {max_epochs} fine-tuning epochs, patience {patience}), median of {len(course)} seeds ({', '.join(str(r['seed']) for r in course)}): "
                f"head on frozen features val {med('head_val_accuracy'):.1%}, test {med('head_test_accuracy'):.1%}; "
                f"fine-tuned val {med('val_accuracy'):.1%}, test {med('test_accuracy'):.1%} (test gain per seed: {gains} points); "
                f"fine-tuning {med('seconds'):.0f} s (activations included)."]
    searched = defaultdict(list)  # the search's recipes with test-time augmentation, 3 seeds each
    for r in runs:
        if "val_tta_accuracy" in r:
            searched[r["recipe"]].append(r)
    if searched:
        out += ["", "| recipe (from 2026-12-06) | runs | mean val | mean val TTA | median test | median test TTA | median seconds |",
                "|---|---|---|---|---|---|---|"]
        for name, rs in searched.items():
            mean = lambda k: statistics.mean(r[k] for r in rs)
            med = lambda k: statistics.median(r[k] for r in rs)
            out.append(f"| {name} | {len(rs)} | {mean('val_accuracy'):.2%} | {mean('val_tta_accuracy'):.2%} | {med('test_accuracy'):.1%} | "
                       f"{med('test_tta_accuracy'):.1%} | {med('seconds'):.0f} |")
        out += ["", "`runs` counts every run: on 2026-12-07 ft14_8ep and ft14_8ep_spread ran again with seeds 0-2 (and for the first "
                "time 3-5), from activations extracted again in a new checkout; seeds 0-2 did not give the figures of their first runs "
                "(the cause, new activations or the CPU kernels' order of summation, was not isolated), and on 2026-12-08 seeds "
                "0-2 of ft14_8ep ran a third time (with `--eval-sizes`, below); the means and medians above pool the repeats. Every mean validation accuracy lies within 0.2 points of 94.4%: no single-model recipe wins."]
    refits = defaultdict(list)  # trained on train + val after the choice: only the test split measures them
    for r in runs:
        if r.get("trained_on") == "train + val":
            refits[r["recipe"]].append(r)
    if refits:
        out += ["", "Trained again on train + val (4,341 + 934 images) once validation had chosen the recipe and its epochs, no early "
                "stopping; the validation split is then among the training images, so val is `-`:", "",
                "| recipe | runs | seeds | median test | median test TTA | test per seed | median seconds |", "|---|---|---|---|---|---|---|"]
        for name, rs in refits.items():
            med = lambda k: statistics.median(r[k] for r in rs)
            out.append(f"| {name} | {len(rs)} | {', '.join(str(r['seed']) for r in rs)} | {med('test_accuracy'):.1%} | "
                       f"{med('test_tta_accuracy'):.1%} | {', '.join(pct(r['test_accuracy']) for r in rs)} | {med('seconds'):.0f} |")
    sized = [r for r in runs if "val_256px_accuracy" in r]  # scored on larger val / test images too (--eval-sizes)
    if sized:
        sizes = sorted({int(k.split("_")[1][:-2]) for r in sized for k in r if k.startswith("val_") and k.endswith("px_accuracy")})
        out += ["", "Test-time image size (`--eval-sizes`): each model trained on 224 px images (the cached activations) and scored "
                "on the val and test images resized to a larger size as well; the blocks above the cut and the global average pooling "
                "take any spatial size. Each cell: without / with mirror TTA.", "",
                "| date | recipe | seed | " + " | ".join(f"val {s} px | test {s} px" for s in [224, *sizes]) + " |",
                "|---|---|---|" + "---|---|" * (1 + len(sizes))]
        def both(r, split, size):
            key = split if size == 224 else f"{split}_{size}px"
            return f"{r[key + '_accuracy']:.1%} / {r[key + '_tta_accuracy']:.1%}"
        for r in sized + ["mean"]:
            if r == "mean":
                r = {"date": "mean", "recipe": "", "seed": f"{len(sized)} seeds",
                     **{k: statistics.mean(x[k] for x in sized) for k in sized[0] if k.endswith("accuracy") and "head" not in k}}
            out.append(f"| {r['date']} | {r['recipe']} | {r['seed']} | "
                       + " | ".join(f"{both(r, 'val', s)} | {both(r, 'test', s)}" for s in [224, *sizes]) + " |")
        mean_val = {s: statistics.mean(x["val_accuracy" if s == 224 else f"val_{s}px_accuracy"] for x in sized) for s in [224, *sizes]}
        best = max(mean_val, key=mean_val.get)
        out += ["", "Mean validation accuracy by test-time size: " + ", ".join(f"{v:.1%} at {s} px" for s, v in mean_val.items())
                + (f": larger images lose, and the lessons keep 224 px. Test-time resolution gains (FixRes, Touvron et al. 2019) "
                   "come from training on random-resized crops, which make objects look larger in training than at test; this "
                   "recipe trains on whole images squeezed to 224 px." if best == 224 else f": {best} px wins on validation.")]
    out += ["", "2026-11-29 ran on an AMD EPYC CPU, 2026-12-01 on an Intel Xeon (the activations read from the feature cache "
            "of that day's lesson recording, the runs beside another recording), 2026-12-06 and the first 2026-12-07 runs on an Intel Xeon, the later 2026-12-07 runs (seeds 0-5 of ft14_8ep and "
            "ft14_8ep_spread, with kept probabilities) on an AMD EPYC, alone on the CPU (its seconds are the head's 10 epochs "
            "and the fine-tuning, activations read from the search's own cache). The ft14_8ep_trainval runs (2026-12-07, AMD EPYC) "
            "ran alone on the CPU except for two page renderings (about a minute of Chromium and nbconvert) during seed 0. The 2026-12-08 runs (ft14_8ep, seeds 0-2, with `--eval-sizes 256 288`) ran on an "
            "AMD EPYC, alone on the CPU; their seconds are longer than the 2026-12-07 runs': the model's spatial size is left open "
            "there so that it can read the larger images, or the machine was slower (not isolated)."]
    return out


def ensemble_tables(runs):
    "Two fine-tuned models of one recipe (seeds a, b) averaged; the seeds in disjoint pairs (0, 1), (2, 3), (4, 5) count."
    out = ["## Two fine-tuned models averaged (bench/finetune_search.py --ensembles)", "",
           "The mean of the probabilities of two runs of a recipe with different seeds (and, with TTA, of their mirror images "
           "too), from the probabilities the runs of 2026-12-07 kept; seconds are the two runs' together (trained one after "
           "the other). Only disjoint pairs are independent of each other: the summary takes (0, 1), (2, 3) and (4, 5).", "",
           "| date | recipe | seeds | val | val TTA | test | test TTA | seconds |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        out.append(f"| {r['date']} | {r['recipe']} | {r['seeds'][0]}, {r['seeds'][1]} | {r['val_accuracy']:.1%} | {r['val_tta_accuracy']:.1%} | "
                   f"{r['test_accuracy']:.1%} | {r['test_tta_accuracy']:.1%} | {r['seconds']:.0f} |")
    disjoint = defaultdict(dict)  # the last row of each pair
    for r in runs:
        if r["seeds"][1] == r["seeds"][0] + 1 and r["seeds"][0] % 2 == 0:
            disjoint[r["recipe"]][tuple(r["seeds"])] = r
    out += ["", "| recipe, two models | disjoint pairs | mean val | mean val TTA | median test | median test TTA | median seconds |",
            "|---|---|---|---|---|---|---|"]
    summary = {}
    for name, pairs in disjoint.items():
        rs = list(pairs.values())
        summary[name] = {k: statistics.mean(r[k] for r in rs) for k in ("val_accuracy", "val_tta_accuracy")}
        summary[name].update({k: statistics.median(r[k] for r in rs) for k in ("test_accuracy", "test_tta_accuracy", "seconds")})
        m = summary[name]
        out.append(f"| {name} | {len(rs)} | {m['val_accuracy']:.2%} | {m['val_tta_accuracy']:.2%} | {m['test_accuracy']:.1%} | "
                   f"{m['test_tta_accuracy']:.1%} | {m['seconds']:.0f} |")
    if summary:
        best = max(summary, key=lambda k: summary[k]["val_tta_accuracy"])
        m = summary[best]
        out += ["", f"Chosen on validation: two `{best}` models with mirror TTA (mean val {m['val_tta_accuracy']:.2%}); their median "
                f"test accuracy is {m['test_tta_accuracy']:.1%}, in {m['seconds'] / 60:.0f} minutes of fine-tuning. The lessons train "
                "one model: two double the fine-tuning, the model and the time per prediction."]
    return out


def speed_tables(runs):
    out = ["## Feature extraction throughput (bench/extraction_speed.py)", "",
           "Images per second, 224 x 224, batch 32, random weights (the cost does not depend on their values), real "
           "Caltech-101 JPEGs. Limit: 1 / (1/model + 1/decode), decoding and the model sharing the same cores. Runs labelled "
           "`before` include the one-off tracing of predict's dataset function in the pipeline's time; `steady-state` "
           "runs time it apart (last column).", "",
           "| date | run | backbone | images | model alone (predict) | model alone (tf.function) | decode alone | limit | pipeline (predict) | pipeline (tf.function) | course's pipeline (predict) / limit | predict's first batch | max abs diff |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        diff = max(v for k, v in r.items() if k.startswith("max_abs_diff"))
        out.append(f"| {r['date']} | {r.get('label') or '-'} | {r['backbone']} | {r['images']} | {r['model_alone_predict']:.1f} | "
                   f"{r['model_alone_function']:.1f} | {r['decode_alone']:.0f} | {r['limit']:.1f} | {r['pipeline_predict']:.1f} | "
                   f"{r['pipeline_function']:.1f} | {r['pipeline_predict'] / r['limit']:.0%} | "
                   f"{str(round(r['predict_first_batch_seconds'], 1)) + ' s' if 'predict_first_batch_seconds' in r else 'in the timing'} | {diff:.1e} |")
    return out


def head_tables(runs):
    out = ["## The new softmax on frozen features (bench/head_search.py)", "",
           "MobileNetV2 ImageNet features of the real split (one extraction, from the feature cache), one softmax layer per run, "
           "batch 32, Adam; chosen on validation, test for reference. `course` is `fit_head_on_features`' recipe. The "
           "2026-12-01 seconds were measured with the quantization search running beside the runs: compare them with each other only.", "",
           "| date | recipe | seed | epochs run | lr | dropout | label smoothing | val | test | seconds |", "|---|---|---|---|---|---|---|---|---|---|"]
    by_recipe = defaultdict(list)
    for r in runs:
        by_recipe[r["recipe"]].append(r)
        out.append(f"| {r['date']} | {r['recipe']} | {r['seed']} | {r['epochs_run']} of {r['epochs']} | {r['learning_rate']:g} | "
                   f"{r['dropout']} | {r['label_smoothing']} | {r['val_accuracy']:.1%} | {r['test_accuracy']:.1%} | {r['seconds']:.1f} |")
    out += ["", "| recipe | seeds | mean val | median test |", "|---|---|---|---|"]
    for name, rs in by_recipe.items():
        out.append(f"| {name} | {len(rs)} | {statistics.mean(r['val_accuracy'] for r in rs):.2%} | "
                   f"{statistics.median(r['test_accuracy'] for r in rs):.1%} |")
    return out


def quantization_tables(runs):
    out = ["## TensorFlow Lite int8 conversions (bench/quantization_search.py)", "",
           "The course's MobileNetV2 + new softmax (`features`: `transfer-tutorial run --method features`, seed 0) and, from "
           "2026-12-07, the fine-tuned one (`finetune`: `--method finetune`, the model the deploy lesson deploys) converted in several "
           "int8 ways; top-1 agreement with the Keras model and accuracy on the validation split (the choice) and the test "
           "split (reference); time per image with the TFLite interpreter on every core, in batches of 32 and (from 2026-12-06, "
           "the median over 300 test images) one image at a time (on 2026-12-01 other benchmarks shared the CPU at times: those "
           "times are rough). `full_int8_selective` keeps in float the tensors whose int8 RMSE is over the given share (0.7 without one) of their "
           "quantization step, measured by TFLite's QuantizationDebugger on the calibration images.", "",
           "| date | model | variant | calibration images | MB | of float32 | val agreement | val accuracy | test agreement | test accuracy | ms per image (32) | ms per image (1) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        one = f"{r['ms_per_image_batch1']:.2f}" if "ms_per_image_batch1" in r else "-"
        out.append(f"| {r['date']} | {r.get('model', 'features')} | {r['variant']} | {r.get('calibration_images', 0)} | {r['MB']:.2f} | {r['share_of_float32']:.0%} | "
                   f"{r['val_agreement']:.1%} | {r['val_accuracy']:.1%} | {r['test_agreement']:.1%} | {r['test_accuracy']:.1%} | "
                   f"{r['ms_per_image_batch32']:.1f} | {one} |")
    return out


def latency_tables(runs):
    out = ["## TensorFlow Lite files timed in interleaved rounds (bench/tflite_latency.py)", "",
           "quantization_search.py times each variant once, one after the other: on 2026-12-07 three byte-identical int8 "
           "files (cuts 0.85, 1.0 and 1.3 leave the same tensor in float) took 1.92, 3.41 and 2.81 ms an image that way. "
           "Here every round times every file on the same test images, one image at a time; the figure is the median over "
           "the rounds (each round's own median over the images), min and max of the rounds beside it.", "",
           "| date | model | images x rounds | file | ms per image (min - max) | speed-up over the first |", "|---|---|---|---|---|---|"]
    for r in runs:
        for name, f in r["files"].items():
            out.append(f"| {r['date']} | {r['model']} | {r['images']} x {r['rounds']} | {name} | "
                       f"{f['ms_median']:.2f} ({f['ms_min']:.2f} - {f['ms_max']:.2f}) | {f['speedup_vs_first']:.2f}x |")
    return out


def epoch_tables(runs):
    out = ["## One epoch of the baseline CNN: input pipeline against network (bench/epoch_profile.py)", "",
           "The training split of Caltech-101 (4,341 images, 224 px, batches of 32), one epoch per line, in one run; "
           "`pipeline share` is (both - network alone) / both.", "",
           "| date | machine | what | seconds |", "|---|---|---|---|"]
    for r in runs:
        for what, seconds in r["seconds"].items():
            out.append(f"| {r['date']} | {r['machine']} | {what} | {seconds:.1f} |")
        out.append(f"| {r['date']} | {r['machine']} | pipeline share of an epoch; peak memory | {r['pipeline_share_of_epoch']:.0%}; {r['peak_rss_mb']:,} MB |")
    return out


def main():
    names = ("finetune_runs.jsonl", "extraction_speed.jsonl", "head_runs.jsonl", "quantization_runs.jsonl", "epoch_profile.jsonl",
             "tflite_latency.jsonl")
    machine = {r.get("machine") for name in names for r in rows(name)}
    text = ["# Every recorded run", "", f"Machines: {', '.join(sorted(m for m in machine if m))}; TensorFlow 2.21, Keras 3.15.", "",
            *finetune_tables(rows("finetune_runs.jsonl")), "", *ensemble_tables(rows("ensemble_runs.jsonl")), "", *head_tables(rows("head_runs.jsonl")), "",
            *quantization_tables(rows("quantization_runs.jsonl")), "",
            *latency_tables(rows("tflite_latency.jsonl")), "", *speed_tables(rows("extraction_speed.jsonl")), "",
            *epoch_tables(rows("epoch_profile.jsonl")), ""]
    (HERE / "RUNS.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
