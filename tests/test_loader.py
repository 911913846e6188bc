"""The one loader of configs and checkpoints."""

from pathlib import Path

import pytest
import torch

from geokd.cli import load_config
from geokd.datamodules import SyntheticMSSARDataModule
from geokd.errors import LoadError
from geokd.loader import load_checkpoint
from geokd.tasks import DisCoMKDTask, SingleModalTask

from .checkpoints import save_checkpoint

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'


def test_several_configs_combine_as_in_fit() -> None:
    cli = load_config(
        [
            '--config', str(CONFIGS / 'baselines' / 'discomkd.yaml'),
            '--config', str(CONFIGS / 'baselines' / 'synthetic.yaml'),
            '--model.init_args.backbone', 'test_resnet',
        ]
    )  # fmt: skip
    assert isinstance(cli.model, DisCoMKDTask)
    assert isinstance(cli.datamodule, SyntheticMSSARDataModule)


def test_config_classes_are_checked_before_instantiation(tmp_path: Path) -> None:
    marker = tmp_path / 'ran'
    config = tmp_path / 'evil.yaml'
    config.write_text(
        'model:\n  class_path: subprocess.getoutput\n'
        f'  init_args: {{cmd: touch {marker}}}\n'
        'data:\n  class_path: geokd.datamodules.SyntheticMSSARDataModule\n'
    )
    with pytest.raises(LoadError, match=r"evil\.yaml: names 'subprocess\.getoutput'"):
        load_config(['--config', str(config)])
    assert not marker.exists()


def test_checkpoint_round_trip_and_errors(tmp_path: Path) -> None:
    task = SingleModalTask('sar', 2, 10, backbone='test_resnet')
    path = tmp_path / 'a.ckpt'
    save_checkpoint(path, task, {'normalization': {}, 'patch_size': 16})
    loaded = load_checkpoint(path)
    assert isinstance(loaded.task, SingleModalTask)
    assert loaded.datamodule_state['patch_size'] == 16
    for key, value in task.state_dict().items():
        torch.testing.assert_close(loaded.task.state_dict()[key], value)
    with pytest.raises(LoadError, match='not a DisCoMKDTask'):
        load_checkpoint(path, DisCoMKDTask)
    unrecorded = tmp_path / 'b.ckpt'
    save_checkpoint(unrecorded, task, record_class=False)
    with pytest.raises(LoadError, match='does not record its task class'):
        load_checkpoint(unrecorded)
    assert isinstance(
        load_checkpoint(unrecorded, SingleModalTask).task, SingleModalTask
    )
    with pytest.raises(LoadError, match='no such checkpoint'):
        load_checkpoint(tmp_path / 'missing.ckpt')
    (tmp_path / 'text.ckpt').write_text('hello')
    with pytest.raises(LoadError, match='not a readable checkpoint'):
        load_checkpoint(tmp_path / 'text.ckpt')
    torch.save({'state_dict': {}}, tmp_path / 'plain.ckpt')
    with pytest.raises(LoadError, match='not a Lightning checkpoint'):
        load_checkpoint(tmp_path / 'plain.ckpt')
    foreign = tmp_path / 'foreign.ckpt'
    save_checkpoint(foreign, task)
    ckpt = torch.load(foreign, weights_only=True)
    ckpt['hyper_parameters']['_class_path'] = 'subprocess.Popen'
    torch.save(ckpt, foreign)
    with pytest.raises(
        LoadError, match=r"'subprocess\.Popen', not a PerClassifierTask"
    ):
        load_checkpoint(foreign)
    ckpt['hyper_parameters']['_class_path'] = 'geokd.tasks.SingleModalTask'
    ckpt['state_dict'] = {'model.0.bogus': torch.zeros(1)}
    torch.save(ckpt, foreign)
    with pytest.raises(LoadError, match='cannot rebuild its SingleModalTask'):
        load_checkpoint(foreign)
