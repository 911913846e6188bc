"""Many scenes in parallel: ``geokd predict --workers 2`` against ``--workers 1``.

Eight scenes are mosaicked from the real Sentinel-1 chip of
``../shared/realdata/sen1floods11`` (VV, VH in dB) and classified end to end by the
``geokd predict`` command in a fresh process, alternately with one and two workers
(one worker classifies in the command's own process, with every core's thread; two
workers are spawned processes with half the threads each). Printed, from one run:

1. the speed-up: median wall time of ``--workers 1`` / ``--workers 2`` (target >= 1.6
   on two cores, on an idle machine: the load average is printed with it), and a
   check that both wrote the same bytes. A third set-up, ``--workers 1`` limited to
   one thread (``OMP_NUM_THREADS=1``), separates the two ways of using the cores:
   threads inside one process (PyTorch's intra-op parallelism, which a serial run
   already uses) and processes;
2. peak RSS per worker over the eight scenes against a worker that classifies one
   scene (target <= 1.2: memory per worker is that of one scene).

The model is a randomly initialised ResNet-18 SAR branch (weights do not change the
cost).

    .venv/bin/python benchmarks/predict_scale.py [--scenes 8] [--size 1536]
        [--rounds 2] [--backbone resnet18]
"""

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from predict_throughput import REALDATA, classifier, mosaic

from geokd.export import export_model
from geokd.predict import PredictOptions
from geokd.predict.workers import classify_scenes

RASTERS = ('classes.tif', 'confidence.tif')


def timed_predict(
    scenes: list[Path], model: Path, out: Path, workers: int, threads: int | None
) -> float:
    """Wall time of ``geokd predict SCENES --workers N`` in a fresh process."""
    argv = [
        sys.executable, '-m', 'geokd', 'predict', *map(str, scenes),
        '--model', str(model), '-o', f'{out}/', '--quiet', '--device', 'cpu',
        '--workers', str(workers),
    ]  # fmt: skip
    env = dict(os.environ)
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    return time.perf_counter() - start


def same_bytes(a: Path, b: Path, scenes: list[Path]) -> bool:
    """Whether two output directories hold the same rasters for every scene."""
    return all(
        filecmp.cmp(a / f'{s.stem}_{r}', b / f'{s.stem}_{r}', shallow=False)
        for s in scenes
        for r in RASTERS
    )


def speedup(
    args: argparse.Namespace, scenes: list[Path], model: Path, tmp: Path
) -> None:
    load_before = os.getloadavg()
    setups = {'w1': (1, None), 'w2': (2, None), 'w1t1': (1, 1)}
    times: dict[str, list[float]] = defaultdict(list)
    for r in range(args.rounds):
        for name, (workers, threads) in setups.items():
            out = tmp / f'{name}_r{r}'
            times[name].append(timed_predict(scenes, model, out, workers, threads))
    load_after = os.getloadavg()
    one, two, single = (statistics.median(times[k]) for k in ('w1', 'w2', 'w1t1'))
    same = same_bytes(tmp / 'w1_r0', tmp / 'w2_r0', scenes) and same_bytes(
        tmp / 'w1_r0', tmp / 'w1t1_r0', scenes
    )
    print(
        f'speed-up: {len(scenes)} scenes of {args.size}x{args.size}, {args.backbone}, '
        f'{os.cpu_count()} cores, {args.rounds} rounds (alternating)'
    )
    for label, key in [('--workers 1', 'w1'), ('--workers 2', 'w2'),
                       ('--workers 1, 1 thread', 'w1t1')]:  # fmt: skip
        runs = sorted(round(t, 1) for t in times[key])
        print(f'  {label:<22} median {statistics.median(times[key]):.1f} s  {runs}')
    print(f'  ratio workers 1 / workers 2 = {one / two:.3f}  (target >= 1.6, idle)')
    print(f'  ratio workers 1 with 1 thread / workers 2 = {single / two:.3f}')
    print(f'  ratio workers 1 with 1 thread / workers 1 = {single / one:.3f}')
    print(f'  same bytes in all: {same}')
    print(
        '  load average (1, 5, 15 min) before '
        f'{", ".join(f"{x:.2f}" for x in load_before)}, after '
        f'{", ".join(f"{x:.2f}" for x in load_after)}'
    )


def memory(scenes: list[Path], model: Path, tmp: Path) -> None:
    options = PredictOptions(device='cpu', quiet=True)
    [(_, single)] = classify_scenes(
        model, 'sar', None, [(scenes[0], tmp / 'mem1' / 's')], options, ['cpu'], []
    )
    jobs = [(s, tmp / 'mem2' / s.stem) for s in scenes]
    peaks: dict[int | None, int] = defaultdict(int)
    counts: dict[int | None, int] = defaultdict(int)
    for _, result in classify_scenes(
        model, 'sar', None, jobs, options, ['cpu', 'cpu'], []
    ):
        assert result.summary is not None, result.error
        peaks[result.worker] = max(peaks[result.worker], result.peak_rss_kib)
        counts[result.worker] += 1
    print(
        f'memory: one worker, one scene: peak RSS {single.peak_rss_kib / 1024:.0f} MiB'
    )
    for worker, peak in peaks.items():
        print(
            f'  worker {worker}: {counts[worker]} scenes, peak RSS {peak / 1024:.0f} MiB,'
            f' ratio to one scene {peak / single.peak_rss_kib:.3f}  (target <= 1.2)'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scenes', type=int, default=8)
    parser.add_argument('--size', type=int, default=1536, help='scene side in pixels')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--backbone', default='resnet18')
    args = parser.parse_args()
    chips = sorted((REALDATA / 'sen1floods11').glob('*S1Hand.tif'))
    if not chips:
        sys.exit(f'no Sentinel-1 chip under {REALDATA / "sen1floods11"}: skipped')
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clf = classifier(args.backbone)
        model = export_model(clf.model, clf.metadata, tmp / 'model')
        first = mosaic(chips[0], tmp / 'scene0.tif', args.size)
        scenes = [first]
        for i in range(1, args.scenes):  # distinct files of the same content
            scenes.append(tmp / f'scene{i}.tif')
            scenes[-1].write_bytes(first.read_bytes())
        speedup(args, scenes, model, tmp)
        memory(scenes, model, tmp)


if __name__ == '__main__':
    main()
