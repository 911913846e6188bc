"""Reading a run directory of ``geokd fit`` for a report: config, results, weights."""

import json
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule

from ..cli import load_config
from ..errors import GeokdError, one_line
from ..loader import load_checkpoint
from ..tasks import PerClassifierTask


def load_run(
    run_dir: Path,
) -> tuple[PerClassifierTask, LightningDataModule, dict[str, dict[str, Any]]]:
    """Rebuild the task and DataModule of a run, and read its best checkpoints.

    The run's ``config.yaml`` may come from someone else: it is read as ``geokd
    fit`` reads configs, may only name geokd tasks and DataModules (and the few
    classes :func:`~geokd.cli.load_config` allows, checked before anything is
    imported), and its trainer's callbacks, loggers and devices are not built.

    Args:
        run_dir: Directory holding ``config.yaml`` and ``test_results.json``.

    Returns:
        The task, the DataModule and the per-classifier test results.

    Raises:
        GeokdError: If a file is missing or does not describe a geokd run.
    """
    config_path = run_dir / 'config.yaml'
    results_path = run_dir / 'test_results.json'
    if not run_dir.is_dir():
        what = 'not a directory' if run_dir.exists() else 'no such directory'
        msg = f'{run_dir}: {what} (give the log directory of geokd fit)'
        raise GeokdError(msg)
    for path in (config_path, results_path):
        if not path.is_file():
            msg = (
                f'{path}: not found; is {run_dir} a log directory of geokd fit? '
                '(such as runs/demo/lightning_logs/version_0)'
            )
            raise GeokdError(msg)
    results = read_results(results_path)
    cli = load_config(['--config', str(config_path)], plain_trainer=True)
    return cli.model, cli.datamodule, results


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """Read and check a run's ``test_results.json``.

    Args:
        path: The file.

    Returns:
        Per classifier, at least its ``checkpoint`` (a path or None).

    Raises:
        GeokdError: If it is not JSON of that form.
    """
    try:
        results = json.loads(path.read_text())
    except RecursionError as err:
        msg = f'{path}: unreadable test results (nested too deeply)'
        raise GeokdError(msg) from err
    except (OSError, UnicodeDecodeError, ValueError) as err:
        msg = f'{path}: unreadable test results ({one_line(str(err))})'
        raise GeokdError(msg) from err
    valid = isinstance(results, dict) and all(
        isinstance(r, dict) and isinstance(r.get('checkpoint'), str | None)
        for r in results.values()
    )
    if not valid:
        msg = (
            f'{path}: not the test results of geokd fit (expected per classifier '
            'an object with a checkpoint path)'
        )
        raise GeokdError(msg)
    checked: dict[str, dict[str, Any]] = results
    return checked


def load_weights[T: PerClassifierTask](
    task: T, datamodule: LightningDataModule, checkpoint: str | None
) -> T:
    """The task with a checkpoint's weights, and the DataModule with its state.

    Args:
        task: The run's task.
        datamodule: Its DataModule; its preprocessing is restored from the
            checkpoint when saved there.
        checkpoint: Lightning checkpoint, or None to keep the current weights.

    Returns:
        The task with the checkpoint's weights.
    """
    if checkpoint is None:
        return task
    loaded = load_checkpoint(checkpoint, type(task))
    if loaded.datamodule_state:
        datamodule.load_state_dict(loaded.datamodule_state)
    if not isinstance(loaded.task, type(task)):  # load_checkpoint builds type(task)
        msg = f'{checkpoint}: not a checkpoint of {type(task).__name__}'
        raise GeokdError(msg)
    return loaded.task


def class_names_of(
    task: PerClassifierTask, datamodule: LightningDataModule
) -> list[str]:
    """The classes' names: the task's, else the dataset's, else their indexes.

    Args:
        task: The run's task.
        datamodule: Its DataModule (set up, or restored from a checkpoint).

    Returns:
        A name per class index.
    """
    k = task.hparams['num_classes']
    names = task.hparams.get('class_names') or getattr(datamodule, 'class_names', None)
    return list(names or [str(i) for i in range(k)])
