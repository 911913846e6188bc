"""Hostile class paths reached through files a config refers to (red team 19.1).

jsonargparse reads a string naming a file (``data: ./evil_data.yaml``, absolute,
relative or ``file://``, at any depth of references) as a nested config, and imports
the classes that file names. Every command that reads an untrusted config or
checkpoint must check those classes too, before anything is imported.
"""

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from geokd.cli import load_config
from geokd.errors import LoadError
from geokd.loader import load_checkpoint

from .conftest import Evil, Geokd, TinyRun, write_config
from .helpers import Sandbox, assert_clean_error, run_subprocess

#: A shape of reference: writes the files it needs beside a config in ``directory``
#: and returns the YAML to append to that config (a repeated key: the last wins).
Plant = Callable[[Path, Evil, Path], str]


def _file(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def relative(directory: Path, evil: Evil, data: Path) -> str:
    _file(directory, 'evil_data.yaml', f'class_path: {evil.module}.Task\n')
    return 'data: ./evil_data.yaml\n'


def absolute(directory: Path, evil: Evil, data: Path) -> str:
    path = _file(directory, 'evil_data.yaml', f'class_path: {evil.module}.Task\n')
    return f'data: {path}\n'


def file_url(directory: Path, evil: Evil, data: Path) -> str:
    path = _file(directory, 'evil_data.yaml', f'class_path: {evil.module}.Task\n')
    return f'data: file://{path}\n'


def nested(directory: Path, evil: Evil, data: Path) -> str:
    # The config refers to a DataModule file of geokd's, which refers to another.
    _file(
        directory,
        'data.yaml',
        'class_path: geokd.datamodules.PairedFolderDataModule\ninit_args:\n'
        f'  root: {data}\n  folders: {{depth: depth, thermal: thermal}}\n'
        '  manifest: manifest.csv\n  size: 16\n  num_workers: 0\n'
        '  augmentation: ./augmentation.yaml\n',
    )
    _file(directory, 'augmentation.yaml', f'- class_path: {evil.module}.Flip\n')
    return 'data: ./data.yaml\n'


def list_item(directory: Path, evil: Evil, data: Path) -> str:
    _file(directory, 'flip.yaml', f'class_path: {evil.module}.Flip\n')
    return (
        'data:\n  class_path: geokd.datamodules.PairedFolderDataModule\n'
        f'  init_args:\n    root: {data}\n'
        '    folders: {depth: depth, thermal: thermal}\n'
        '    manifest: manifest.csv\n    size: 16\n    num_workers: 0\n'
        '    augmentation: [./flip.yaml]\n'
    )


def trainer_group(directory: Path, evil: Evil, data: Path) -> str:
    _file(directory, 'trainer.yaml', f'callbacks: [{{class_path: {evil.module}.Cb}}]\n')
    return 'trainer: ./trainer.yaml\n'


def model_file(directory: Path, evil: Evil, data: Path) -> str:
    _file(directory, 'model.yaml', f'class_path: {evil.module}.Task\n')
    return 'model: ./model.yaml\n'


def this_module(directory: Path, evil: Evil, data: Path) -> str:
    # Importing the standard library's ``this`` prints the Zen of Python.
    _file(directory, 'evil_data.yaml', 'class_path: this.Task\n')
    return 'data: ./evil_data.yaml\n'


SHAPES: dict[str, Plant] = {
    'relative path': relative,
    'absolute path': absolute,
    'file url': file_url,
    'reference in a referenced file': nested,
    'list item a file': list_item,
    'trainer a file': trainer_group,
    'model a file': model_file,
    'this.Task': this_module,
}


@pytest.fixture
def no_zen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``import this`` print again if anything imports it (an earlier bug)."""
    monkeypatch.delitem(sys.modules, 'this', raising=False)


def _assert_no_code_ran(outcome_text: str) -> None:
    assert 'Zen of Python' not in outcome_text, 'this.Task was imported'


def _benchmark_of(sandbox: Sandbox, config: Path) -> Path:
    """A benchmark file of one method trained by ``config``, one seed."""
    bench = sandbox.inputs / 'bench.yaml'
    bench.write_text(
        f'output_dir: {sandbox.out}\nseeds: [0]\nseed_args: [seed_everything]\n'
        f'methods: {{A: {{configs: [{config}]}}}}\n'
    )
    return bench


#: A command reading a config: plants a reference in the config it reads, returns
#: its arguments and that config (which its error must name).
Command = Callable[[Plant, Sandbox, TinyRun, Evil], tuple[list[str], Path]]


def report_of_a_run(
    plant: Plant, sandbox: Sandbox, run: TinyRun, evil: Evil
) -> tuple[list[str], Path]:
    run_dir = sandbox.inputs / 'run'
    shutil.copytree(run.log_dir, run_dir, ignore=shutil.ignore_patterns('export'))
    config = run_dir / 'config.yaml'
    config.write_text(config.read_text() + plant(run_dir, evil, run.data))
    return ['report', str(run_dir), '--output', str(sandbox.out)], config


def stats_of_a_config(
    plant: Plant, sandbox: Sandbox, run: TinyRun, evil: Evil
) -> tuple[list[str], Path]:
    extra = plant(sandbox.inputs, evil, run.data)
    config = write_config(sandbox.inputs / 'c.yaml', run.data, extra)
    return ['stats', '--config', str(config)], config


def benchmark_of_a_config(
    plant: Plant, sandbox: Sandbox, run: TinyRun, evil: Evil
) -> tuple[list[str], Path]:
    extra = plant(sandbox.inputs, evil, run.data)
    config = write_config(sandbox.inputs / 'c.yaml', run.data, extra)
    return ['benchmark', '--config', str(_benchmark_of(sandbox, config))], config


COMMANDS: dict[str, Command] = {
    'report': report_of_a_run,
    'stats': stats_of_a_config,
    'benchmark': benchmark_of_a_config,
}


@pytest.mark.parametrize('plant', SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize('command', COMMANDS.values(), ids=COMMANDS.keys())
def test_config_references(
    command: Command,
    plant: Plant,
    sandbox: Sandbox,
    tiny_run: TinyRun,
    evil: Evil,
    geokd: Geokd,
    no_zen: None,
) -> None:
    argv, config = command(plant, sandbox, tiny_run, evil)
    outcome = geokd(argv)
    _assert_no_code_ran(outcome.out + outcome.err)
    assert_clean_error(outcome, argv[0], str(config))


@pytest.mark.parametrize('plant', SHAPES.values(), ids=SHAPES.keys())
def test_loader_config_references(
    plant: Plant,
    tmp_path: Path,
    tiny_run: TinyRun,
    evil: Evil,
    no_zen: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    extra = plant(tmp_path, evil, tiny_run.data)
    config = write_config(tmp_path / 'c.yaml', tiny_run.data, extra)
    with pytest.raises(LoadError, match='names'):
        load_config(['--config', str(config)], plain_trainer=True)
    _assert_no_code_ran(capsys.readouterr().out)


def test_loader_config_reference_in_the_home_directory(
    tmp_path: Path,
    tiny_run: TinyRun,
    evil: Evil,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    (tmp_path / 'home').mkdir()
    _file(tmp_path / 'home', 'evil_data.yaml', f'class_path: {evil.module}.Task\n')
    config = write_config(
        tmp_path / 'c.yaml', tiny_run.data, 'data: ~/evil_data.yaml\n'
    )
    with pytest.raises(LoadError, match='names'):
        load_config(['--config', str(config)], plain_trainer=True)


def test_loader_follows_references_to_geokd_classes(
    tmp_path: Path, tiny_run: TinyRun
) -> None:
    # The control: a config split over files of geokd's own classes still loads.
    (tmp_path / 'data.yaml').write_text(
        'class_path: geokd.datamodules.PairedFolderDataModule\ninit_args:\n'
        f'  root: {tiny_run.data}\n  folders: {{depth: depth, thermal: thermal}}\n'
        '  manifest: manifest.csv\n  size: 16\n  num_workers: 0\n'
        '  augmentation: [./flip.yaml]\n'
    )
    (tmp_path / 'flip.yaml').write_text(
        'class_path: kornia.augmentation.RandomHorizontalFlip\n'
    )
    config = write_config(tmp_path / 'c.yaml', tiny_run.data, 'data: ./data.yaml\n')
    cli = load_config(['--config', str(config)], plain_trainer=True)
    assert type(cli.datamodule).__name__ == 'PairedFolderDataModule'


def test_report_runs_no_module_beside_the_run(
    tmp_path: Path, tiny_run: TinyRun
) -> None:
    # The red team's case as a user meets it: ``python -m geokd report .`` inside a
    # run directory whose config refers to a file naming a module beside it.
    run_dir = tmp_path / 'run'
    shutil.copytree(tiny_run.log_dir, run_dir, ignore=shutil.ignore_patterns('export'))
    marker = tmp_path / 'PWNED'
    (run_dir / 'run_helpers.py').write_text(f'open({str(marker)!r}, "w").close()\n')
    (run_dir / 'evil_data.yaml').write_text('class_path: run_helpers.Task\n')
    config = run_dir / 'config.yaml'
    config.write_text(config.read_text() + 'data: ./evil_data.yaml\n')
    outcome = run_subprocess(
        ['report', '.', '--output', str(tmp_path / 'out')], run_dir
    )
    assert not marker.exists(), 'run_helpers.py was imported'
    assert_clean_error(outcome, 'report', 'config.yaml')


def _distillation_checkpoint(run: TinyRun, evil: Evil, path: Path) -> Path:
    """A checkpoint of a student whose teacher class is a module that runs code.

    The student imports it only when its teacher is first used (training); the
    loader refuses it before building anything, as every class an untrusted file
    names.
    """
    checkpoint = torch.load(run.best, weights_only=True)
    checkpoint['hyper_parameters'] = {
        '_class_path': 'geokd.tasks.DistillationTask',
        'modality': 'depth',
        'in_channels': 1,
        'num_classes': 3,
        'teacher_checkpoint': str(run.best),
        'teacher_class': f'{evil.module}.Task',
        'backbone': 'test_resnet',
    }
    torch.save(checkpoint, path)
    return path


def test_export_teacher_class_of_a_module_that_runs_code(
    sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    path = _distillation_checkpoint(tiny_run, evil, sandbox.inputs / 'x.ckpt')
    outcome = geokd(['export', str(path), '-o', str(sandbox.out)])
    assert_clean_error(outcome, 'export', f"{path}: names '{evil.module}.Task'")


def test_loader_checkpoint_teacher_class_of_a_module_that_runs_code(
    tmp_path: Path, tiny_run: TinyRun, evil: Evil
) -> None:
    path = _distillation_checkpoint(tiny_run, evil, tmp_path / 'x.ckpt')
    with pytest.raises(LoadError, match=f"names '{evil.module}.Task'"):
        load_checkpoint(path)


def test_benchmark_teacher_class_of_a_module_that_runs_code(
    sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    # A student imports its teacher's class when training starts.
    model = (
        'model:\n  class_path: geokd.tasks.DistillationTask\n  init_args:\n'
        '    modality: depth\n    in_channels: 1\n    num_classes: 3\n'
        f'    teacher_checkpoint: {tiny_run.best}\n'
        f'    teacher_class: {evil.module}.Task\n    backbone: test_resnet\n'
    )
    config = write_config(sandbox.inputs / 'c.yaml', tiny_run.data, model)
    outcome = geokd(['benchmark', '--config', str(_benchmark_of(sandbox, config))])
    assert_clean_error(outcome, 'benchmark', str(config))
