"""The CUDA kernel of Diehl & Cook's presentation (neurosim/models/diehl_cook_cuda.py).

Without a GPU it runs on numba's CUDA simulator (every thread a Python thread, barriers real),
where float32 arithmetic is numpy's: there it must give the CPU kernel's results bit for bit, for
one slot and several, learning and not. On a GPU (``gpu`` tests) it must agree with the CPU kernel
to float32 rounding on the same input spikes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from neurosim.models.diehl_cook_layer import DiehlCookLayer, preset

# A short protocol, so that the simulator (a Python thread per CUDA thread) takes seconds.
SHORT = {"presentation": 10.0, "rest": 3.0, "min_spikes": 0, "max_presentations": 1}


def _layers(integration: str, mode: str, batch_size: int | None) -> tuple[DiehlCookLayer, DiehlCookLayer]:
    """Two equal layers of 6 neurons on 12 inputs, driven hard so that they spike and learn."""
    params = preset("paper", integration=integration, max_rate=400.0, theta_start=0.0, **SHORT)
    torch.manual_seed(0)
    first = DiehlCookLayer(12, 6, params, mode=mode, batch_size=batch_size)
    second = DiehlCookLayer(12, 6, params, mode=mode, batch_size=batch_size)
    second.load_state_dict(first.state_dict())
    return first, second


def _run(layer: DiehlCookLayer, images: torch.Tensor, learning: bool) -> dict[str, np.ndarray]:
    generator = torch.Generator().manual_seed(1)
    counts, weight = layer.present(images, learning=learning, generator=generator)
    return {"counts": counts.numpy(), "weight": weight.numpy(), "theta": layer.theta.numpy().copy()}


def compare_on_simulator(integration: str, every_case: bool) -> dict[str, object]:
    """The CPU kernel and the CUDA kernel (numba's simulator) on the same images and spikes, in
    the exact mode learning and (``every_case``) also not, and with 3 batched slots; the largest
    difference of each array. Run in a process with ``NUMBA_ENABLE_CUDASIM=1``."""
    from neurosim.models import diehl_cook_cuda, diehl_cook_kernel

    cpu_kernel = diehl_cook_kernel.present_slots
    images = torch.rand(4, 12, generator=torch.Generator().manual_seed(2))
    report: dict[str, object] = {"spikes": 0}
    cases = [("exact", None, True)]
    if every_case:
        cases += [("exact", None, False), ("batched", 3, True), ("batched", 3, False)]
    for mode, batch_size, learning in cases:
        on_cpu, on_simulator = _layers(integration, mode, batch_size)
        expected = _run(on_cpu, images, learning)
        diehl_cook_kernel.present_slots = diehl_cook_cuda.present_slots
        try:
            got = _run(on_simulator, images, learning)
        finally:
            diehl_cook_kernel.present_slots = cpu_kernel
        report["spikes"] += int(expected["counts"].sum())
        for name, value in expected.items():
            report[f"{mode} {learning} {name}"] = float(np.abs(got[name] - value).max())
    return report


@pytest.mark.slow
@pytest.mark.parametrize("integration", ["euler", "euler_unbounded", "exponential_euler", "step_averaged"])
def test_the_cuda_kernel_is_the_cpu_kernel_on_numbas_simulator(integration):
    """Every mode and learning case for the default integration, the exact mode for the others."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": os.getcwd()}
    every_case = str(integration == "euler")
    command = [sys.executable, __file__, integration, every_case]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report.pop("spikes") > 20, "the layers must spike for the comparison to mean anything"
    # Forward Euler is float32 arithmetic alone: the same bits. The exponential methods call exp,
    # which the simulator evaluates in float64 before rounding once: the same to float32 rounding.
    tolerance = 0.0 if integration.startswith("euler") else 1e-5
    assert max(report.values()) <= tolerance, report


def test_a_kernel_that_cannot_compile_warns_and_leaves_the_layer_to_torch(monkeypatch):
    """As on the first GPU lease: numba-cuda 0.30 against numpy 2.5 fails at its first compile."""
    from neurosim.models import diehl_cook_cuda

    def broken(signature):
        raise AttributeError("module 'numpy' has no attribute 'row_stack'")

    monkeypatch.setattr(diehl_cook_cuda.cuda, "is_available", lambda: True)
    monkeypatch.setattr(diehl_cook_cuda._present, "compile", broken)
    with pytest.warns(RuntimeWarning, match="row_stack.*the torch simulation runs instead"):
        assert diehl_cook_cuda.available.__wrapped__() is False


@pytest.mark.gpu
@pytest.mark.parametrize(("mode", "batch_size"), [("exact", None), ("batched", 3)])
def test_the_cuda_kernel_agrees_with_the_cpu_kernel_on_a_gpu(mode, batch_size):
    on_cpu, on_gpu = _layers("euler", mode, batch_size)
    on_gpu = on_gpu.cuda()
    images = torch.rand(6, 12, generator=torch.Generator().manual_seed(2))
    steps = torch.randint(0, 20, (300,), generator=torch.Generator().manual_seed(3))
    inputs = torch.randint(0, 12, (300,), generator=torch.Generator().manual_seed(4))
    key = torch.unique(steps * 12 + inputs)  # one spike per input and step at most
    steps, inputs = key // 12, key % 12
    counts_cpu, weight_cpu = on_cpu.run_spike_train(steps, inputs, learning=True)
    counts_gpu, weight_gpu = on_gpu.run_spike_train(steps.cuda(), inputs.cuda(), learning=True)
    assert counts_cpu.sum() > 5
    assert torch.equal(counts_gpu.cpu(), counts_cpu)
    assert torch.allclose(weight_gpu.cpu(), weight_cpu, atol=1e-5)
    assert torch.allclose(on_gpu.theta.cpu(), on_cpu.theta, atol=1e-5)
    # Poisson images through the slots: the generators differ between devices, so only the
    # statistics can agree; every image must have been presented and evoked spikes.
    counts, _ = on_gpu.present(images.cuda(), learning=True)
    assert counts.shape == (6, 6) and bool((counts.sum(dim=1) > 0).all())


if __name__ == "__main__":
    print(json.dumps(compare_on_simulator(sys.argv[1], sys.argv[2] == "True")))
