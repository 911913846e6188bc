"""One DisCoM-KD training step: geokd's default vs. the reference-style bare fp32 step.

Every variant trains the same network (two modalities, 13 and 2 channels, 64x64,
batch 32, on the CPU) from identical weights on the same in-memory batch, with the
same losses and Adam step:

* ``bare fp32``: the reference code's loop in plain PyTorch, float32 (the baseline);
* ``geokd default``: the Lightning task as ``geokd fit`` runs it, its precision
  ``auto`` (bfloat16 autocast where the CPU has native bfloat16, see
  :mod:`geokd.precision`), with what the task does every step (torchmetrics,
  logging, checkpoint bookkeeping);
* ``geokd fp32``: the same task forced to float32 (the framework's own overhead);
* ``geokd bf16 + channels-last``: bfloat16 autocast with NHWC tensors and weights;
* ``geokd compiled`` (``--compile``): the default with ``torch.compile``, its
  compile time printed apart.

Rounds alternate between the variants so that machine noise hits all alike; the
ratios of the medians to the bare fp32 step are printed (goal of the default: <= 0.7),
with the CPU and the flags the precision choice depends on. Each step is timed twice:
wall-clock, and CPU time of the process (with one thread, what the step costs on an
idle core; on a shared machine the wall-clock also holds the time other jobs ran).

    .venv/bin/python benchmarks/train_step.py [--steps 10] [--rounds 3] [--backbone resnet18]
"""

import argparse
import copy
import statistics
import time
from collections.abc import Iterator
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch.utils.data import DataLoader, IterableDataset

from geokd import losses
from geokd.callbacks import ChannelsLast
from geokd.precision import describe_cpu, resolve_train_precision
from geokd.tasks import DisCoMKDTask


def now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = now()
    return wall - start[0], cpu - start[1]


class RepeatBatch(IterableDataset):
    def __init__(self, batch: dict[str, torch.Tensor], steps: int) -> None:
        self.batch, self.steps = batch, steps

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for _ in range(self.steps):
            yield self.batch


class StepTimer(Callback):
    def __init__(self) -> None:
        self.times: list[tuple[float, float]] = []

    def on_train_batch_start(
        self, trainer: Trainer, module: LightningModule, *args: Any
    ) -> None:
        self.start = now()

    def on_train_batch_end(
        self, trainer: Trainer, module: LightningModule, *args: Any
    ) -> None:
        self.times.append(since(self.start))


def lightning_steps(
    task: DisCoMKDTask,
    batch: dict[str, torch.Tensor],
    steps: int,
    callbacks: list[Callback] | None = None,
) -> list[float]:
    timer = StepTimer()
    trainer = Trainer(
        max_epochs=1,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer, *(callbacks or [])],
    )
    loader = DataLoader(RepeatBatch(batch, steps), batch_size=None)
    trainer.fit(task, loader)
    return timer.times


def _concatenator(outputs: dict[str, Any]) -> Any:
    def cat(field: str) -> torch.Tensor:
        return torch.cat([getattr(o, field) for o in outputs.values()])

    return cat


def bare_steps(
    task: DisCoMKDTask, batch: dict[str, torch.Tensor], steps: int
) -> list[float]:
    model = task.model
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=task.hparams['lr'])
    images = {m: batch[f'image_{m}'] for m in task.modalities}
    times = []
    for _ in range(steps):
        start = now()
        outputs = model(images)
        y = torch.cat([batch['label']] * len(outputs))
        modality = torch.cat(
            [torch.full_like(batch['label'], i) for i in range(len(outputs))]
        )
        cat = _concatenator(outputs)
        loss = (
            losses.classification_loss(cat('logits'), y)
            + losses.auxiliary_loss(cat('aux_inf'), cat('aux_inv'), y)
            + losses.modality_loss(cat('mod_inf'), cat('mod_irr'), modality)
            + losses.adversarial_loss(cat('mod_adv'), modality)
            + losses.orthogonality_loss(cat('z_inf'), cat('z_irr'), cat('z_inv'))
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(since(start))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=10, help='timed steps per round')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--backbone', default='resnet18')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument(
        '--compile', action='store_true', help='also time torch.compile'
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    n = args.batch_size
    batch = {
        'image_ms': torch.randn(n, 13, 64, 64),
        'image_sar': torch.randn(n, 2, 64, 64),
        'label': torch.randint(0, 10, (n,)),
    }
    template = DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone=args.backbone)
    warmup = 2

    def task(precision: str = 'auto') -> DisCoMKDTask:
        clone = copy.deepcopy(template)
        clone.hparams['precision'] = precision
        return clone

    variants = {
        'bare fp32 (reference)': lambda k: bare_steps(task(), batch, k),
        'geokd default': lambda k: lightning_steps(task(), batch, k),
        'geokd fp32': lambda k: lightning_steps(task('32'), batch, k),
        'geokd bf16 + channels-last': lambda k: lightning_steps(
            task('bf16-mixed'), batch, k, [ChannelsLast()]
        ),
    }
    if args.compile:
        compiled = task()
        compiled.model = torch.compile(compiled.model)
        start = time.perf_counter()
        lightning_steps(compiled, batch, 1)
        compile_s = time.perf_counter() - start
        variants['geokd default, compiled'] = lambda k: lightning_steps(
            compiled, batch, k
        )
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            times[name] += run(args.steps + warmup)[warmup:]
    print(describe_cpu())
    print(
        f'torch {torch.__version__}, {torch.get_num_threads()} threads, backbone '
        f'{args.backbone}, batch {n}, {args.rounds} rounds x {args.steps} steps; '
        f'geokd default precision here: {resolve_train_precision("auto", "cpu")}'
    )
    medians = {}
    for k, clock in enumerate(('wall-clock', 'CPU time')):
        medians = {
            name: statistics.median(t[k] for t in ts) for name, ts in times.items()
        }
        base = medians['bare fp32 (reference)']
        print(f' {clock}:')
        for name, m in medians.items():
            print(
                f'  {name:28s} median {m * 1000:8.1f} ms   ratio to bare fp32 {m / base:6.3f}'
            )
        print(
            f'  goal: geokd default / bare fp32 <= 0.7 -> {medians["geokd default"] / base:.3f}'
        )
    if args.compile:
        saved = medians['geokd default'] - medians['geokd default, compiled']
        print(
            f'  torch.compile: first step {compile_s:.1f} s; pays off after '
            + (f'{compile_s / saved:.0f} steps' if saved > 0 else 'never (not faster)')
        )


if __name__ == '__main__':
    main()
