"""``geokd export`` of segmentation checkpoints: one segmenter per sensor, its branch only."""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from geokd.export import ModelLoadError, export_checkpoint, load_exported
from geokd.main import main
from geokd.tasks import MultiModalSegmentationTeacherTask

from ..checkpoints import save_checkpoint
from ..predict.segmenters import (
    CLASSES,
    PATCH,
    TINY,
    baseline_task,
    datamodule_state,
    discomkd_task,
)


def _weight_names(directory: Path) -> set[str]:
    with safe_open(str(directory / 'model.safetensors'), 'pt') as f:
        return set(f.keys())


def test_discomkd_segmentation_exports_each_sensor_alone(tmp_path: Path) -> None:
    task = discomkd_task()
    path = save_checkpoint(tmp_path / 'seg.ckpt', task, datamodule_state())
    out = export_checkpoint(path, tmp_path / 'export')
    assert set(out) == {'ms', 'sar'}
    x = {'ms': torch.randn(2, 3, PATCH, PATCH), 'sar': torch.randn(2, 2, PATCH, PATCH)}
    for m, directory in out.items():
        branch = task.model.branch(m)
        # Its own branch: no weight of the other sensor, none of the shared heads.
        assert _weight_names(directory) == set(branch.state_dict())
        meta = json.loads((directory / 'model.json').read_text())
        assert meta['kind'] == 'segmenter'
        assert meta['architecture'] == 'discomkd_segmentation_branch'
        assert meta['class_names'] == CLASSES
        assert meta['gsd'] == 10.0
        assert meta['encoder_depth'] == 5
        assert meta['decoder_channels'] == TINY['decoder_channels']
        assert meta['normalization']['method'] == 'per_patch'
        assert meta['format_version'] == 4
        loaded = load_exported(directory)
        with torch.no_grad():
            torch.testing.assert_close(loaded.model(x[m]), branch(x[m]))
        assert loaded.model(x[m]).shape == (2, 2, PATCH, PATCH)


def test_single_sensor_baseline_exports_its_unet(tmp_path: Path) -> None:
    task = baseline_task()
    state = datamodule_state(modalities=('sar',))
    path = save_checkpoint(tmp_path / 'unet.ckpt', task, state)
    [(name, directory)] = export_checkpoint(path, tmp_path / 'export').items()
    assert name == 'sar'
    loaded = load_exported(directory)
    assert loaded.metadata.kind == 'segmenter'
    assert loaded.metadata.architecture == 'unet'
    assert loaded.metadata.method == 'single-modal'
    x = torch.randn(1, 2, PATCH, PATCH)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), task.model(x))


def test_export_command_prints_each_segmenter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save_checkpoint(tmp_path / 'seg.ckpt', discomkd_task(), datamodule_state())
    main(['export', path, '-o', str(tmp_path / 'e'), '--modality', 'sar'])
    assert capsys.readouterr().out == f'sar: {tmp_path / "e" / "sar"}\n'
    assert not (tmp_path / 'e' / 'ms').exists()


def test_multimodal_teacher_has_nothing_to_export(tmp_path: Path) -> None:
    teacher = MultiModalSegmentationTeacherTask({'ms': 3, 'sar': 2}, **TINY)
    path = save_checkpoint(tmp_path / 't.ckpt', teacher, datamodule_state())
    with pytest.raises(ModelLoadError, match='needs every sensor at once'):
        export_checkpoint(path, tmp_path / 'out')


def test_classifier_metadata_says_classifier(tmp_path: Path) -> None:
    from ..predict.conftest import tiny_classifier

    classifier = tiny_classifier('sar')
    assert classifier.metadata.to_dict()['kind'] == 'classifier'


def test_export_command_in_a_fresh_process(tmp_path: Path) -> None:
    # geokd export imports no task itself; a checkpoint's recorded class was
    # refused as 'not a PerClassifierTask' when nothing had imported geokd.tasks.
    import os
    import subprocess
    import sys

    path = save_checkpoint(tmp_path / 'seg.ckpt', baseline_task(), datamodule_state())
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, 'PYTHONPATH': str(root)}
    done = subprocess.run(
        [sys.executable, '-m', 'geokd', 'export', path, '-o', str(tmp_path / 'e')],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert load_exported(tmp_path / 'e' / 'sar').metadata.kind == 'segmenter'
