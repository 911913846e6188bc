"""A callback that records, per process, which samples each loader drew.

``geokd fit`` runs it from a test config (``tests.distributed.recorder.RecordSamples``)
in every DDP process; each process writes ``rank<global_rank>.json`` with, per stage
and epoch, each loader's sampler class and the sample indices it yields, and the
labels of the training batches it actually delivered.
"""

import json
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from torch.utils.data import DataLoader


def _loaders(loaders: Any) -> dict[str, DataLoader]:
    if isinstance(loaders, DataLoader):
        return {'paired': loaders}
    if isinstance(loaders, dict):
        return dict(loaders)
    return {str(i): dl for i, dl in enumerate(loaders)}


def _describe(loader: DataLoader) -> dict[str, Any]:
    return {
        'sampler': type(loader.sampler).__name__,
        'indices': [int(i) for i in loader.sampler],
        'batch_size': loader.batch_size,
        'drop_last': loader.drop_last,
    }


class RecordSamples(Callback):
    """Record the samples every loader of every stage draws in this process.

    Args:
        directory: Where ``rank<global_rank>.json`` is written.
    """

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.record: dict[str, Any] = {'train': {}, 'val': {}, 'test': {}}

    def _save(self, trainer: Trainer) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f'rank{trainer.global_rank}.json'
        path.write_text(json.dumps({'world_size': trainer.world_size, **self.record}))

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        loaders = _loaders(trainer.train_dataloader)
        self.record['train'][str(trainer.current_epoch)] = {
            name: {**_describe(dl), 'labels': []} for name, dl in loaders.items()
        }

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        epoch = self.record['train'][str(trainer.current_epoch)]
        for name, entry in epoch.items():
            key = 'label' if name == 'paired' else f'label_{name}'
            entry['labels'].append(batch[key].tolist())

    def on_validation_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        loaders = _loaders(trainer.val_dataloaders)
        self.record['val'][str(trainer.current_epoch)] = {
            n: _describe(dl) for n, dl in loaders.items()
        }

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        loaders = _loaders(trainer.test_dataloaders)
        self.record['test'] = {n: _describe(dl) for n, dl in loaders.items()}

    def teardown(
        self, trainer: Trainer, pl_module: LightningModule, stage: str
    ) -> None:
        self._save(trainer)
