import json
import re
from pathlib import Path

import pytest
import torch

from geokd.export import (
    ModelLoadError,
    SingleSensorClassifier,
    export_checkpoint,
    export_model,
    load_classifier,
    load_exported,
)
from geokd.tasks import (
    DisCoMKDTask,
    DistillationTask,
    MultiModalTeacherTask,
    PerClassifierTask,
    SingleModalTask,
)

from ..checkpoints import save_checkpoint
from ..predict.conftest import CLASSES


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
    fewer = {**meta, 'num_classes': 4, 'class_names': CLASSES[:4]}
    (out / 'model.json').write_text(json.dumps(fewer))
    with pytest.raises(ModelLoadError, match='weights do not match'):
        load_exported(out)
    (out / 'model.json').write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="for 'sar', not 'ms'"):
        load_classifier(out, 'ms')


SAR_NORM = {
    'method': 'standard',
    'shift': [-12.0, -19.0],
    'scale': [5.0, 5.0],
    'to_db': False,
}
MS_NORM = {'method': 'standard', 'shift': [0.0] * 13, 'scale': [1.0] * 13,
           'to_db': False}  # fmt: skip


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'modality': '../../x'}, '"modality": Not of type SafeName'),
        ({'modality': '/abs/path'}, 'SafeName'),
        ({'num_classes': 'ten'}, '"num_classes"'),
        ({'patch_size': 100000}, '"patch_size"'),
        ({'patch_size': 16.5}, '"patch_size"'),
        ({'class_names': None}, 'required: class_names'),
        ({'class_names': CLASSES[:3]}, '3 class_names for num_classes=10'),
        ({'band_names': ['VV']}, '1 band_names for in_channels=2'),
        ({'format_version': 'one'}, '"format_version"'),
        ({'format_version': 99}, '"format_version"'),
        ({'architecture': 'os.system'}, '"architecture"'),
        ({'bogus': 1}, 'bogus'),
        ({'gsd': -10}, '"gsd"'),
        ({'gsd': 'ten'}, '"gsd"'),
        ({'training_data': {'synthetic': 'maybe'}}, '"training_data"'),
        ({'training_data': {'dataset': 'os; rm -rf'}}, '"training_data"'),
        ({'test_metrics': {'sar': {'f1': 'high'}}}, '"test_metrics"'),
        ({'test_metrics': {'sar': {'f1': float('nan')}}}, 'must be finite'),
        ({'exported_at': 'yesterday'}, '"exported_at"'),
    ],
)
def test_metadata_is_validated_before_use(
    tmp_path: Path, sar_model: SingleSensorClassifier, change: dict, message: str
) -> None:
    out = export_model(sar_model.model, sar_model.metadata, tmp_path / 'm')
    meta = json.loads((out / 'model.json').read_text())
    (out / 'model.json').write_text(json.dumps({**meta, **change}))
    with pytest.raises(ModelLoadError, match=re.escape(message)) as error:
        load_exported(out)
    assert str(out / 'model.json') in str(error.value)
    assert '\n' not in str(error.value)


def test_older_metadata_versions_are_read_with_unknown_provenance(
    tmp_path: Path, sar_model: SingleSensorClassifier
) -> None:
    out = export_model(sar_model.model, sar_model.metadata, tmp_path / 'm')
    meta = json.loads((out / 'model.json').read_text())
    new = ('training_data', 'gsd', 'test_metrics', 'exported_at', 'torch_version')
    old = {k: v for k, v in meta.items() if k not in new} | {'format_version': 2}
    (out / 'model.json').write_text(json.dumps(old))
    loaded = load_exported(out).metadata
    assert loaded.format_version == 2
    assert loaded.training_data is None
    assert loaded.gsd is None
    assert not loaded.synthetic


def test_metadata_that_is_not_an_object(tmp_path: Path) -> None:
    (tmp_path / 'model.safetensors').write_bytes(b'')
    (tmp_path / 'model.json').write_text('[1, 2]')
    with pytest.raises(ModelLoadError, match='not a geokd model metadata file'):
        load_exported(tmp_path)


#: The DataModule provenance of the demo, as recorded in checkpoints.
PROVENANCE = {
    'datamodule': 'geokd.datamodules.synthetic.SyntheticMSSARDataModule',
    'dataset': 'geokd.datasets.synthetic.SyntheticMSSAR',
    'synthetic': True,
    'gsd': {'ms': 10.0, 'sar': 10.0},
}


def task_checkpoint(
    path: Path, task: PerClassifierTask, patch_size: int | None
) -> PerClassifierTask:
    """Save a task as geokd fit does, with the DataModule state of the demo."""
    state: dict = {
        'normalization': {'ms': MS_NORM, 'sar': SAR_NORM},
        'band_names': {'sar': ['VV', 'VH']},
        'provenance': PROVENANCE,
    }
    if patch_size:
        state['patch_size'] = patch_size
    save_checkpoint(path, task, state)
    return task.eval()


def fake_checkpoint(path: Path, patch_size: int | None) -> DisCoMKDTask:
    """A DisCoMKDTask checkpoint as Lightning writes it."""
    torch.manual_seed(1)
    task = DisCoMKDTask(
        {'ms': 13, 'sar': 2}, 10, backbone='test_resnet', class_names=CLASSES
    )
    return task_checkpoint(path, task, patch_size)  # type: ignore[return-value]


def test_checkpoint_export_matches_extract(tmp_path: Path) -> None:
    task = fake_checkpoint(tmp_path / 'a.ckpt', patch_size=32)
    out = export_checkpoint(tmp_path / 'a.ckpt', tmp_path / 'export')
    assert set(out) == {'ms', 'sar'}
    sar = load_classifier(out['sar'])
    assert sar.metadata.patch_size == 32
    assert sar.metadata.band_names == ['VV', 'VH']
    assert sar.metadata.source == str(tmp_path / 'a.ckpt')
    assert sar.metadata.architecture == 'discomkd_branch'
    assert sar.metadata.method == 'DisCoM-KD'
    # The checkpoint's provenance; geokd export ran no test: no metrics.
    assert sar.metadata.synthetic
    assert sar.metadata.gsd == 10.0
    assert sar.metadata.test_metrics is None
    provenance = sar.metadata.provenance
    assert provenance['training_data']['datamodule'] == PROVENANCE['datamodule']
    assert provenance['band_names'] == ['VV', 'VH']
    assert provenance['torch_version'] == torch.__version__
    from_ckpt = load_classifier(tmp_path / 'a.ckpt', 'sar')
    x = torch.randn(2, 2, 32, 32)
    with torch.inference_mode():
        expected = task.model.extract('sar')(x)
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
    with pytest.raises(ModelLoadError, match="no single-sensor classifier 'rgb'"):
        load_classifier(tmp_path / 'a.ckpt', 'rgb', patch_size=16)
    (tmp_path / 'bad.ckpt').write_bytes(b'not a checkpoint')
    with pytest.raises(ModelLoadError, match='not a readable checkpoint'):
        load_classifier(tmp_path / 'bad.ckpt', 'sar')


def test_baseline_and_student_checkpoints_export_and_predict(tmp_path: Path) -> None:
    teacher = task_checkpoint(
        tmp_path / 'teacher.ckpt',
        MultiModalTeacherTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet'),
        patch_size=16,
    )
    with pytest.raises(ModelLoadError, match='no single-sensor classifier'):
        export_checkpoint(tmp_path / 'teacher.ckpt', tmp_path / 'out')
    assert teacher.deployable_classifiers() == {}
    tasks = {
        'single': SingleModalTask('sar', 2, 10, backbone='test_resnet'),
        # The student's checkpoint loads without its teacher's file.
        'student': DistillationTask(
            'sar', 2, 10, str(tmp_path / 'gone.ckpt'), backbone='test_resnet'
        ),
    }
    x = torch.randn(2, 2, 16, 16)
    for name, task in tasks.items():
        task_checkpoint(tmp_path / f'{name}.ckpt', task, patch_size=16)
        [out] = export_checkpoint(tmp_path / f'{name}.ckpt', tmp_path / name).values()
        loaded = load_classifier(out)
        assert loaded.metadata.architecture == 'linear'
        assert loaded.metadata.method == task.method_name
        with torch.inference_mode():
            assert torch.equal(loaded.model(x), task.model(x))
