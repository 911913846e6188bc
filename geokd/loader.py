"""The one way geokd reads training configs and checkpoints.

* Configs go through geokd's LightningCLI without running it
  (:func:`load_config`), so several ``--config`` files and command-line overrides
  combine exactly as in ``geokd fit``, and jsonargparse checks every ``class_path``
  against the expected base class before anything is instantiated.
* Checkpoints go through Lightning's ``load_from_checkpoint(weights_only=True)``
  (:func:`load_checkpoint`): only tensors and plain values are unpickled, and the
  task class recorded in the checkpoint must be an already imported subclass of the
  expected one.
"""

import pickle
import sys
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning.pytorch.cli import LightningCLI

    from .tasks import PerClassifierTask


class LoadError(ValueError):
    """A config or checkpoint cannot be used; the message names the file."""


def load_config(
    args: Sequence[str],
    model_class: type | None = None,
    datamodule_class: type | None = None,
) -> 'LightningCLI':
    """Parse and instantiate a training config without running it.

    Args:
        args: ``--config`` files and overrides, as after ``geokd fit``.
        model_class: Base class the config's model must derive from; None accepts
            every geokd task (:class:`~geokd.tasks.PerClassifierTask`).
        datamodule_class: Base class of the DataModule; None accepts geokd's
            :class:`~geokd.datamodules.MultiModalDataModule`.

    Returns:
        The CLI, with ``model``, ``datamodule`` and ``trainer`` instantiated.
    """
    from .datamodules import MultiModalDataModule
    from .main import build_cli
    from .tasks import PerClassifierTask

    with warnings.catch_warnings():
        # LightningCLI warns that sys.argv ('geokd stats ...') is not what it parses.
        warnings.filterwarnings('ignore', message=".*LightningCLI's args parameter")
        return build_cli(
            list(args),
            run=False,
            model_class=model_class or PerClassifierTask,
            datamodule_class=datamodule_class or MultiModalDataModule,
        )


@dataclass
class LoadedCheckpoint:
    """A task rebuilt from a Lightning checkpoint.

    Attributes:
        path: The checkpoint file.
        task: The task with the checkpoint's weights, on the CPU, in eval mode.
        datamodule_state: What its DataModule saved (normalisation, band names,
            patch size); empty if none.
        epoch: Epoch the checkpoint was written at.
    """

    path: Path
    task: 'PerClassifierTask'
    datamodule_state: dict[str, Any]
    epoch: int | None


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a Lightning checkpoint's contents without building anything.

    Tensors are memory-mapped, so reading only hyperparameters or DataModule state
    from a large checkpoint is cheap.

    Args:
        path: The ``.ckpt`` file.

    Returns:
        The checkpoint dict.

    Raises:
        LoadError: If the file is missing, not loadable with ``weights_only`` (which
            also refuses pickled code), or not a Lightning checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        msg = f'{path}: no such checkpoint file'
        raise LoadError(msg)
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err)
        msg = f'{path}: not a readable checkpoint ({first})'
        raise LoadError(msg) from err
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get('state_dict'), Mapping):
        msg = f'{path}: not a Lightning checkpoint (no state_dict)'
        raise LoadError(msg)
    if 'pytorch-lightning_version' not in ckpt:
        msg = f'{path}: not a Lightning checkpoint (no pytorch-lightning_version)'
        raise LoadError(msg)
    if not isinstance(ckpt.get('hyper_parameters'), Mapping):
        msg = f'{path}: not a Lightning checkpoint of a task (no hyper_parameters)'
        raise LoadError(msg)
    return dict(ckpt)


def datamodule_state(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The state a geokd DataModule saved into a checkpoint.

    Lightning stores it under the DataModule's class name; geokd's holds the
    ``normalization`` of every modality.

    Args:
        checkpoint: Output of :func:`read_checkpoint`.

    Returns:
        The state, or an empty dict.
    """
    for value in checkpoint.values():
        if isinstance(value, Mapping) and 'normalization' in value:
            return dict(value)
    return {}


def load_checkpoint(
    path: str | Path, task_class: type['PerClassifierTask'] | None = None
) -> LoadedCheckpoint:
    """Rebuild the task saved in a checkpoint.

    Args:
        path: The ``.ckpt`` file.
        task_class: Expected task class; None accepts every geokd task. The
            checkpoint's own class (recorded by LightningCLI) is used when it is a
            subclass of this one.

    Returns:
        The task and its DataModule state.

    Raises:
        LoadError: If the file cannot be read, is not a checkpoint of such a task,
            or its weights do not fit.
    """
    from .tasks import PerClassifierTask

    path = Path(path)
    expected = task_class or PerClassifierTask
    ckpt = read_checkpoint(path)
    cls = _task_class(path, ckpt['hyper_parameters'].get('_class_path'), expected)
    try:
        task = cls.load_from_checkpoint(path, map_location='cpu', weights_only=True)
    except (ValueError, RuntimeError, TypeError, KeyError) as err:
        msg = f'{path}: cannot rebuild its {cls.__name__}: {_first_line(err)}'
        raise LoadError(msg) from err
    epoch = ckpt.get('epoch')
    return LoadedCheckpoint(
        path,
        task.eval(),
        datamodule_state(ckpt),
        int(epoch) if isinstance(epoch, int) else None,
    )


def _task_class(
    path: Path, class_path: Any, expected: type['PerClassifierTask']
) -> type['PerClassifierTask']:
    """The task class a checkpoint records, if it is an imported ``expected`` one.

    Only classes already imported are considered (as Lightning's own check), so a
    class path in an untrusted file never imports code.

    Args:
        path: The checkpoint, for messages.
        class_path: Its recorded class path (``_class_path``), or None.
        expected: The class it must be, or derive from.

    Returns:
        The class to rebuild.

    Raises:
        LoadError: If it is not such a class, or none is recorded and ``expected``
            is abstract.
    """
    if class_path is None:
        if getattr(expected, '__abstractmethods__', None):
            msg = (
                f'{path}: the checkpoint does not record its task class (it was not '
                'written by geokd fit); load it with its task class'
            )
            raise LoadError(msg)
        return expected
    module, _, name = str(class_path).rpartition('.')
    cls = getattr(sys.modules.get(module), name, None)
    if not (isinstance(cls, type) and issubclass(cls, expected)):
        msg = f'{path}: holds a {class_path!r}, not a {expected.__name__}'
        raise LoadError(msg)
    return cls


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
