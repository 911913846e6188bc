"""Command-line interface: ``geokd fit|validate|test|predict ...``."""

import importlib
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from torchgeo.datamodules import BaseDataModule
from torchgeo.tasks import BaseTask

import geokd

# Importing the DataModules and tasks lets configs name them by short class_path.
import geokd.datamodules
from geokd.deploy.export import export_after_fit
from geokd.tasks import DisCoMKDTask

#: Subcommands beside Lightning's fit/validate/test: name -> 'module:function', the
#: function taking the remaining arguments. They take precedence over Lightning's.
COMMANDS: dict[str, str] = {
    'stats': 'geokd.stats:main',
    'predict': 'geokd.deploy.cli:predict',
    'export': 'geokd.deploy.export_cli:export',
    'benchmark': 'geokd.benchmark:main',
    'report': 'geokd.reports.report:main',
}


class GeoKDCLI(LightningCLI):
    """LightningCLI that, after ``fit``, tests each modality from its best checkpoint."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """Lightning's subcommands but ``predict``, which is geokd's own.

        Returns:
            Subcommand names and the arguments they skip.
        """
        commands = LightningCLI.subcommands()
        del commands['predict']
        return commands

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add geokd's own options.

        Args:
            parser: The subcommand's parser.
        """
        parser.add_argument(
            '--test_after_fit',
            type=bool,
            default=True,
            help='After fit, test every modality from its best checkpoint.',
        )

    def after_fit(self) -> None:
        """Export, then test, each single-sensor classifier from its best epoch."""
        if self.trainer.is_global_zero and isinstance(self.model, DisCoMKDTask):
            root = Path(self.trainer.default_root_dir) / 'export'
            best = best_checkpoints(self.trainer)
            for m, path in export_after_fit(
                self.model, self.datamodule, best, root
            ).items():
                print(f'Exported the {m} classifier to {path}')
        if not self.config['fit'].get('test_after_fit', True):
            return
        results = evaluate_per_modality(self.trainer, self.model, self.datamodule)
        if results and self.trainer.is_global_zero:
            print(format_results(results))
            if self.trainer.log_dir:
                path = Path(self.trainer.log_dir) / 'test_results.json'
                path.write_text(json.dumps(results, indent=2))
                print(f'Per-modality test results written to {path}')


def best_checkpoints(trainer: Trainer) -> dict[str, str]:
    """The best checkpoint of each modality that the trainer's callbacks wrote.

    Args:
        trainer: A trainer after ``fit``.

    Returns:
        Checkpoint path per modality (from the ``val_f1_<modality>`` monitors);
        modalities without a written checkpoint are left out.
    """
    return {
        cb.monitor.removeprefix('val_f1_'): cb.best_model_path
        for cb in trainer.checkpoint_callbacks
        if isinstance(cb, ModelCheckpoint) and cb.monitor and cb.best_model_path
    }


def evaluate_per_modality(
    trainer: Trainer, model: LightningModule, datamodule: LightningDataModule | None
) -> dict[str, dict[str, Any]]:
    """Test each modality with the checkpoint that maximised its validation F1.

    Falls back to the current weights when no checkpoint was written (for example
    under ``fast_dev_run``).

    Args:
        trainer: The trainer that ran ``fit``.
        model: The trained task (has a ``modalities`` list).
        datamodule: DataModule with a test split.

    Returns:
        Per modality: the checkpoint used and its test metrics.
    """
    modalities = getattr(model, 'modalities', None)
    if not modalities:
        return {}
    best = best_checkpoints(trainer)
    results: dict[str, dict[str, Any]] = {}
    for m in modalities:
        ckpt = best.get(m)
        metrics = trainer.test(
            model, datamodule=datamodule, ckpt_path=ckpt, verbose=False
        )[0]
        results[m] = {
            'checkpoint': ckpt,
            **{k: metrics[f'test_{k}_{m}'] for k in ('f1', 'f1_macro', 'acc')},
        }
    return results


def format_results(results: dict[str, dict[str, Any]]) -> str:
    """Render per-modality test results as a small text table.

    Args:
        results: Output of :func:`evaluate_per_modality`.

    Returns:
        The table.
    """
    lines = [
        'Test results, each single-sensor classifier from its best validation epoch:',
        f'{"modality":<10}{"weighted F1":>13}{"macro F1":>10}{"accuracy":>10}  checkpoint',
    ]
    for m, r in results.items():
        ckpt = (
            os.path.basename(r['checkpoint']) if r['checkpoint'] else '(final weights)'
        )
        lines.append(
            f'{m:<10}{r["f1"]:>13.4f}{r["f1_macro"]:>10.4f}{r["acc"]:>10.4f}  {ckpt}'
        )
    return '\n'.join(lines)


def build_cli(args: list[str] | None, run: bool = True) -> GeoKDCLI:
    """Build (and by default run) geokd's LightningCLI.

    Args:
        args: Arguments to parse instead of ``sys.argv``.
        run: Run the subcommand; with False, ``args`` hold no subcommand and the CLI
            only instantiates the trainer, model and DataModule.

    Returns:
        The CLI.
    """
    # Taken from https://github.com/pangeo-data/cog-best-practices, as torchgeo does.
    os.environ.setdefault('GDAL_DISABLE_READDIR_ON_OPEN', 'EMPTY_DIR')
    return GeoKDCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        seed_everything_default=0,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={'overwrite': True},
        parser_kwargs={
            'prog': 'geokd',
            'version': geokd.__version__,
            'description': 'Cross-modal knowledge distillation (DisCoM-KD) for multi-sensor '
            'Earth observation. Lightning subcommands: fit, validate, test. geokd '
            f'subcommands: {", ".join(COMMANDS)} (geokd SUBCOMMAND --help).',
        },
        args=args,
        run=run,
    )


def extra_arguments(subcommand: str) -> list[str]:
    """Arguments appended to every ``geokd SUBCOMMAND`` call from the environment.

    ``GEOKD_FIT_ARGS='--trainer.max_epochs 1'`` makes every ``geokd fit`` train one
    epoch, whatever its config says (later arguments win). The test suite runs the
    documentation's tutorials this way, on tiny settings, without editing their text.

    Args:
        subcommand: The subcommand, e.g. 'fit' or 'predict'.

    Returns:
        The parsed arguments of ``GEOKD_<SUBCOMMAND>_ARGS`` (empty if unset).
    """
    return shlex.split(os.environ.get(f'GEOKD_{subcommand.upper()}_ARGS', ''))


def main(args: Sequence[str] | None = None) -> None:
    """Run the geokd command line.

    Args:
        args: Arguments to parse instead of ``sys.argv``.
    """
    argv = list(sys.argv[1:] if args is None else args)
    if argv:
        argv += extra_arguments(argv[0])
    if argv and argv[0] in COMMANDS:
        module, function = COMMANDS[argv[0]].split(':')
        getattr(importlib.import_module(module), function)(argv[1:])
        return
    # Lightning warns when given arguments equal to sys.argv's: pass none then.
    build_cli(None if argv == sys.argv[1:] else argv)
