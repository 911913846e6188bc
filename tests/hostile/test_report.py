"""Hostile ``geokd report RUN_DIR``: run directories of others.

A run's ``config.yaml`` may name any class: only geokd's tasks and DataModules (and
the few classes :func:`geokd.cli.load_config` allows) are built, checked before
anything is imported, and its callbacks and loggers never are.
"""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from .conftest import Evil, Geokd, TinyRun
from .helpers import ALIAS_BOMB, Sandbox, assert_clean_error, deadline

#: A case: arguments after ``geokd report`` and the text the error must contain.
Case = Callable[[Sandbox, TinyRun, Evil], tuple[list[str], str]]


def _copy_run(box: Sandbox, run: TinyRun) -> Path:
    copy = box.inputs / 'run'
    shutil.copytree(run.log_dir, copy, ignore=shutil.ignore_patterns('export'))
    return copy


def _report(box: Sandbox, run_dir: Path, *args: str) -> list[str]:
    return [str(run_dir), '--output', str(box.out / 'report'), *args]


def config(text: str) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        run_dir = _copy_run(box, run)
        path = run_dir / 'config.yaml'
        path.write_text(text.format(evil=evil.module, cmd=evil.command))
        return _report(box, run_dir), str(path)

    return case


def config_added(text: str) -> Case:
    """The run's own config with YAML appended (a repeated key: the last wins)."""

    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        run_dir = _copy_run(box, run)
        path = run_dir / 'config.yaml'
        original = path.read_text()
        path.write_text(original + text.format(evil=evil.module, cmd=evil.command))
        return _report(box, run_dir), str(path)

    return case


def config_refers(text: str) -> Case:
    """The run's own config, its ``data`` a file beside it holding ``text``."""

    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        run_dir = _copy_run(box, run)
        (run_dir / 'data.yaml').write_text(text)
        path = run_dir / 'config.yaml'
        path.write_text(path.read_text() + 'data: ./data.yaml\n')
        return _report(box, run_dir), str(path)

    return case


def results(content: str, names: str = '') -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        run_dir = _copy_run(box, run)
        path = run_dir / 'test_results.json'
        path.write_text(content.replace('BOX', str(box.inputs)))
        return _report(box, run_dir), names or str(path)

    return case


def checkpoint(kind: str) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        run_dir = _copy_run(box, run)
        path = box.inputs / 'x.ckpt'
        if kind == 'text':
            path.write_text('x')
        elif kind == 'foreign task':
            ckpt = torch.load(run.best, weights_only=True)
            ckpt['hyper_parameters']['_class_path'] = 'geokd.tasks.SingleModalTask'
            torch.save(ckpt, path)
        results = {'depth': {'checkpoint': str(path), 'f1': 0.0}}
        (run_dir / 'test_results.json').write_text(json.dumps(results))
        return _report(box, run_dir), str(path)

    return case


def arguments(*args: str, names: str) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        return _report(box, run.log_dir, *args), names

    return case


def missing(name: str) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        run_dir = _copy_run(box, run)
        (run_dir / name).unlink()
        return _report(box, run_dir), str(run_dir / name)

    return case


def output_is_a_file(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
    target = box.inputs / 'a_file'
    target.write_text('mine')
    return [str(run.log_dir), '--output', str(target)], str(target)


CASES: dict[str, Case] = {
    'run dir missing': lambda box, run, evil: (
        _report(box, box.inputs / 'nope'),
        'nope',
    ),
    'run dir a file': lambda box, run, evil: (
        _report(box, run.config),
        str(run.config),
    ),
    'run dir empty': lambda box, run, evil: (
        _report(box, box.inputs),
        str(box.inputs / 'config.yaml'),
    ),
    'config.yaml missing': missing('config.yaml'),
    'test_results.json missing': missing('test_results.json'),
    'config empty': config(''),
    'config not yaml': config('model: {{\n'),
    'config a list': config('- 1\n'),
    'config model a function': config(
        'model:\n  class_path: subprocess.getoutput\n  init_args: {{cmd: {cmd}}}\n'
    ),
    'config model of a module that runs code': config_added(
        'model:\n  class_path: {evil}.Task\n'
    ),
    'config data a function': config_added(
        'data:\n  class_path: os.system\n  init_args: {{command: {cmd}}}\n'
    ),
    'config callback of a module that runs code': config_added(
        'trainer:\n  callbacks: [{{class_path: {evil}.Callback}}]\n'
    ),
    'config lambda callback': config_added(
        'trainer:\n  callbacks:\n'
        '    - class_path: lightning.pytorch.callbacks.LambdaCallback\n'
        '      init_args: {{on_fit_start: subprocess.getoutput}}\n'
    ),
    'config logger of a module that runs code': config_added(
        'trainer:\n  logger: [{{class_path: {evil}.Logger}}]\n'
    ),
    'config task a torchgeo task': config_added(
        'model:\n  class_path: torchgeo.tasks.ClassificationTask\n'
    ),
    'config nested 5000 deep': config('a: ' + '[' * 5000 + ']' * 5000 + '\n'),
    'config mappings nested 5000 deep': config(
        'a: ' + '{{a: ' * 5000 + '1' + '}}' * 5000 + '\n'
    ),
    'config refers to a file nested 5000 deep': config_refers(
        '[' * 5000 + ']' * 5000 + '\n'
    ),
    'results nested 5000 deep': results('[' * 5000 + ']' * 5000),
    'results not json': results('{'),
    'results a list': results('[1, 2]'),
    'results checkpoint a number': results('{"depth": {"checkpoint": 3}}'),
    'results checkpoint missing file': results(
        '{"depth": {"checkpoint": "BOX/gone.ckpt"}}', 'gone.ckpt'
    ),
    'results checkpoint a text file': checkpoint('text'),
    'results checkpoint of another task': checkpoint('foreign task'),
    'max_points zero': arguments('--max_points', '0', names='--max_points'),
    'split unknown': arguments('--split', 'train', names='--split'),
    'output a file': output_is_a_file,
}


@pytest.mark.parametrize('case', CASES.values(), ids=CASES.keys())
def test_report_hostile(
    case: Case, sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    argv, names = case(sandbox, tiny_run, evil)
    assert_clean_error(geokd(['report', *argv]), 'report', names)


def test_report_alias_bomb_ends_in_one_line_at_once(
    sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    argv, names = config(ALIAS_BOMB)(sandbox, tiny_run, evil)
    with deadline(60):
        outcome = geokd(['report', *argv])
    assert_clean_error(outcome, 'report', names)


def test_report_of_the_tiny_run(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    # The control: the run the hostile cases damage reports fine as it is.
    outcome = geokd(['report', str(tiny_run.log_dir), '--output', str(sandbox.out)])
    assert outcome.code == 0, outcome.err
    assert (sandbox.out / 'report.md').is_file()
