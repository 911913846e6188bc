from pathlib import Path

import pytest

from geokd.cli import load_config
from geokd.main import main
from geokd.tasks import SingleModalTask

from .checkpoints import teacher_arguments

ROOT = Path(__file__).parents[1]
DATA = 'tests/data'

#: Per real-dataset config: the overrides pointing it at its test fixture, and the
#: folder its committed root names.
FIXTURES = {
    'eurosat_ms_sar': (
        [
            f'--data.init_args.root={DATA}/eurosat_ms_sar',
            '--data.init_args.download=false',
        ],
        'data/eurosat_ms_sar',
    ),
    'so2sat': ([f'--data.init_args.root={DATA}/so2sat'], 'data/so2sat'),
    'sun_rgbd': (
        [
            f'--data.init_args.root={DATA}/paired_folder/sun_rgbd',
            '--model.init_args.num_classes=3',
        ],
        'data/sun_rgbd',
    ),
    'tristar': (
        [f'--data.init_args.root={DATA}/paired_folder/tristar'],
        'data/tristar',
    ),
    'ombria': (
        [f'--data.init_args.root={DATA}/ombria', '--data.init_args.download=false'],
        'data/ombria',
    ),
}

# The EuroSat-MS-SAR and So2Sat DataModules are also trained in
# tests/datamodules/test_multimodal.py; their full CLI runs are kept out of CI.
CONFIGS = [
    pytest.param('eurosat_ms_sar', marks=pytest.mark.slow),
    pytest.param('so2sat', marks=pytest.mark.slow),
    'sun_rgbd',
    'tristar',
    'ombria',
]


@pytest.mark.parametrize('name', CONFIGS)
def test_config_runs_on_its_fixture(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    main([
        'fit', '--config', f'configs/{name}.yaml', *FIXTURES[name][0],
        '--trainer.fast_dev_run', 'true',
        '--trainer.default_root_dir', str(tmp_path),
        '--trainer.logger', 'false',
        '--trainer.enable_progress_bar', 'false',
        '--model.init_args.backbone', 'test_resnet',
        '--data.init_args.num_workers', '0',
        '--data.init_args.batch_size', '4',
    ])  # fmt: skip


@pytest.mark.parametrize('name', sorted(FIXTURES))
def test_committed_config_reads_the_conventional_data_folder(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run from an empty folder: no data/ there, and no internet in the tests (a download
    # attempt fails), so every config stops with one line saying where the data goes.
    for folder in ('configs', 'tests'):
        (tmp_path / folder).symlink_to(ROOT / folder)
    monkeypatch.chdir(tmp_path)
    cli = load_config(['--config', f'configs/{name}.yaml'])
    with pytest.raises(FileNotFoundError) as info:
        cli.datamodule.setup('fit')
    message = str(info.value)
    assert '\n' not in message
    assert FIXTURES[name][1] in message
    assert 'tests/data' not in (ROOT / 'configs' / f'{name}.yaml').read_text()


@pytest.mark.parametrize(
    'method',
    sorted((ROOT / 'configs' / 'baselines' / 'ombria').glob('*.yaml')),
    ids=lambda p: p.stem,
)
def test_ombria_method_configs_run_on_the_fixture(
    method: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The methods of configs/benchmark/ombria_cpu.yaml, with its data config.
    monkeypatch.chdir(ROOT)
    teacher = None
    if method.stem.startswith('kd_'):  # not discomkd_*
        teacher = SingleModalTask('ms', 3, 3, backbone='test_resnet')
    extra = teacher_arguments(tmp_path, teacher)
    main([
        'fit', '--config', 'configs/baselines/ombria.yaml', '--config', str(method),
        *FIXTURES['ombria'][0], '--data.init_args.cache_dir', 'null',
        '--trainer.fast_dev_run', 'true',
        '--trainer.default_root_dir', str(tmp_path),
        '--trainer.logger', 'false',
        '--trainer.enable_progress_bar', 'false',
        '--model.init_args.backbone', 'test_resnet',
        '--data.init_args.batch_size', '4',
        *extra,
    ])  # fmt: skip
    assert 'weighted F1' in capsys.readouterr().out
