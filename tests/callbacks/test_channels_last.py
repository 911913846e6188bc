"""The ChannelsLast callback: NHWC weights and batches, same results."""

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

from geokd.callbacks import ChannelsLast, ExportClassifiers
from geokd.callbacks.channels_last import to_channels_last
from geokd.datamodules import SyntheticMSSARDataModule
from geokd.export import load_exported
from geokd.tasks import DisCoMKDTask

from ..trainers import quiet_trainer

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


class BatchLayouts(Callback):
    """Record, per stage, whether the images reaching each step are channels-last,
    and the training losses."""

    def __init__(self) -> None:
        self.seen: dict[str, set[bool]] = {}
        self.losses: list[float] = []

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, *args: Any
    ) -> None:
        self.losses.append(float(outputs['loss']))

    def _record(self, stage: str, batch: Any) -> None:
        layouts = {
            v.is_contiguous(memory_format=torch.channels_last)
            for k, v in batch.items()
            if k.startswith('image_')
        }
        self.seen.setdefault(stage, set()).update(layouts)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._record('train', batch)

    def on_validation_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, *args: Any
    ) -> None:
        self._record('val', batch)

    def on_test_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, *args: Any
    ) -> None:
        self._record('test', batch)


def _fit(
    tmp_path: Path, callbacks: list[Callback], accelerator: str = 'cpu', **kwargs: Any
) -> DisCoMKDTask:
    seed_everything(0)
    task = DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet', lr=1e-3)
    data = SyntheticMSSARDataModule(
        batch_size=4, samples_per_class=10, size=32, augmentation='none'
    )
    trainer = quiet_trainer(
        tmp_path,
        accelerator=accelerator,
        devices=1,
        limit_val_batches=1,
        limit_test_batches=1,
        enable_checkpointing=False,
        callbacks=callbacks,
        **kwargs,
    )
    trainer.fit(task, data)
    trainer.test(task, data, verbose=False)
    return task


def test_to_channels_last_converts_images_only() -> None:
    batch = {'image_ms': torch.rand(2, 3, 4, 5), 'label': torch.arange(2)}
    to_channels_last(batch)
    assert batch['image_ms'].is_contiguous(memory_format=torch.channels_last)
    assert batch['image_ms'].stride(1) == 1
    assert batch['label'].is_contiguous()
    to_channels_last([torch.rand(1, 1, 2, 2)])  # not a dict: left alone


def test_weights_and_batches_channels_last_same_training(tmp_path: Path) -> None:
    layouts = BatchLayouts()
    task = _fit(
        tmp_path,
        [ChannelsLast(), layouts, ExportClassifiers(dirpath=str(tmp_path / 'e'))],
    )
    assert layouts.seen == {'train': {True}, 'val': {True}, 'test': {True}}
    convs = [m for m in task.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    # The same computation in another memory layout: the losses of both steps
    # agree to float32 rounding (weights are not compared: Adam turns the rounding
    # noise of zero gradients, e.g. of a bias before BatchNorm, into updates).
    plain = BatchLayouts()
    _fit(tmp_path / 'plain', [plain])
    assert plain.seen['train'] == {False}
    assert layouts.losses == pytest.approx(plain.losses, rel=1e-4)
    # The export (from the live weights here) is readable as usual.
    model = load_exported(tmp_path / 'e' / 'sar').model
    x = torch.rand(1, 2, 32, 32)
    torch.testing.assert_close(
        model(x), task.model.branches['sar'].eval()(x), rtol=1e-4, atol=1e-5
    )


def test_disabled_keeps_the_default_layout(tmp_path: Path) -> None:
    layouts = BatchLayouts()
    task = _fit(tmp_path, [ChannelsLast(enabled=False), layouts])
    assert layouts.seen['train'] == {False}
    conv = next(m for m in task.modules() if isinstance(m, torch.nn.Conv2d))
    assert not conv.weight.is_contiguous(memory_format=torch.channels_last)


@CUDA
def test_channels_last_under_mixed_precision_on_cuda(tmp_path: Path) -> None:
    layouts = BatchLayouts()
    task = _fit(
        tmp_path, [ChannelsLast(), layouts], accelerator='gpu', precision='16-mixed'
    )
    assert layouts.seen['train'] == {True}
    assert all(torch.isfinite(p).all() for p in task.parameters())
