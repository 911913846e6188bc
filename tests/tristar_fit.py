"""The config of a DisCoM-KD ``geokd fit`` on the TRISTAR fixture, small enough for
tests that train through the command line."""

from pathlib import Path
from typing import Any

import yaml

#: The TRISTAR depth/thermal fixture (3 classes).
TRISTAR = Path(__file__).resolve().parent / 'data' / 'paired_folder' / 'tristar'


def tristar_fit_config(
    data: Path,
    trainer: dict[str, Any],
    model: dict[str, Any] | None = None,
    datamodule: dict[str, Any] | None = None,
) -> str:
    """YAML of a seeded CPU DisCoM-KD fit of a dataset laid out as TRISTAR.

    Args:
        data: The dataset root.
        trainer: Trainer arguments added to the CPU, quiet defaults (``max_epochs``).
        model: ``DisCoMKDTask`` arguments added to a tiny two-modality one.
        datamodule: ``PairedFolderDataModule`` arguments added (``num_workers``).

    Returns:
        The config, for LightningCLI's ``--config``.
    """
    config = {
        'seed_everything': 0,
        'trainer': {
            'accelerator': 'cpu',
            'enable_progress_bar': False,
            'enable_model_summary': False,
            **trainer,
        },
        'model': {
            'class_path': 'geokd.tasks.DisCoMKDTask',
            'init_args': {
                'in_channels': {'depth': 1, 'thermal': 1},
                'num_classes': 3,
                'backbone': 'test_resnet',
                **(model or {}),
            },
        },
        'data': {
            'class_path': 'geokd.datamodules.PairedFolderDataModule',
            'init_args': {
                'root': str(data),
                'folders': {'depth': 'depth', 'thermal': 'thermal'},
                'manifest': 'manifest.csv',
                'size': 16,
                'batch_size': 4,
                **(datamodule or {}),
            },
        },
    }
    return yaml.safe_dump(config, sort_keys=False)
