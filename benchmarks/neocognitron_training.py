"""Training time of the Neocognitron (every stage, one pass) against LeNet-5 epochs, same images.

In one run, on the same images, batch size and device:

- the Neocognitron's whole learning as the trainer runs it: US2 then US3 (unsupervised competitive
  learning, one pass each, one image at a time), UC3 features of every image computed once, and
  US4's one supervised pass; reported per stage;
- one backprop epoch of LeNet-5 (forward, loss, backward, Adam step) on the same images.

Prints seconds, images per second and the ratio to one LeNet-5 epoch. Uses Fashion-MNIST when it
is installed (60k training images) and random images of the same shape otherwise (timing only;
random images make the Neocognitron generate far more top cells, so its time is not comparable).

    python benchmarks/neocognitron_training.py [--images 60000] [--batch-size 100] [--device auto]
"""

from __future__ import annotations

import argparse
import time

import torch
from hebbian_epoch import _synchronise, backprop_epoch_seconds, fashion_or_random

from neurosim.config import TrainingConfig
from neurosim.device import device_description, resolve_device, seeded
from neurosim.models import MODELS
from neurosim.models.base import TrainingBatch
from neurosim.tasks import Task
from neurosim.training import Trainer, TrainingCallback


def neocognitron_stage_seconds(task: Task, batch_size: int, device: torch.device) -> dict[str, float]:
    """Seconds of each learning stage of a fresh Neocognitron on the task's training images."""
    with seeded(0):
        model = MODELS.get("neocognitron")(task.input_shape, task.n_classes).to(device)
    config = TrainingConfig(epochs=1, batch_size=batch_size, unsupervised_epochs=1, n_checkpoints=1)
    trainer = Trainer(model, task, config, 0, device)
    _synchronise(device)
    start = time.perf_counter()
    trainer.unsupervised.run(trainer.unsupervised_schedule(), 0, 0.0, TrainingCallback())
    _synchronise(device)
    unsupervised = time.perf_counter() - start
    start = time.perf_counter()
    view = trainer.feature_view(trainer.data.x_train, trainer.data.x_test)
    _synchronise(device)
    features = time.perf_counter() - start
    start = time.perf_counter()
    y = trainer.data.y_train
    with trainer.supervised.capture() as capture:
        for i in range(0, len(y), batch_size):
            batch = TrainingBatch(view.inputs_train[i : i + batch_size], y[i : i + batch_size], view.forward)
            trainer.supervised.step(batch, capture, 0.0, TrainingCallback())
    _synchronise(device)
    top = time.perf_counter() - start
    return {
        "US2 + US3 (unsupervised, 1 pass)": unsupervised,
        "UC3 features of every image": features,
        f"US4 (supervised, 1 pass; {model.us4.n_cells()} cells)": top,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    task, source = fashion_or_random(args.images)
    print(f"device: {device_description(device)}; threads: {torch.get_num_threads()}; images: {source}")
    lenet = backprop_epoch_seconds("lenet5", task, args.batch_size, device)
    stages = neocognitron_stage_seconds(task, args.batch_size, device)
    n = len(task.y_train)
    print(f"\n| what ({n} images, batch {args.batch_size}) | seconds | images/s | / LeNet-5 epoch |")
    print("|---|---|---|---|")
    print(f"| LeNet-5, one backprop epoch | {lenet:.2f} | {n / lenet:,.0f} | 1.00 |")
    for name, seconds in stages.items():
        print(f"| Neocognitron {name} | {seconds:.2f} | {n / seconds:,.0f} | {seconds / lenet:.2f} |")
    total = sum(stages.values())
    print(f"| Neocognitron, all learning | {total:.2f} | {n / total:,.0f} | {total / lenet:.2f} |")


if __name__ == "__main__":
    main()
