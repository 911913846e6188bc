import json
from pathlib import Path

import pytest
import torch

from geokd.deploy import (
    ModelLoadError,
    SingleSensorClassifier,
    export_checkpoint,
    export_model,
    load_checkpoint,
    load_classifier,
    load_exported,
)
from geokd.models import DisCoMKD
from geokd.tasks import MultiModalTeacherTask, SingleModalTask

from .conftest import CLASSES


def test_roundtrip_gives_the_same_logits(
    tmp_path: Path, sar_model: SingleSensorClassifier
) -> None:
    export_model(sar_model.model, sar_model.metadata, tmp_path / 'sar')
    assert sorted(p.name for p in (tmp_path / 'sar').iterdir()) == [
        'model.json',
        'model.safetensors',
    ]
    loaded = load_exported(tmp_path / 'sar')
    assert loaded.metadata == sar_model.metadata
    x = torch.randn(3, 2, 16, 16)
    with torch.inference_mode():
        assert torch.equal(loaded.model(x), sar_model.model(x))
    meta = json.loads((tmp_path / 'sar' / 'model.json').read_text())
    assert meta['band_names'] == ['VV', 'VH']
    assert meta['patch_size'] == 16
    assert meta['normalization']['shift'] == [-12.0, -19.0]
    assert meta['class_names'] == CLASSES


def test_load_rejects_bad_exports(
    tmp_path: Path, sar_model: SingleSensorClassifier
) -> None:
    with pytest.raises(ModelLoadError, match='no such model'):
        load_classifier(tmp_path / 'missing')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ModelLoadError, match=r'model\.json missing'):
        load_exported(tmp_path / 'empty')
    out = export_model(sar_model.model, sar_model.metadata, tmp_path / 'm')
    meta = json.loads((out / 'model.json').read_text())
    (out / 'model.json').write_text(json.dumps({**meta, 'in_channels': 3}))
    with pytest.raises(ModelLoadError, match='normalisation has 2 bands'):
        load_exported(out)
    (out / 'model.json').write_text(json.dumps({**meta, 'format': 'other'}))
    with pytest.raises(ModelLoadError, match='not a geokd model'):
        load_exported(out)
    (out / 'model.json').write_text(json.dumps({**meta, 'num_classes': 4}))
    with pytest.raises(ModelLoadError, match='weights do not match'):
        load_exported(out)
    (out / 'model.json').write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="for 'sar', not 'ms'"):
        load_classifier(out, 'ms')


def fake_checkpoint(path: Path, patch_size: int | None) -> DisCoMKD:
    """A checkpoint laid out as Lightning writes DisCoMKDTask's."""
    torch.manual_seed(1)
    net = DisCoMKD({'ms': 13, 'sar': 2}, 10, backbone='test_resnet')
    state = {
        'normalization': {
            'ms': {'method': 'standard', 'shift': [0.0] * 13, 'scale': [1.0] * 13,
                   'to_db': False},
            'sar': {'method': 'standard', 'shift': [-12.0, -19.0], 'scale': [5.0, 5.0],
                    'to_db': False},
        },
        'band_names': {'sar': ['VV', 'VH']},
    }  # fmt: skip
    if patch_size:
        state['patch_size'] = patch_size
    torch.save(
        {
            'hyper_parameters': {
                'in_channels': {'ms': 13, 'sar': 2},
                'num_classes': 10,
                'backbone': 'test_resnet',
                'embed_dim': None,
                'class_names': CLASSES,
            },
            'state_dict': {f'model.{k}': v for k, v in net.state_dict().items()},
            'SyntheticMSSARDataModule': state,
        },
        path,
    )
    return net


def test_checkpoint_export_matches_extract(tmp_path: Path) -> None:
    net = fake_checkpoint(tmp_path / 'a.ckpt', patch_size=32)
    out = export_checkpoint(tmp_path / 'a.ckpt', tmp_path / 'export')
    assert set(out) == {'ms', 'sar'}
    sar = load_classifier(out['sar'])
    assert sar.metadata.patch_size == 32
    assert sar.metadata.band_names == ['VV', 'VH']
    assert sar.metadata.source == str(tmp_path / 'a.ckpt')
    from_ckpt = load_classifier(tmp_path / 'a.ckpt', 'sar')
    x = torch.randn(2, 2, 32, 32)
    with torch.inference_mode():
        expected = net.eval().extract('sar')(x)
        assert torch.allclose(sar.model(x), expected)
        assert torch.allclose(from_ckpt.model(x), expected)


def test_checkpoint_errors(tmp_path: Path) -> None:
    fake_checkpoint(tmp_path / 'a.ckpt', patch_size=None)
    with pytest.raises(ModelLoadError, match='no patch size stored'):
        load_classifier(tmp_path / 'a.ckpt', 'sar')
    assert (
        load_classifier(tmp_path / 'a.ckpt', 'sar', patch_size=16).metadata.patch_size
        == 16
    )
    with pytest.raises(ModelLoadError, match='needs --modality'):
        load_classifier(tmp_path / 'a.ckpt')
    with pytest.raises(ModelLoadError, match="no modality 'rgb'"):
        load_classifier(tmp_path / 'a.ckpt', 'rgb', patch_size=16)
    (tmp_path / 'bad.ckpt').write_bytes(b'not a checkpoint')
    with pytest.raises(ModelLoadError, match='unreadable checkpoint'):
        load_classifier(tmp_path / 'bad.ckpt', 'sar')


def test_baseline_checkpoints_are_refused_with_one_line(tmp_path: Path) -> None:
    for name, task in {
        'single': SingleModalTask('sar', 2, 10, backbone='test_resnet'),
        'teacher': MultiModalTeacherTask(
            {'ms': 13, 'sar': 2}, 10, backbone='test_resnet'
        ),
    }.items():
        path = tmp_path / f'{name}.ckpt'
        torch.save(
            {'hyper_parameters': dict(task.hparams), 'state_dict': task.state_dict()},
            path,
        )
        with pytest.raises(ModelLoadError, match='not a geokd DisCoMKDTask checkpoint'):
            load_checkpoint(path, 'sar', patch_size=32)
