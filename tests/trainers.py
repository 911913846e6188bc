"""Tiny training runs of the tests: a quiet Trainer, tiny settings of a config."""

from pathlib import Path
from typing import Any

from lightning.pytorch import Trainer

#: Tiny settings of a config of the synthetic MS+SAR data (``configs/demo.yaml``).
TINY_SYNTHETIC = [
    '--trainer.enable_progress_bar', 'false',
    '--model.init_args.backbone', 'test_resnet',
    '--data.init_args.samples_per_class', '10',
    '--data.init_args.size', '16',
    '--data.init_args.num_workers', '0',
]  # fmt: skip


def quiet_trainer(root: Path | None = None, **kwargs: Any) -> Trainer:
    """A Trainer of one epoch of two batches that logs, shows and summarises nothing.

    Args:
        root: Its ``default_root_dir`` (checkpoints go under it); None for
            Lightning's default (the working directory).
        kwargs: Further Trainer arguments (``callbacks``), or ones replacing these.

    Returns:
        The Trainer.
    """
    defaults: dict[str, Any] = {
        'max_epochs': 1,
        'limit_train_batches': 2,
        'logger': False,
        'enable_progress_bar': False,
        'enable_model_summary': False,
    }
    if root is not None:
        defaults['default_root_dir'] = root
    return Trainer(**(defaults | kwargs))
