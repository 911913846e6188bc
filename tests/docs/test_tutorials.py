"""Run every code block of every tutorial.

Tutorials run top to bottom in a scratch directory (with ``configs`` and ``tests`` linked
in), ``bash`` blocks in bash with the environment's ``geokd`` on PATH and ``python`` blocks
in one namespace per page. Training is made tiny through the documented
``GEOKD_<SUBCOMMAND>_ARGS`` variables below, never by editing the text. Fences of other
languages (``text``, ``yaml``) are shown, not run.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / 'docs' / 'tutorials').glob('*.md'))
FENCE = re.compile(r'^```(\w+)\n(.*?)^```', re.DOTALL | re.MULTILINE)

_QUICK = (
    '--trainer.fast_dev_run true --model.init_args.backbone test_resnet '
    '--data.init_args.num_workers 0'
)
_EUROSAT_FIXTURE = (
    '--data.init_args.root tests/data/eurosat_ms_sar --data.init_args.download false'
)

#: Per tutorial, the environment that makes its commands tiny (and points downloads at
#: the test fixtures).
TINY: dict[str, dict[str, str]] = {
    '01-quickstart': {
        'GEOKD_FIT_ARGS': (
            '--trainer.max_epochs 1 --trainer.limit_train_batches 2 '
            '--trainer.limit_val_batches 1 --trainer.limit_test_batches 1 '
            '--trainer.enable_progress_bar false --model.init_args.backbone test_resnet '
            '--data.init_args.samples_per_class 10 --data.init_args.size 16 '
            '--data.init_args.num_workers 0'
        ),
    },
    '02-eurosat-ms-sar': {
        'GEOKD_STATS_ARGS': _EUROSAT_FIXTURE,
        'GEOKD_FIT_ARGS': f'{_EUROSAT_FIXTURE} {_QUICK} --data.init_args.batch_size 4',
    },
    '03-classify-a-scene': {
        'GEOKD_FIT_ARGS': (
            '--trainer.max_epochs 1 --trainer.limit_train_batches 2 '
            '--trainer.limit_val_batches 1 --trainer.limit_test_batches 1 '
            '--trainer.enable_progress_bar false --model.init_args.backbone test_resnet '
            '--data.init_args.samples_per_class 10 --data.init_args.num_workers 0'
        ),
        'GEOKD_PREDICT_ARGS': '--synthetic-size 256 --quiet',
    },
    '04-your-own-sensors': {'GEOKD_FIT_ARGS': _QUICK},
    '05-compare-methods': {
        'GEOKD_BENCHMARK_ARGS': (
            '--run_arg=--trainer.max_epochs=1 --run_arg=--trainer.limit_train_batches=2 '
            '--run_arg=--data.init_args.samples_per_class=10 '
            '--run_arg=--data.init_args.size=16'
        ),
    },
}


def code_blocks(page: Path) -> list[tuple[str, str]]:
    """The runnable fences of a page, in order.

    Args:
        page: A Markdown file.

    Returns:
        ``(language, code)`` of every ``bash`` and ``python`` fence.
    """
    return [
        (lang, code)
        for lang, code in FENCE.findall(page.read_text())
        if lang in ('bash', 'python')
    ]


@pytest.mark.parametrize('page', TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ('configs', 'tests'):
        (tmp_path / name).symlink_to(ROOT / name)
    for key, value in TINY.get(page.stem, {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    env = {
        **os.environ,
        'PATH': f'{Path(sys.executable).parent}{os.pathsep}{os.environ["PATH"]}',
    }
    namespace: dict[str, object] = {'__name__': f'tutorial_{page.stem}'}
    blocks = code_blocks(page)
    assert blocks, f'{page.name} has no runnable code block'
    for i, (lang, code) in enumerate(blocks):
        if lang == 'bash':
            done = subprocess.run(
                ['bash', '-euo', 'pipefail', '-c', code],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, (
                f'{page.name} block {i} failed:\n{code}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}'
            )
        else:
            exec(compile(code, f'{page.name}[block {i}]', 'exec'), namespace)
