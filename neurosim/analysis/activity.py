"""Recording layer activity at a model's probe points, and the layer x layer CKA map of two models.

:func:`record_activity` runs a model on stimuli ``x [n, ...]`` (eval mode, no gradients, in
batches) with forward hooks on :meth:`~neurosim.models.base.NeurosimModel.probe_points` and returns,
per probe point, the layer's output **summed over the calls made during one forward pass**,
flattened to ``[n, units]``. A conventional layer is called once, so this is its output; a spiking
layer is called once per time step and returns its spikes first, so this is its spike count over
the presentation (rates are counts / T). Hooks observe; they never change the forward pass.

Which probe points (names: :mod:`neurosim.probes`): by default the layers' outputs after their
nonlinearities (``<layer>``, what the next layer or the readout sees); ``currents = True`` adds the
currents before them (``<layer>.pre``), in the model's order.

:func:`cka_map` compares every probe point of one model with every probe point of another on the
same stimuli (:func:`neurosim.analysis.cka.cka_matrix`), as an ``xarray.DataArray`` with dims
``(layer_a, layer_b)`` (coordinates: probe-point names, input side first) and attrs ``kind`` and
``n_stimuli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import xarray as xr

from neurosim.analysis.cka import cka_matrix
from neurosim.probes import outputs

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel

RECORD_BATCH = 500


@torch.no_grad()
def record_activity(
    model: NeurosimModel,
    x: torch.Tensor,
    batch_size: int = RECORD_BATCH,
    names: list[str] | None = None,
    flatten: bool = True,
    currents: bool = False,
) -> dict[str, torch.Tensor]:
    """Activity ``[n, units]`` (float32, on CPU) at the probe points of ``model`` for ``x [n, ...]``.

    ``names``: only these probe points; by default every layer output, and with ``currents`` every
    probe point (the currents ``<layer>.pre`` too). ``flatten = False`` keeps each layer's own
    output shape ``[n, ...]`` (e.g. channels and positions of a convolution).
    """
    points = model.probe_points()
    if names is None:
        names = list(points) if currents else outputs(points)
    points = {name: points[name] for name in names}
    device = next(model.parameters()).device
    running: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(_module: torch.nn.Module, _inputs: tuple, output) -> None:
            out = output[0] if isinstance(output, tuple) else output
            out = out.detach().float()
            if flatten:
                out = out.reshape(out.shape[0], -1)
            running[name] = out if name not in running else running[name] + out

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in points.items()]
    was_training = model.training
    model.eval()
    collected: dict[str, list[torch.Tensor]] = {name: [] for name in points}
    try:
        for start in range(0, len(x), batch_size):
            running.clear()
            model(x[start : start + batch_size].to(device))
            for name in points:
                if name not in running:
                    raise RuntimeError(f"probe point {name!r} of {type(model).__name__} was never called")
                collected[name].append(running[name].cpu())
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {name: torch.cat(chunks) for name, chunks in collected.items()}


def cka_maps(
    activity_a: dict[str, torch.Tensor],
    activity_b: dict[str, torch.Tensor],
    kinds: tuple[str, ...] = ("linear",),
) -> list[xr.DataArray]:
    """CKA between every layer of ``activity_a`` and every layer of ``activity_b`` (same stimuli),
    one map per kind (the layers' kernels are shared between kinds)."""
    values = cka_matrix(list(activity_a.values()), list(activity_b.values()), kinds)
    n = next(iter(activity_a.values())).shape[0]
    return [
        xr.DataArray(
            values[kind],
            dims=("layer_a", "layer_b"),
            coords={"layer_a": list(activity_a), "layer_b": list(activity_b)},
            attrs={"kind": kind, "n_stimuli": n},
            name="cka",
        )
        for kind in kinds
    ]


def cka_map(
    activity_a: dict[str, torch.Tensor], activity_b: dict[str, torch.Tensor], kind: str = "linear"
) -> xr.DataArray:
    """CKA between every layer of ``activity_a`` and every layer of ``activity_b`` (same stimuli)."""
    return cka_maps(activity_a, activity_b, (kind,))[0]
