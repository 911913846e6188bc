"""Hostile ``geokd benchmark``: malformed benchmark files and run directories."""

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Evil, Geokd, TinyRun
from .helpers import Sandbox, assert_clean_error, deadline

#: A case: arguments after ``geokd benchmark`` and the text the error must contain.
Case = Callable[[Sandbox, TinyRun, Evil], tuple[list[str], str]]


def bench(text: str, names: str = '') -> Case:
    """A benchmark file; ``CONFIG`` stands for the tiny run's (valid) config."""

    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        path = box.inputs / 'bench.yaml'
        text_ = text.replace('CONFIG', str(run.config)).replace('OUT', str(box.out))
        path.write_text(text_.replace('EVIL', str(box.inputs / 'evil.yaml')))
        (box.inputs / 'evil.yaml').write_text(
            f'model:\n  class_path: subprocess.getoutput\n'
            f'  init_args: {{cmd: {evil.command}}}\n'
        )
        return ['--config', str(path)], names or str(path)

    return case


GOOD = 'output_dir: OUT\nseeds: [0]\nseed_args: [seed_everything]\nmethods: {A: {configs: [CONFIG]}}\n'


def result(content: str) -> Case:
    """A valid benchmark whose run directory holds ``content`` as its result.json."""

    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        argv, _ = bench(GOOD)(box, run, evil)
        path = box.out / run.config.stem / 'seed0' / 'result.json'
        path.parent.mkdir(parents=True)
        path.write_text(content)
        return argv, str(path)

    return case


CASES: dict[str, Case] = {
    'file missing': lambda box, run, evil: (
        ['--config', str(box.inputs / 'nope.yaml')],
        'nope.yaml',
    ),
    'file a directory': lambda box, run, evil: (
        ['--config', str(box.inputs)],
        str(box.inputs),
    ),
    'file empty': bench(''),
    'file not yaml': bench('seeds: [\n'),
    'file binary': lambda box, run, evil: (
        ['--config', str(_binary(box))],
        str(box.inputs / 'bench.yaml'),
    ),
    'file a list': bench('- 1\n'),
    'unknown key': bench(GOOD + 'colour: blue\n', 'colour'),
    'missing key': bench(
        'seeds: [0]\nmethods: {A: {configs: [CONFIG]}}\n', 'output_dir'
    ),
    'seeds a string': bench(GOOD.replace('[0]', 'zero'), 'seeds'),
    'seeds of strings': bench(GOOD.replace('[0]', '[a, b]'), 'seeds'),
    'seeds empty': bench(GOOD.replace('[0]', '[]'), 'seeds'),
    'methods a list': bench(
        GOOD.replace('{A: {configs: [CONFIG]}}', '[A, B]'), 'methods'
    ),
    'methods empty': bench(
        GOOD.replace('{A: {configs: [CONFIG]}}', '{}'), 'no methods'
    ),
    'method without configs': bench(
        GOOD.replace('{configs: [CONFIG]}', '{teacher: CONFIG}'), "'A'"
    ),
    'configs a number': bench(GOOD.replace('[CONFIG]', '3'), 'configs'),
    'config missing': bench(GOOD.replace('[CONFIG]', '[gone.yaml]'), 'gone.yaml'),
    'method unknown key': bench(
        GOOD.replace('{configs: [CONFIG]}', '{configs: [CONFIG], seed: 3}'), 'seed'
    ),
    'output_dir a list': bench(GOOD.replace('OUT', '[a, b]'), 'output_dir'),
    'args a string': bench(GOOD + 'args: --trainer.max_epochs=1\n', 'args'),
    'base_configs a number': bench(GOOD + 'base_configs: 1\n', 'base_configs'),
    'config names a function': bench(GOOD.replace('[CONFIG]', '[EVIL]'), 'evil.yaml'),
    'file nested 5000 deep': bench(GOOD + 'args: ' + '[' * 5000 + ']' * 5000 + '\n'),
    'result.json truncated': result('{"name": "fit", "results": {'),
    'result.json a list': result('[1, 2]'),
    'result.json nested 5000 deep': result('[' * 5000 + ']' * 5000),
    'result.json without results': result('{"fingerprint": "x", "run_dir": "r"}'),
    'run_arg unknown option': lambda box, run, evil: (
        [*bench(GOOD)(box, run, evil)[0], '--run_arg=--trainer.bogus=1'],
        'bogus',
    ),
}


def _binary(box: Sandbox) -> Path:
    path = box.inputs / 'bench.yaml'
    path.write_bytes(b'\xff\xfe\x00\x81binary')
    return path


@pytest.mark.parametrize('case', CASES.values(), ids=CASES.keys())
def test_benchmark_hostile(
    case: Case, sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    argv, names = case(sandbox, tiny_run, evil)
    assert_clean_error(geokd(['benchmark', *argv]), 'benchmark', names)


def test_benchmark_never_deletes_foreign_files(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    # A run directory holding the user's files, where the benchmark would train.
    run_dir = sandbox.inputs / 'bench' / 'fit' / 'seed0'
    run_dir.mkdir(parents=True)
    (run_dir / 'thesis.tex').write_text('years of work')
    path = sandbox.inputs / 'bench.yaml'
    path.write_text(
        f'output_dir: {sandbox.inputs / "bench"}\nseeds: [0]\n'
        f'methods: {{A: {{configs: [{tiny_run.config}]}}}}\n'
    )
    outcome = geokd(['benchmark', '--config', str(path)])
    assert_clean_error(outcome, 'benchmark', str(run_dir))
    assert (run_dir / 'thesis.tex').read_text() == 'years of work'


def test_benchmark_alias_bomb_ends_in_one_line_at_once(
    sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    # Nine levels of ten aliases within args: 10^10 strings once expanded.
    levels = ['&l0 [' + ', '.join(['lol'] * 10) + ']']
    levels += [f'&l{i} [' + ', '.join([f'*l{i - 1}'] * 10) + ']' for i in range(1, 10)]
    argv, names = bench(GOOD + f'args: [{", ".join(levels)}]\n')(
        sandbox, tiny_run, evil
    )
    with deadline(60):
        outcome = geokd(['benchmark', *argv])
    assert_clean_error(outcome, 'benchmark', names)
