from pathlib import Path

import pytest

from geokd.main import main

ROOT = Path(__file__).parents[1]
# The EuroSat-MS-SAR and So2Sat DataModules are also trained in
# tests/datamodules/test_multimodal.py; their full CLI runs are kept out of CI.
CONFIGS = [
    pytest.param('eurosat_ms_sar', marks=pytest.mark.slow),
    pytest.param('so2sat', marks=pytest.mark.slow),
    'sun_rgbd',
    'tristar',
]


@pytest.mark.parametrize('name', CONFIGS)
def test_config_runs_on_its_fixture(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    main([
        'fit', '--config', f'configs/{name}.yaml',
        '--trainer.fast_dev_run', 'true',
        '--trainer.default_root_dir', str(tmp_path),
        '--trainer.logger', 'false',
        '--trainer.enable_progress_bar', 'false',
        '--model.init_args.backbone', 'test_resnet',
        '--data.init_args.num_workers', '0',
        '--data.init_args.batch_size', '4',
    ])  # fmt: skip
