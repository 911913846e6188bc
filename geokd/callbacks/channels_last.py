"""Channels-last memory format for convolutional networks (faster on CUDA GPUs)."""

from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback


def to_channels_last(batch: Any) -> None:
    """Store every 4-D tensor of a batch dict in channels-last order, in place.

    Args:
        batch: A batch; anything but a dict is left alone.
    """
    if not isinstance(batch, dict):
        return
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.ndim == 4:
            batch[key] = value.contiguous(memory_format=torch.channels_last)


class ChannelsLast(Callback):
    """Run the task's convolutions on channels-last (NHWC) tensors.

    cuDNN's fastest convolutions, with tensor cores under mixed precision
    (``--trainer.precision 16-mixed`` or ``bf16-mixed``), read and write NHWC tensors;
    with PyTorch's default (NCHW) layout each convolution converts back and forth.
    This callback converts the task's weights once, when the trainer sets up (before
    DDP wraps the model), and every 4-D image of a batch (``image_<modality>``)
    after it reaches the device, before each training, validation, test or
    prediction step. Values are unchanged; checkpoints and exports hold the same
    weights as without it. It helps on CUDA GPUs; on CPUs it is allowed but rarely
    faster. Enable it in a config's ``trainer.callbacks`` or with
    ``--trainer.callbacks+=geokd.callbacks.ChannelsLast``.

    Args:
        enabled: Set False to keep the default layout.
    """

    def __init__(self, enabled: bool = True) -> None:
        """Initialize a new ChannelsLast instance."""
        self.enabled = enabled

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Convert the task's 4-D weights (the convolutions).

        Args:
            trainer: The trainer.
            pl_module: The task.
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        if self.enabled:
            pl_module.to(memory_format=torch.channels_last)

    def _convert(self, batch: Any) -> None:
        if self.enabled:
            to_channels_last(batch)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Convert the training batch.

        Args:
            trainer: The trainer.
            pl_module: The task.
            batch: The batch, on the device.
            batch_idx: Its index.
        """
        self._convert(batch)

    def on_validation_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Convert an evaluation batch (validation, test and prediction alike).

        Args:
            trainer: The trainer.
            pl_module: The task.
            batch: The batch, on the device.
            batch_idx: Its index.
            dataloader_idx: Index of its DataLoader.
        """
        self._convert(batch)

    on_test_batch_start = on_validation_batch_start
    on_predict_batch_start = on_validation_batch_start
