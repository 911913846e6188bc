"""Every trained single-sensor classifier deploys: fit, export after fit, predict."""

from pathlib import Path

import pytest
import rasterio

from geokd.export import load_exported
from geokd.main import main
from geokd.tasks import MultiModalTeacherTask

from ..checkpoints import teacher_arguments

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
TINY = [
    '--trainer.max_epochs', '1', '--trainer.limit_train_batches', '1',
    '--trainer.limit_val_batches', '1', '--trainer.limit_test_batches', '1',
    '--trainer.enable_progress_bar', 'false',
    '--model.init_args.backbone', 'test_resnet',
    '--data.init_args.samples_per_class', '10', '--data.init_args.size', '16',
    '--data.init_args.batch_size', '8', '--data.init_args.num_workers', '0',
]  # fmt: skip


@pytest.mark.parametrize(
    ('config', 'method'), [('single_modal_sar', 'single-modal'), ('kd_sar', 'KD')]
)
def test_baseline_and_student_fit_export_and_predict(
    config: str, method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's loggers write under ./runs
    teacher = None
    if method == 'KD':
        teacher = MultiModalTeacherTask(
            {'ms': 13, 'sar': 2}, 10, backbone='test_resnet'
        )
    extra = teacher_arguments(tmp_path, teacher)
    main(
        [
            'fit', '--config', str(CONFIGS / 'baselines' / 'synthetic.yaml'),
            '--config', str(CONFIGS / 'baselines' / f'{config}.yaml'),
            '--trainer.default_root_dir', str(tmp_path / 'run'), *TINY, *extra,
        ]
    )  # fmt: skip
    [export] = {p.parent for p in tmp_path.rglob('model.json')}
    assert export.name == 'sar'
    meta = load_exported(export).metadata
    assert meta.architecture == 'linear'
    assert meta.method == method
    assert meta.band_names == ['VV', 'VH']
    main(
        [
            'predict', '--model', str(export), '--quiet',
            '--synthetic-scene', str(tmp_path / 'scene.tif'), '--synthetic-size', '64',
            '--output', str(tmp_path / 'pred') + '/',
        ]
    )  # fmt: skip
    with rasterio.open(tmp_path / 'pred' / 'scene_classes.tif') as src:
        assert src.shape == (4, 4)
        classes = src.read(1, masked=True)  # the synthetic scene's nodata corner
    assert classes.count() >= 12
    assert (classes.compressed() < 10).all()


def test_stats_reads_several_configs(capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            'stats', '--config', str(CONFIGS / 'baselines' / 'discomkd.yaml'),
            '--config', str(CONFIGS / 'baselines' / 'synthetic.yaml'),
            '--data.init_args.samples_per_class', '10',
            '--data.init_args.size', '16',
            '--model.init_args.backbone', 'test_resnet',
        ]
    )  # fmt: skip
    assert 'normalization' in capsys.readouterr().out
