"""Whole-scene prediction: overhead over the forward passes, and memory vs. scene size.

1. Throughput: a scene mosaicked from the real Sentinel-1 chip of
   ``../shared/realdata/sen1floods11`` (VV, VH in dB) is classified end to end by
   ``predict_scene`` (reading, normalisation, patching, writing the COGs and the
   summary), and the same number of patches, already normalised in memory, is passed
   through the model's forward alone with the same batch size. Rounds alternate
   between the two; the ratio of the medians is printed (target: <= 1.25).
   Both run in float32 and in bfloat16 autocast, interleaved: patches/s of each
   precision and their ratio are printed (goal of bf16 on a CPU with native
   bfloat16: >= 1.3x), with the CPU and the flags the choice depends on.
2. Memory: ``geokd predict`` runs in a fresh child process on a 2,048 x 2,048 and an
   8,192 x 8,192 mosaic of the same chip; the ratio of the children's peak RSS is
   printed (target: <= 1.2). These runs use the smallest timm backbone and 128-pixel
   patches so that they take a few minutes on two cores: memory is set by the
   1,024-pixel windows, not by the patch count. ``--memory-evaluation dense`` (with
   ``--memory-stride``) measures the same ratio for dense evaluation's fine maps.

The model is a randomly initialised SAR branch (weights do not change the cost).

    .venv/bin/python benchmarks/predict_throughput.py [--size 1024] [--rounds 3]
        [--backbone resnet18] [--memory-backbone test_resnet] [--device cpu]
        [--memory-evaluation dense --memory-stride 16]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rasterio
import torch
from rasterio.windows import Window

from geokd.export import ModelMetadata, SingleSensorClassifier, export_model
from geokd.models import ModalityBranch
from geokd.precision import describe_cpu
from geokd.predict import PredictOptions, predict_scene
from geokd.transforms import SensorNormalization

#: ../shared/realdata beside the repository; GEOKD_REALDATA points elsewhere (a worktree).
REALDATA = Path(
    os.environ.get(
        'GEOKD_REALDATA', Path(__file__).resolve().parents[2] / 'shared' / 'realdata'
    )
)
PATCH = 64


def mosaic(chip: Path, path: Path, size: int) -> Path:
    """Tile a real chip into a ``size`` x ``size`` scene, written window by window."""
    with rasterio.open(chip) as src:
        data, profile, names = src.read(), src.profile, src.descriptions
    h, w = data.shape[1:]
    profile.update(
        height=size, width=size, tiled=True, blockxsize=512, blockysize=512,
        compress=None, BIGTIFF='IF_SAFER',
    )  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.descriptions = names  # bands are matched by name
        for r in range(0, size, h):
            for c in range(0, size, w):
                win = Window(c, r, min(w, size - c), min(h, size - r))
                dst.write(data[:, : int(win.height), : int(win.width)], window=win)
    return path


def classifier(backbone: str, patch: int = PATCH) -> SingleSensorClassifier:
    torch.manual_seed(0)
    model = ModalityBranch(2, 10, backbone).eval()
    meta = ModelMetadata(
        modality='sar', in_channels=2, num_classes=10,
        class_names=[f'class{i}' for i in range(10)], band_names=['VV', 'VH'],
        normalization=SensorNormalization(shift=[-12.0, -19.0], scale=[5.0, 5.0]).to_dict(),
        patch_size=patch, backbone=backbone, embed_dim=model.embed_dim,
    )  # fmt: skip
    return SingleSensorClassifier(model, meta)


def forward_only(
    clf: SingleSensorClassifier,
    patches: torch.Tensor,
    batch: int,
    device: str,
    precision: str = '32',
) -> float:
    model = clf.model.to(device)
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(patches), batch):
            x = patches[i : i + batch].to(device)
            kind = 'cuda' if device.startswith('cuda') else 'cpu'
            mixed = {'bf16-mixed': torch.bfloat16, '16-mixed': torch.float16}
            with torch.autocast(kind, mixed.get(precision), enabled=precision in mixed):
                model(x).float().softmax(1).cpu()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def throughput(args: argparse.Namespace, chip: Path, tmp: Path) -> None:
    scene = mosaic(chip, tmp / f'scene{args.size}.tif', args.size)
    clf = classifier(args.backbone)
    with rasterio.open(scene) as src:
        pixels = torch.from_numpy(src.read())
    patches = pixels.unfold(1, PATCH, PATCH).unfold(2, PATCH, PATCH)
    patches = patches.permute(1, 2, 0, 3, 4).reshape(-1, 2, PATCH, PATCH)
    patches = clf.metadata.preprocessing(patches).contiguous()
    precisions = ['32', 'bf16-mixed']
    options = {
        p: PredictOptions(
            batch_size=args.batch_size,
            device=args.device,
            quiet=True,
            overwrite=True,
            precision=p,
        )
        for p in precisions
    }
    # Warm-up of both paths (allocator, oneDNN kernels, GDAL drivers).
    for p in precisions:
        forward_only(clf, patches[: args.batch_size], args.batch_size, args.device, p)
        predict_scene(clf, scene, tmp / 'warm', options[p])
    t_predict: dict[str, list[float]] = {p: [] for p in precisions}
    t_forward: dict[str, list[float]] = {p: [] for p in precisions}
    for r in range(args.rounds):
        for p in precisions:
            start = time.perf_counter()
            summary = predict_scene(clf, scene, tmp / f'round{r}', options[p])
            t_predict[p].append(time.perf_counter() - start)
            assert summary['options']['precision'] == p
            t_forward[p].append(
                forward_only(clf, patches, args.batch_size, args.device, p)
            )
    assert summary['patches'] == len(patches)
    print(describe_cpu())
    print(
        f'throughput: {args.size}x{args.size} scene, {len(patches)} patches of '
        f'{PATCH}x{PATCH}, {args.backbone}, batch {args.batch_size}, {args.device}, '
        f'{torch.get_num_threads()} threads, {args.rounds} rounds'
    )
    rate = {}
    for p in precisions:
        pr, f = statistics.median(t_predict[p]), statistics.median(t_forward[p])
        rate[p] = len(patches) / pr
        print(f'  {p:>10}: predict end to end {rate[p]:7.0f} patches/s, forward '
              f'passes only {len(patches) / f:7.0f} patches/s, ratio predict / '
              f'forward time {pr / f:.3f} (target <= 1.25)')  # fmt: skip
    print(f'  bf16 / fp32 patches/s, end to end: {rate["bf16-mixed"] / rate["32"]:.3f}'
          ' (goal >= 1.3)')  # fmt: skip


def child_rss(
    scene: Path, model: Path, out: Path, device: str, extra: list[str]
) -> tuple[int, float]:
    """Peak RSS (KiB) and time of ``geokd predict`` (and ``extra``) in a fresh process."""
    argv = [str(scene), '--model', str(model), '-o', str(out), '--quiet']
    argv += ['--overwrite', '--device', device, *extra]
    code = (
        'import resource, sys; from geokd.main import main; '
        f'main(["predict", *{argv!r}]); '
        'print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)'
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, check=True
    )
    return int(result.stdout.split()[-1]), time.perf_counter() - start


def memory(args: argparse.Namespace, chip: Path, tmp: Path) -> None:
    clf = classifier(args.memory_backbone, args.memory_patch)
    model = export_model(clf.model, clf.metadata, tmp / 'model')
    extra = ['--evaluation', args.memory_evaluation]
    if args.memory_stride:
        extra += ['--stride', str(args.memory_stride)]
    rss = {}
    for size in (2048, 8192):
        scene = mosaic(chip, tmp / f'mem{size}.tif', size)
        rss[size], seconds = child_rss(
            scene, model, tmp / f'mem{size}', args.device, extra
        )
        summary = json.loads((tmp / f'mem{size}_summary.json').read_text())
        print(
            f'memory: {size}x{size} scene ({summary["patches"]} patches, '
            f'{summary["options"]["evaluation"]} evaluation, stride {summary["options"]["stride"]}, '
            f'{args.memory_backbone}, patches of {args.memory_patch}): peak RSS {rss[size] / 1024:.0f} MiB, {seconds:.0f} s'
        )
        scene.unlink()
    print(
        f'  ratio peak RSS 8192^2 / 2048^2 = {rss[8192] / rss[2048]:.3f}  (target <= 1.2)'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=1024, help='throughput scene side')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--backbone', default='resnet18')
    parser.add_argument('--memory-backbone', default='test_resnet')
    parser.add_argument(
        '--memory-patch', type=int, default=128,
        help='patch size of the memory runs (fewer patches, same 1024-pixel windows)',
    )  # fmt: skip
    parser.add_argument(
        '--memory-evaluation', choices=['patch', 'dense'], default='patch'
    )
    parser.add_argument('--memory-stride', type=int, help='stride of the memory runs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--skip-memory', action='store_true')
    parser.add_argument('--skip-throughput', action='store_true')
    args = parser.parse_args()
    [chip] = sorted((REALDATA / 'sen1floods11').glob('*_S1Hand.tif'))
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_throughput:
            throughput(args, chip, Path(tmp))
        if not args.skip_memory:
            memory(args, chip, Path(tmp))


if __name__ == '__main__':
    main()
