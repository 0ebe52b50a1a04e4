"""Search for a fine-tuning recipe that beats the frozen features, on the validation split.

Every run is appended to bench/finetune_runs.jsonl (seed, settings, val and test accuracy, seconds), the best
and the worst alike. The frozen part of the backbone is run once: its activations at the cut (the input of the
first block that may be trained), for the images and their mirror images, are kept in a .npz under runs/,
and every recipe trains the blocks above the cut and the new softmax on them.

    python bench/finetune_search.py --data DIR --weights FILE --recipes head ft16_1e-4 --seeds 0 1 2

With --course it runs the lessons' own recipe instead (`fit_head_on_features`, then `fine_tune` with its
defaults), through the package and its feature cache, once per seed:

    python bench/finetune_search.py --data DIR --weights FILE --course --seeds 0 1 2

Each run's probabilities on val and test (and their mirror images) are kept under runs/finetune_probs; ensembles of two
seeds (the mean of their probabilities) are then scored without training anything:

    python bench/finetune_search.py --data DIR --weights FILE --ensembles --recipes ft14_8ep

With --eval-sizes 256 288 every model trained on the 224 px activations is also scored on the val and test images
resized to those sizes (the blocks above the cut and the global average pooling take any spatial size), with and
without mirror TTA:

    python bench/finetune_search.py --data DIR --weights FILE --recipes ft14_8ep --seeds 0 1 2 --eval-sizes 256 288
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
import keras
import numpy as np
import tensorflow as tf

from transfer_tutorial.data import course_config, course_splits, make_dataset
from transfer_tutorial.transfer import BACKBONES, build_feature_extractor

HERE = Path(__file__).resolve().parent
CUT = "block_14_expand"  # activations cached at this layer's input (7 x 7 x 160 for MobileNetV2 at 224 px)

# name: (first trained layer or None for the head only, learning rate, max epochs, label smoothing, flips, head epochs first)
# and, from 2026-12-06, a dict of extras: patience (3), schedule ("constant" or "cosine": the rate decays to 0 over
# the epochs), cut (the layer whose input is cached; "block_13_expand" trains one block more, at 14 x 14 x 96),
# rates (from 2026-12-07, learning rates per block: {first layer of a group: its rate}, "predictions" the new softmax;
# each group has its own Adam, fastai's "discriminative learning rates")
RECIPES = {
    "head": (None, 1e-3, 10, 0.0, False, 0),  # the course's recipe until now
    "head_ls_flip": (None, 1e-3, 20, 0.1, True, 0),
    "ft16_1e-4": ("block_16_expand", 1e-4, 10, 0.1, True, 10),
    "ft16_3e-5": ("block_16_expand", 3e-5, 10, 0.1, True, 10),
    "ft15_1e-4": ("block_15_expand", 1e-4, 10, 0.1, True, 10),
    "ft14_1e-4": ("block_14_expand", 1e-4, 10, 0.1, True, 10),
    "ft16_1e-4_noaug": ("block_16_expand", 1e-4, 10, 0.1, False, 10),
    "ft14_8ep": ("block_14_expand", 1e-4, 8, 0.1, True, 10),  # the lessons' recipe since 2026-12-01
    "ft14_12ep_cos": ("block_14_expand", 1e-4, 12, 0.1, True, 10, dict(schedule="cosine", patience=12)),
    "ft14_12ep_cos3e-4": ("block_14_expand", 3e-4, 12, 0.1, True, 10, dict(schedule="cosine", patience=12)),
    "ft13_8ep": ("block_13_expand", 1e-4, 8, 0.1, True, 10, dict(cut="block_13_expand")),
    "ft14_8ep_spread": ("block_14_expand", 1e-4, 8, 0.1, True, 10, dict(rates={
        "block_14_expand": 3e-5, "block_15_expand": 1e-4, "block_16_expand": 3e-4, "predictions": 1e-3})),
    # from 2026-12-07: the lessons' recipe, chosen on validation, then trained once more on train + val (5,275 images)
    # for its full 8 epochs (the best epoch of most ft14_8ep runs is the 7th or 8th), no early stopping: the validation
    # split is among the training images, so only the test split measures it
    "ft14_8ep_trainval": ("block_14_expand", 1e-4, 8, 0.1, True, 10, dict(train_on_val=True)),
}


class GroupRates(keras.Model):
    "A functional model trained with one Adam per group of variables, each at its own learning rate."

    def set_groups(self, groups):  # [(rate, variables)]
        self.groups = [(keras.optimizers.Adam(rate), variables) for rate, variables in groups if variables]
        for opt, variables in self.groups:
            opt.build(variables)

    def train_step(self, data):
        if not getattr(self, "groups", None):  # the head's first epochs: one optimizer, as compiled
            return super().train_step(data)
        x, y = data
        with tf.GradientTape() as tape:
            pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=pred, training=True)
        variables = [v for _, vs in self.groups for v in vs]
        grads, i = tape.gradient(loss, variables), 0
        for opt, vs in self.groups:
            opt.apply(grads[i:i + len(vs)], vs)
            i += len(vs)
        return self.compute_metrics(x, y, pred)


def rate_groups(model, upper, rates):
    "Split the trainable variables by `rates` ({first layer of a group: rate}, in the network's order)."
    groups, rate = {}, None
    for layer in upper.layers + [model.get_layer("predictions")]:
        rate = rates.get(layer.name, rate)
        if layer.trainable_weights:
            groups.setdefault(rate, []).extend(layer.trainable_weights)
    assert None not in groups, f"layers before the first group of {rates} are trainable"
    return list(groups.items())


def recipe_settings(recipe):
    first, lr, epochs, smoothing, flips, head_epochs, *extra = RECIPES[recipe]
    extra = {"patience": 3, "schedule": "constant", "cut": CUT, **(extra[0] if extra else {})}
    return first, lr, epochs, smoothing, flips, head_epochs, extra


def lower_model(config, size, cut=CUT):
    "The frozen part of the backbone, images of `size` px in, the activations at the input of `cut` out."
    extractor = build_feature_extractor("mobilenet_v2", config.weights, size)
    backbone = extractor.get_layer("backbone")
    images = keras.Input((size, size, 3))
    return keras.Model(images, keras.Model(backbone.input, backbone.get_layer(cut).input)(
        extractor.layers[1](images), training=False))  # layers[1]: the Preprocess layer


def split_activations(lower, split, size, flipped=False):
    "The activations of one split's images (or of their mirror images), float16, in file order."
    ds = make_dataset(split, size, 32)
    if flipped:
        ds = ds.map(lambda x, y: (tf.image.flip_left_right(x), y))
    return lower.predict(ds, verbose=0).astype(np.float16)


def cached(path, compute):
    "The arrays in the .npz at `path`, or `compute()`'s, saved there first."
    path = Path(path)
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    out = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def activations(args, cut=CUT):
    "Activations at the cut of every split at 224 px, and of their mirror images (train: augmentation; val, test: TTA)."
    def compute():
        config = course_config("full", data_dir=args.data, weights=args.weights, backbone="mobilenet_v2")
        splits, lower, out = course_splits(config), lower_model(config, 224, cut), {}
        for flipped in (False, True):
            for name, split in splits.items():
                t = time.perf_counter()
                out[name + ("_flipped" if flipped else "")] = split_activations(lower, split, 224, flipped)
                out[name + "_labels"] = split.labels
                print(f"{name}{' flipped' if flipped else ''}: {len(split)} images, {time.perf_counter() - t:.0f} s", flush=True)
        return out
    return cached(args.cache if cut == CUT else args.cache.replace(".npz", f"_{cut}.npz"), compute)


def sized_activations(args, size, cut=CUT):
    "Activations at the cut of the val and test images (and their mirror images) resized to `size` px, not 224."
    def compute():
        config = course_config("full", data_dir=args.data, weights=args.weights, backbone="mobilenet_v2")
        splits, lower, out = course_splits(config), lower_model(config, size, cut), {}
        for name in ("val", "test"):
            t = time.perf_counter()
            for flipped in (False, True):
                out[name + ("_flipped" if flipped else "")] = split_activations(lower, splits[name], size, flipped)
            out[name + "_labels"] = splits[name].labels
            print(f"{name} at {size} px, and mirrored: {time.perf_counter() - t:.0f} s", flush=True)
        return out
    return cached(args.cache.replace(".npz", f"_{size}px.npz" if cut == CUT else f"_{cut}_{size}px.npz"), compute)


def upper_model(args, first_trained, cut=CUT):
    # spatial size left open: trained on the 224 px activations, the same weights can then read larger images'
    net = keras.applications.MobileNetV2(include_top=False, weights=args.weights, pooling="avg", input_shape=(None, None, 3))
    upper = keras.Model(net.get_layer(cut).input, net.output)
    start = [l.name for l in upper.layers].index(first_trained) if first_trained else len(upper.layers)
    for i, layer in enumerate(upper.layers):
        layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
    return upper


def run(args, acts, recipe, seed):
    first, lr, epochs, smoothing, flips, head_epochs, extra = recipe_settings(recipe)
    refit = extra.get("train_on_val", False)
    if refit:  # the validation images join the training images (and their mirror images)
        acts = {**acts, **{f"train{s}": np.concatenate([acts[f"train{s}"], acts[f"val{s}"]]) for s in ("", "_flipped", "_labels")}}
    keras.utils.set_random_seed(seed)
    n_classes = int(acts["train_labels"].max()) + 1
    cut = keras.Input((None, None, acts["train"].shape[-1]), name="cut")
    upper = upper_model(args, first, extra["cut"])
    head = keras.layers.Dense(n_classes, activation="softmax", name="predictions")
    model = (GroupRates if "rates" in extra else keras.Model)(cut, head(upper(cut, training=False)))

    def data(split, train):
        y = tf.one_hot(acts[split + "_labels"], n_classes)
        if not (train and flips):
            ds = tf.data.Dataset.from_tensor_slices((acts[split], y))
        else:
            ds = tf.data.Dataset.from_tensor_slices((acts["train"], acts["train_flipped"], y)).map(
                lambda a, b, y: (tf.where(tf.random.uniform(()) < 0.5, a, b), y))
        if train:
            ds = ds.shuffle(len(acts[split]), seed=seed)
        return ds.map(lambda x, y: (tf.cast(x, tf.float32), y)).batch(32).prefetch(2)

    loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    held_out = None if refit else data("val", False)  # a refit has no validation split left to watch
    t0 = time.perf_counter()
    if head_epochs:  # the head first, on the frozen features, so fine-tuning does not start from random gradients
        upper.trainable = False
        model.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
        model.fit(data("train", True), validation_data=held_out, epochs=head_epochs, verbose=0)
        upper_trainable = [l for l in upper.layers]
        upper.trainable = True
        start = [l.name for l in upper.layers].index(first)
        for i, layer in enumerate(upper_trainable):
            layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
    head_val = model.evaluate(held_out, verbose=0, return_dict=True)["accuracy"] if head_epochs and held_out is not None else None
    steps = -(-len(acts["train"]) // 32) * epochs
    rate = keras.optimizers.schedules.CosineDecay(lr, steps) if extra["schedule"] == "cosine" else lr
    model.compile(keras.optimizers.Adam(rate), loss, metrics=["accuracy"])
    if "rates" in extra:
        model.set_groups(rate_groups(model, upper, extra["rates"]))
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=extra["patience"], restore_best_weights=True)
    h = model.fit(data("train", True), validation_data=held_out, epochs=epochs, verbose=0, callbacks=[] if refit else [stop])
    seconds = time.perf_counter() - t0
    val = None if refit else model.evaluate(held_out, verbose=0, return_dict=True)["accuracy"]
    test = model.evaluate(data("test", False), verbose=0, return_dict=True)["accuracy"]
    tta, probs = {}, {}
    for split in ("test",) if refit else ("val", "test"):  # test-time augmentation: the mean of the probabilities for the image and its mirror
        if split + "_flipped" in acts:
            for k in (split, split + "_flipped"):
                probs[k] = model.predict(acts[k].astype(np.float32), batch_size=64, verbose=0)
            p = probs[split] + probs[split + "_flipped"]
            tta[split + "_tta_accuracy"] = float((p.argmax(1) == acts[split + "_labels"]).mean())
    for size in args.eval_sizes:  # the trained model on larger images: more pixels of each object ("FixRes")
        sized = sized_activations(args, size, extra["cut"])
        for split in ("test",) if refit else ("val", "test"):
            p, q = (model.predict(sized[k].astype(np.float32), batch_size=64, verbose=0) for k in (split, split + "_flipped"))
            tta[f"{split}_{size}px_accuracy"] = float((p.argmax(1) == sized[split + "_labels"]).mean())
            tta[f"{split}_{size}px_tta_accuracy"] = float(((p + q).argmax(1) == sized[split + "_labels"]).mean())
    if args.save_probs:  # for ensembles of seeds, afterwards (--ensembles)
        Path(args.save_probs).mkdir(parents=True, exist_ok=True)
        np.savez(Path(args.save_probs) / f"{recipe}_seed{seed}.npz", seconds=seconds, **probs,
                 **{k: acts[k] for k in ("val_labels", "test_labels")})
    row = dict(date=str(date.today()), machine=f"{platform.processor() or platform.machine()} {os.cpu_count()} cores",
               recipe=recipe, seed=seed, first_trained=first, learning_rate=lr, max_epochs=epochs,
               patience=extra["patience"], schedule=extra["schedule"], **({"rates": extra["rates"]} if "rates" in extra else {}),
               epochs_run=len(h.history["loss"]), best_epoch=None if refit else int(np.argmax(h.history["val_accuracy"])) + 1,
               **({"trained_on": "train + val"} if refit else {}),
               label_smoothing=smoothing, flips=flips, head_epochs_first=head_epochs,
               trainable_parameters=int(sum(np.prod(w.shape) for w in model.trainable_weights)),
               head_val_accuracy=head_val, val_accuracy=val, test_accuracy=test, **tta, seconds=round(seconds, 1))
    print(json.dumps(row), flush=True)
    with open(HERE / "finetune_runs.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def course_recipe(args, seed):
    "The lessons' own recipe, through the package: fit_head_on_features, then fine_tune with its defaults."
    from transfer_tutorial.data import course_config, course_splits, make_dataset
    from transfer_tutorial.transfer import fine_tune, fit_head_on_features
    config = course_config("full", data_dir=args.data, weights=args.weights, backbone="mobilenet_v2")
    splits = course_splits(config)  # the split's seed stays the course's; `seed` varies the training only
    extractor = build_feature_extractor("mobilenet_v2", config.weights, 224)
    t0 = time.perf_counter()
    run = fit_head_on_features(extractor, splits, config.epochs, seed=seed, verbose=0)
    head_seconds = time.perf_counter() - t0
    head_val = run.history.history["val_accuracy"][-1]
    head_test = float((run.head.predict(run.features["test"][0], verbose=0).argmax(1) == splits["test"].labels).mean())
    model = run.model
    t0 = time.perf_counter()
    epochs = args.fine_tune_epochs or config.fine_tune_epochs
    history = fine_tune(model, splits, epochs, patience=args.patience, seed=seed, verbose=0)
    fine_tune_seconds = time.perf_counter() - t0
    test = model.evaluate(make_dataset(splits["test"], 224, 32), verbose=0, return_dict=True)["accuracy"]
    row = dict(date=str(date.today()), machine=f"{platform.processor() or platform.machine()} {os.cpu_count()} cores",
               recipe="course", version=2, seed=seed, first_trained=BACKBONES["mobilenet_v2"].fine_tune_from, learning_rate=1e-4,
               max_epochs=epochs, patience=args.patience, epochs_run=len(history.history["loss"]), best_epoch=history.best_epoch,
               label_smoothing=0.1, flips=True, head_epochs_first=config.epochs,
               trainable_parameters=history.trainable_parameters, head_val_accuracy=head_val, head_test_accuracy=head_test,
               head_seconds=round(head_seconds, 1), val_accuracy=history.best_val_accuracy, test_accuracy=test,
               seconds=round(fine_tune_seconds, 1), seconds_by_step={k: round(v, 1) for k, v in history.seconds.items()})
    print(json.dumps(row), flush=True)
    with open(HERE / "finetune_runs.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def ensembles(args):
    """Every pair of seeds of a recipe whose probabilities --save-probs kept: the mean of the two models' probabilities.

    Its seconds are the two fine-tunings' (trained one after the other); rows go to bench/ensemble_runs.jsonl."""
    from itertools import combinations
    for recipe in args.recipes:
        files = sorted(Path(args.save_probs).glob(f"{recipe}_seed*.npz"))
        runs = {int(f.stem.rsplit("seed", 1)[1]): dict(np.load(f)) for f in files}
        for a, b in combinations(sorted(runs), 2):
            ra, rb = runs[a], runs[b]
            row = dict(date=str(date.today()), recipe=recipe, seeds=[a, b], seconds=round(float(ra["seconds"] + rb["seconds"]), 1))
            for split in ("val", "test"):
                labels = ra[split + "_labels"]
                plain = ra[split] + rb[split]
                both = plain + ra[split + "_flipped"] + rb[split + "_flipped"]
                row[split + "_accuracy"] = float((plain.argmax(1) == labels).mean())
                row[split + "_tta_accuracy"] = float((both.argmax(1) == labels).mean())
            print(json.dumps(row), flush=True)
            with open(HERE / "ensemble_runs.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--cache", default="runs/finetune_activations.npz")
    p.add_argument("--recipes", nargs="+", default=list(RECIPES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--course", action="store_true", help="run the lessons' recipe (transfer.fine_tune) for each seed")
    p.add_argument("--fine-tune-epochs", type=int, help="with --course: at most this many epochs (default: the course's)")
    p.add_argument("--patience", type=int, default=2, help="with --course: epochs without a better validation accuracy before stopping")
    p.add_argument("--save-probs", default="runs/finetune_probs", help="keep each run's val / test probabilities here ('' not to)")
    p.add_argument("--eval-sizes", nargs="*", type=int, default=[],
                   help="also score each trained model on val / test images resized to these sizes (px), with and without mirror TTA")
    p.add_argument("--ensembles", action="store_true", help="score every pair of seeds of --recipes from --save-probs; train nothing")
    args = p.parse_args()
    if args.ensembles:
        return ensembles(args)
    if args.course:
        for seed in args.seeds:
            course_recipe(args, seed)
        return
    for recipe in args.recipes:
        acts = activations(args, recipe_settings(recipe)[-1]["cut"])
        for size in args.eval_sizes:  # extracted before any training, so that a failure shows at once
            sized_activations(args, size, recipe_settings(recipe)[-1]["cut"])
        for seed in args.seeds:
            run(args, acts, recipe, seed)


if __name__ == "__main__":
    main()
