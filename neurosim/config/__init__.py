"""Comparison configuration: frozen dataclasses loaded from TOML, with typed ``--set`` overrides.

A comparison file looks like::

    version = 1
    name = "quickstart"
    description = "..."
    seeds = [0, 1, 2]
    device = "auto"
    pairs = ["perceptron_linear", "perceptron_rosenblatt_mlp"]
    extra_models = []                 # members outside any pair (references)

    [task]
    name = "digits"                   # registry key
    n_per_class = 50                  # optional: labelled examples per class (nested subsets)
    subset_seed = "seed"              # their draw: each fit's own seed (default), or a fixed seed

    [training]
    epochs = 10
    batch_size = 32

    [models.perceptron_rosenblatt]    # options of one member
    n_association_units = 256

    [models.mlp_big]                  # a member with its own name
    model = "mlp"                     # registry key (defaults to the member name)
    hidden_sizes = [256, 128]
    training = { lr = 0.01 }          # per-member training overrides

    [pair_members.diehl_cook_mlp_kmeans]
    mlp = "mlp_dc"                    # this pair's "mlp" is the member "mlp_dc" (its options under
                                      # [models.mlp_dc]), so another pair's "mlp" may differ

A pair's members are named by the pair's model keys unless ``[pair_members.<pair>]`` renames
them; results record each pair's members (``pair_members``) for the reports.

Every unknown key is reported with the valid ones, so a typo never passes silently.

The package, one concept a module: :mod:`~neurosim.config.comparison` (the frozen dataclasses and
their identities), :mod:`~neurosim.config.resolution` (a raw table checked and resolved into a
:class:`ComparisonConfig`) and :mod:`~neurosim.config.files` (TOML files, ``--set`` overrides and
the shipped comparisons). Everything is imported from here.
"""

from __future__ import annotations

import sys

from neurosim.config.comparison import (
    BUDGET_KEYS,
    CONFIG_VERSION,
    LATE_TASK_KEYS,
    LATE_TRAINING_KEYS,
    MODEL_SUPPLIED,
    TOP_KEYS,
    ComparisonConfig,
    ComparisonTable,
    MemberConfig,
    TaskConfig,
    TrainingConfig,
    identity_task,
    identity_training,
    resolve_subset_seed,
)
from neurosim.config.files import (
    apply_override,
    find_comparison,
    list_comparisons,
    load,
    load_raw,
    parse_value,
    shipped_comparison_dirs,
)
from neurosim.config.resolution import resolve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "BUDGET_KEYS",
    "CONFIG_VERSION",
    "LATE_TASK_KEYS",
    "LATE_TRAINING_KEYS",
    "MODEL_SUPPLIED",
    "TOP_KEYS",
    "ComparisonConfig",
    "ComparisonTable",
    "MemberConfig",
    "TaskConfig",
    "TrainingConfig",
    "apply_override",
    "find_comparison",
    "identity_task",
    "identity_training",
    "list_comparisons",
    "load",
    "load_raw",
    "parse_value",
    "resolve",
    "resolve_subset_seed",
    "shipped_comparison_dirs",
    "tomllib",
]
