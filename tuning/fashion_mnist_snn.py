"""The Fashion-MNIST spiking pairs' settings, chosen on the validation split (50k train, 10k
validation) with 3-epoch probes, seed 0.

- ``cnn``: the spiking CNN runs T = 8 steps (the T of Fang et al. 2021's Fashion-MNIST
  convolutional SNN; not tuned). Its grid is readout x beta x lr, 8 settings; its twin, which has
  neither a readout nor a beta, gets the same number of settings, all on its learning rate
  (about 40 min on 2 CPU cores).
- ``mlp``: the spiking MLP keeps snnTorch tutorial 5's network (T = 25, beta 0.95); its learning
  rate (the tutorial's 5e-4 among them), its rate-encoded variant's and its twin's, 4 settings
  each on the same grid (20 min).

Run: ``python tuning/fashion_mnist_snn.py [cnn] [mlp]`` (default both; needs Fashion-MNIST).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from neurosim.config import load_raw
from neurosim.tuning import Setting, print_choice, study

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "fashion_mnist_snn.toml"
PROBE = {"training.epochs": 3, "seeds": [0], "device": "cpu"}
SNN_GRID = itertools.product(("spike_count", "membrane_mean"), (0.5, 0.9), (5e-4, 5e-3))
CNN_LRS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2)
MLP_LRS = (2e-4, 5e-4, 1e-3, 2e-3)
HEADING = "validation accuracy after 3 epochs, seed 0"


def rate_settings(member: str, rates: tuple[float, ...], fixed: dict | None = None) -> list[Setting]:
    """One setting per learning rate of ``member``, each with the ``fixed`` overrides."""
    common = PROBE | (fixed or {})
    return [Setting(f"lr {lr:g}", common | {f"models.{member}.training.lr": lr}) for lr in rates]


def convolutional(base: dict) -> None:
    """The spiking CNN's readout x beta x lr, and its twin's lr, 8 settings each."""
    snn = [
        Setting(
            f"readout {readout}, beta {beta}, lr {lr:g}",
            PROBE
            | {
                "models.snn_cnn.readout": readout,
                "models.snn_cnn.beta": beta,
                "models.snn_cnn.training.lr": lr,
            },
        )
        for readout, beta, lr in SNN_GRID
    ]
    for members, settings in ((("snn_cnn",), snn), (("cnn",), rate_settings("cnn", CNN_LRS))):
        print_choice(study(base, settings, members), members, HEADING)
        print()


def dense(base: dict) -> None:
    """The spiking MLP's, its rate-encoded variant's and its twin's learning rates, 4 each."""
    # Tuned alone, the twin does not get its width from the pair: the spiking MLP's 1000 units.
    fixed = {"snn_mlp": None, "snn_mlp_rate": None, "mlp": {"models.mlp.hidden_sizes": [1000]}}
    for member, overrides in fixed.items():
        settings = rate_settings(member, MLP_LRS, overrides)
        print_choice(study(base, settings, (member,)), (member,), HEADING)
        print()


def main(groups: list[str]) -> None:
    base = load_raw(COMPARISON)
    for group in groups or ["cnn", "mlp"]:
        {"cnn": convolutional, "mlp": dense}[group](base)


if __name__ == "__main__":
    main(sys.argv[1:])
