"""The EMAWeights callback: the average is what is selected, tested and exported."""

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

from geokd.callbacks import (
    ClassifierCheckpoints,
    EMAWeights,
    EvaluateClassifiers,
    ExportClassifiers,
)
from geokd.datamodules import SyntheticMSSARDataModule
from geokd.errors import UsageError
from geokd.export import load_exported
from geokd.tasks import DisCoMKDTask

from ..trainers import quiet_trainer

KEY = 'model.branches.sar.e_inv.conv1.0.weight'


class TestedWeights(Callback):
    """The weights each test after fitting ran with."""

    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.seen.append(dict(pl_module.named_parameters())[KEY].detach().clone())


def _fit(
    tmp_path: Path, checkpoints: ClassifierCheckpoints, *more: Any
) -> DisCoMKDTask:
    seed_everything(0)
    task = DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet', lr=1e-2)
    data = SyntheticMSSARDataModule(
        batch_size=4, samples_per_class=10, size=32, augmentation='none'
    )
    trainer = quiet_trainer(
        tmp_path,
        max_epochs=2,
        limit_train_batches=3,
        limit_val_batches=1,
        limit_test_batches=1,
        callbacks=[
            checkpoints,
            EvaluateClassifiers(),
            ExportClassifiers(dirpath=str(tmp_path / 'e')),
            EMAWeights(decay=0.5),
            *more,
        ],
    )
    trainer.fit(task, data)
    return task


def test_average_is_checkpointed_tested_and_exported(tmp_path: Path) -> None:
    tested = TestedWeights()
    _fit(tmp_path, ClassifierCheckpoints(best_weights_only=False), tested)
    [best] = (tmp_path / 'checkpoints').glob('best-sar-*.ckpt')
    ckpt = torch.load(best, map_location='cpu', weights_only=True)
    average, trained = ckpt['state_dict'][KEY], ckpt['current_model_state'][KEY]
    assert not torch.equal(average, trained)
    # The sar classifier was tested with the average it was selected by (Lightning's
    # own load hook would have put the trained weights back)...
    assert any(torch.equal(w, average) for w in tested.seen)
    assert not any(torch.equal(w, trained) for w in tested.seen)
    # ...and the average is what was exported.
    exported = load_exported(tmp_path / 'e' / 'sar')
    first = next(
        v for k, v in exported.model.named_parameters() if k.endswith('conv1.0.weight')
    )
    assert torch.equal(first, average)


def test_weights_only_checkpoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match='best_weights_only: false'):
        _fit(tmp_path, ClassifierCheckpoints())


def test_decay_out_of_range_is_refused() -> None:
    with pytest.raises(UsageError, match='decay must be in'):
        EMAWeights(decay=1.0)
