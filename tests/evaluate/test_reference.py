from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject

from geokd.datasets.ombria import patch_classes
from geokd.evaluate.areas import cell_areas
from geokd.evaluate.rasters import read_class_map, read_reference
from geokd.evaluate.reference import reference_classes

from .rasters import UTM, pixel_transform, write_map, write_raster

#: Classes of an 8 x 8 map of 100 m cells.
PATTERN = np.add.outer(np.arange(8), np.arange(8)) % 3


def labels_at_10m(classes: np.ndarray) -> np.ndarray:
    """Per-pixel labels (10 m) whose every 100 m cell holds one class."""
    return np.kron(classes, np.ones((10, 10), dtype=classes.dtype))


def test_labels_on_the_same_grid_are_the_map(tmp_path: Path) -> None:
    m = read_class_map(write_map(tmp_path / 'm.tif', PATTERN))
    ref = write_raster(
        tmp_path / 'r.tif', labels_at_10m(PATTERN).astype('int16'), pixel_transform()
    )
    assert (reference_classes(m, read_reference(ref)) == PATTERN).all()


def test_labels_in_another_crs_are_reprojected_onto_the_map(tmp_path: Path) -> None:
    m = read_class_map(write_map(tmp_path / 'm.tif', PATTERN))
    labels = labels_at_10m(PATTERN).astype('int16')
    wgs84 = CRS.from_epsg(4326)
    transform, width, height = calculate_default_transform(
        UTM, wgs84, 80, 80, *rasterio.transform.array_bounds(80, 80, pixel_transform()),
        resolution=2e-5,
    )  # fmt: skip
    warped = np.full((height, width), -1, dtype='int16')
    reproject(
        labels, warped, src_transform=pixel_transform(), src_crs=UTM, src_nodata=-1,
        dst_transform=transform, dst_crs=wgs84, dst_nodata=-1,
        resampling=Resampling.nearest,
    )  # fmt: skip
    ref = write_raster(tmp_path / 'r.tif', warped, transform, wgs84, nodata=-1)
    assert (reference_classes(m, read_reference(ref)) == PATTERN).all()


def test_labels_coarser_than_the_map_fill_its_cells(tmp_path: Path) -> None:
    fine = np.kron(PATTERN, np.ones((4, 4), dtype=int))  # 25 m cells
    m = read_class_map(write_map(tmp_path / 'm.tif', fine, cell=25.0))
    ref = write_raster(
        tmp_path / 'r.tif', PATTERN.astype('uint8'), pixel_transform(100)
    )
    assert (reference_classes(m, read_reference(ref)) == fine).all()


def test_a_cell_takes_the_most_frequent_label(tmp_path: Path) -> None:
    m = read_class_map(write_map(tmp_path / 'm.tif', np.zeros((1, 1))))
    labels = np.zeros((10, 10), 'uint8')  # 30 % class 0
    labels[:4] = 1  # 40 %
    labels[4:7] = 2  # 30 %
    ref = write_raster(tmp_path / 'r.tif', labels, pixel_transform())
    assert reference_classes(m, read_reference(ref)).tolist() == [[1]]
    labels[:2] = 2  # now 50 % class 2
    ref = write_raster(tmp_path / 'r.tif', labels, pixel_transform())
    assert reference_classes(m, read_reference(ref)).tolist() == [[2]]


def test_nodata_and_ignored_values_are_not_labels(tmp_path: Path) -> None:
    m = read_class_map(write_map(tmp_path / 'm.tif', np.zeros((1, 3))))
    labels = np.full((10, 30), 2, 'int16')
    labels[:, :10] = -1  # unlabelled (Sen1Floods11)
    labels[:6, 10:20] = 99  # nodata: 40 % labelled as 2
    labels[:3, 20:] = 99  # 70 % labelled as 2
    ref = write_raster(tmp_path / 'r.tif', labels, pixel_transform(), nodata=99)
    reference = read_reference(ref, ignore=[-1])
    assert reference_classes(m, reference).tolist() == [[-1, -1, 2]]
    assert reference_classes(m, reference, min_labelled=0.3).tolist() == [[-1, 2, 2]]


def test_cells_outside_the_reference_are_unlabelled(tmp_path: Path) -> None:
    m = read_class_map(write_map(tmp_path / 'm.tif', PATTERN))
    half = labels_at_10m(PATTERN)[:, :40].astype('uint8')
    ref = write_raster(tmp_path / 'r.tif', half, pixel_transform())
    classes = reference_classes(m, read_reference(ref))
    assert (classes[:, :4] == PATTERN[:, :4]).all()
    assert (classes[:, 4:] == -1).all()


def test_flood_fraction_follows_the_dataset_rule(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((80, 80)) < np.kron(rng.random((8, 8)), np.ones((10, 10)))
    m = read_class_map(write_map(tmp_path / 'm.tif', PATTERN))
    ref = write_raster(
        tmp_path / 'r.tif', (mask * 255).astype('uint8'), pixel_transform()
    )
    classes = reference_classes(m, read_reference(ref), 'flood-fraction')
    assert (classes == patch_classes(mask, 10)).all()
    assert len(np.unique(classes)) == 3


def test_flood_fraction_counts_labelled_pixels_only(tmp_path: Path) -> None:
    m = read_class_map(write_map(tmp_path / 'm.tif', np.zeros((1, 3))))
    mask = np.zeros((10, 30), 'int16')
    mask[:5, :10] = -1  # half unlabelled: 3 of the 50 labelled flooded, 6 %
    mask[5, :3] = 1
    mask[:, 10:20] = 1  # all flooded
    mask[:8, 20:30] = -1  # 20 % labelled
    ref = read_reference(
        write_raster(tmp_path / 'r.tif', mask, pixel_transform()), [-1]
    )
    classes = reference_classes(m, ref, 'flood-fraction')
    assert classes.tolist() == [[1, 2, -1]]


def test_areas_in_metres_and_degrees() -> None:
    utm = cell_areas(pixel_transform(100), UTM, 3)
    assert utm.tolist() == [1e4] * 3
    # A 0.01 degree cell at the equator: about 1.113 km x 1.106 km.
    deg = cell_areas(Affine(0.01, 0, 0, 0, -0.01, 0.01), CRS.from_epsg(4326), 1)
    assert deg[0] == pytest.approx(1.2308e6, rel=1e-3)
    # Cells shrink toward the pole.
    rows = cell_areas(Affine(1, 0, 0, 0, -1, 80), CRS.from_epsg(4326), 3)
    assert rows[0] < rows[1] < rows[2]
