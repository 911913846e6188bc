"""Normalisation and augmentation run on the training device, after the transfer."""

from typing import Any

import pytest
import torch
from torch import nn

from geokd.datamodules import SyntheticMSSARDataModule
from geokd.tasks import DisCoMKDTask

from ..trainers import quiet_trainer


class RecordingTask(DisCoMKDTask):
    """DisCoM-KD that records when batches are moved to the device."""

    events: list[tuple[str, str]]

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        self.events.append(('transfer', str(device)))
        return super().transfer_batch_to_device(batch, device, dataloader_idx)


class Probe(nn.Module):
    """Last stage of train_aug: records the device of the images it receives."""

    def __init__(self, events: list[tuple[str, str]]) -> None:
        super().__init__()
        self.events = events

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.events.append(('augment', str(batch['image_ms'].device)))
        return batch


# Lightning notes that the task's transfer hook wins over the DataModule's (unset).
@pytest.mark.filterwarnings('ignore:You have overridden `transfer_batch_to_device`')
@pytest.mark.parametrize(
    'accelerator',
    [
        'cpu',
        pytest.param(
            'gpu',
            marks=pytest.mark.skipif(
                not torch.cuda.is_available(), reason='needs a CUDA GPU'
            ),
        ),
    ],
)
def test_training_batches_augmented_on_the_device(accelerator: str) -> None:
    events: list[tuple[str, str]] = []
    task = RecordingTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet')
    task.events = events
    data = SyntheticMSSARDataModule(batch_size=4, samples_per_class=10, size=16)
    data.train_aug = nn.Sequential(data.train_aug, Probe(events))
    trainer = quiet_trainer(
        accelerator=accelerator,
        devices=1,
        limit_val_batches=0,
        enable_checkpointing=False,
    )
    trainer.fit(task, data)
    device = str(trainer.strategy.root_device)
    assert events == [('transfer', device), ('augment', device)] * 2
