"""Run ``geokd`` commands in subprocesses, as users do, and read what they wrote.

Lightning's ``ddp`` strategy starts the other processes by running the same command
again, so DDP runs are tested through the real ``geokd fit`` command line.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]

#: Environment variables that would make Lightning join a cluster job instead of
#: starting its own processes (SLURM, torchrun).
_CLUSTER_PREFIXES = ('SLURM_', 'TORCHELASTIC_', 'PL_')
_CLUSTER_NAMES = {
    'LOCAL_RANK',
    'NODE_RANK',
    'GROUP_RANK',
    'RANK',
    'WORLD_SIZE',
    'LOCAL_WORLD_SIZE',
    'MASTER_ADDR',
    'MASTER_PORT',
}


def environment(**extra: str) -> dict[str, str]:
    """The test's environment, without cluster variables, geokd and tests importable.

    Args:
        **extra: Variables to add.

    Returns:
        The environment for a subprocess.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_CLUSTER_PREFIXES) and k not in _CLUSTER_NAMES
    }
    path = os.pathsep.join(p for p in (str(ROOT), env.get('PYTHONPATH')) if p)
    return {**env, 'PYTHONPATH': path, **extra}


def geokd(
    args: list[str], cwd: Path, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m geokd ARGS`` and require success.

    Args:
        args: Arguments after ``geokd``.
        cwd: Working directory.
        timeout: Seconds before the run counts as hung.
        **env: Extra environment variables.

    Returns:
        The finished process, with its output.
    """
    done = subprocess.run(
        [sys.executable, '-m', 'geokd', *args],
        cwd=cwd,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f'geokd {" ".join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}'
    )
    return done


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write a LightningCLI config.

    Args:
        path: The YAML file.
        config: Its content.

    Returns:
        The path.
    """
    path.write_text(yaml.safe_dump(config))
    return path


def synthetic_data(**init_args: Any) -> dict[str, Any]:
    """The tiny synthetic MS/SAR DataModule section of a config.

    Args:
        **init_args: Arguments overriding the tiny defaults.

    Returns:
        The ``data`` section.
    """
    defaults = {
        'batch_size': 4,
        'samples_per_class': 10,  # 70 train, 10 val, 20 test samples
        'size': 16,
        'num_workers': 0,
    }
    return {
        'class_path': 'geokd.datamodules.SyntheticMSSARDataModule',
        'init_args': {**defaults, **init_args},
    }


def trainer_section(root: Path, devices: int, **options: Any) -> dict[str, Any]:
    """A CPU trainer with a CSV log under ``root``, on ``devices`` DDP processes.

    Args:
        root: ``default_root_dir``.
        devices: Number of processes.
        **options: Other trainer options.

    Returns:
        The ``trainer`` section.
    """
    return {
        'accelerator': 'cpu',
        'devices': devices,
        'strategy': 'ddp',
        'default_root_dir': str(root),
        'enable_progress_bar': False,
        'enable_model_summary': False,
        'log_every_n_steps': 1,
        'logger': {
            'class_path': 'lightning.pytorch.loggers.CSVLogger',
            'init_args': {'save_dir': str(root), 'name': 'csv'},
        },
        **options,
    }


def geokd_callbacks(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """``geokd fit``'s default callbacks, followed by ``extra``.

    Args:
        *extra: More callback entries (``class_path``, ``init_args``).

    Returns:
        The ``trainer.callbacks`` list.
    """
    from geokd.cli import default_callbacks

    return [*default_callbacks(), *extra]


def epoch_metrics(log_dir: Path) -> dict[int, dict[str, float]]:
    """Epoch-level values of a CSVLogger's ``metrics.csv``, per epoch.

    Args:
        log_dir: The logger's version directory.

    Returns:
        Per epoch, every value logged at that epoch (step-level ones excluded).
    """
    rows: dict[int, dict[str, float]] = {}
    with (log_dir / 'metrics.csv').open() as f:
        for row in csv.DictReader(f):
            values = {k: float(v) for k, v in row.items() if v and k != 'step'}
            epoch = int(values.pop('epoch'))
            rows.setdefault(epoch, {}).update(
                (k, v) for k, v in values.items() if k.startswith(('val_', 'test_'))
            )
    return rows
