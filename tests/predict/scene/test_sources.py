from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from geokd.predict import PredictError
from geokd.predict.scene.sources import band_files_input, scene_input

from ..conftest import TRANSFORM, WriteScene


def _band(write_scene: WriteScene, name: str, scale: int = 1) -> Path:
    """A single-band file of 320 m x 320 m at ``10 * scale`` m."""
    data = np.ones((1, 32 // scale, 32 // scale), 'uint16')
    return write_scene(
        data, name, transform=TRANSFORM @ Affine.scale(scale), nodata=None
    )


def test_a_file_is_one_scene(write_scene: WriteScene) -> None:
    path = write_scene(np.zeros((2, 16, 16), 'float32'), 'scene.tif')
    scene = scene_input(path)
    assert (scene.name, scene.path, scene.band_files) == ('scene', path, ())
    assert scene.files == [path]


def test_a_directory_of_band_files(tmp_path: Path, write_scene: WriteScene) -> None:
    (tmp_path / 'GRANULE' / 'QI_DATA').mkdir(parents=True)
    for name in ('T31_B8A_20m.tif', 'T31_B02_10m.tif', 'T31_B02_20m.tif',
                 'T31_TCI_10m.tif', 'T31_B12_20m.tif'):  # fmt: skip
        _band(write_scene, name, 2 if '20m' in name else 1)
    _band(write_scene, 'GRANULE/QI_DATA/MSK_DETFOO_B03.tif')
    (tmp_path / 'labels.json').write_text('{}')
    scene = scene_input(tmp_path)
    assert scene.name == tmp_path.name
    # Sorted in the sensor's order; the finest B02; TCI and masks left out.
    assert [(b, f.name) for b, f in scene.band_files] == [
        ('B2', 'T31_B02_10m.tif'), ('B8A', 'T31_B8A_20m.tif'), ('B12', 'T31_B12_20m.tif'),
    ]  # fmt: skip


def test_directory_errors(tmp_path: Path, write_scene: WriteScene) -> None:
    (tmp_path / 'empty').mkdir()
    with pytest.raises(PredictError, match=r'empty: no band file found .* --band-file'):
        scene_input(tmp_path / 'empty')
    _band(write_scene, 'a_VV.tif')
    _band(write_scene, 'b_VV.tif')
    with pytest.raises(
        PredictError, match=r'several files for band VV \(a_VV.tif, b_VV'
    ):
        scene_input(tmp_path)


def test_band_file_pairs() -> None:
    scene = band_files_input(['VV=d/S1A_48_VV.tif', 'VH=d/S1A_48_VH.tif'])
    assert scene.name == 'S1A_48'
    assert scene.files == [Path('d/S1A_48_VV.tif'), Path('d/S1A_48_VH.tif')]
    assert str(scene) == 'd/S1A_48 (--band-file VV, VH)'
    assert band_files_input(['VV=x/scene_vv.tif', 'VH=x/scene_vh.tif']).name == 'scene'
    assert band_files_input(['VV=a.tif', 'VH=b.tif']).name == 'scene'
    with pytest.raises(PredictError, match='expected NAME=PATH'):
        band_files_input(['a.tif'])
    with pytest.raises(PredictError, match='band VV given more than once'):
        band_files_input(['vv=a.tif', 'VV=b.tif'])
