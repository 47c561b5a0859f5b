"""XGBoost on a scikit-learn bundled dataset; fidelity = boosting rounds; resumable from its checkpoint.

Configuration keys (all optional): dataset ("breast_cancer" | "digits"), eta, max_depth, min_child_weight,
subsample, colsample_bytree, reg_lambda, reg_alpha. Reports ``boosting_round``, ``val_error`` (validation
classification error), ``val_logloss``, ``train_error`` and ``elapsed_time`` (training seconds since the trial's
first start, cumulative across resumes) after every round. The checkpoint holds the booster (raw bytes), the
round and the elapsed time; a resumed run continues training from it (``xgb.train(..., xgb_model=booster)``).

Run by hand: python train_xgboost.py --config-json '{"eta": 0.3}' --max-fidelity 10
"""
from __future__ import annotations

import time

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from launchers.report import load_checkpoint, report, save_checkpoint, trial_context

DATASETS = {"breast_cancer": load_breast_cancer, "digits": load_digits}


def main() -> None:
    trial = trial_context()
    config = trial.config
    dataset = config.get("dataset", "breast_cancer")
    if dataset not in DATASETS:
        raise SystemExit(f"unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    x, y = DATASETS[dataset](return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    n_classes = int(y.max()) + 1
    params = {
        "eta": float(config.get("eta", 0.3)), "max_depth": int(config.get("max_depth", 6)),
        "min_child_weight": float(config.get("min_child_weight", 1.0)),
        "subsample": float(config.get("subsample", 1.0)),
        "colsample_bytree": float(config.get("colsample_bytree", 1.0)),
        "lambda": float(config.get("reg_lambda", 1.0)), "alpha": float(config.get("reg_alpha", 0.0)),
        "seed": 0, "nthread": 1, "tree_method": "hist",
    }
    if n_classes == 2:
        params.update(objective="binary:logistic", eval_metric="logloss")
    else:
        params.update(objective="multi:softprob", num_class=n_classes, eval_metric="mlogloss")
    train = xgb.DMatrix(x_train, label=y_train)
    val = xgb.DMatrix(x_val, label=y_val)
    state = load_checkpoint() or {"round": 0, "booster": None, "elapsed": 0.0}
    booster = None if state["booster"] is None else xgb.Booster(model_file=bytearray(state["booster"]))
    max_rounds = int(trial.max_fidelity or 100)

    def errors(matrix: xgb.DMatrix, labels: np.ndarray) -> tuple[float, float]:
        prob = booster.predict(matrix)
        if n_classes == 2:
            pred = (prob > 0.5).astype(int)
            p = np.clip(prob, 1e-12, 1 - 1e-12)
            logloss = float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
        else:
            pred = prob.argmax(axis=1)
            logloss = float(-np.mean(np.log(np.clip(prob[np.arange(len(labels)), labels], 1e-12, 1.0))))
        return float(np.mean(pred != labels)), logloss

    for boosting_round in range(state["round"] + 1, max_rounds + 1):
        t0 = time.perf_counter()
        booster = xgb.train(params, train, num_boost_round=1, xgb_model=booster)
        state["elapsed"] += time.perf_counter() - t0
        val_error, val_logloss = errors(val, y_val)
        train_error, _ = errors(train, y_train)
        state.update(round=boosting_round, booster=bytes(booster.save_raw("ubj")))
        save_checkpoint(state)  # the checkpoint of this round first, then its result
        report(boosting_round=boosting_round, val_error=val_error, val_logloss=val_logloss,
               train_error=train_error, elapsed_time=state["elapsed"])


if __name__ == "__main__":
    main()
