"""Hostile ``geokd stats``: configs of others, bad outputs, bad arguments."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Evil, Geokd, TinyRun, write_config
from .helpers import ALIAS_BOMB, Sandbox, assert_clean_error, deadline

#: A case: arguments after ``geokd stats`` and the text the error must contain.
Case = Callable[[Sandbox, TinyRun, Evil], tuple[list[str], str]]


def config_text(text: str) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        path = box.inputs / 'c.yaml'
        path.write_text(text.format(evil=evil.module, cmd=evil.command))
        return ['--config', str(path)], str(path)

    return case


def config_extra(extra: str, *args: str, names: str = '') -> Case:
    """The tiny run's config with YAML appended (keys given twice: the last wins)."""

    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        path = write_config(
            box.inputs / 'c.yaml',
            run.data,
            extra.format(evil=evil.module, cmd=evil.command),
        )
        return ['--config', str(path), *args], names or str(path)

    return case


def output(kind: str) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        config = write_config(box.inputs / 'c.yaml', run.data)
        target = {
            'directory': box.out,
            'missing directory': box.out / 'no' / 'such' / 'stats.yaml',
            'the config': config,
        }[kind]
        box.out.mkdir(exist_ok=True)
        return ['--config', str(config), '--output', str(target)], str(target)

    return case


def arguments(*args: str, names: str) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        config = write_config(box.inputs / 'c.yaml', run.data)
        return ['--config', str(config), *args], names

    return case


CASES: dict[str, Case] = {
    'config missing': lambda box, run, evil: (
        ['--config', str(box.inputs / 'nope.yaml')],
        'nope.yaml',
    ),
    'config a directory': lambda box, run, evil: (
        ['--config', str(box.inputs)],
        str(box.inputs),
    ),
    'config empty': config_text(''),
    'config not yaml': config_text('data: {{root: [\n'),
    'config a string': config_text('just text\n'),
    'config nested 5000 deep': config_text('a: ' + '[' * 5000 + ']' * 5000 + '\n'),
    'config without data': config_text(
        'model:\n  class_path: geokd.tasks.DisCoMKDTask\n'
    ),
    'no config': lambda box, run, evil: ([], '--config'),
    'model names a function': config_text(
        'model:\n  class_path: subprocess.getoutput\n  init_args: {{cmd: {cmd}}}\n'
    ),
    'model names a module that runs code': config_text(
        'model:\n  class_path: {evil}.Task\n'
    ),
    'model as a string': config_text('model: {evil}.Task\n'),
    'data names a function': config_extra(
        'data:\n  class_path: os.system\n  init_args: {{command: {cmd}}}\n'
    ),
    'callback from a module that runs code': config_extra(
        '  callbacks: [{{class_path: {evil}.Callback}}]\n'.join(['trainer:\n', ''])
    ),
    'lambda callback': config_extra(
        'trainer:\n  callbacks:\n'
        '    - class_path: lightning.pytorch.callbacks.LambdaCallback\n'
        '      init_args: {{on_fit_start: subprocess.getoutput}}\n'
    ),
    'logger from a module that runs code': config_extra(
        'trainer:\n  logger: {{class_path: {evil}.Logger}}\n'
    ),
    'optimizer from a module that runs code': config_extra(
        'optimizer: {{class_path: {evil}.Optimizer}}\n'
    ),
    'augmentation from a module that runs code': config_extra(
        'data:\n  class_path: geokd.datamodules.PairedFolderDataModule\n'
        '  init_args:\n    augmentation: [{{class_path: {evil}.Flip}}]\n'
    ),
    'dataset_class from a module that runs code': config_extra(
        'data:\n  class_path: geokd.datamodules.MultiModalDataModule\n'
        '  init_args: {{dataset_class: {evil}.Dataset, modalities: [a]}}\n'
    ),
    'unknown key': config_extra('colour: blue\n', names='colour'),
    'data root missing': arguments('--data.init_args.root', 'gone', names='gone'),
    'batch_size zero': arguments(
        '--data.init_args.batch_size', '0', names='batch_size'
    ),
    'normalization malformed': arguments(
        '--data.init_args.normalization',
        '{depth: {shift: [1]}, thermal: 3}',
        names='normalization',
    ),
    'output a directory': output('directory'),
    'output in a missing directory': output('missing directory'),
    'output is the config': output('the config'),
    'samples negative': arguments('--samples', '-1', names='--samples'),
    'samples not a number': arguments('--samples', 'many', names='--samples'),
}


@pytest.mark.parametrize('case', CASES.values(), ids=CASES.keys())
def test_stats_hostile(
    case: Case, sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    argv, names = case(sandbox, tiny_run, evil)
    assert_clean_error(geokd(['stats', *argv]), 'stats', names)


def test_stats_alias_bomb_ends_in_one_line_at_once(
    sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    argv, names = config_text(ALIAS_BOMB)(sandbox, tiny_run, evil)
    with deadline(60):
        outcome = geokd(['stats', *argv])
    assert_clean_error(outcome, 'stats', names)


@pytest.mark.skipif(os.geteuid() == 0, reason='root may write anywhere')
def test_stats_output_not_writable(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    config = write_config(sandbox.inputs / 'c.yaml', tiny_run.data)
    sandbox.out.mkdir()
    sandbox.out.chmod(0o500)
    target = sandbox.out / 'stats.yaml'
    try:
        outcome = geokd(['stats', '--config', str(config), '--output', str(target)])
    finally:
        sandbox.out.chmod(0o700)
    assert_clean_error(outcome, 'stats', str(target))


def test_stats_disk_full(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd, full_disk: Path
) -> None:
    config = write_config(sandbox.inputs / 'c.yaml', tiny_run.data)
    target = full_disk / 'stats.yaml'
    outcome = geokd(['stats', '--config', str(config), '--output', str(target)])
    assert_clean_error(outcome, 'stats', str(target))
    assert 'space' in outcome.err
    assert not target.exists()
    assert list(full_disk.iterdir()) == [full_disk / 'filler']
