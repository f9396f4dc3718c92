"""Attacks that need no gradient of the attacked model: a score-based black-box attack and
transfer from the pair's other member. Together with FGSM and PGD (:mod:`neurosim.analysis.attacks`)
they cover every model, including those without an input gradient (STDP, the Neocognitron's
competitive layers, thresholded perceptrons).

**Square Attack** (M. Andriushchenko, F. Croce, N. Flammarion & M. Hein, "Square Attack: a
query-efficient black-box adversarial attack via random search", ECCV 2020), L-infinity, through
the Adversarial Robustness Toolbox (``art.attacks.evasion.SquareAttack``; the model is wrapped as a
``BlackBoxClassifierNeuralNetwork`` that sees only its output scores). Random search: starting
from vertical stripes of ``+-eps``, each query changes a random square window of the perturbation
to ``+-eps`` per channel and keeps it when the margin loss ``score_y - max_{k != y} score_k``
decreases; the window shrinks on a fixed schedule. At most ``max_queries`` queries per image; an
image counts as broken once it is misclassified. The toolbox draws from NumPy's global generator,
so it is seeded (and restored) around the call.

**Transfer** (N. Papernot, P. McDaniel & I. Goodfellow, "Transferability in machine learning",
arXiv:1605.07277, 2016): PGD examples crafted on the *source* model (the pair's other member, same
seed: the twin for a bio model, the bio model for a twin) are classified by the target. A source
without an input gradient gives NaN.

Shapes: ``x [B, ...]`` in [0, 1], ``y [B]``; accuracies are fractions of the images.

The analysis of a stored run (:func:`analyse_attacks`, ``neurosim analyse RUN --analyses attacks``)
runs both at the L-infinity budgets of PGD (:data:`~neurosim.analysis.robustness.PGD_EPSILONS`) on
the first ``min(n_stimuli, ATTACK_STIMULI)`` test images (the query budget makes the black-box
attack the costly part), for every member and seed, and stores ``analyses/attacks.nc`` with the
layout of :mod:`neurosim.analysis.strength_curves` (perturbations ``square`` and ``transfer``) and
the attribute ``transfer_source__<member>``. Registered as :data:`ANALYSIS` (name ``attacks``, extra
``attacks``; report section: one figure of curves per pair); stored models are loaded inside the
compute function only (:mod:`neurosim.analysis.study`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.attacks import BOUNDS, adversarial_examples
from neurosim.analysis.robustness import PGD_EPSILONS, has_input_gradient
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis, stored_analysis
from neurosim.analysis.strength_curves import accuracy_curve, strength_curves_dataset, strength_curves_section
from neurosim.analysis.study import Analysis, Page
from neurosim.evaluation import accuracy, predict
from neurosim.extras import require

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel

#: Queries per image of the Square Attack: a budget, not convergence (the paper allows 10,000 on
#: ImageNet). At 500 the Fashion-MNIST mlp falls from 0.88 to 0.19 at eps 0.1 (250 images, 3 seeds),
#: where 40-step PGD with its gradient reaches 0.04: a black-box curve is an upper bound.
MAX_QUERIES = 500
#: Initial window fraction: the toolbox's default; on the Fashion-MNIST mlp (200 images, eps 0.1,
#: 300 queries) it left 0.27 accuracy against 0.40 for 0.3 and 0.60 for 0.05.
P_INIT = 0.8
ATTACK_STIMULI = 250


def image_tiling(size: int) -> tuple[int, int]:
    """``(H, W)`` with ``H W = size``, ``H`` the largest divisor up to ``sqrt(size)``; a ValueError
    when the image is too thin for the toolbox (a prime or tiny input, e.g. XOR's two values)."""
    height = max(h for h in range(1, int(size**0.5) + 1) if size % h == 0)
    # The toolbox also needs its first window (side round(sqrt(P_INIT H W))) smaller than the image.
    if height < 2 or round((P_INIT * size) ** 0.5) >= height:
        shape = f"{height} x {size // height}"
        raise ValueError(f"the Square Attack needs an image-like input; {size} values tile as {shape}")
    return height, size // height


def _scores(forward: Callable[[torch.Tensor], torch.Tensor], batch_size: int, shape: tuple[int, ...]):
    def predict(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(inputs.astype(np.float32)).reshape(-1, *shape)
            return torch.cat([forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]).numpy()

    return predict


def square_attack(
    model: NeurosimModel,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    max_queries: int = MAX_QUERIES,
    seed: int = 0,
    batch_size: int = 500,
    scores: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Adversarial versions of ``x`` found by the L-infinity Square Attack with score access only.
    (The toolbox attacks images ``[B, C, H, W]`` with ``H, W >= 2``; a vector input of ``D`` values is
    attacked as an ``H x D/H`` image, ``H`` the largest divisor of ``D`` up to ``sqrt(D)``.)
    ``scores``: what the attack queries (default the model itself; the attack suite passes the
    mean scores over noise draws, :func:`neurosim.analysis.eot.eot_scores`)."""
    require("attacks")
    from art.attacks.evasion import SquareAttack
    from art.estimators.classification import BlackBoxClassifierNeuralNetwork

    was_training = model.training
    model.eval()
    shape = tuple(x.shape[1:])
    images = x if x.dim() == 4 else x.reshape(len(x), 1, *image_tiling(x[0].numel()))
    forward = model if scores is None else scores
    classifier = BlackBoxClassifierNeuralNetwork(
        _scores(forward, batch_size, shape),
        input_shape=tuple(images.shape[1:]),
        nb_classes=int(forward(x[:1]).shape[1]),
        clip_values=BOUNDS,
    )
    attack = SquareAttack(
        classifier,
        norm=np.inf,
        eps=eps,
        max_iter=max_queries,
        p_init=P_INIT,
        batch_size=batch_size,
        verbose=False,
    )
    state = np.random.get_state()  # noqa: NPY002 - the toolbox draws from the legacy global generator
    np.random.seed(seed)  # noqa: NPY002
    try:
        labels = np.eye(classifier.nb_classes, dtype=np.float32)[y.numpy()]
        adversarial = attack.generate(images.numpy().astype(np.float32), y=labels)
    finally:
        np.random.set_state(state)  # noqa: NPY002
        model.train(was_training)
    return torch.from_numpy(adversarial).to(x.dtype).reshape(x.shape)


def square_attack_accuracy(
    model: NeurosimModel, x: torch.Tensor, y: torch.Tensor, eps: float, **options
) -> float:
    """Robust accuracy: the fraction of images classified correctly both as they are and as the
    Square Attack left them (images it never broke stay correct). Counting only the attacked
    images would let an attack "repair" a misclassified image: the toolbox perturbs every image
    it starts from, and a model whose answer depends on the rest of its batch (Diehl & Cook's
    Poisson inputs are drawn per batch) can answer an image differently in another batch. At
    ``eps = 0`` the attack would spend its queries on images it may not change: robust accuracy
    there is the clean accuracy by definition."""
    if eps == 0:
        return accuracy(model, x, y)
    adversarial = square_attack(model, x, y, eps, **options)
    return float(((predict(model, x) == y) & (predict(model, adversarial) == y)).float().mean())


def transfer_accuracy(
    target: NeurosimModel, source: NeurosimModel, x: torch.Tensor, y: torch.Tensor, eps: float
) -> float:
    """Accuracy of ``target`` on PGD examples crafted on ``source`` (40 steps, one random start)."""
    return accuracy(target, adversarial_examples(source, x, y, eps, "pgd"), y)


def transfer_sources(pair_members: dict[str, list[str]]) -> dict[str, str]:
    """Each paired member's source of transfer examples: a bio model's first twin; a twin's bio
    model (``pair_members``: :meth:`~neurosim.config.ComparisonConfig.pair_members`)."""
    sources = {}
    for bio, *twins in pair_members.values():
        sources.setdefault(bio, twins[0])
        for twin in twins:
            sources.setdefault(twin, bio)
    return sources


def analyse_attacks(run_dir: str | Path, n_stimuli: int = N_STIMULI) -> xr.Dataset:
    """Square Attack and transfer curves of every member and seed of a stored run; stored and returned."""
    from neurosim.run_loading import load_fitted_model  # here: the report imports this module

    config, task = load_run(run_dir)
    n = min(n_stimuli, ATTACK_STIMULI)
    x, y = task.x_test[:n], task.y_test[:n]
    table = {"square": PGD_EPSILONS, "transfer": PGD_EPSILONS}
    sources = transfer_sources(config.pair_members())
    try:
        tileable = x.dim() == 4 or bool(image_tiling(x[0].numel()))
    except ValueError:
        tileable = False
    curves = {member.name: [] for member in config.members}
    for seed in config.seeds:
        models = {m.name: load_fitted_model(run_dir, m, task, seed) for m in config.members}
        for name, model in models.items():
            source = models.get(sources.get(name, ""))
            transfer = [float("nan")] * len(PGD_EPSILONS)
            if source is not None and has_input_gradient(source, x, y):
                transfer = accuracy_curve(PGD_EPSILONS, partial(transfer_accuracy, model, source, x, y))
            square = [float("nan")] * len(PGD_EPSILONS)
            if tileable:
                square = accuracy_curve(PGD_EPSILONS, partial(square_attack_accuracy, model, x, y, seed=seed))
            curves[name].append({"square": square, "transfer": transfer})
    attrs = analysis_attrs("attacks", n, task, config)
    attrs["square_queries"] = MAX_QUERIES
    if not tileable:
        attrs["square_skipped"] = f"inputs of shape {tuple(x.shape[1:])} are not image-like"
    attrs.update({f"transfer_source__{target}": source for target, source in sources.items()})
    return save_analysis(
        run_dir, "attacks", strength_curves_dataset(table, curves, list(config.seeds), attrs)
    )


def stored_attacks(run_dir: str | Path) -> xr.Dataset | None:
    """The stored attacks analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "attacks")


def attacks_section(page: Page, attacks: xr.Dataset, results: xr.Dataset) -> None:
    """The report's black-box and transfer curves (``results``, the run's results, are not needed)."""
    sources = ", ".join(
        f"{name.removeprefix('transfer_source__')} <- {value}"
        for name, value in attacks.attrs.items()
        if name.startswith("transfer_source__")
    )
    strength_curves_section(
        page,
        attacks,
        "Black-box and transfer attacks",
        f"L-infinity Square Attack with score access only ({attacks.attrs['square_queries']} queries per "
        "image, Andriushchenko et al. 2020, through the Adversarial Robustness Toolbox), which reaches "
        "models without an input gradient too; and transfer: PGD examples crafted on the pair's other "
        f"member (same seed) classified by this one (target <- source: {sources}). NaN (no curve) where "
        "the source has no input gradient.",
    )


ANALYSIS = Analysis(
    name="attacks",
    description="black-box Square Attack and transfer attacks",
    compute=analyse_attacks,
    section=attacks_section,
    extra="attacks",
)
