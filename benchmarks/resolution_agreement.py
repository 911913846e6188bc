"""Class maps of a real scene at 10 m and of its 20 m version, with a trained SAR model.

The real Sentinel-1 chip of ``../shared/realdata/sen1floods11`` is reprojected to UTM
at 10 m and mirrored into a 3 x 3 mosaic (the "10 m original"); its 20 m version
holds the means of its 2 x 2 pixel blocks, on the same extent. Both are classified by
``predict_scene`` with an exported SAR model, and the fraction of cells with the same
class is printed for three ways of reading the 20 m version: at the model's 10 m with
nearest neighbour (geokd's choice) or bilinear interpolation, and as it is (each patch
then covers twice the ground; its cells are compared on the 10 m map's grid).

    .venv/bin/python benchmarks/resolution_agreement.py EXPORT_DIR [--stride 64]

EXPORT_DIR: e.g. ``runs/demo/lightning_logs/version_0/export/sar`` after
``geokd fit --config configs/demo.yaml``.
"""

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject

import geokd.predict.scene.opening
from geokd.export import load_classifier
from geokd.predict import OutputPaths, PredictOptions, predict_scene
from geokd.predict.scene.resampling import ReadGrid, read_grid

REALDATA = Path(__file__).resolve().parents[2] / 'shared' / 'realdata'


def versions(directory: Path) -> None:
    """Write ``ten.tif`` (the 10 m mosaic) and ``twenty.tif`` (its 20 m version)."""
    [chip] = (REALDATA / 'sen1floods11').glob('*_S1Hand.tif')
    with rasterio.open(chip) as src:
        crs = CRS.from_epsg(32630)
        transform, width, height = calculate_default_transform(
            src.crs, crs, src.width, src.height, *src.bounds, resolution=10
        )
        ten = np.full((2, height, width), np.nan, 'float32')
        reproject(src.read(), ten, src_transform=src.transform, src_crs=src.crs,
                  dst_transform=transform, dst_crs=crs, src_nodata=np.nan,
                  dst_nodata=np.nan, resampling=Resampling.bilinear)  # fmt: skip
    ten = ten[:, 8:-8, 8:-8]  # without the reprojection's empty rim
    row = np.concatenate([ten, ten[:, :, ::-1], ten], 2)
    mosaic = np.concatenate([row, row[:, ::-1], row], 1)
    h, w = mosaic.shape[1] // 2 * 2, mosaic.shape[2] // 2 * 2
    mosaic = mosaic[:, :h, :w]
    twenty = mosaic.reshape(2, h // 2, 2, w // 2, 2).mean((2, 4))
    profile = {'driver': 'GTiff', 'count': 2, 'dtype': 'float32', 'crs': crs,
               'nodata': np.nan, 'tiled': True, 'blockxsize': 256, 'blockysize': 256}  # fmt: skip
    for name, data, t in [('ten', mosaic, transform),
                          ('twenty', twenty, transform @ Affine.scale(2))]:  # fmt: skip
        with rasterio.open(directory / f'{name}.tif', 'w', width=data.shape[2],
                           height=data.shape[1], transform=t, **profile) as dst:  # fmt: skip
            dst.write(data)
            dst.descriptions = ('VV', 'VH')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model', help='exported SAR model directory')
    parser.add_argument('--stride', type=int, default=None)
    args = parser.parse_args()
    model = load_classifier(args.model)
    options = PredictOptions(quiet=True, overwrite=True, stride=args.stride)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        versions(directory)

        def classes(name: str, classifier: object = model) -> np.ndarray:
            prefix = directory / f'{name}_map'
            predict_scene(classifier, directory / f'{name}.tif', prefix, options)  # type: ignore[arg-type]
            with rasterio.open(OutputPaths(prefix).classes) as src:
                return src.read(1)

        def agreement(a: np.ndarray, b: np.ndarray) -> str:
            both = (a != 255) & (b != 255)
            return f'{(a[both] == b[both]).mean():.3f} of {both.sum()} cells'

        original = classes('ten')
        for method in (Resampling.nearest, Resampling.bilinear):

            def grid(
                dataset: object, gsd: float | None, m: Resampling = method
            ) -> ReadGrid | None:
                g = read_grid(dataset, gsd)
                return g if g is None else dataclasses.replace(g, resampling=m)

            geokd.predict.scene.opening.read_grid = grid  # type: ignore[assignment]
            print(
                f'20 m read at 10 m, {method.name}: {agreement(original, classes("twenty"))}'
            )
        geokd.predict.scene.opening.read_grid = read_grid
        meta = dataclasses.replace(model.metadata, gsd=None)
        as_is = classes('twenty', dataclasses.replace(model, metadata=meta))
        as_is = as_is.repeat(2, 0).repeat(2, 1)[
            : original.shape[0], : original.shape[1]
        ]
        print(
            f'20 m read as it is (patches twice as large): {agreement(original, as_is)}'
        )


if __name__ == '__main__':
    main()
