"""Reading training configs that may come from someone else, and checking them.

Configs read by ``report``, ``stats`` and ``benchmark`` may come from someone else:
before jsonargparse imports anything, every class a config file names (inline, or in
a file it refers to, which jsonargparse reads as a nested config) must be geokd's own
or one of the few libraries' a training run uses (:data:`CONFIG_CLASS_MODULES`);
classes named on the command line are the user's choice. A config is read within
limits (:data:`MAX_CONFIG_VALUES`, :data:`MAX_CONFIG_DEPTH`), so nested YAML aliases
or deep nesting end in one line. :func:`geokd.cli.load_config` builds a config after
these checks.
"""

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import LoadError, os_error_message

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
        'teacher_class',
    }
)
_IMPORT_PATH = re.compile(r'^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$')


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
    except RecursionError as err:
        msg = f'{path}: not a config (nested too deeply to read)'
        raise LoadError(msg) from err
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


#: Most values (mappings, lists and scalars) a config file may hold, each YAML alias
#: counted as often as it is used: a few lines of nested aliases expand to billions.
MAX_CONFIG_VALUES = 100_000
#: Deepest nesting of mappings and lists a config file may have.
MAX_CONFIG_DEPTH = 100
#: Largest file a config may refer to (jsonargparse reads such a file as a config).
MAX_REFERENCED_BYTES = 1 << 20


def config_strings(config: Any, path: Path) -> Iterator[tuple[str | None, str]]:
    """Every string of a config, with the key it is under, walked within limits.

    Args:
        config: The file's content.
        path: The file, for messages.

    Yields:
        ``(key, string)``, in the order of the file; a list's items are under the
        list's key.

    Raises:
        LoadError: If the config holds more than :data:`MAX_CONFIG_VALUES` values
            or nests deeper than :data:`MAX_CONFIG_DEPTH`.
    """
    stack: list[tuple[str | None, Any, int]] = [(None, config, 0)]
    count = 0
    while stack:
        key, value, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            msg = (
                f'{path}: holds more than {MAX_CONFIG_VALUES} values (nested YAML '
                'aliases?); geokd reads no config that large'
            )
            raise LoadError(msg)
        if depth > MAX_CONFIG_DEPTH:
            msg = f'{path}: nested more than {MAX_CONFIG_DEPTH} levels deep'
            raise LoadError(msg)
        if isinstance(value, Mapping):
            items = [(str(k), v, depth + 1) for k, v in value.items()]
            stack.extend(reversed(items))
        elif isinstance(value, list):
            stack.extend(reversed([(key, v, depth + 1) for v in value]))
        elif isinstance(value, str):
            yield key, value


def _referenced_file(value: str, bases: Sequence[Path]) -> Path | None:
    """The file a config's string names, if jsonargparse may read it as a config.

    jsonargparse reads a string naming a file (absolute, or relative to the config
    that holds it or to the working directory) as a nested config wherever a class
    or a group of options is expected. Text files are such candidates; binary ones
    (checkpoints, rasters) are not.

    Args:
        value: The string.
        bases: Directories a relative path is resolved against.

    Returns:
        The file, or None.
    """
    if not value or len(value) > 4096 or '\n' in value or '\0' in value:
        return None
    # As jsonargparse reads paths: file:// stripped, ~ expanded.
    name = Path(os.path.expanduser(re.sub('^file:///?', '/', value)))
    for candidate in [name] if name.is_absolute() else [b / name for b in bases]:
        try:
            if not candidate.is_file():
                continue
            with candidate.open('rb') as f:
                head = f.read(4096)
        except (OSError, ValueError):
            continue
        if b'\0' not in head:
            return candidate
    return None


def _referenced_config(path: Path, by: Path) -> Any:
    """Read a file a config refers to, as jsonargparse would.

    Args:
        path: The file referred to.
        by: The config referring to it, for messages.

    Returns:
        Its content, or None if it is not YAML (jsonargparse cannot read it either).

    Raises:
        LoadError: If it is too large to check.
    """
    import yaml

    try:
        if path.stat().st_size > MAX_REFERENCED_BYTES:
            msg = (
                f'{by}: refers to {path}, a file too large to check as a config '
                '(configs read by geokd may not refer to other files)'
            )
            raise LoadError(msg)
        return yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    except RecursionError as err:
        msg = f'{by}: refers to {path}, nested too deeply to read'
        raise LoadError(msg) from err


def _class_names(config: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every string jsonargparse may import as a class, in the config and its files.

    Strings naming a file are followed (jsonargparse reads them as nested configs),
    relative to the config holding them and to the working directory, through any
    depth of references; each file is read once.

    Args:
        config: The config's content.
        path: Its file.

    Yields:
        ``(file holding it, class name)``.

    Raises:
        LoadError: If a config or a file it refers to is too large or too deep.
    """
    pending: list[tuple[Path, Any, str | None]] = [(path, config, None)]
    seen: set[Path] = set()
    while pending:
        holder, content, context = pending.pop(0)
        bases = list(dict.fromkeys([holder.parent, path.parent, Path.cwd()]))
        for key, value in config_strings(content, holder):
            key = key if key is not None else context
            if key in CLASS_KEYS and _IMPORT_PATH.match(value):
                yield holder, value
            referenced = _referenced_file(value, bases)
            if referenced is None:
                continue
            resolved = referenced.resolve()
            if resolved in seen or resolved == path.resolve():
                continue
            seen.add(resolved)
            nested = _referenced_config(referenced, holder)
            if nested is not None:
                pending.append((referenced, nested, key))


def check_config_classes(config: Mapping[str, Any], path: Path) -> None:
    """Refuse a config file naming classes outside :data:`CONFIG_CLASS_MODULES`.

    Runs before jsonargparse sees the file, which imports a class's module to check
    it: importing a module can run code. Short names (``ModelCheckpoint``) are
    resolved by jsonargparse among classes already imported. Files the config
    refers to (``data: ./data.yaml``), which jsonargparse reads as nested configs,
    are checked too, as are the files they refer to.

    Args:
        config: The file's mapping.
        path: The file, for messages.

    Raises:
        LoadError: On a class outside those modules, or one that calls functions
            named in the config; on a config too large or too deeply nested.
    """
    for holder, name in _class_names(config, path):
        allowed = '.' not in name or name.startswith(CONFIG_CLASS_MODULES)
        if not allowed or name.rpartition('.')[2] in CONFIG_CLASS_REFUSED:
            where = '' if holder == path else f' refers to {holder}, which'
            msg = (
                f'{path}:{where} names {name!r}; configs read by geokd may only name '
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
