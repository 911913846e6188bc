"""Framework overhead of one DisCoM-KD training step: Lightning task vs. bare PyTorch.

Both sides train the same network (two modalities, 13 and 2 channels, 64x64,
batch 32, on the CPU) from identical weights on the same in-memory batch, with the
same losses and Adam step. The Lightning side additionally runs what the task does
every step (torchmetrics updates, logging, checkpoint bookkeeping). Rounds alternate
between the two so that machine noise hits both alike; the ratio of medians is printed.

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
from geokd.tasks import DisCoMKDTask


class RepeatBatch(IterableDataset):
    def __init__(self, batch: dict[str, torch.Tensor], steps: int) -> None:
        self.batch, self.steps = batch, steps

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for _ in range(self.steps):
            yield self.batch


class StepTimer(Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_start(
        self, trainer: Trainer, module: LightningModule, *args: Any
    ) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Trainer, module: LightningModule, *args: Any
    ) -> None:
        self.times.append(time.perf_counter() - self.start)


def lightning_steps(
    task: DisCoMKDTask, batch: dict[str, torch.Tensor], steps: int
) -> list[float]:
    timer = StepTimer()
    trainer = Trainer(
        max_epochs=1,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
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
        start = time.perf_counter()
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
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=10, help='timed steps per round')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--backbone', default='resnet18')
    parser.add_argument('--batch-size', type=int, default=32)
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
    light: list[float] = []
    bare: list[float] = []
    for _ in range(args.rounds):
        light += lightning_steps(copy.deepcopy(template), batch, args.steps + warmup)[
            warmup:
        ]
        bare += bare_steps(copy.deepcopy(template), batch, args.steps + warmup)[warmup:]
    ml, mb = statistics.median(light), statistics.median(bare)
    print(
        f'torch {torch.__version__}, {torch.get_num_threads()} threads, backbone {args.backbone}, batch {n}'
    )
    print(f'median step, Lightning task : {ml * 1000:8.1f} ms  ({len(light)} steps)')
    print(f'median step, bare PyTorch   : {mb * 1000:8.1f} ms  ({len(bare)} steps)')
    print(f'ratio Lightning / bare      : {ml / mb:8.3f}')


if __name__ == '__main__':
    main()
