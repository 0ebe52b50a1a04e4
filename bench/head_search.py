"""Settings of the new softmax on frozen features, chosen on the validation split (test for reference).

The features come from the course's feature cache (`extract_features`): the backbone runs at most once per
image. Each recipe trains a head per seed; every run is appended to bench/head_runs.jsonl.

    python bench/head_search.py --data DIR --weights FILE --seeds 0 1 2
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

from transfer_tutorial.data import course_config, course_splits
from transfer_tutorial.transfer import build_feature_extractor, extract_features, features_dataset

HERE = Path(__file__).resolve().parent

# name: (epochs, learning rate, dropout before the softmax, label smoothing, early stopping patience on val_loss)
RECIPES = {
    "course": (10, 1e-3, 0.0, 0.0, None),
    "dropout0.2": (10, 1e-3, 0.2, 0.0, None),
    "dropout0.5": (10, 1e-3, 0.5, 0.0, None),
    "dropout0.5_20ep": (20, 1e-3, 0.5, 0.0, None),
    "smooth0.1": (10, 1e-3, 0.0, 0.1, None),
    "lr3e-4_20ep": (20, 3e-4, 0.0, 0.0, None),
    "early_stop": (30, 1e-3, 0.0, 0.0, 3),
    "dropout0.5_smooth0.1_20ep": (20, 1e-3, 0.5, 0.1, None),
}


def head(num_classes, dim, dropout):
    features = keras.Input((dim,))
    x = keras.layers.Dropout(dropout)(features) if dropout else features
    return keras.Model(features, keras.layers.Dense(num_classes, activation="softmax")(x))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--recipes", nargs="+", default=list(RECIPES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = p.parse_args()
    config = course_config("full", data_dir=args.data, weights=args.weights, backbone="mobilenet_v2")
    splits = course_splits(config)
    extractor = build_feature_extractor("mobilenet_v2", config.weights, 224)
    features = {s: extract_features(extractor, splits[s], 224, 32, verbose=0) for s in ("train", "val", "test")}
    num_classes = len(splits["train"].class_names)
    for name in args.recipes:
        epochs, lr, dropout, smoothing, patience = RECIPES[name]
        for seed in args.seeds:
            keras.utils.set_random_seed(seed)
            model = head(num_classes, features["train"][0].shape[-1], dropout)
            model.compile(keras.optimizers.Adam(lr), keras.losses.CategoricalCrossentropy(label_smoothing=smoothing),
                          metrics=["accuracy"])
            one_hot = lambda x, y: (x, keras.ops.one_hot(y, num_classes))
            train = features_dataset(*features["train"], 32, shuffle=True, seed=seed).map(one_hot)
            val = features_dataset(*features["val"], 32).map(one_hot)
            callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)] if patience else []
            start = time.perf_counter()
            history = model.fit(train, validation_data=val, epochs=epochs, callbacks=callbacks, verbose=0, shuffle=False)
            seconds = time.perf_counter() - start
            accuracy = {s: float((np.asarray(model(features[s][0], training=False)).argmax(1) == features[s][1]).mean())
                        for s in ("val", "test")}
            row = dict(date=str(date.today()), machine=f"{platform.processor() or platform.machine()} {os.cpu_count()} cores",
                       recipe=name, seed=seed, epochs=epochs, epochs_run=len(history.history["loss"]), learning_rate=lr,
                       dropout=dropout, label_smoothing=smoothing, patience=patience,
                       val_accuracy=accuracy["val"], test_accuracy=accuracy["test"], seconds=round(seconds, 1))
            print(json.dumps(row), flush=True)
            with open(HERE / "head_runs.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
