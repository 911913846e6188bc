"""geokd's LightningCLI: the one way training configs are parsed and built.

``geokd fit``, ``validate`` and ``test`` run it (:func:`build_cli`); ``report``,
``stats`` and ``benchmark`` build a config with it without running it
(:func:`load_config`), after :mod:`geokd.config` has checked every file.
"""

import argparse
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .config import (
    PLAIN_TRAINER,
    check_config_classes,
    check_config_files,
    config_files,
)
from .errors import LoadError, argument_error_message

if TYPE_CHECKING:
    from lightning.pytorch.cli import LightningCLI

#: Lightning's subcommands that geokd runs through LightningCLI.
LIGHTNING_COMMANDS: dict[str, str] = {
    'fit': 'train a task (DisCoM-KD, a baseline, a teacher or a student)',
    'validate': 'evaluate a trained task on the validation split',
    'test': 'evaluate a trained task on the test split',
}


def default_callbacks() -> list[dict[str, Any]]:
    """The callbacks ``geokd fit`` uses unless a config sets ``trainer.callbacks``.

    Returns:
        Best checkpoint per classifier with a resumable ``last.ckpt``, testing each
        classifier at its best epoch, and exporting each single-sensor classifier,
        as class_path entries (so that the saved ``config.yaml`` lists them).
    """
    return [
        {'class_path': f'geokd.callbacks.{name}'}
        for name in (
            'ClassifierCheckpoints',
            'EvaluateClassifiers',
            'ExportClassifiers',
        )
    ]


@contextmanager
def gdal_lists_no_folders() -> Iterator[None]:
    """GDAL lists no folder when it opens a file, while the block runs.

    The setting of https://github.com/pangeo-data/cog-best-practices, as TorchGeo's
    ``main`` uses it. It is set in the environment, so that DataLoader workers started
    in the block inherit it, and removed afterwards: a process that goes on (a test,
    a notebook) still finds the sidecars of local files (``.msk``, ``.aux.xml``). A
    value the user set is kept.

    Yields:
        Nothing.
    """
    name = 'GDAL_DISABLE_READDIR_ON_OPEN'
    if name in os.environ:
        yield
        return
    os.environ[name] = 'EMPTY_DIR'
    try:
        yield
    finally:
        os.environ.pop(name, None)


def build_cli(
    args: Sequence[str] | None,
    run: bool = True,
    model_class: type | None = None,
    datamodule_class: type | None = None,
) -> 'LightningCLI':
    """Build (and by default run) geokd's LightningCLI, as TorchGeo's ``main`` does.

    Args:
        args: Arguments to parse instead of ``sys.argv``.
        run: Run the subcommand; with False, ``args`` hold no subcommand and the CLI
            only instantiates the trainer, model and DataModule.
        model_class: Base class of the model; None: TorchGeo's ``BaseTask``.
        datamodule_class: Base class of the DataModule; None: TorchGeo's
            ``BaseDataModule``.

    Returns:
        The CLI.
    """
    from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
    from torchgeo.datamodules import BaseDataModule
    from torchgeo.tasks import BaseTask

    # Importing them lets configs name geokd's classes by short class_path.
    import geokd.callbacks
    import geokd.datamodules
    import geokd.tasks

    from .loader import check_ckpt_path

    class GeoKDCLI(LightningCLI):
        def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
            parser.set_defaults({'trainer.callbacks': default_callbacks()})
            if not run:
                # Configs saved by geokd fit also hold fit's own arguments.
                parser.add_argument('--ckpt_path', type=str | None, default=None)
                parser.add_argument('--weights_only', type=bool | None, default=None)

        def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
            super().parse_arguments(parser, args)
            # LightningCLI reads the model's class and hyperparameters from
            # --ckpt_path next: check the file first.
            subcommand = self.config.get('subcommand')
            if subcommand:
                ckpt_path = self.config[subcommand].get('ckpt_path')
                check_ckpt_path(ckpt_path, BaseTask, resume=subcommand == 'fit')

    with gdal_lists_no_folders():
        return GeoKDCLI(
            model_class=model_class or BaseTask,
            datamodule_class=datamodule_class or BaseDataModule,
            seed_everything_default=0,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={'overwrite': True},
            parser_kwargs={
                'prog': 'geokd',
                'version': geokd.__version__,
                'default_env': True,
                'env_prefix': 'GEOKD',
                # Raise instead of printing the whole usage: main() prints one line.
                'exit_on_error': False,
                **{name: {'exit_on_error': False} for name in LIGHTNING_COMMANDS},
            },
            args=None if args is None else list(args),
            run=run,
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
            strategy and devices with a plain CPU trainer
            (:data:`~geokd.config.PLAIN_TRAINER`), for readers that need only the
            task and its data.

    Returns:
        The CLI, with ``model``, ``datamodule`` and ``trainer`` instantiated.

    Raises:
        LoadError: If a config file cannot be read, names a class outside
            :data:`~geokd.config.CONFIG_CLASS_MODULES`, or a value is invalid.
    """
    from .datamodules import MultiModalDataModule
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
