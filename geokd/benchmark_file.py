"""The benchmark file of ``geokd benchmark``: methods, configs and seeds, checked.

See :mod:`geokd.benchmark` for the file's layout.
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import config_strings
from .errors import LoadError, argument_error_message, one_line


@dataclass
class Method:
    """One method of the benchmark.

    Attributes:
        name: Name shown in the table.
        configs: Model configs of its runs (each one or more classifiers).
        teacher: Model config of the teacher its runs distil, if any.
    """

    name: str
    configs: list[str]
    teacher: str | None = None


@dataclass
class Benchmark:
    """A parsed benchmark file (see the module docstring).

    Attributes:
        output_dir: Where runs and tables are written.
        seeds: Seeds; each run is repeated once per seed.
        methods: The methods to compare.
        seed_args: Options (without ``--``) set to the seed in every run.
        base_configs: Configs given before each method's config.
        args: Extra command-line arguments of every run.
        tables_dir: Where the tables go; None means ``output_dir`` (another
            benchmark sharing ``output_dir``, to reuse its runs, needs its own).
    """

    output_dir: Path
    seeds: list[int]
    methods: list[Method]
    seed_args: list[str] = field(
        default_factory=lambda: ['seed_everything', 'data.init_args.seed']
    )
    base_configs: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    tables_dir: Path | None = None


def load_benchmark(path: str | Path) -> Benchmark:
    """Read and check a benchmark file.

    Args:
        path: YAML benchmark file.

    Returns:
        The benchmark.

    Raises:
        LoadError: If the file is missing, not YAML, misses or misspells a key, has
            a value of the wrong type, or a config it names does not exist.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as err:
        msg = f'{path}: cannot read benchmark file ({getattr(err, "strerror", err)})'
        raise LoadError(msg) from err
    except yaml.YAMLError as err:
        msg = f'{path}: not valid YAML ({one_line(str(err))})'
        raise LoadError(msg) from err
    except RecursionError as err:
        msg = f'{path}: not a benchmark file (nested too deeply to read)'
        raise LoadError(msg) from err
    if not isinstance(raw, dict):
        msg = f'{path}: expected a mapping with output_dir, seeds and methods'
        raise LoadError(msg)
    for _ in config_strings(raw, path):  # refuses nested aliases that expand hugely
        pass
    known = {
        'output_dir',
        'tables_dir',
        'seeds',
        'seed_args',
        'base_configs',
        'args',
        'methods',
    }
    if unknown := set(raw) - known:
        msg = f'{path}: unknown keys {sorted(unknown)}; expected {sorted(known)}'
        raise LoadError(msg)
    if missing := {'output_dir', 'seeds', 'methods'} - set(raw):
        msg = f'{path}: missing keys {sorted(missing)}'
        raise LoadError(msg)
    if not isinstance(raw['methods'], dict | None):
        msg = f'{path}: methods must map each method name to its configs'
        raise LoadError(msg)
    methods = []
    for name, spec in (raw['methods'] or {}).items():
        configs = spec.get('configs') if isinstance(spec, dict) else None
        if not isinstance(configs, list) or not configs:
            msg = f'{path}: method {name!r} needs a non-empty configs list'
            raise LoadError(msg)
        if unknown := set(spec) - {'configs', 'teacher'}:
            msg = f'{path}: method {name!r} has unknown keys {sorted(unknown)}'
            raise LoadError(msg)
        methods.append(Method(str(name), list(spec['configs']), spec.get('teacher')))
    if not methods:
        msg = f'{path}: no methods'
        raise LoadError(msg)
    _check_types(raw, path)
    bench = Benchmark(
        output_dir=Path(raw['output_dir']),
        seeds=[int(s) for s in raw['seeds']],
        methods=methods,
        tables_dir=Path(raw['tables_dir']) if raw.get('tables_dir') else None,
        **{k: list(raw[k]) for k in ('seed_args', 'base_configs', 'args') if k in raw},
    )
    configs = bench.base_configs + [
        c for m in methods for c in [*m.configs, *([m.teacher] if m.teacher else [])]
    ]
    if absent := [c for c in configs if not Path(c).is_file()]:
        msg = f'{path}: config files not found: {absent}'
        raise LoadError(msg)
    return bench


@dataclass
class _MethodEntry:
    configs: list[str]
    teacher: str | None = None


@dataclass
class _BenchmarkEntry:
    output_dir: str
    seeds: list[int]
    methods: dict[str, _MethodEntry] | None
    seed_args: list[str] | None = None
    base_configs: list[str] | None = None
    args: list[str] | None = None
    tables_dir: str | None = None


def _check_types(raw: dict[str, Any], path: Path) -> None:
    """Check the types of a benchmark file's values with jsonargparse.

    Args:
        raw: The file's mapping (keys already checked).
        path: The file, for messages.

    Raises:
        LoadError: Naming the first value of the wrong type, or empty seeds.
    """
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(_BenchmarkEntry, 'file')
    try:
        parser.parse_object({'file': raw})
    except (argparse.ArgumentError, ValueError, TypeError) as err:
        detail = argument_error_message(str(err)).removeprefix('file.')
        msg = f'{path}: {detail}'
        raise LoadError(msg) from err
    if not raw['seeds']:
        msg = f'{path}: seeds is empty (give at least one seed)'
        raise LoadError(msg)
