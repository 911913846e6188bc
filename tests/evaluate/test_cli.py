import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from geokd.datasets.ombria import patch_classes
from geokd.main import main

from ..fresh_interpreter import imports_of
from .rasters import pixel_transform, write_map, write_raster

PATTERN = np.add.outer(np.arange(4), np.arange(4)) % 3


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_prints_and_writes_the_evaluation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapped = PATTERN.copy()
    mapped[0, 0] = 255  # nodata: not compared
    mapped[3, 3] = (PATTERN[3, 3] + 1) % 3  # one wrong cell
    m = write_map(tmp_path / 'scene_classes.tif', mapped)
    labels = np.kron(PATTERN, np.ones((10, 10), 'int16'))
    labels[10:20, 30:40] = -1  # one cell unlabelled
    ref = write_raster(tmp_path / 'labels.tif', labels, pixel_transform())
    code, out, err = run(['evaluate', str(m), str(ref), '--ignore', '-1'], capsys)
    assert code == 0, err
    written = tmp_path / 'scene_classes_evaluation.json'
    assert f'wrote {written}' in out
    assert 'confusion matrix' in out
    assert 'weighted F1' in out
    evaluation = json.loads(written.read_text())
    assert evaluation['cells'] == {'compared': 14, 'map_nodata': 1, 'unlabelled': 1}
    matrix = np.array(evaluation['confusion_matrix']['counts'])
    assert matrix.sum() == 14
    assert np.trace(matrix) == 13
    assert evaluation['overall_accuracy'] == pytest.approx(13 / 14)
    assert evaluation['map_evaluation'] == 'patch'
    per_class = evaluation['per_class']
    assert [c['class'] for c in per_class] == ['dry', 'partly flooded', 'flooded']
    assert sum(c['reference_km2'] for c in per_class) == pytest.approx(14 * 0.01)
    assert sum(c['mapped_km2'] for c in per_class) == pytest.approx(14 * 0.01)
    # A rerun replaces its own evaluation.
    code, _, err = run(['evaluate', str(m), str(ref), '--ignore', '-1'], capsys)
    assert code == 0, err


def test_evaluate_never_replaces_a_file_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = write_map(tmp_path / 'm.tif', PATTERN)
    ref = write_raster(
        tmp_path / 'r.tif', PATTERN.astype('uint8'), pixel_transform(100)
    )
    notes = tmp_path / 'notes.json'
    notes.write_text('{"mine": 1}')
    code, _, err = run(['evaluate', str(m), str(ref), '-o', str(notes)], capsys)
    assert code == 1
    assert 'not replaced' in err
    assert notes.read_text() == '{"mine": 1}'


def test_evaluate_help_imports_no_numerics() -> None:
    out, heavy = imports_of(
        "from geokd.main import main; main(['evaluate', '--help'])",
        ['torch', 'numpy', 'rasterio'],
    )
    assert 'REFERENCE' in out
    assert heavy == []


def test_evaluate_against_sen1floods11_hand_labels(
    realdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    label = realdata / 'sen1floods11' / 'Spain_7370579_LabelHand.tif'
    with rasterio.open(label) as src:
        water = src.read(1)
        crs, transform = src.crs, src.transform
    assert (water == -1).any()
    # A map of the chip by OMBRIA's rule on 32 px cells (unlabelled pixels count dry).
    m = tmp_path / 'chip_classes.tif'
    classes = patch_classes(water == 1, 32).astype('uint8')
    tags = {'CLASS_NAMES': json.dumps(['dry', 'partly flooded', 'flooded'])}
    write_raster(m, classes, transform @ Affine.scale(32), crs, 255, tags)
    argv = ['evaluate', str(m), str(label), '--reference-kind', 'flood-fraction']
    code, _, err = run(argv, capsys)
    assert code == 1
    assert 'holds 0 (dry) and one other value' in err
    code, _out, err = run([*argv, '--ignore', '-1'], capsys)
    assert code == 0, err
    evaluation = json.loads((tmp_path / 'chip_classes_evaluation.json').read_text())
    assert evaluation['cells']['compared'] == 256
    # Only the cells holding the 99 unlabelled pixels may differ.
    unlabelled_cells = len(
        set(zip(*(np.nonzero(water == -1)[i] // 32 for i in (0, 1)), strict=False))
    )
    wrong = 256 - np.trace(np.array(evaluation['confusion_matrix']['counts']))
    assert wrong <= unlabelled_cells
    # The chip is about 5 km x 5 km at 38 degrees north.
    area = sum(c['reference_km2'] for c in evaluation['per_class'])
    assert area == pytest.approx(20.3, rel=0.02)
