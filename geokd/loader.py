"""Loading Lightning checkpoints of geokd's tasks without trusting them.

Checkpoints go through Lightning's ``load_from_checkpoint(weights_only=True)``
(:func:`load_checkpoint`): only tensors and plain values are unpickled, the task class
recorded in the checkpoint must be an already imported subclass of the expected one,
and its hyperparameters are checked (types, ranges, names that may become paths,
classes they name, and sizes against the weights' shapes) before the task is built.

The caller gives the task class; this module never imports :mod:`geokd.tasks`
(whose students load their teachers through it). Configs are read by
:mod:`geokd.config` and built by :func:`geokd.cli.load_config`.
"""

import argparse
import pickle
import sys
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from .config import check_config_classes
from .errors import LoadError, argument_error_message, one_line, os_error_message

if TYPE_CHECKING:
    from .tasks import PerClassifierTask

__all__ = [
    'LIMITED_HYPERPARAMETERS',
    'LoadedCheckpoint',
    'check_ckpt_path',
    'check_hyperparameters',
    'check_shapes',
    'datamodule_state',
    'is_geokd_task',
    'load_checkpoint',
    'read_checkpoint',
]

#: Ckpt_path values that name no file.
_CKPT_KEYWORDS = ('last', 'best', 'hpc', 'registry')
#: The base class of geokd's tasks, by name: importing it would import this module.
GEOKD_TASK = 'geokd.tasks.base.PerClassifierTask'


def is_geokd_task(cls: type) -> bool:
    """Whether a class is a task of geokd's (:class:`~geokd.tasks.PerClassifierTask`).

    Args:
        cls: The class.

    Returns:
        True if :data:`GEOKD_TASK` is among its bases.
    """
    return any(f'{c.__module__}.{c.__qualname__}' == GEOKD_TASK for c in cls.__mro__)


def check_ckpt_path(ckpt_path: Any, expected: type, resume: bool = False) -> None:
    """Refuse a ``--ckpt_path`` file that is not a checkpoint of an ``expected`` task.

    LightningCLI builds the model from the class and hyperparameters a checkpoint
    records; they must name an already imported task class (nothing is imported for
    an untrusted file) and be valid for it.

    Args:
        ckpt_path: The value of ``ckpt_path``: None, a keyword Lightning resolves
            (``last``, ``best``, ...) or a file.
        expected: The task class the command accepts.
        resume: The checkpoint resumes training, so it needs the optimiser state.

    Raises:
        LoadError: Naming the file, if it is not such a checkpoint.
    """
    if ckpt_path is None or str(ckpt_path).split(':')[0] in _CKPT_KEYWORDS:
        return
    path = Path(ckpt_path)
    ckpt = read_checkpoint(path)
    if resume and 'optimizer_states' not in ckpt:
        msg = (
            f'{path}: holds weights only, training cannot resume from it (resume '
            'from last.ckpt; evaluate this one with geokd validate or test)'
        )
        raise LoadError(msg)
    hparams = ckpt['hyper_parameters']
    class_path = hparams.get('_class_path')
    if class_path is not None:
        cls: type = _task_class(path, class_path, expected)
        if is_geokd_task(cls):
            check_hyperparameters(cls, hparams, path)


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
    if path.is_dir():
        msg = f'{path}: is a directory, not a checkpoint file'
        raise LoadError(msg)
    if not path.is_file():
        msg = f'{path}: no such checkpoint file'
        raise LoadError(msg)
    try:
        with path.open('rb') as f:
            is_zip = zipfile.is_zipfile(f)
    except OSError as err:
        raise LoadError(os_error_message(err)) from err
    if not is_zip:
        msg = f'{path}: not a readable checkpoint (not a PyTorch zip archive)'
        raise LoadError(msg)
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except OSError as err:
        raise LoadError(os_error_message(err)) from err
    except pickle.UnpicklingError as err:
        msg = (
            f'{path}: not a readable checkpoint (it holds objects other than tensors '
            'and plain values, which geokd never loads)'
        )
        raise LoadError(msg) from err
    except Exception as err:  # a hostile file can make the unpickler raise anything
        reason = one_line(str(err)) or type(err).__name__
        if 'mmap' in reason:  # torch's wording for a zip of something else
            reason = 'not a checkpoint archive of PyTorch'
        msg = f'{path}: not a readable checkpoint ({reason})'
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
    path: str | Path,
    task_class: type['PerClassifierTask'] | None = None,
    default_class: type['PerClassifierTask'] | None = None,
) -> LoadedCheckpoint:
    """Rebuild the task saved in a checkpoint.

    Args:
        path: The ``.ckpt`` file.
        task_class: Expected task class; None accepts every geokd task
            (:func:`is_geokd_task`). The checkpoint's own class (recorded by
            LightningCLI) is used when it is a subclass of this one.
        default_class: The class to rebuild when the checkpoint records none (one
            written by a plain Lightning ``Trainer``); None: ``task_class``.

    Returns:
        The task and its DataModule state.

    Raises:
        LoadError: If the file cannot be read, is not a checkpoint of such a task,
            or its weights do not fit.
    """
    path = Path(path)
    expected = task_class
    ckpt = read_checkpoint(path)
    recorded = ckpt['hyper_parameters'].get('_class_path')
    if recorded is None and default_class is not None:
        expected = default_class
    cls = _task_class(path, recorded, expected)
    hparams = check_hyperparameters(cls, ckpt['hyper_parameters'], path)
    check_shapes(cls, hparams, ckpt['state_dict'], path)
    try:
        task = cls.load_from_checkpoint(path, map_location='cpu', weights_only=True)
    except (ValueError, RuntimeError, TypeError, KeyError) as err:
        reason = one_line(str(err)) or type(err).__name__
        msg = f'{path}: cannot rebuild its {cls.__name__}: {reason}'
        raise LoadError(msg) from err
    epoch = ckpt.get('epoch')
    return LoadedCheckpoint(
        path,
        task.eval(),
        datamodule_state(ckpt),
        int(epoch) if isinstance(epoch, int) else None,
    )


@overload
def _task_class(
    path: Path, class_path: Any, expected: None
) -> type['PerClassifierTask']: ...


@overload
def _task_class[T](path: Path, class_path: Any, expected: type[T]) -> type[T]: ...


def _task_class(path: Path, class_path: Any, expected: type | None) -> type:
    """The task class a checkpoint records, if it is an imported ``expected`` one.

    Only classes already imported are considered (as Lightning's own check), so a
    class path in an untrusted file never imports code.

    Args:
        path: The checkpoint, for messages.
        class_path: Its recorded class path (``_class_path``), or None.
        expected: The class it must be, or derive from; None: a geokd task
            (:func:`is_geokd_task`).

    Returns:
        The class to rebuild.

    Raises:
        LoadError: If it is not such a class, or none is recorded and ``expected``
            is abstract.
    """
    if class_path is None:
        if expected is None or getattr(expected, '__abstractmethods__', None):
            msg = (
                f'{path}: the checkpoint does not record its task class (it was not '
                'written by geokd fit); load it with its task class'
            )
            raise LoadError(msg)
        return expected
    module, _, name = str(class_path).rpartition('.')
    cls = getattr(sys.modules.get(module), name, None)
    if isinstance(cls, type) and (
        is_geokd_task(cls) if expected is None else issubclass(cls, expected)
    ):
        return cls
    wanted = GEOKD_TASK.rpartition('.')[2] if expected is None else expected.__name__
    msg = f'{path}: holds a {class_path!r}, not a {wanted}'
    raise LoadError(msg)


def check_hyperparameters(
    cls: type['PerClassifierTask'], hparams: Mapping[str, Any], path: Path
) -> dict[str, Any]:
    """Check a checkpoint's hyperparameters before they build anything.

    Types are checked against ``cls``'s signature, and the values that size the
    network or become file names against :class:`HyperparameterLimits`, both with
    jsonargparse (as ``model.json`` is).

    Args:
        cls: The task class the checkpoint will rebuild.
        hparams: Its saved hyperparameters.
        path: The checkpoint, for messages.

    Returns:
        The hyperparameters ``cls`` takes.

    Raises:
        LoadError: Naming the checkpoint and the first invalid value.
    """
    import inspect

    from jsonargparse import ArgumentParser

    from .schema import HyperparameterLimits, SafeName

    # A class named in the hyperparameters (a student's teacher_class) is imported
    # when the task is built.
    check_config_classes(hparams, path)
    params = inspect.signature(cls.__init__).parameters
    known = {k: v for k, v in hparams.items() if k in params and k != 'self'}
    limited = {k: known[k] for k in LIMITED_HYPERPARAMETERS if k in known}
    if isinstance(limited.get('in_channels'), Mapping):
        limited['channels_per_modality'] = limited.pop('in_channels')
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, 'task', fail_untyped=False)
    parser.add_class_arguments(HyperparameterLimits, 'limits')
    for name in limited.get('channels_per_modality') or {}:
        try:
            SafeName(name)
        except ValueError as err:
            msg = (
                f'{path}: invalid hyperparameters of its {cls.__name__}: modality '
                f'{name!r} is not a safe name (letters, digits, _ + -; at most 64)'
            )
            raise LoadError(msg) from err
    try:
        parser.parse_object({'task': known, 'limits': limited})
    except (argparse.ArgumentError, ValueError, TypeError) as err:
        detail = argument_error_message(str(err)).replace('limits.', '')
        detail = detail.replace('task.', '')
        detail = detail.replace('channels_per_modality', 'in_channels')
        msg = f'{path}: invalid hyperparameters of its {cls.__name__}: {detail}'
        raise LoadError(msg) from err
    names = known.get('class_names')
    if names is not None and (
        len(names) != known.get('num_classes') or len(set(names)) != len(names)
    ):
        msg = (
            f'{path}: invalid hyperparameters of its {cls.__name__}: class_names '
            f'must be num_classes={known.get("num_classes")} distinct names'
        )
        raise LoadError(msg)
    return known


def check_shapes(
    cls: type['PerClassifierTask'],
    hparams: Mapping[str, Any],
    state_dict: Mapping[str, Any],
    path: Path,
) -> None:
    """Check that the hyperparameters build a network of the weights' shapes.

    The task is built on PyTorch's meta device (no memory is allocated), so
    hyperparameters that ask for an absurd network fail here rather than in an
    allocation.

    Args:
        cls: The task class.
        hparams: Checked hyperparameters (:func:`check_hyperparameters`).
        state_dict: The checkpoint's weights.
        path: The checkpoint, for messages.

    Raises:
        LoadError: If the task cannot be built, a weight is missing or unexpected,
            or a weight's shape differs.
    """
    import torch

    try:
        with torch.device('meta'), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            shapes = {k: tuple(v.shape) for k, v in cls(**hparams).state_dict().items()}
    except (ValueError, TypeError, KeyError, RuntimeError) as err:
        reason = one_line(str(err)) or type(err).__name__
        msg = f'{path}: cannot build its {cls.__name__}: {reason}'
        raise LoadError(msg) from err
    # Every key, both ways: with none to compare, any network would pass.
    missing = sorted(set(shapes) - set(state_dict))
    extra = sorted(set(state_dict) - set(shapes))
    if missing or extra:
        which = f'{missing[0]} is missing' if missing else f'{extra[0]} is unexpected'
        msg = (
            f'{path}: cannot rebuild its {cls.__name__}: the weights do not match '
            f'the hyperparameters: {which} '
            f'({len(missing)} missing, {len(extra)} unexpected, of {len(shapes)} '
            f'for its {cls.__name__})'
        )
        raise LoadError(msg)
    for key, value in state_dict.items():
        shape = tuple(getattr(value, 'shape', ()))
        if key in shapes and shape != shapes[key]:
            msg = (
                f'{path}: the hyperparameters do not match the weights: {key} is '
                f'{list(shape)} in the file but {list(shapes[key])} for its '
                f'{cls.__name__}'
            )
            raise LoadError(msg)


#: Hyperparameters of geokd's tasks that size networks or become names.
LIMITED_HYPERPARAMETERS = (
    'num_classes',
    'class_names',
    'in_channels',
    'modality',
    'embed_dim',
)
