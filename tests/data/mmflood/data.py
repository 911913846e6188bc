#!/usr/bin/env python3
"""Write a tiny MMFlood in the layout and formats of its Hugging Face release.

``activations/<EMSR code>-<delineation>/{s1_raw,DEM,hydro,mask}/<folder>-<tile>.tif``:
s1_raw 2 bands (VV, VH) float32 linear backscatter with NaN where there is no data, DEM
1 band float32 metres, hydro 1 band uint8 (1 on the river network), mask 1 band uint8
(1 flooded, 0 not), EPSG:4326, as the real tiles; 40x48 pixels here. Only some events
have hydrography, as in the release. ``activations.json`` holds each event's metadata
and split (``subset``); the folder is also packed as ``activations.tar.gz`` and cut
into the 11 ``activations.tar.<NNN>.gz.part`` files that the release publishes.

The left third of each tile is flooded (dark in VV); the first tile of EMSR001 has
no Sentinel-1 data in its top two rows.
"""

import json
import os
import shutil
import tarfile

import numpy as np
import rasterio
from rasterio.transform import from_origin

HEIGHT, WIDTH = 40, 48
#: Degrees per pixel (about 20 m at the equator).
RES = 0.0002
PARTS = 11
#: Event: (split, tiles, has hydrography, longitude of its first tile).
EVENTS = {
    'EMSR001': ('train', 2, True, 10.0),
    'EMSR002': ('train', 1, False, 11.0),
    'EMSR003': ('val', 1, True, 12.0),
    'EMSR004': ('test', 1, True, 13.0),
}


def write(path: str, array: np.ndarray, lon: float, nodata: float | None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    profile = {
        'driver': 'GTiff',
        'width': WIDTH,
        'height': HEIGHT,
        'count': array.shape[0],
        'dtype': array.dtype.name,
        'crs': 'EPSG:4326',
        'transform': from_origin(lon, 45.0, RES, RES),
        'nodata': nodata,
    }
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(array)


def tile(
    folder: str, name: str, lon: float, hydro: bool, rng: np.random.Generator
) -> None:
    """Write the four (or three) rasters of one tile."""
    flood = np.zeros((HEIGHT, WIDTH), bool)
    flood[:, : WIDTH // 3] = True
    vv = np.where(flood, 0.005, 0.12) * rng.uniform(0.8, 1.2, (HEIGHT, WIDTH))
    s1 = np.stack([vv, vv / 5]).astype(np.float32)
    if name == 'EMSR001-0-0':
        s1[:, :2] = np.nan
    dem = (100 + np.arange(WIDTH) * 0.5 + rng.normal(0, 1, (HEIGHT, WIDTH)))[None]
    files = {
        's1_raw': (s1, float('nan')),
        'DEM': (dem.astype(np.float32), None),
        'mask': (flood.astype(np.uint8)[None], None),
    }
    if hydro:
        river = np.zeros((1, HEIGHT, WIDTH), np.uint8)
        river[:, :, WIDTH // 6] = 1
        files['hydro'] = (river, None)
    for kind, (array, nodata) in files.items():
        write(os.path.join(folder, kind, f'{name}.tif'), array, lon, nodata)


def generate(root: str) -> None:
    """Write the tiles, the metadata file and the archive parts under ``root``."""
    rng = np.random.default_rng(0)
    metadata = {}
    for code, (split, tiles, hydro, lon) in EVENTS.items():
        folder = os.path.join(root, 'activations', f'{code}-0')
        for i in range(tiles):
            tile(folder, f'{code}-0-{i}', lon + i * WIDTH * RES, hydro, rng)
        metadata[code] = {
            'title': f'Flood {code}',
            'type': 'Flood',
            'country': 'N/A',
            'start': '2020-01-01T00:00:00',
            'end': '2020-01-15T00:00:00',
            'lat': 45.0,
            'lon': lon,
            'subset': split,
            'delineations': [f'{code}_00'],
        }
    with open(os.path.join(root, 'activations.json'), 'w') as f:
        json.dump(metadata, f, indent=1)
    archive = os.path.join(root, 'activations.tar.gz')
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(os.path.join(root, 'activations'), arcname='activations')
    with open(archive, 'rb') as f:
        data = f.read()
    os.remove(archive)
    size = -(-len(data) // PARTS)
    for i in range(PARTS):
        part = os.path.join(root, f'activations.tar.{i:03}.gz.part')
        with open(part, 'wb') as f:
            f.write(data[i * size : (i + 1) * size])


if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.rmtree(os.path.join(here, 'activations'), ignore_errors=True)
    for name in os.listdir(here):
        if name.startswith('activations.'):
            os.remove(os.path.join(here, name))
    generate(here)
