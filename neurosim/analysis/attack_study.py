"""The attack suite on a stored run: every member and seed under the same attacks, with transfer
from the pair's partner, the strongest attack per image, and the sanity checks.

For each seed, every member is attacked by :func:`neurosim.analysis.attack_suite.attack_member`
(the same :class:`~neurosim.analysis.attack_suite.SuiteBudget`, images and random starts for
every member: both members of a pair get an identical suite), then **transfer**: each paired
member is judged on its partner's white-box examples (same seed; a bio model's partner is its
first twin, a twin's its bio model, :func:`neurosim.analysis.black_box.transfer_sources`).
**strongest**: per eps and image, an image is correct only if no attack broke it; its curve is
the suite's robust accuracy. The sanity checks (:mod:`neurosim.analysis.masking_checks`) are
computed per member and seed.

Each seed's results are stored as soon as it is done, and a rerun (after a kill) takes the
stored seeds whose budget, images, members and fits match
(:mod:`neurosim.analysis.attack_checkpoints`); :func:`attack_seeds` attacks a share of the seeds,
for a second process.

Stimuli: the first ``min(n_stimuli, SUITE_STIMULI)`` test images (the whole test set when smaller;
``neurosim analyse RUN --analyses attack_suite --stimuli N`` lowers it).

Stored as ``analyses/attack_suite.nc``: ``accuracy (perturbation, strength_index, model, seed)``
with ``strength`` (eps) as in :mod:`neurosim.analysis.strength_curves` (perturbations: the attacks
of :data:`~neurosim.analysis.attack_suite.ATTACKS` and ``strongest``; NaN where an attack does not
apply); ``check_passed (check, model, seed)`` (1 pass, 0 fail, NaN not applicable) and
``check_value`` (the number each check tested); ``steps_accuracy (steps, model, seed)`` and
``restarts_accuracy (restarts, model, seed)`` at the check eps; ``seconds (attack, model, seed)``
(wall time); ``stochastic (model)`` (1 when EOT applied). Attributes: the budget, each member's
BPDA replacements (``bpda__<member>``), transfer source (``transfer_source__<member>``) and
attacks skipped over their time limit (``skipped__<member>``).
Registered as :data:`ANALYSIS` (section and summary cells: :mod:`neurosim.analysis.attack_report`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.attack_checkpoints import seed_key, seed_path, store_seed, stored_seed
from neurosim.analysis.attack_report import attack_suite_section, attack_suite_summary
from neurosim.analysis.attack_suite import ATTACKS, STRONGEST, MemberAttacks, SuiteBudget
from neurosim.analysis.masking_checks import CHECKS, sanity_checks
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis
from neurosim.analysis.strength_curves import strength_curves_dataset
from neurosim.analysis.study import Analysis
from neurosim.errors import UserError

#: Test images the suite attacks by default (the issue's >= 1000; the whole test set when smaller).
SUITE_STIMULI = 1000


def _curves(attacked: MemberAttacks) -> dict[str, list[float]]:
    """attack -> accuracy at every eps (the mean over images of the verdicts), strongest included."""
    from neurosim.analysis.attack_suite import strongest

    verdicts = {**attacked.correct, STRONGEST: strongest(attacked.correct)}
    return {name: [float(v) for v in np.nanmean(value, axis=1)] if not np.isnan(value).all()
            else [float("nan")] * value.shape[0] for name, value in verdicts.items()}  # fmt: skip


def attack_seed(
    run_dir: str | Path, members: list, seed: int, x, y, budget: SuiteBudget
) -> dict[str, MemberAttacks]:
    """Every member of one seed under the suite, transfer from its partner included."""
    from neurosim.analysis.attack_suite import attack_member, transfer_verdicts
    from neurosim.analysis.black_box import transfer_sources
    from neurosim.run_loading import load_fitted_model  # here: the report imports this module

    config, task = load_run(run_dir)
    sources = transfer_sources(config.pair_members())
    models = {m.name: load_fitted_model(run_dir, m, task, seed) for m in members}
    found = {name: attack_member(model, x, y, budget, seed) for name, model in models.items()}
    for name, attacked in found.items():
        source = found.get(sources.get(name, ""))
        if source is not None and source.adversarial is not None:
            attacked.correct["transfer"] = transfer_verdicts(models[name], source.adversarial, x, y, budget)
    return found


def resumed_seed(
    run_dir: str | Path, config, members: list, seed: int, x, y, budget: SuiteBudget
) -> dict[str, MemberAttacks]:
    """One seed's results: stored ones when their key matches (:mod:`neurosim.analysis.attack_checkpoints`),
    else :func:`attack_seed`'s, stored before they are returned."""
    from neurosim.runner import fit_hash  # here: the report imports this module

    path = seed_path(run_dir, seed)
    key = seed_key(budget, len(x), {m.name: fit_hash(config, m, seed) for m in members})
    found = stored_seed(path, key)
    if found is None:
        found = attack_seed(run_dir, members, seed, x, y, budget)
        store_seed(path, found, key, budget)
    return found


def suite_dataset(
    found: dict[str, list[MemberAttacks]], seeds: list[int], budget: SuiteBudget, attrs: dict
) -> xr.Dataset:
    """The stored Dataset of the module docstring from ``found[member][seed index]``."""
    table = {name: budget.epsilons for name in (*ATTACKS, STRONGEST)}
    curves = {member: [_curves(a) for a in per_seed] for member, per_seed in found.items()}
    dataset = strength_curves_dataset(table, curves, seeds, attrs)
    names = list(found)
    shape = (len(CHECKS), len(names), len(seeds))
    passed, value = np.full(shape, np.nan), np.full(shape, np.nan)
    steps = np.full((len(budget.check_steps) + 1, len(names), len(seeds)), np.nan)
    restarts = np.full((budget.restarts, len(names), len(seeds)), np.nan)
    seconds = np.full((len(ATTACKS), len(names), len(seeds)), np.nan)
    for m, member in enumerate(names):
        for s, attacked in enumerate(found[member]):
            curve = {k: np.asarray(v) for k, v in curves[member][s].items()}
            for c, check in enumerate(
                sanity_checks(curve, attacked.steps_accuracy, attacked.restarts_accuracy)
            ):
                passed[c, m, s] = np.nan if check.passed is None else float(check.passed)
                value[c, m, s] = check.value
            steps[:, m, s], restarts[:, m, s] = attacked.steps_accuracy, attacked.restarts_accuracy
            seconds[:, m, s] = [attacked.seconds.get(a, np.nan) for a in ATTACKS]
    stochastic = [float(found[member][0].stochastic) for member in names]
    return dataset.assign(
        check_passed=(("check", "model", "seed"), passed),
        check_value=(("check", "model", "seed"), value),
        steps_accuracy=(("steps", "model", "seed"), steps),
        restarts_accuracy=(("restarts", "model", "seed"), restarts),
        seconds=(("attack", "model", "seed"), seconds),
        stochastic=(("model",), stochastic),
    ).assign_coords(
        check=list(CHECKS),
        steps=[*budget.check_steps, budget.steps],
        restarts=list(range(1, budget.restarts + 1)),
        attack=list(ATTACKS),
    )


def attack_seeds(
    run_dir: str | Path,
    seeds: list[int],
    n_stimuli: int = N_STIMULI,
    budget: SuiteBudget | None = None,
    members: list[str] | None = None,
) -> None:
    """Attack only ``seeds`` of a stored run and store each (a share of the study for a second
    process: the seeds' files are what :func:`analyse_attack_suite` then takes, so two processes
    given the seeds in opposite orders split the work; one that reaches a seed the other stored
    takes it). Arguments as :func:`analyse_attack_suite`; writes no study result."""
    budget = budget or SuiteBudget()
    config, task = load_run(run_dir)
    unknown = sorted(set(seeds) - set(config.seeds))
    if unknown:
        raise UserError(f"seeds {unknown} are not seeds of the run {run_dir} ({list(config.seeds)})")
    n = min(n_stimuli, SUITE_STIMULI, len(task.x_test))
    chosen = [m for m in config.members if members is None or m.name in members]
    for seed in seeds:
        resumed_seed(run_dir, config, chosen, seed, task.x_test[:n], task.y_test[:n], budget)


def analyse_attack_suite(
    run_dir: str | Path,
    n_stimuli: int = N_STIMULI,
    budget: SuiteBudget | None = None,
    members: list[str] | None = None,
) -> xr.Dataset:
    """The suite on every member (or those named in ``members``) and seed of a stored run; stored
    as ``analyses/attack_suite.nc`` and returned."""
    from neurosim.analysis.black_box import transfer_sources

    budget = budget or SuiteBudget()
    config, task = load_run(run_dir)
    n = min(n_stimuli, SUITE_STIMULI, len(task.x_test))
    x, y = task.x_test[:n], task.y_test[:n]
    chosen = [m for m in config.members if members is None or m.name in members]
    found: dict[str, list[MemberAttacks]] = {m.name: [] for m in chosen}
    for seed in config.seeds:
        for name, attacked in resumed_seed(run_dir, config, chosen, seed, x, y, budget).items():
            found[name].append(attacked)
    attrs = analysis_attrs("attack_suite", n, task, config)
    attrs.update({f"budget_{k}": str(v) for k, v in dataclasses.asdict(budget).items()})
    attrs.update({f"bpda__{name}": ", ".join(per_seed[0].replaced) for name, per_seed in found.items()})
    skipped = {name: per_seed[0].skipped for name, per_seed in found.items() if per_seed[0].skipped}
    attrs.update(
        {f"skipped__{name}": "; ".join(f"{a}: {why}" for a, why in s.items()) for name, s in skipped.items()}
    )
    sources = transfer_sources(config.pair_members())
    attrs.update({f"transfer_source__{t}": s for t, s in sources.items() if t in found})
    return save_analysis(run_dir, "attack_suite", suite_dataset(found, list(config.seeds), budget, attrs))


ANALYSIS = Analysis(
    name="attack_suite",
    description="the same attack suite for every model (PGD own loss and margin, BPDA, Square, transfer, "
    "EOT) with gradient-masking checks",
    compute=analyse_attack_suite,
    section=attack_suite_section,
    extra="attacks",
    summary=attack_suite_summary,
)
