"""Fine class maps: per-patch evaluation vs the shared-trunk (dense) evaluation.

For each subject, one run classifies the same scene with per-patch evaluation at
strides 64 / 32 / 16 / 8 and with dense evaluation (``--evaluation dense``) at
32 / 16 / 8, and prints per method and stride:

* cost: ``predict_scene``'s seconds (as ``geokd predict`` prints them, median of
  ``--rounds``) relative to per-patch evaluation at stride 64, measured in this run;
* agreement with the reference (``geokd evaluate``): weighted F1 and per-class IoU of
  the map's cells against the cell classes computed from the reference;
* agreement with per-patch evaluation at the same stride: the share of cells with the
  same class.

Subjects:

1. ``ombria``: the first ``--tiles`` OMBRIA test tiles (Sentinel-1 AFTER images and
   their per-pixel EMS flood masks, ``../shared/realdata/ombria``) mosaicked into one
   scene (OMBRIA ships PNGs without georeferencing: the mosaic gets a nominal 10 m
   UTM grid), classified by an OMBRIA SAR model (``--ombria-model``, an export of
   ``configs/baselines/ombria.yaml`` + ``ombria/single_modal_sar.yaml``); reference:
   the masks' flooded fraction per cell with OMBRIA's thresholds
   (``--reference-kind flood-fraction``).
2. ``demo``: the synthetic SAR scene of the demo and its truth (per 64 px block), with
   the demo's SAR model (``--demo-model``, an export of ``configs/demo.yaml``).
3. ``cost``: the OMBRIA mosaic of ``--cost-tiles`` tiles with a randomly initialised
   ResNet-18 SAR classifier (``--cost-backbone``; weights do not change the cost): the
   cost ratios of the paper's trunk, whatever backbone the trained models use.

Run with ``nice -n 10`` on a shared machine; a few minutes on two cores:

    .venv/bin/python benchmarks/dense_maps.py --ombria-model runs/.../export/sar \\
        --demo-model runs/demo/.../export/sar [--tiles 4] [--demo-size 512] [--cost-tiles 2] [--rounds 1]
"""

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from rasterio.crs import CRS

from geokd.evaluate.compare import evaluate_map
from geokd.export import ModelMetadata, SingleSensorClassifier, load_exported
from geokd.models import ModalityBranch
from geokd.predict import PredictOptions, predict_scene
from geokd.predict.synthetic_scene import truth_path, write_synthetic_scene

REALDATA = Path(__file__).resolve().parents[2] / 'shared' / 'realdata'
#: (evaluation, stride) of every map, per-patch stride 64 first (the unit of cost).
METHODS = [('patch', 64), ('patch', 32), ('patch', 16), ('patch', 8),
           ('dense', 32), ('dense', 16), ('dense', 8)]  # fmt: skip
#: A nominal grid for OMBRIA's PNGs: 10 m pixels in UTM zone 31N.
NOMINAL = {'crs': CRS.from_epsg(32631), 'origin': (500_000.0, 4_000_000.0)}


def ombria_scene(root: Path, tiles: int, out: Path) -> tuple[Path, Path]:
    """Mosaic the first test tiles' SAR images and masks into two GeoTIFFs."""
    names = sorted((root / 'OmbriaS1' / 'test' / 'AFTER').glob('*.png'))[:tiles]
    cols = int(np.ceil(np.sqrt(tiles)))
    rows = int(np.ceil(tiles / cols))
    sar = np.full((rows * 256, cols * 256), np.nan, np.float32)
    mask = np.full((rows * 256, cols * 256), 255, np.uint8)
    for i, after in enumerate(names):
        r, c = divmod(i, cols)
        window = np.s_[r * 256 : (r + 1) * 256, c * 256 : (c + 1) * 256]
        sar[window] = np.asarray(Image.open(after).convert('L'), np.float32)
        mask_png = after.parent.parent / 'MASK' / after.name.replace('after', 'mask')
        mask[window] = np.asarray(Image.open(mask_png).convert('L')) > 127
    x0, y0 = NOMINAL['origin']
    profile = {
        'driver': 'GTiff', 'height': sar.shape[0], 'width': sar.shape[1], 'count': 1,
        'crs': NOMINAL['crs'], 'transform': Affine(10, 0, x0, 0, -10, y0),
        'tiled': True, 'blockxsize': 256, 'blockysize': 256,
    }  # fmt: skip
    out.mkdir(exist_ok=True)
    scene, reference = out / 'ombria_sar.tif', out / 'ombria_mask.tif'
    with rasterio.open(scene, 'w', dtype='float32', nodata=np.nan, **profile) as dst:
        dst.write(sar, 1)
        dst.set_band_description(1, 'VV')
    with rasterio.open(reference, 'w', dtype='uint8', nodata=255, **profile) as dst:
        dst.write(mask, 1)
    return scene, reference


def random_classifier(backbone: str) -> SingleSensorClassifier:
    """A randomly initialised one-band SAR branch of OMBRIA's classes."""
    import torch

    torch.manual_seed(0)
    model = ModalityBranch(1, 3, backbone).eval()
    meta = ModelMetadata(
        modality='sar', in_channels=1, num_classes=3,
        class_names=['dry', 'partly flooded', 'flooded'], band_names=['VV'],
        normalization={'method': 'per_patch', 'shift': [0.0], 'scale': [1.0]},
        patch_size=64, backbone=backbone, embed_dim=model.embed_dim,
    )  # fmt: skip
    return SingleSensorClassifier(model, meta)


def run_method(
    clf: object, scene: Path, out: Path, evaluation: str, stride: int, rounds: int
) -> tuple[Path, float]:
    """Classify the scene ``rounds`` times; the class map and the median seconds."""
    seconds = []
    for _ in range(rounds):
        options = PredictOptions(
            stride=stride, evaluation=evaluation, device='cpu', overwrite=True,
            quiet=True,
        )  # fmt: skip
        prefix = out / f'{scene.stem}_{evaluation}{stride}'
        summary = predict_scene(clf, scene, prefix, options)
        seconds.append(summary['seconds'])
    return Path(summary['outputs']['classes']), statistics.median(seconds)


def same_class(a: Path, b: Path) -> float:
    """Share of the cells valid in both maps that have the same class."""
    with rasterio.open(a) as x, rasterio.open(b) as y:
        p, q = x.read(1), y.read(1)
        both = (p != x.nodata) & (q != y.nodata)
    return float((p[both] == q[both]).mean())


def measure(
    name: str, clf: object, scene: Path, reference: Path, kind: str, rounds: int,
    out: Path,
) -> list[dict[str, object]]:  # fmt: skip
    """Every method on one subject, as rows of the table."""
    maps, costs = {}, {}
    for evaluation, stride in METHODS:
        if clf.metadata.patch_size % stride:
            continue
        maps[evaluation, stride], costs[evaluation, stride] = run_method(
            clf, scene, out, evaluation, stride, rounds
        )
        print(f'{name}: {evaluation} {stride}: {costs[evaluation, stride]:.2f} s',
              flush=True)  # fmt: skip
    unit = costs['patch', 64]
    rows = []
    for (evaluation, stride), path in maps.items():
        e = evaluate_map(path, reference, kind)
        rows.append({
            'subject': name, 'evaluation': evaluation, 'stride': stride,
            'seconds': round(costs[evaluation, stride], 2),
            'cost': round(costs[evaluation, stride] / unit, 2),
            'weighted_f1': round(e['weighted_f1'], 3),
            'iou': [None if c['iou'] is None else round(c['iou'], 3)
                    for c in e['per_class']],
            'cells': e['cells']['compared'],
            'same_as_patch': round(same_class(path, maps['patch', stride]), 3),
        })  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def table(rows: list[dict[str, object]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        '| subject | evaluation | stride | seconds | cost vs patch 64 | weighted F1 | '
        'IoU per class | cells | same class as patch |',
        '| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ]
    for r in rows:
        iou = ' / '.join('-' if v is None else f'{v:.3f}' for v in r['iou'])
        lines.append(
            f'| {r["subject"]} | {r["evaluation"]} | {r["stride"]} | {r["seconds"]} | '
            f'{r["cost"]:.2f}x | {r["weighted_f1"]:.3f} | {iou} | {r["cells"]} | '
            f'{r["same_as_patch"]:.3f} |'
        )
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ombria-model', type=Path)
    parser.add_argument('--demo-model', type=Path)
    parser.add_argument('--tiles', type=int, default=4)
    parser.add_argument('--demo-size', type=int, default=512)
    parser.add_argument('--cost-backbone', default='resnet18')
    parser.add_argument('--cost-tiles', type=int, default=2, help='0: no cost subject')
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--json', type=Path, help='also write the rows here')
    parser.add_argument('--realdata', type=Path, default=REALDATA)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if args.ombria_model:
            if not (args.realdata / 'ombria').is_dir():
                raise SystemExit(f'{args.realdata / "ombria"} is not present')
            scene, mask = ombria_scene(args.realdata / 'ombria', args.tiles, out)
            clf = load_exported(args.ombria_model)
            rows += measure('OMBRIA test', clf, scene, mask, 'flood-fraction',
                            args.rounds, out)  # fmt: skip
        if args.demo_model:
            scene = out / 'synthetic_sar.tif'
            write_synthetic_scene(scene, 'sar', args.demo_size, args.demo_size)
            clf = load_exported(args.demo_model)
            rows += measure('demo (synthetic)', clf, scene, truth_path(scene),
                            'labels', args.rounds, out)  # fmt: skip
        if args.cost_tiles:
            scene, mask = ombria_scene(
                REALDATA / 'ombria', args.cost_tiles, out / 'cost'
            )
            clf = random_classifier(args.cost_backbone)
            rows += measure(f'cost ({args.cost_backbone}, random)', clf, scene, mask,
                            'flood-fraction', args.rounds, out)  # fmt: skip
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == '__main__':
    main()
