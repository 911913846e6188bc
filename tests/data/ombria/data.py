#!/usr/bin/env python3
"""Write a tiny OMBRIA in the layout the OMBRIA repository publishes.

``OmbriaS1/<split>/{AFTER,BEFORE,MASK}/S1_<kind>_NNNN.png`` (8-bit grey) and
``OmbriaS2/<split>/...`` (8-bit RGB) with identical masks (0 or 255), 64x64 tiles: the
top ``f`` of each mask's rows are flooded, and flooded pixels are dark in the AFTER
images. Six training tiles per class (so a 10 % stratified hold-out keeps one per
class), one test tile per class, and ``OMBRIA-38a4903.zip`` (the same folders inside
``OMBRIA-38a4903/``, as GitHub archives a commit), which the download tests serve in
place of the repository URL.
"""

import os
import shutil

import numpy as np
from PIL import Image

SIZE = 64
#: Flooded fraction of each tile's mask, per split: two of each class per row.
FRACTIONS = {
    'train': [0.0, 0.02, 0.2, 0.4, 0.6, 1.0] * 3,
    'test': [0.0, 0.3, 0.8],
}
ARCHIVE = 'OMBRIA-38a4903'


def write_png(path: str, array: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def generate(root: str, size: int = SIZE) -> None:
    """Write both sensors' folders under ``root``."""
    tile = 0
    for split, fractions in FRACTIONS.items():
        for f in fractions:
            tile += 1
            mask = np.zeros((size, size), np.uint8)
            mask[: round(f * size)] = 255
            flood = mask > 0
            ramp = np.tile(np.arange(size, dtype=np.uint8), (size, 1))
            images = {
                'S1': {
                    'after': np.where(flood, 20, 150) + ramp,
                    'before': 150 + ramp,
                },
                'S2': {
                    'after': np.stack(
                        [np.where(flood, 30, 120) + ramp // 2, 90 + ramp, 60 + ramp],
                        axis=-1,
                    ),
                    'before': np.stack([120 + ramp // 2, 90 + ramp, 60 + ramp], -1),
                },
            }
            for sensor, kinds in images.items():
                folder = os.path.join(root, f'Ombria{sensor}', split)
                name = f'{tile:04d}.png'
                for kind, array in {**kinds, 'mask': mask}.items():
                    path = os.path.join(folder, kind.upper(), f'{sensor}_{kind}_{name}')
                    write_png(path, array.astype(np.uint8))


if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ('OmbriaS1', 'OmbriaS2', ARCHIVE):
        shutil.rmtree(os.path.join(here, name), ignore_errors=True)
    generate(here)
    staging = os.path.join(here, ARCHIVE)
    for name in ('OmbriaS1', 'OmbriaS2'):
        shutil.copytree(os.path.join(here, name), os.path.join(staging, name))
    shutil.make_archive(staging, 'zip', here, ARCHIVE)
    shutil.rmtree(staging)
