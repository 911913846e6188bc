#!/usr/bin/env python3
"""Write tiny paired-folder datasets in the two documented layouts.

* ``sun_rgbd/``: class sub-folders, ``rgb/<scene>/<id>.jpg`` (8-bit RGB) and
  ``depth/<scene>/<id>.png`` (16-bit depth in millimetres), of varying sizes.
* ``tristar/``: flat folders ``depth/`` (16-bit PNG), ``thermal/`` (8-bit PNG) and
  ``rgb/`` (JPEG) with ``manifest.csv`` (file,label,split).
"""

import csv
import os
import shutil

import numpy as np
from PIL import Image

SUN_CLASSES = ('bedroom', 'kitchen', 'office')
TRISTAR_CLASSES = ('walking', 'standing', 'sitting')


def generate_sun_rgbd(root: str, per_class: int = 10, seed: int = 0) -> None:
    """Class c has depth near 1000 * (c + 1) mm; image sizes vary around 24x20."""
    rng = np.random.default_rng(seed)
    for c, cls in enumerate(SUN_CLASSES):
        for i in range(per_class):
            h, w = 20 + i % 3, 24 + i % 2
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            depth = (rng.integers(0, 300, (h, w)) + 1000 * (c + 1)).astype(np.uint16)
            for folder, img, ext in (('rgb', rgb, 'jpg'), ('depth', depth, 'png')):
                path = os.path.join(root, folder, cls, f'{c}{i:03d}.{ext}')
                os.makedirs(os.path.dirname(path), exist_ok=True)
                Image.fromarray(img).save(path)


def generate_tristar(root: str, per_class: int = 6, seed: int = 0) -> None:
    """Flat folders and a manifest: 4 train, 1 val, 1 test sample per class."""
    rng = np.random.default_rng(seed)
    splits = ['train'] * 4 + ['val', 'test']
    rows = []
    for cls in TRISTAR_CLASSES:
        for i in range(per_class):
            name = f'{cls}_{i:02d}'
            depth = rng.integers(500, 4000, (16, 16)).astype(np.uint16)
            thermal = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            for folder, img, ext in (
                ('depth', depth, 'png'),
                ('thermal', thermal, 'png'),
                ('rgb', rgb, 'jpg'),
            ):
                os.makedirs(os.path.join(root, folder), exist_ok=True)
                Image.fromarray(img).save(os.path.join(root, folder, f'{name}.{ext}'))
            rows.append({'file': name, 'label': cls, 'split': splits[i % 6]})
    with open(os.path.join(root, 'manifest.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['file', 'label', 'split'])
        writer.writeheader()
        writer.writerows(rows)


if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    for name, generate in (
        ('sun_rgbd', generate_sun_rgbd),
        ('tristar', generate_tristar),
    ):
        shutil.rmtree(os.path.join(here, name), ignore_errors=True)
        generate(os.path.join(here, name))
