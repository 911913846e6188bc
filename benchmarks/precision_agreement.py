"""bf16 vs fp32 prediction on REAL scenes: class-map agreement and speed, per model.

``geokd predict --precision auto`` may pick bfloat16 autocast on a CPU only if its
class maps agree with float32's on real scenes in at least 99.5 % of the cells
(and it is faster). For each trained, exported Sentinel-1 classifier given, each
scene is classified end to end by ``predict_scene`` in '32' and in 'bf16-mixed'
(interleaved, the same process), and the class maps are compared cell by cell
(cells classified in both runs). Scenes, from ``../shared/realdata``:

* the Sen1Floods11 Sentinel-1 chip as delivered (VV, VH in dB, EPSG:4326);
* a 2,048 x 2,048 mosaic of that chip (its edges repeat the chip's content);
* OMBRIA's 70 published test tiles (Sentinel-1 VV, 8-bit), laid side by side into
  one 10 m GeoTIFF (a made-up UTM grid: the tiles carry no georeferencing).

    .venv/bin/python benchmarks/precision_agreement.py --model runs/X/export/sar [...]
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from geokd.export.classifier import load_classifier
from geokd.precision import describe_cpu
from geokd.predict import PredictError, PredictOptions, predict_scene

#: ../shared/realdata beside the repository; GEOKD_REALDATA points elsewhere (a worktree).
REALDATA = Path(
    os.environ.get(
        'GEOKD_REALDATA', Path(__file__).resolve().parents[2] / 'shared' / 'realdata'
    )
)
GOAL = 99.5


def ombria_mosaic(path: Path) -> Path:
    """The OMBRIA test tiles' Sentinel-1 AFTER images as one 1-band GeoTIFF."""
    tiles = sorted((REALDATA / 'ombria/OmbriaS1/test/AFTER').glob('*.png'))
    side = int(np.ceil(np.sqrt(len(tiles))))
    size = 256
    data = np.zeros((side * size, side * size), np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, side)
        data[r * size : (r + 1) * size, c * size : (c + 1) * size] = np.asarray(
            Image.open(tile).convert('L')
        )
    with rasterio.open(
        path, 'w', driver='GTiff', width=data.shape[1], height=data.shape[0],
        count=1, dtype='uint8', crs='EPSG:32634',
        transform=from_origin(500000, 4500000, 10, 10),
    ) as dst:  # fmt: skip
        dst.write(data, 1)
        dst.descriptions = ('VV',)
    return path


def chip_mosaic(chip: Path, path: Path, size: int) -> Path:
    """Tile the real chip into a ``size`` x ``size`` scene."""
    with rasterio.open(chip) as src:
        data, profile, names = src.read(), src.profile, src.descriptions
    reps = -(-size // data.shape[1]), -(-size // data.shape[2])
    big = np.tile(data, (1, *reps))[:, :size, :size]
    profile.update(height=size, width=size)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(big)
        dst.descriptions = names
    return path


def classes(prefix: Path) -> np.ndarray:
    with rasterio.open(f'{prefix}_classes.tif') as src:
        return src.read(1, masked=True)


def compare(model: Path, scene: Path, tmp: Path, rounds: int) -> tuple[float, float]:
    """Agreement (% of cells) and the bf16 / fp32 time ratio of one scene."""
    clf = load_classifier(str(model), 'sar')
    times: dict[str, list[float]] = {'32': [], 'bf16-mixed': []}
    maps = {}
    for r in range(rounds):
        for precision in times:
            prefix = tmp / f'{scene.stem}_{precision}_{r}'
            options = PredictOptions(precision=precision, quiet=True, device='cpu')
            start = time.perf_counter()
            predict_scene(clf, scene, prefix, options)
            times[precision].append(time.perf_counter() - start)
            maps[precision] = classes(prefix)
    a, b = maps['32'], maps['bf16-mixed']
    both = ~(np.ma.getmaskarray(a) | np.ma.getmaskarray(b))
    agree = 100 * float((a.data[both] == b.data[both]).mean())
    ratio = statistics.median(times['bf16-mixed']) / statistics.median(times['32'])
    return agree, ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', action='append', required=True, type=Path)
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args()
    [chip] = sorted((REALDATA / 'sen1floods11').glob('*_S1Hand.tif'))
    print(describe_cpu())
    worst = 100.0
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        scenes = [
            chip,
            chip_mosaic(chip, t / 'sen1floods11_mosaic2048.tif', 2048),
            ombria_mosaic(t / 'ombria_test_s1.tif'),
        ]
        for model in args.model:
            for scene in scenes:
                try:
                    agree, ratio = compare(model, scene, t, args.rounds)
                except PredictError as err:  # e.g. a 2-band model on 1-band OMBRIA
                    print(f'{model} | {scene.name}: skipped ({err})')
                    continue
                worst = min(worst, agree)
                print(
                    f'{model} | {scene.name}: {agree:.2f} % of cells agree, '
                    f'time bf16 / fp32 {ratio:.3f}'
                )
    verdict = 'meets' if worst >= GOAL else 'misses'
    print(f'lowest agreement {worst:.2f} % {verdict} the {GOAL} % goal')


if __name__ == '__main__':
    main()
