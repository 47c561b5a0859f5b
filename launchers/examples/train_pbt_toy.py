"""A small problem where the learning-rate *schedule* matters: the example for population-based training.

Linear regression (20 weights, numpy) is trained by plain minibatch SGD (4 samples per update) on a stream of
fresh samples from a fixed noisy linear model whose inputs are ill-conditioned (covariance eigenvalues spread
log-evenly over [0.01, 1], randomly rotated; unit label noise). This is the setting in which the theory of SGD
(e.g. the noisy quadratic model of Zhang et al. 2019) says a constant learning rate must trade progress against
noise: a large rate moves fast along the flat directions but leaves the weights jittering at a loss floor that
grows with the rate; a small rate has a low floor but does not get there in the budget. A large rate early and
a small one late beats every constant rate. Measured with this file's functions on 5 training streams, excess
validation loss at 100 steps: the best constant rates (0.05, 0.1) reach 0.04 to 0.11, a geometric decay from
0.5 to 0.02 reaches 0.009 to 0.02 (from 11.2 at the start). Population-based training can find such a schedule;
random search over constant rates cannot.

Configuration: ``lr`` (required), ``batch_size`` (default 4), ``updates_per_step`` (default 20). Fidelity =
``step`` (``updates_per_step`` SGD updates, about a millisecond). After every step it reports ``val_loss`` (mean
squared error on 5,000 fixed validation samples), ``excess_loss`` (``val_loss`` minus the true model's error on
them, 1.032) and ``lr``. The checkpoint holds the weights, the step and the sample stream's generator, so a
resumed run (after a pause) and a run started from another trial's copied checkpoint (PBT's exploit step,
possibly with another ``lr``) continue from that state: the first step reported is the one after the
checkpoint's. ``--seed N`` (default 0) with the trial id seeds the training stream; the problem itself (model
and validation set) is fixed.

Run by hand: python train_pbt_toy.py --config-json '{"lr": 0.1}' --max-fidelity 5
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from launchers.report import load_checkpoint, report, save_checkpoint, trial_context

N_FEATURES = 20
CONDITION_NUMBER = 100.0
NOISE_STD = 1.0
WEIGHT_SCALE = 3.0
N_VALIDATION = 5000


@dataclass(frozen=True)
class RegressionProblem:
    """Inputs ``x = z @ mixing.T`` with ``z`` standard normal; ``y = x @ true_weights + NOISE_STD * noise``."""

    mixing: np.ndarray  # (D, D)
    true_weights: np.ndarray  # (D,)
    x_val: np.ndarray
    y_val: np.ndarray

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.standard_normal((n, len(self.true_weights))) @ self.mixing.T
        return x, x @ self.true_weights + NOISE_STD * rng.standard_normal(n)

    def val_loss(self, weights: np.ndarray) -> float:
        """Mean squared error on the validation samples."""
        return float(np.mean((self.x_val @ weights - self.y_val) ** 2))


def make_problem() -> RegressionProblem:
    rng = np.random.default_rng(0)
    eigenvalues = np.logspace(0.0, -np.log10(CONDITION_NUMBER), N_FEATURES)
    rotation, _ = np.linalg.qr(rng.standard_normal((N_FEATURES, N_FEATURES)))
    mixing = rotation * np.sqrt(eigenvalues)
    # Each direction holds the same share of the initial loss, so the flat directions matter.
    true_weights = rotation @ (rng.standard_normal(N_FEATURES) * WEIGHT_SCALE / np.sqrt(eigenvalues * N_FEATURES))
    problem = RegressionProblem(mixing, true_weights, np.empty((0, N_FEATURES)), np.empty(0))
    x_val, y_val = problem.sample(np.random.default_rng(1), N_VALIDATION)
    return RegressionProblem(mixing, true_weights, x_val, y_val)


def train_step(problem: RegressionProblem, weights: np.ndarray, rng: np.random.Generator, lr: float,
               batch_size: int, updates: int) -> None:
    """``updates`` SGD updates of the squared error on fresh minibatches (in place)."""
    for _ in range(updates):
        x, y = problem.sample(rng, batch_size)
        weights -= lr * (x.T @ (x @ weights - y)) / batch_size


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--seed", type=int, default=0)
    args, _ = parser.parse_known_args(sys.argv[1:])
    trial = trial_context()
    config = trial.config
    if "lr" not in config:
        raise SystemExit(f"the configuration needs a learning rate 'lr'; got {config}")
    lr = float(config["lr"])
    batch_size = int(config.get("batch_size", 4))
    updates = int(config.get("updates_per_step", 20))
    problem = make_problem()
    noise_loss = problem.val_loss(problem.true_weights)  # what the true model scores on the validation set
    state = load_checkpoint()
    if state is None:
        state = {"step": 0, "weights": np.zeros(N_FEATURES), "rng": np.random.default_rng([args.seed, trial.trial_id])}
    weights, rng = state["weights"], state["rng"]
    max_steps = int(trial.max_fidelity or 100)
    with np.errstate(over="ignore", invalid="ignore"):  # a too large rate diverges: its loss is reported as is
        for step in range(state["step"] + 1, max_steps + 1):
            train_step(problem, weights, rng, lr, batch_size, updates)
            val_loss = problem.val_loss(weights)
            state["step"] = step
            save_checkpoint(state)  # the checkpoint of this step first, then its result
            report(step=step, val_loss=val_loss, excess_loss=val_loss - noise_loss, lr=lr)


if __name__ == "__main__":
    main()
