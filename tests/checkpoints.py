"""Write task checkpoints as ``geokd fit`` does, without training."""

from pathlib import Path
from typing import Any

import lightning
import torch

from geokd.tasks import PerClassifierTask


def save_checkpoint(
    path: Path,
    task: PerClassifierTask,
    datamodule_state: dict[str, Any] | None = None,
    record_class: bool = True,
) -> str:
    """Save a task the way Lightning and LightningCLI lay out its checkpoint.

    Args:
        path: Where to write it.
        task: The task (its current weights are saved).
        datamodule_state: The DataModule's state, saved under its class name.
        record_class: Record the task's class path (LightningCLI does).

    Returns:
        The path, as a string.
    """
    hparams = dict(task.hparams)
    if record_class:
        hparams['_class_path'] = f'{type(task).__module__}.{type(task).__qualname__}'
    checkpoint: dict[str, Any] = {
        'pytorch-lightning_version': lightning.__version__,
        'epoch': 0,
        'hyper_parameters': hparams,
        'state_dict': task.state_dict(),
    }
    if datamodule_state is not None:
        checkpoint['SyntheticMSSARDataModule'] = datamodule_state
    torch.save(checkpoint, path)
    return str(path)


def teacher_arguments(directory: Path, teacher: PerClassifierTask | None) -> list[str]:
    """The ``geokd fit`` arguments giving a distillation config its teacher.

    Args:
        directory: Where to save the teacher (``teacher.ckpt``).
        teacher: The teacher; None for a method that has none.

    Returns:
        ``--model.init_args.teacher_checkpoint PATH``, or nothing without a teacher.
    """
    if teacher is None:
        return []
    path = save_checkpoint(directory / 'teacher.ckpt', teacher)
    return ['--model.init_args.teacher_checkpoint', path]
