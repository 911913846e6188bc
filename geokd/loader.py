"""The one way geokd reads training configs and checkpoints.

* Configs go through geokd's LightningCLI without running it
  (:func:`load_config`), so several ``--config`` files and command-line overrides
  combine exactly as in ``geokd fit``, and jsonargparse checks every ``class_path``
  against the expected base class before anything is instantiated.
  Configs read by ``report``, ``stats`` and ``benchmark`` may come from someone
  else: before jsonargparse imports anything, every class a config file names must
  be geokd's own or one of the few libraries' a training run uses
  (:data:`CONFIG_CLASS_MODULES`); classes named on the command line are the user's
  choice.
* Checkpoints go through Lightning's ``load_from_checkpoint(weights_only=True)``
  (:func:`load_checkpoint`): only tensors and plain values are unpickled, the task
  class recorded in the checkpoint must be an already imported subclass of the
  expected one, and its hyperparameters are checked (types, ranges, names that may
  become paths, and sizes against the weights' shapes) before the task is built.
"""

import argparse
import pickle
import re
import sys
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GeokdError, os_error_message

if TYPE_CHECKING:
    from lightning.pytorch.cli import LightningCLI

    from .tasks import PerClassifierTask


class LoadError(GeokdError, ValueError):
    """A config or checkpoint cannot be used; the message names the file."""


#: Modules whose classes a config file read by report, stats or benchmark may name
#: (jsonargparse also checks each against the base class its key expects).
CONFIG_CLASS_MODULES = (
    'geokd.',
    'lightning.pytorch.callbacks.',
    'lightning.pytorch.loggers.',
    'torch.optim.',
    'kornia.augmentation.',
)
#: Classes of those modules that call functions named in the config.
CONFIG_CLASS_REFUSED = ('LambdaCallback',)
#: Config keys whose string values jsonargparse may resolve as an import path.
CLASS_KEYS = frozenset(
    {
        'class_path',
        'model',
        'data',
        'optimizer',
        'lr_scheduler',
        'callbacks',
        'logger',
        'plugins',
        'strategy',
        'profiler',
        'dataset_class',
    }
)
_IMPORT_PATH = re.compile(r'^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$')
#: Ckpt_path values that name no file.
_CKPT_KEYWORDS = ('last', 'best', 'hpc', 'registry')


def config_files(args: Sequence[str]) -> list[Path]:
    """The config files among LightningCLI arguments (``--config X``, ``-c X``).

    Args:
        args: Arguments as given to ``geokd fit``.

    Returns:
        The files, in order.
    """
    values = [
        args[i + 1] if arg in ('--config', '-c') else arg.removeprefix('--config=')
        for i, arg in enumerate(args)
        if (arg in ('--config', '-c') and i + 1 < len(args))
        or arg.startswith('--config=')
    ]
    # jsonargparse also takes the config itself as a string: not a file.
    return [Path(v) for v in values if Path(v).exists() or not set(v) & set('{:\n')]


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML config file, with a one-line error naming it.

    Args:
        path: The file.

    Returns:
        Its mapping.

    Raises:
        LoadError: If it is missing, unreadable, not YAML, empty or not a mapping.
    """
    import yaml

    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        msg = f'{path}: not a text file ({err.reason})'
        raise LoadError(msg) from err
    except OSError as err:
        raise LoadError(os_error_message(err)) from err
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        where = f'line {mark.line + 1}, column {mark.column + 1}: ' if mark else ''
        problem = getattr(err, 'problem', None) or 'invalid'
        msg = f'{path}: not valid YAML ({where}{problem})'
        raise LoadError(msg) from err
    if config is None:
        msg = f'{path}: the config is empty (give at least model and data)'
        raise LoadError(msg)
    if not isinstance(config, dict):
        msg = f'{path}: a config must be a mapping of keys (model, data, trainer)'
        raise LoadError(msg)
    return config


def check_config_files(args: Sequence[str]) -> list[dict[str, Any]]:
    """Read every config file among the arguments, refusing unreadable ones.

    Args:
        args: Arguments as given to ``geokd fit``.

    Returns:
        Each file's mapping.

    Raises:
        LoadError: Naming the first file that cannot be read as a config.
    """
    return [read_config_file(path) for path in config_files(args)]


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
    from .tasks import PerClassifierTask

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
        cls = _task_class(path, class_path, expected)
        if issubclass(cls, PerClassifierTask):
            check_hyperparameters(cls, hparams, path)


def _class_names(config: Any, key: str | None = None) -> Iterator[str]:
    """Every string of a config that jsonargparse may import as a class."""
    if isinstance(config, Mapping):
        for k, v in config.items():
            yield from _class_names(v, str(k))
    elif isinstance(config, list):
        for item in config:
            yield from _class_names(item, key)
    elif isinstance(config, str) and key in CLASS_KEYS and _IMPORT_PATH.match(config):
        yield config


def check_config_classes(config: Mapping[str, Any], path: Path) -> None:
    """Refuse a config file naming classes outside :data:`CONFIG_CLASS_MODULES`.

    Runs before jsonargparse sees the file, which imports a class's module to check
    it: importing a module can run code. Short names (``ModelCheckpoint``) are
    resolved by jsonargparse among classes already imported.

    Args:
        config: The file's mapping.
        path: The file, for messages.

    Raises:
        LoadError: On a class outside those modules, or one that calls functions
            named in the config.
    """
    for name in _class_names(config):
        allowed = '.' not in name or name.startswith(CONFIG_CLASS_MODULES)
        if not allowed or name.rpartition('.')[2] in CONFIG_CLASS_REFUSED:
            msg = (
                f'{path}: names {name!r}; configs read by geokd may only name '
                "geokd's classes, Lightning callbacks and loggers, torch optimisers "
                'and kornia augmentations (name other classes on the command line)'
            )
            raise LoadError(msg)


#: Overrides that give a config a plain CPU trainer without callbacks or loggers.
PLAIN_TRAINER = (
    '--trainer.callbacks=[]',
    '--trainer.logger=false',
    '--trainer.plugins=null',
    '--trainer.profiler=null',
    '--trainer.strategy=auto',
    '--trainer.accelerator=cpu',
    '--trainer.devices=1',
    '--trainer.num_nodes=1',
)


def load_config(
    args: Sequence[str],
    model_class: type | None = None,
    datamodule_class: type | None = None,
    plain_trainer: bool = False,
) -> 'LightningCLI':
    """Parse and instantiate a training config without running it.

    Args:
        args: ``--config`` files and overrides, as after ``geokd fit``.
        model_class: Base class the config's model must derive from; None accepts
            every geokd task (:class:`~geokd.tasks.PerClassifierTask`).
        datamodule_class: Base class of the DataModule; None accepts geokd's
            :class:`~geokd.datamodules.MultiModalDataModule`.
        plain_trainer: Replace the config's callbacks, loggers, plugins, profiler,
            strategy and devices with a plain CPU trainer (:data:`PLAIN_TRAINER`),
            for readers that need only the task and its data.

    Returns:
        The CLI, with ``model``, ``datamodule`` and ``trainer`` instantiated.

    Raises:
        LoadError: If a config file cannot be read, names a class outside
            :data:`CONFIG_CLASS_MODULES`, or a value is invalid.
    """
    from .datamodules import MultiModalDataModule
    from .errors import argument_error_message
    from .main import build_cli
    from .tasks import PerClassifierTask

    files = config_files(args)
    for path, config in zip(files, check_config_files(args), strict=True):
        check_config_classes(config, path)
    extra = list(PLAIN_TRAINER) if plain_trainer else []
    try:
        with warnings.catch_warnings():
            # LightningCLI warns that sys.argv ('geokd stats ...') is not what it parses.
            warnings.filterwarnings('ignore', message=".*LightningCLI's args parameter")
            return build_cli(
                [*args, *extra],
                run=False,
                model_class=model_class or PerClassifierTask,
                datamodule_class=datamodule_class or MultiModalDataModule,
            )
    except argparse.ArgumentError as err:
        where = ', '.join(map(str, files)) or 'arguments'
        msg = f'{where}: {argument_error_message(str(err))}'
        raise LoadError(msg) from err


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
        reason = _first_line(err)
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
        task_class: Expected task class; None accepts every geokd task. The
            checkpoint's own class (recorded by LightningCLI) is used when it is a
            subclass of this one.
        default_class: The class to rebuild when the checkpoint records none (one
            written by a plain Lightning ``Trainer``); None: ``task_class``.

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
    recorded = ckpt['hyper_parameters'].get('_class_path')
    if recorded is None and default_class is not None:
        expected = default_class
    cls = _task_class(path, recorded, expected)
    hparams = check_hyperparameters(cls, ckpt['hyper_parameters'], path)
    check_shapes(cls, hparams, ckpt['state_dict'], path)
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
        from .errors import argument_error_message

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
        LoadError: If the task cannot be built or a weight's shape differs.
    """
    import torch

    try:
        with torch.device('meta'), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            shapes = {k: tuple(v.shape) for k, v in cls(**hparams).state_dict().items()}
    except (ValueError, TypeError, KeyError, RuntimeError) as err:
        msg = f'{path}: cannot build its {cls.__name__}: {_first_line(err)}'
        raise LoadError(msg) from err
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


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
