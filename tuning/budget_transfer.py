"""Does the shipped Hebbian budget transfer across training-set sizes? Krotov-Hopfield and the
SoftHebb MLP of ``comparisons/fashion_mnist_hebbian.toml`` (budgets in images presented), trained
on 5k, 10k and all training images of a task, every phase on that subset
(``unsupervised_pool = "labelled"``), evaluated on validation (the test split is not used).

Prints, per size and model, the convergence diagnostic (:mod:`neurosim.models.convergence`) and
the validation accuracy. Run: ``python tuning/budget_transfer.py [TASK ...]`` (default
``fashion_mnist mnist_10k``; seed 0; on 2 CPU cores about 4 min per size of ``mnist_10k``, more for
Fashion-MNIST's larger sets). ``mnist_10k`` has
6,995 training images (its 997 validation images are a split of their own), so its sizes are 5k
and all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from neurosim.config import load_raw
from neurosim.results.storage import open_dataset
from neurosim.tuning import Setting, run_on_validation

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "fashion_mnist_hebbian.toml"
MEMBERS = ("hebbian_krotov", "softhebb_mlp")
PER_CLASS = {"fashion_mnist": (500, 1000, "all"), "mnist_10k": (500, "all")}


def sizes(task: str) -> list[Setting]:
    """One setting per training-set size (labels per class, or ``all``)."""
    return [
        Setting(
            f"{task}, {n} per class",
            {
                "task.name": task,
                "task.n_per_class": n,
                "training.unsupervised_pool": "labelled",
                "seeds": [0],
            },
        )
        for n in PER_CLASS[task]
    ]


def main(tasks: list[str]) -> None:
    base = load_raw(COMPARISON) | {"device": "cpu"}
    print("| size | member | learnt | convergence | validation accuracy |")
    print("|---|---|---|---|---|")
    for task in tasks:
        for setting in sizes(task):
            results = open_dataset(run_on_validation(base, setting, MEMBERS) / "results.nc")
            for member in MEMBERS:
                fit = results.sel(model=member, seed=0)
                accuracy = float(np.asarray(fit.final_test_accuracy))
                print(
                    f"| {setting.label} | {member} | {int(fit.learnt)} | {fit.convergence.item()} | "
                    f"{accuracy:.4f} |"
                )


if __name__ == "__main__":
    main(sys.argv[1:] or ["fashion_mnist", "mnist_10k"])
