"""The spiking CNN's readout, beta and learning rate, and its CNN twin's learning rate, chosen on
Fashion-MNIST's validation split (50k train, 10k validation) with 3-epoch probes, seed 0.

The spiking CNN runs T = 8 steps (the T of Fang et al. 2021's Fashion-MNIST convolutional SNN; not
tuned). Its grid is readout x beta x lr, 8 settings; its twin, which has neither a readout nor a
beta, gets the same number of settings, all on its learning rate. Run:
``python tuning/fashion_mnist_snn.py`` (about 40 min on 2 CPU cores; needs Fashion-MNIST).
"""

from __future__ import annotations

import itertools
from pathlib import Path

from neurosim.config import load_raw
from neurosim.tuning import Setting, print_choice, study

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "fashion_mnist_snn.toml"
PROBE = {"training.epochs": 3, "seeds": [0], "device": "cpu"}
SNN_GRID = itertools.product(("spike_count", "membrane_mean"), (0.5, 0.9), (5e-4, 5e-3))
CNN_LRS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2)


def main() -> None:
    base = load_raw(COMPARISON)
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
    cnn = [Setting(f"lr {lr:g}", PROBE | {"models.cnn.training.lr": lr}) for lr in CNN_LRS]
    for members, settings in ((("snn_cnn",), snn), (("cnn",), cnn)):
        print_choice(study(base, settings, members), members, "validation accuracy after 3 epochs, seed 0")
        print()


if __name__ == "__main__":
    main()
