"""A scikit-learn MLPClassifier trained epoch by epoch (``partial_fit``) on a bundled dataset; resumable.

Configuration keys (all optional): dataset ("digits" | "breast_cancer" | "wine"), hidden_units, n_layers,
learning_rate_init, alpha, batch_size. Fidelity = ``epoch``. Reports ``val_error``, ``train_loss`` and
``elapsed_time`` (training seconds since the first start, cumulative across resumes) after every epoch. The
checkpoint is the pickled model, the epoch, the shuffling generator and the elapsed time, so a resumed run
continues exactly where the paused one stopped.

Run by hand: python train_mlp.py --config-json '{"hidden_units": 32}' --max-fidelity 5
"""
from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from launchers.report import load_checkpoint, report, save_checkpoint, trial_context

DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}


def main() -> None:
    trial = trial_context()
    config = trial.config
    dataset = config.get("dataset", "digits")
    if dataset not in DATASETS:
        raise SystemExit(f"unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    x, y = DATASETS[dataset](return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    classes = np.unique(y)
    batch_size = min(int(config.get("batch_size", 32)), len(x_train))
    state = load_checkpoint()
    if state is None:
        hidden = (int(config.get("hidden_units", 64)),) * int(config.get("n_layers", 1))
        model = MLPClassifier(hidden_layer_sizes=hidden, learning_rate_init=float(config.get("learning_rate_init",
                              1e-3)), alpha=float(config.get("alpha", 1e-4)), batch_size=batch_size,
                              random_state=0)
        state = {"epoch": 0, "model": model, "rng": np.random.default_rng(0), "elapsed": 0.0}
    model, rng = state["model"], state["rng"]
    max_epochs = int(trial.max_fidelity or 20)
    for epoch in range(state["epoch"] + 1, max_epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(x_train))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # One partial_fit call = one pass over the (re-shuffled) training set in mini-batches.
            model.partial_fit(x_train[order], y_train[order], classes=classes)
        state["elapsed"] += time.perf_counter() - t0
        val_error = float(np.mean(model.predict(x_val) != y_val))
        state["epoch"] = epoch
        save_checkpoint(state)  # the checkpoint of this epoch first, then its result
        report(epoch=epoch, val_error=val_error, train_loss=float(model.loss_), elapsed_time=state["elapsed"])


if __name__ == "__main__":
    main()
