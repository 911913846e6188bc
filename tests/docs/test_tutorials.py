"""Run every code block of every tutorial.

Tutorials run top to bottom in a scratch directory (with ``configs`` and ``tests`` linked
in, and ``../shared`` beside it when the real sample data is there), ``bash`` blocks in
bash and ``python`` blocks in one namespace per page. The ``geokd`` on PATH is a wrapper
that appends the tiny settings below to the subcommands they name (fewer epochs, tiny
backbone, test fixtures instead of downloads), so the text is never edited. Fences of
other languages (``text``, ``yaml``) are shown, not run. A tutorial that reads
real data gets the project's copies from ``../shared/realdata`` where the page would
download them (the page keeps folders already there), and is skipped where that folder
is absent.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from geokd.predict.output.writers import class_colors

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / 'shared'
TUTORIALS = sorted((ROOT / 'docs' / 'tutorials').glob('*.md'))
FENCE = re.compile(r'^```(\w+)\n(.*?)^```', re.DOTALL | re.MULTILINE)

_QUICK = (
    '--trainer.fast_dev_run true --model.init_args.backbone test_resnet '
    '--data.init_args.num_workers 0'
)
_EUROSAT_FIXTURE = (
    '--data.init_args.root tests/data/eurosat_ms_sar --data.init_args.download false'
)
_TINY_FIT = (
    '--trainer.max_epochs 1 --trainer.limit_train_batches 2 '
    '--trainer.limit_val_batches 1 --trainer.limit_test_batches 1 '
    '--trainer.enable_progress_bar false --model.init_args.backbone test_resnet '
    '--data.init_args.num_workers 0'
)

#: Per tutorial and subcommand, the arguments that make its commands tiny (and point
#: downloads at the test fixtures).
TINY: dict[str, dict[str, str]] = {
    '01-quickstart': {
        'fit': (
            f'{_TINY_FIT} --data.init_args.samples_per_class 10 --data.init_args.size 16'
        ),
    },
    '02-eurosat-ms-sar': {
        'stats': _EUROSAT_FIXTURE,
        'fit': f'{_EUROSAT_FIXTURE} {_QUICK} --data.init_args.batch_size 4',
    },
    '03-classify-a-scene': {
        'fit': f'{_TINY_FIT} --data.init_args.samples_per_class 10',
        'predict': '--synthetic-size 256 --quiet',
    },
    '05-compare-methods': {
        'benchmark': (
            '--run_arg=--trainer.max_epochs=1 --run_arg=--trainer.limit_train_batches=2 '
            '--run_arg=--data.init_args.samples_per_class=10 '
            '--run_arg=--data.init_args.size=16'
        ),
    },
    # The real OMBRIA and Sentinel-1 chip, a few batches.
    '06-real-floods': {
        'fit': (
            f'{_TINY_FIT} --data.init_args.batch_size 8 --data.init_args.cache_dir null '
            '--data.init_args.stats_samples 16'
        ),
        'predict': '--quiet',
    },
    # The real OMBRIA masks and Sentinel-1 chip, a tiny segmenter, a few batches.
    '07-flood-maps-from-sentinel-1': {
        'fit': (
            '--trainer.max_epochs 1 --trainer.limit_train_batches 2 '
            '--trainer.limit_val_batches 1 --trainer.limit_test_batches 1 '
            '--trainer.enable_progress_bar false --data.init_args.num_workers 0 '
            '--data.init_args.batch_size 8 --data.init_args.stats_samples 16 '
            '--model.init_args.decoder_channels [8,8,8,8,8]'
        ),
    },
}


#: Per tutorial, the data folders its page downloads, and the copies under
#: ``../shared/realdata`` that stand in for the downloads (no network in tests).
REAL_DATA: dict[str, dict[str, str]] = {
    '06-real-floods': {'data/ombria': 'ombria', 'data/sen1floods11': 'sen1floods11'},
    '07-flood-maps-from-sentinel-1': {
        'data/ombria': 'ombria',
        'data/sen1floods11': 'sen1floods11',
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


def tiny_geokd(directory: Path, tiny: dict[str, str]) -> None:
    """Write a ``geokd`` wrapper appending ``tiny[subcommand]`` to its arguments.

    Args:
        directory: Where to write it (put first on PATH).
        tiny: Extra arguments per subcommand.
    """
    real = Path(sys.executable).parent / 'geokd'
    cases = [f'  {sub}) exec {real} "$@" {args} ;;' for sub, args in tiny.items()]
    script = directory / 'geokd'
    script.write_text(
        '#!/usr/bin/env bash\n'
        'case "$1" in\n' + '\n'.join([*cases, f'  *) exec {real} "$@" ;;']) + '\nesac\n'
    )
    script.chmod(0o755)


def check_quickstart_figure(namespace: dict[str, object]) -> None:
    """The quick start plots classes in the class map's own colours, with a legend.

    Args:
        namespace: The page's Python namespace after its last block.
    """
    fig = namespace['fig']
    names = namespace['names']
    table = class_colors(len(names))
    for ax in fig.axes[1:]:
        image = ax.get_images()[0]
        for i, name in enumerate(names):
            shown = tuple(round(255 * c) for c in image.cmap(image.norm(i))[:3])
            assert shown == table[i][:3], (
                f'{name}: {shown} in the figure, {table[i]} in QGIS'
            )
    assert fig.legends, 'the class panels have no legend'
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(names)


#: Per tutorial, checks on the page's Python namespace after its last block.
PAGE_CHECKS = {'01-quickstart': check_quickstart_figure}


#: Tutorials too slow for the CI suite, with the reason (seconds measured in one
#: full run on the shared 2-core machine under load; the suite has 10 minutes).
SLOW = {
    # Classifies scenes with every output option: 59 s.
    '03-classify-a-scene',
    # Trains every method of a benchmark table: 72 s.
    '05-compare-methods',
    # Trains on the real OMBRIA tiles: 313 s.
    '06-real-floods',
    # Scans the masks of all 694 real OMBRIA tiles for each split it lists and trains
    # a segmenter on real patches: about 95 s of CPU, a sixth of the suite's budget.
    '07-flood-maps-from-sentinel-1',
}


@pytest.mark.parametrize(
    'page',
    [
        pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW else p
        for p in TUTORIALS
    ],
    ids=[p.stem for p in TUTORIALS],
)
def test_tutorial_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = REAL_DATA.get(page.stem, {})
    if real and not all((SHARED / 'realdata' / c).is_dir() for c in real.values()):
        pytest.skip('../shared/realdata is not present')
    scratch = tmp_path / 'repo'
    scratch.mkdir()
    for folder, copy in real.items():
        (scratch / folder).parent.mkdir(parents=True, exist_ok=True)
        (scratch / folder).symlink_to(SHARED / 'realdata' / copy)
    for name in ('configs', 'tests'):
        (scratch / name).symlink_to(ROOT / name)
    if SHARED.is_dir():
        (tmp_path / 'shared').symlink_to(SHARED)
    wrapper = tmp_path / '.bin'
    wrapper.mkdir()
    tiny_geokd(wrapper, TINY.get(page.stem, {}))
    monkeypatch.chdir(scratch)
    path = os.pathsep.join([str(wrapper), str(Path(sys.executable).parent)])
    env = {**os.environ, 'PATH': f'{path}{os.pathsep}{os.environ["PATH"]}'}
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
    if page.stem in PAGE_CHECKS:
        PAGE_CHECKS[page.stem](namespace)


@pytest.mark.parametrize('page', sorted(ROOT.glob('docs/**/*.md')), ids=str)
def test_user_docs_never_point_at_the_projects_own_data_folder(page: Path) -> None:
    # Only the project's machines have ../shared: users download the data.
    assert '../shared' not in page.read_text()
