"""The score-based black-box attack of the attack suite (:mod:`neurosim.analysis.attack_suite`),
and which member a pair's transfer examples come from.

**Square Attack** (M. Andriushchenko, F. Croce, N. Flammarion & M. Hein, "Square Attack: a
query-efficient black-box adversarial attack via random search", ECCV 2020), L-infinity, through
the Adversarial Robustness Toolbox (``art.attacks.evasion.SquareAttack``; the model is wrapped as a
``BlackBoxClassifierNeuralNetwork`` that sees only its output scores). Random search: starting
from vertical stripes of ``+-eps``, each query changes a random square window of the perturbation
to ``+-eps`` per channel and keeps it when the margin loss ``score_y - max_{k != y} score_k``
decreases; the window shrinks on a fixed schedule. At most ``max_queries`` queries per image; an
image counts as broken once it is misclassified. The toolbox draws from NumPy's global generator,
so it is seeded (and restored) around the call. It reaches models without an input gradient
(STDP, the Neocognitron's competitive layers, thresholded perceptrons).

**Transfer** (N. Papernot, P. McDaniel & I. Goodfellow, "Transferability in machine learning",
arXiv:1605.07277, 2016): examples crafted on the pair's other member (:func:`transfer_sources`).

Shapes: ``x [B, ...]`` in [0, 1], ``y [B]``.

The study that ran these two alone on 250 images (``--analyses attacks``) was retired for the
attack suite (:data:`neurosim.analysis.registry.RETIRED`), which runs them beside white-box attacks
of equal strength on both members of every pair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from neurosim.analysis.attacks import BOUNDS
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


def transfer_sources(pair_members: dict[str, list[str]]) -> dict[str, str]:
    """Each paired member's source of transfer examples: a bio model's first twin; a twin's bio
    model (``pair_members``: :meth:`~neurosim.config.ComparisonConfig.pair_members`)."""
    sources = {}
    for bio, *twins in pair_members.values():
        sources.setdefault(bio, twins[0])
        for twin in twins:
            sources.setdefault(twin, bio)
    return sources
