#!/usr/bin/env python3
"""Write a tiny EuroSat-MS-SAR in torchgeo's Copernicus-Bench layout.

``eurosat_s2/`` (13 bands, uint16) and ``eurosat_s1/`` (VV, VH, float32 dB), each with
``all_imgs/<Class>/<Class>_<n>.tif``, ``eurosat-{train,val,test}.txt`` listing
``<Class>_<n>.jpg`` (as the real split files do) and a zip of the folder, which the
download tests serve in place of the Hugging Face URL.
"""

import os
import shutil

import numpy as np
import rasterio
from rasterio.transform import from_origin

SIZE = 16
CLASSES = (
    'AnnualCrop', 'HerbaceousVegetation', 'Industrial', 'PermanentCrop', 'River',
    'Forest', 'Highway', 'Pasture', 'Residential', 'SeaLake',
)  # fmt: skip
SPLITS = {'train': 2, 'val': 1, 'test': 1}


def write_tif(path: str, array: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    profile = {
        'driver': 'GTiff',
        'width': array.shape[2],
        'height': array.shape[1],
        'count': array.shape[0],
        'dtype': array.dtype.name,
        'crs': 'EPSG:32633',
        'transform': from_origin(453600, 5165120, 10, 10),
    }
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(array)


def generate(root: str, size: int = SIZE, seed: int = 0) -> None:
    """Write both halves under ``root``; class c has S2 values near 1000 * (c + 1)."""
    rng = np.random.default_rng(seed)
    names: dict[str, list[str]] = {s: [] for s in SPLITS}
    n = 0
    for c, cls in enumerate(CLASSES):
        for split, count in SPLITS.items():
            for _ in range(count):
                n += 1
                name = f'{cls}_{n}.tif'
                names[split].append(name.replace('.tif', '.jpg'))
                ms = rng.integers(0, 500, (13, size, size)) + 1000 * (c + 1)
                sar = rng.normal(-12 - c, 2, (2, size, size))
                for half, array in (
                    ('eurosat_s2', ms.astype(np.uint16)),
                    ('eurosat_s1', sar.astype(np.float32)),
                ):
                    write_tif(os.path.join(root, half, 'all_imgs', cls, name), array)
    for half in ('eurosat_s2', 'eurosat_s1'):
        for split, files in names.items():
            with open(os.path.join(root, half, f'eurosat-{split}.txt'), 'w') as f:
                f.write(''.join(f'{name}\n' for name in files))
        shutil.make_archive(os.path.join(root, half), 'zip', root, half)


if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    for half in ('eurosat_s2', 'eurosat_s1'):
        shutil.rmtree(os.path.join(here, half), ignore_errors=True)
    generate(here)
