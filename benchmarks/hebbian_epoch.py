"""Time of one unsupervised (Hebbian) epoch per Hebbian model, against one backprop epoch of its twin.

For each Hebbian pair, on the same images, batch size and device, in one run:

- the bio model's unsupervised phase (every Hebbian layer, one after another, one epoch each),
  exactly as the trainer runs it (forward up to the layer, the rule's batched change);
- one backprop epoch of the twin (forward, loss, backward, Adam step) on the same images.

Prints seconds, images per second and the ratio Hebbian / backprop. Uses Fashion-MNIST when it is
installed (60k training images) and random images of the same shape otherwise (timing only).

    python benchmarks/hebbian_epoch.py [--images 60000] [--batch-size 100] [--device auto]
        [--pairs hebbian_krotov_backprop softhebb_mlp_backprop softhebb_cnn_backprop]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from neurosim.config import TrainingConfig
from neurosim.device import device_description, resolve_device, seeded
from neurosim.errors import UserError
from neurosim.models import MODELS
from neurosim.models.base import TrainingBatch
from neurosim.pairs import PAIRS
from neurosim.tasks import TASKS, Task
from neurosim.training import Trainer, TrainingCallback
from neurosim.training.capture import input_of


def fashion_or_random(n_images: int, task_name: str = "fashion_mnist") -> tuple[Task, str]:
    """The first ``n_images`` training images of ``task_name`` (Fashion-MNIST unless given), or
    random ones of that shape when the data is not installed."""
    try:
        task = TASKS.get(task_name)()
        x, y, source = task.x_train[:n_images], task.y_train[:n_images], task.description
    except UserError:
        task = TASKS.get("digits")()  # only for the Task plumbing; the images are replaced
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(n_images, 1, 28, 28, generator=generator)
        y = torch.randint(0, 10, (n_images,), generator=generator)
        source = "random 28x28 images (Fashion-MNIST not installed)"
    return dataclasses.replace(task, x_train=x, y_train=y, x_test=x[:100], y_test=y[:100]), source


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def hebbian_epoch_seconds(name: str, task: Task, batch_size: int, device: torch.device) -> float:
    """Seconds for the unsupervised phase of model ``name``: one epoch for each Hebbian layer."""
    with seeded(0):
        model = MODELS.get(name)(task.input_shape, task.n_classes).to(device)
    trainer = Trainer(model, task, TrainingConfig(batch_size=batch_size, unsupervised_epochs=1), 0, device)
    warm_up = trainer.data.x_pool[:batch_size]
    for step, rule in trainer.unsupervised.steps:  # first calls allocate; keep them out of the timing
        rule.write_grads(step.module, input_of(model, step.module, warm_up), None)
    _synchronise(device)
    start = time.perf_counter()
    trainer.unsupervised.run(trainer.unsupervised_schedule(), 0, 0.0, TrainingCallback())
    _synchronise(device)
    return time.perf_counter() - start


def backprop_epoch_seconds(name: str, task: Task, batch_size: int, device: torch.device) -> float:
    """Seconds for one backprop epoch of model ``name`` over the task's training images."""
    with seeded(0):
        model = MODELS.get(name)(task.input_shape, task.n_classes).to(device)
    trainer = Trainer(model, task, TrainingConfig(batch_size=batch_size), 0, device)
    x, y, quiet = trainer.data.x_train, trainer.data.y_train, TrainingCallback()
    with trainer.supervised.capture() as capture:
        trainer.supervised.step(TrainingBatch(x[:batch_size], y[:batch_size], model), capture, 0.0, quiet)
        _synchronise(device)
        start = time.perf_counter()
        for i in range(0, len(y), batch_size):
            batch = TrainingBatch(x[i : i + batch_size], y[i : i + batch_size], model)
            trainer.supervised.step(batch, capture, 0.0, quiet)
        _synchronise(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--pairs", nargs="+", default=PAIRS.list("*heb*"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    task, source = fashion_or_random(args.images)
    print(
        f"device: {device_description(device)}; images: {len(task.y_train)} of {source}; "
        f"batch {args.batch_size}; threads {torch.get_num_threads()}"
    )
    print(f"{'pair':28s} {'hebbian epoch s':>16s} {'img/s':>9s} {'backprop epoch s':>17s} {'ratio':>7s}")
    for pair_name in args.pairs:
        pair = PAIRS.get(pair_name)
        hebbian = hebbian_epoch_seconds(pair.bio, task, args.batch_size, device)
        backprop = backprop_epoch_seconds(pair.twins[0], task, args.batch_size, device)
        print(
            f"{pair_name:28s} {hebbian:16.2f} {len(task.y_train) / hebbian:9.0f} {backprop:17.2f} "
            f"{hebbian / backprop:7.2f}"
        )


if __name__ == "__main__":
    main()
