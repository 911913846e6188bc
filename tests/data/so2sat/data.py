#!/usr/bin/env python3
"""Write tiny So2Sat LCZ42 HDF5 files in torchgeo's layout (version 2 and 3_random).

Each file holds ``sen1`` (N, H, W, 8), ``sen2`` (N, H, W, 10) and a one-hot ``label``
(N, 17), as the real files do (smaller and in float32 rather than float64).
"""

import os

import h5py
import numpy as np

SIZE = 8
FILES = {
    'training.h5': 17,
    'validation.h5': 8,
    'testing.h5': 8,
    'random/training.h5': 34,
    'random/testing.h5': 8,
}


def generate(root: str, size: int = SIZE, seed: int = 0) -> None:
    """Write every file under ``root``; sen1 channel 0 equals the class index."""
    rng = np.random.default_rng(seed)
    for name, n in FILES.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        labels = np.arange(n) % 17
        sen1 = rng.normal(0, 1, (n, size, size, 8)).astype(np.float32)
        sen1[..., 0] = labels[:, None, None]
        sen2 = rng.uniform(0, 1, (n, size, size, 10)).astype(np.float32)
        with h5py.File(path, 'w') as f:
            f.create_dataset('sen1', data=sen1)
            f.create_dataset('sen2', data=sen2)
            f.create_dataset('label', data=np.eye(17, dtype=np.float32)[labels])


if __name__ == '__main__':
    generate(os.path.dirname(os.path.abspath(__file__)))
