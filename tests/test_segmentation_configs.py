"""The committed segmentation configs run on their fixtures (tiny encoder, one batch)."""

from pathlib import Path

import pytest

from geokd.cli import load_config
from geokd.main import main
from geokd.tasks import SingleModalSegmentationTask

from .checkpoints import teacher_arguments

ROOT = Path(__file__).parents[1]
TINY = [
    '--trainer.fast_dev_run', 'true',
    '--trainer.logger', 'false',
    '--trainer.enable_progress_bar', 'false',
    '--model.init_args.encoder', 'tu-test_resnet',
    '--model.init_args.decoder_channels', '[8,8,8,8,8]',
    '--data.init_args.batch_size', '4',
]  # fmt: skip


@pytest.mark.parametrize(
    'method',
    sorted((ROOT / 'configs' / 'segmentation' / 'ombria').glob('*.yaml')),
    ids=lambda p: p.stem,
)
def test_ombria_segmentation_configs_run_on_the_fixture(
    method: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The methods of configs/benchmark/ombria_segmentation_cpu.yaml, with its data.
    monkeypatch.chdir(ROOT)
    teacher = None
    if 'kd_' in method.stem:
        teacher = SingleModalSegmentationTask(
            'ms', 3, encoder='tu-test_resnet', decoder_channels=[8, 8, 8, 8, 8]
        )
    extra = teacher_arguments(tmp_path, teacher)
    main([
        'fit', '--config', 'configs/segmentation/ombria.yaml', '--config', str(method),
        '--data.init_args.root', 'tests/data/ombria', '--data.init_args.download', 'false',
        '--trainer.default_root_dir', str(tmp_path), *TINY, *extra,
    ])  # fmt: skip
    assert 'IoU' in capsys.readouterr().out


def test_sen1floods11_config_runs_on_the_fixture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    main([
        'fit', '--config', 'configs/segmentation/sen1floods11.yaml',
        '--config', 'configs/segmentation/sen1floods11/discomkd.yaml',
        '--data.init_args.root', 'tests/data/sen1floods11',
        '--trainer.default_root_dir', str(tmp_path), *TINY,
    ])  # fmt: skip
    assert 'IoU' in capsys.readouterr().out


def test_mmflood_config_runs_on_the_fixture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    main([
        'fit', '--config', 'configs/segmentation/mmflood.yaml',
        '--config', 'configs/segmentation/mmflood/discomkd.yaml',
        '--data.init_args.root', 'tests/data/mmflood', '--data.init_args.download', 'false',
        '--data.init_args.patch_size', '32',
        '--trainer.default_root_dir', str(tmp_path), *TINY,
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert 'IoU' in out
    assert 'dem ' in out


def test_mmflood_config_reads_the_conventional_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No data/mmflood in an empty folder, and no internet in the tests: the config's
    # download fails with one line naming where the data goes.
    (tmp_path / 'configs').symlink_to(ROOT / 'configs')
    monkeypatch.chdir(tmp_path)
    cli = load_config([
        '--config', 'configs/segmentation/mmflood.yaml',
        '--config', 'configs/segmentation/mmflood/discomkd.yaml',
    ])  # fmt: skip
    with pytest.raises(FileNotFoundError) as info:
        cli.datamodule.setup('fit')
    message = str(info.value)
    assert '\n' not in message
    assert 'MMFlood not found under data/mmflood' in message
