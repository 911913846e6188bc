"""Samples/s the DataModules deliver vs. samples/s DisCoM-KD's training step consumes.

Writes EuroSat-MS-SAR-shaped GeoTIFFs (64x64; 13-band uint16 and 2-band float32, in
torchgeo's Copernicus-Bench layout) into a temporary folder, then measures on CPU, in
one run:

* delivered: pairs/s out of ``train_dataloader()`` (its workers reading GeoTIFFs)
  through ``on_after_batch_transfer`` (normalisation + paired flip/rotation
  augmentation), reading the GeoTIFFs directly and from the packed cache;
  the same for the REAL OMBRIA tiles of ``../shared/realdata/ombria`` (PNGs, cut
  into 64x64 sub-patches, per-patch normalisation) when that folder is present;
* consumed: pairs/s of the DisCoM-KD training step (forward, backward, Adam step)
  at geokd's default precision on this CPU (bf16 autocast where it has native
  bf16, see :mod:`geokd.precision`: the faster step), for each dataset's bands.

A ratio delivered/consumed above 1 means the data pipeline keeps up with training.
The figures are synthetic-data timings of this machine only: compare the ratios
printed by one run, not absolute numbers across runs.

    python benchmarks/data_throughput.py --backbone resnet18 --num-workers 2
"""

import argparse
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import rasterio
import torch
from lightning.pytorch import Trainer
from rasterio.transform import from_origin

from geokd.datamodules import EuroSATMSSARDataModule, OMBRIADataModule
from geokd.datasets.eurosat_ms_sar import CLASSES
from geokd.precision import describe_cpu, resolve_train_precision
from geokd.tasks import DisCoMKDTask

#: ../shared/realdata beside the repository; GEOKD_REALDATA points elsewhere (a worktree).
REALDATA = Path(
    os.environ.get(
        'GEOKD_REALDATA', Path(__file__).resolve().parents[2] / 'shared' / 'realdata'
    )
)


def write_dataset(root: str, pairs: int, size: int = 64) -> None:
    """Write ``pairs`` GeoTIFF pairs, all in the train split."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(pairs):
        cls = CLASSES[i % len(CLASSES)]
        name = f'{cls}_{i}.tif'
        names.append(name.replace('.tif', '.jpg'))
        for half, data in (
            ('eurosat_s2', rng.integers(0, 10000, (13, size, size), dtype=np.uint16)),
            ('eurosat_s1', rng.normal(-12, 3, (2, size, size)).astype(np.float32)),
        ):
            path = os.path.join(root, half, 'all_imgs', cls, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with rasterio.open(
                path, 'w', driver='GTiff', width=size, height=size,
                count=len(data), dtype=data.dtype.name, crs='EPSG:32633',
                transform=from_origin(0, 0, 10, 10),
            ) as dst:  # fmt: skip
                dst.write(data)
    for half in ('eurosat_s2', 'eurosat_s1'):
        for split in ('train', 'val', 'test'):
            with open(os.path.join(root, half, f'eurosat-{split}.txt'), 'w') as f:
                f.write(''.join(n + '\n' for n in names))


def delivered(
    dm: EuroSATMSSARDataModule | OMBRIADataModule,
    epochs: int,
    max_batches: int | None = None,
) -> float:
    """Pairs/s through the train loader and the on-device normalise + augment."""
    dm.trainer = Trainer(logger=False, enable_checkpointing=False)
    dm.trainer.training = True
    dm.setup('fit')
    loader = dm.train_dataloader()
    for batch in loader:  # warm-up: start the workers, fill the page cache
        dm.on_after_batch_transfer(batch, 0)
        break
    count, start = 0, time.perf_counter()
    for _ in range(epochs):
        for i, batch in enumerate(loader):
            if i == max_batches:
                break
            batch = dm.on_after_batch_transfer(batch, 0)
            count += len(batch['label'])
    return count / (time.perf_counter() - start)


def consumed(
    backbone: str, batch_size: int, steps: int, channels: dict[str, int], classes: int
) -> float:
    """Pairs/s of the DisCoM-KD training step on random normalised batches."""
    task = DisCoMKDTask(channels, classes, backbone=backbone)
    bf16 = resolve_train_precision('auto', 'cpu') == 'bf16-mixed'

    optimizer = task.configure_optimizers()
    task.log = lambda *a, **k: None  # type: ignore[method-assign]
    task.log_dict = lambda *a, **k: None  # type: ignore[method-assign]
    batch = {
        **{
            f'image_{m}': torch.rand(batch_size, c, 64, 64) for m, c in channels.items()
        },
        'label': torch.randint(0, classes, (batch_size,)),
    }

    def step() -> None:
        with torch.autocast('cpu', torch.bfloat16, enabled=bf16):
            loss = task._shared_step(batch, 'train')
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


def row(name: str, values: Iterable[str]) -> str:
    return f'{name:<34}' + ''.join(f'{v:>14}' for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pairs', type=int, default=512)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--backbone', default='resnet18')
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument(
        '--ombria-batches', type=int, default=40, help='OMBRIA batches timed per epoch'
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    normalization = {
        'ms': {'method': 'percentile', 'shift': [0.0] * 13, 'scale': [1e4] * 13},
        'sar': {'method': 'percentile', 'shift': [-25.0] * 2, 'scale': [25.0] * 2},
    }
    with tempfile.TemporaryDirectory() as root:
        write_dataset(root, args.pairs)

        def datamodule(cache: str | None) -> EuroSATMSSARDataModule:
            return EuroSATMSSARDataModule(
                root=root, batch_size=args.batch_size, num_workers=args.num_workers,
                normalization=normalization, cache_dir=cache,
            )  # fmt: skip

        geotiff = delivered(datamodule(None), args.epochs)
        cache = os.path.join(root, 'cache')
        start = time.perf_counter()
        datamodule(cache).setup('fit')  # builds the packed train split once
        build = time.perf_counter() - start
        packed = delivered(datamodule(cache), args.epochs)
    train = consumed(
        args.backbone, args.batch_size, args.steps, {'ms': 13, 'sar': 2}, 10
    )
    print(describe_cpu())
    print(
        f'{args.pairs} pairs 64x64 (13 + 2 bands), batch {args.batch_size}, '
        f'{args.num_workers} workers, {torch.get_num_threads()} torch threads, CPU, '
        f'training step in {resolve_train_precision("auto", "cpu")}'
    )
    print(row('', ['pairs/s', 'vs training']))
    print(row(f'training step ({args.backbone})', [f'{train:.1f}', '1.00']))
    print(row('DataModule, GeoTIFF', [f'{geotiff:.1f}', f'{geotiff / train:.2f}']))
    print(row('DataModule, packed cache', [f'{packed:.1f}', f'{packed / train:.2f}']))
    print(f'packed cache / GeoTIFF delivery: {packed / geotiff:.2f}x '
          f'(cache built once in {build:.1f} s)')  # fmt: skip
    ombria = REALDATA / 'ombria'
    if not ombria.is_dir():
        print(f'OMBRIA: {ombria} absent, skipped')
        return
    step = consumed(args.backbone, args.batch_size, args.steps, {'ms': 3, 'sar': 1}, 3)
    with tempfile.TemporaryDirectory() as cache:
        dm = OMBRIADataModule(
            root=str(ombria), batch_size=args.batch_size,
            num_workers=args.num_workers, cache_dir=cache,
        )  # fmt: skip
        start = time.perf_counter()
        dm.setup('fit')  # packs the train split once, as the benchmark configs do
        build = time.perf_counter() - start
        real = delivered(dm, 1, args.ombria_batches)
    print(row(f'OMBRIA training step ({args.backbone})', [f'{step:.1f}', '1.00']))
    print(row('OMBRIA DataModule, packed cache', [f'{real:.1f}', f'{real / step:.2f}']))
    print(f'(OMBRIA packed once in {build:.1f} s; goal: >= 2x the step)')


if __name__ == '__main__':
    main()
