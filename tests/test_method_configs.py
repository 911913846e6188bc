"""A fast_dev_run of every method's config (baselines and ablations) on tiny data."""

from pathlib import Path

import pytest
import yaml

from geokd.main import main
from geokd.tasks import MultiModalTeacherTask, SingleModalTask

from .checkpoints import save_checkpoint
from .trainers import TINY_SYNTHETIC

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
DATA = CONFIGS / 'baselines' / 'synthetic.yaml'
# configs/baselines/ombria.yaml is OMBRIA's data config; its methods (baselines/ombria/)
# run in tests/test_dataset_configs.py.
METHODS = sorted(
    p
    for p in [*CONFIGS.glob('baselines/*.yaml'), *CONFIGS.glob('ablations/*.yaml')]
    # Base configs (data and trainer, no model) are not methods.
    if p not in (DATA, CONFIGS / 'baselines' / 'ombria.yaml')
    and not p.stem.startswith('ombria_paper')
)


@pytest.fixture(scope='module')
def teachers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp('teachers')
    paths = {}
    for name, task in {
        'geokd.tasks.MultiModalTeacherTask': MultiModalTeacherTask(
            {'ms': 13, 'sar': 2}, 10, backbone='test_resnet'
        ),
        'geokd.tasks.SingleModalTask': SingleModalTask(
            'ms', 13, 10, backbone='test_resnet'
        ),
    }.items():
        paths[name] = save_checkpoint(root / f'{name}.ckpt', task)
    return paths


@pytest.mark.parametrize('config', METHODS, ids=lambda p: p.stem)
def test_method_config_fast_dev_run(
    config: Path,
    teachers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The configs' loggers write relative to the working directory.
    monkeypatch.chdir(tmp_path)
    init_args = yaml.safe_load(config.read_text())['model']['init_args']
    extra = []
    if init_args.get('method'):
        teacher = init_args.get('teacher_class', 'geokd.tasks.MultiModalTeacherTask')
        extra = ['--model.init_args.teacher_checkpoint', teachers[teacher]]
    main(
        [
            'fit',
            '--config', str(DATA),
            '--config', str(config),
            '--trainer.fast_dev_run', 'true',
            '--trainer.default_root_dir', str(tmp_path),
            *TINY_SYNTHETIC,
            '--data.init_args.batch_size', '4',
            *extra,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert 'weighted F1' in out
    modality = init_args.get('modality')
    if modality:
        assert f'\n{modality} ' in out
