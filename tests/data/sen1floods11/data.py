#!/usr/bin/env python3
"""Write a tiny Sen1Floods11 in the layout and formats of its v1.1 bucket.

``data/flood_events/HandLabeled/{S1Hand,S2Hand,LabelHand}/<event>_<id>_<kind>.tif``:
S1Hand 2 bands (VV, VH) float32 dB with NaN nodata, S2Hand 13 bands int16 with nodata 0,
LabelHand 1 band int16 (1 water, 0 land, -1 unlabelled), EPSG:4326, deflate, as the real
chips; 32x32 pixels here. The top quarter of each chip is water (dark in VV), the bottom
row is unlabelled, and the first chip has a NaN column in S1 (its left edge).
``splits/flood_handlabeled/flood_{train,valid,test,bolivia}_data.csv`` list the chips.
"""

import os
import shutil

import numpy as np
import rasterio
from rasterio.transform import from_origin

SIZE = 32
CHIPS = {
    'flood_train_data.csv': ['Ghana_103272', 'Spain_7370579'],
    'flood_valid_data.csv': ['India_1018327'],
    'flood_test_data.csv': ['USA_430764'],
    'flood_bolivia_data.csv': ['Bolivia_23014'],
}


def write(path: str, array: np.ndarray, nodata: float | None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    profile = {
        'driver': 'GTiff',
        'width': SIZE,
        'height': SIZE,
        'count': array.shape[0],
        'dtype': array.dtype.name,
        'crs': 'EPSG:4326',
        'transform': from_origin(
            -1.5, 6.0, 8.983152841195215e-05, 8.983152841195215e-05
        ),
        'compress': 'deflate',
        'nodata': nodata,
    }
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(array)


def generate(root: str) -> None:
    """Write the chips and split files under ``root``."""
    rng = np.random.default_rng(0)
    water = np.zeros((SIZE, SIZE), bool)
    water[: SIZE // 4] = True
    first = True
    for split_file, chips in CHIPS.items():
        for chip in chips:
            base = os.path.join(root, 'data', 'flood_events', 'HandLabeled')
            vv = np.where(water, -22.0, -9.0) + rng.normal(0, 1, (SIZE, SIZE))
            s1 = np.stack([vv, vv - 6.0]).astype(np.float32)
            if first:
                s1[:, :, 0] = np.nan
                first = False
            s2 = rng.integers(300, 3000, (13, SIZE, SIZE)).astype(np.int16)
            s2[:, water] //= 4
            label = water.astype(np.int16)[None]
            label[:, -1] = -1
            write(os.path.join(base, 'S1Hand', f'{chip}_S1Hand.tif'), s1, float('nan'))
            write(os.path.join(base, 'S2Hand', f'{chip}_S2Hand.tif'), s2, 0.0)
            write(os.path.join(base, 'LabelHand', f'{chip}_LabelHand.tif'), label, None)
        path = os.path.join(root, 'splits', 'flood_handlabeled', split_file)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            for chip in chips:
                f.write(f'{chip}_S1Hand.tif,{chip}_LabelHand.tif\n')


if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ('data', 'splits'):
        shutil.rmtree(os.path.join(here, name), ignore_errors=True)
    generate(here)
