"""The SoftHebb CNN's k-means control on the quickstart digits: its patch preprocessing, chosen on
the validation split (the test split is not used).

Three settings of ``softhebb_cnn_kmeans`` (``neurosim/rules/patch_kmeans.py``,
``neurosim/rules/patch_whitening.py``): raw patches, patches centred on their own mean, and
centred then ZCA-whitened (Coates, Lee & Ng 2011). The control runs in its pair
(``softhebb_cnn_backprop``, ``controls = true``) at the quickstart's settings for the pair, so it
takes the bio model's channels, dropout and unlabelled budget; the SoftHebb CNN and its backprop
twin are fitted beside it for reference. Seeds 0 and 1. Run: ``python tuning/quickstart_cnn_control.py``
(about 6 min on 2 CPU cores). The choice and its numbers are in ``docs/model_choices.md``.
"""

from __future__ import annotations

from pathlib import Path

from neurosim.config import load_raw
from neurosim.tuning import Setting, print_choice, study

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
PAIR, CONTROL = "softhebb_cnn_backprop", "softhebb_cnn_kmeans"
OPTION = f"models.{CONTROL}"
MEMBERS = ("softhebb_cnn", "softhebb_cnn_backprop", CONTROL)
PREPROCESSING = {"raw": (False, False), "centred": (True, False), "centred, whitened": (True, True)}


def pair_only(base: dict) -> dict:
    """The quickstart cut down to the SoftHebb CNN pair with its control."""
    raw = dict(base) | {"pairs": [PAIR], "controls": True, "seeds": [0, 1], "device": "cpu"}
    raw.pop("pair_members", None)
    raw["models"] = {name: table for name, table in base["models"].items() if name in MEMBERS}
    return raw


def main() -> None:
    base = pair_only(load_raw(COMPARISON))
    settings = [
        Setting(
            label, {f"models.{CONTROL}.centre_patches": centre, f"models.{CONTROL}.whiten_patches": whiten}
        )
        for label, (centre, whiten) in PREPROCESSING.items()
    ]
    print_choice(
        study(base, settings, None), MEMBERS, "validation accuracy, mean [95 % CI] over seeds 0 and 1"
    )


if __name__ == "__main__":
    main()
