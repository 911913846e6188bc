"""Why dense maps differ from per-patch maps: the normalisation, or the neighbours?

Dense evaluation (``geokd predict --evaluation dense``) changes two things at once
against per-patch evaluation of a ``per_patch``-normalised classifier:

* normalisation: each pixel is standardised by the statistics of a patch-sized box
  around it, not by those of the patch it lies in;
* context: the trunk runs over the whole window, so a patch's features see its
  neighbours' pixels where per-patch evaluation zero-pads at the patch's border.

This script separates them on the OMBRIA test tiles (``../shared/realdata/ombria``):
each tile's 16 patches of 64 px are classified four ways, and each way's weighted F1
against the patch classes of the EMS masks, its agreement with per-patch evaluation
and its class counts are printed:

1. own statistics, alone: per-patch evaluation (the exact answer);
2. box statistics, alone: the dense normalisation, each patch still classified alone;
3. own statistics, with neighbours: per-patch normalisation, the trunk over the tile,
   its features averaged over each patch's cells;
4. box statistics, with neighbours: both changes, as dense evaluation at a stride of
   one patch.

    .venv/bin/python benchmarks/dense_maps_causes.py --model OMBRIA_SAR_EXPORT
"""

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torchmetrics.functional.classification import multiclass_f1_score

from geokd.datasets.ombria import patch_classes
from geokd.export import load_exported
from geokd.models import ModalityBranch
from geokd.predict.engine.dense import local_standardize
from geokd.transforms.normalization import standardize_patches

REALDATA = Path(__file__).resolve().parents[2] / 'shared' / 'realdata'
WAYS = {
    'own statistics, alone (per-patch)': ('own', False),
    'box statistics, alone': ('box', False),
    'own statistics, with neighbours': ('own', True),
    'box statistics, with neighbours (dense)': ('box', True),
}


def blocks(x: Tensor, p: int) -> Tensor:
    """The ``p`` x ``p`` blocks of a ``(1, C, H, W)`` tile, ``(n, C, p, p)`` row by row."""
    b = x.unfold(2, p, p).unfold(3, p, p)[0]  # (C, rows, cols, p, p)
    return b.permute(1, 2, 0, 3, 4).reshape(-1, x.shape[1], p, p)


def own_statistics(x: Tensor, p: int) -> Tensor:
    """Standardise every block of the tile by its own statistics, in place in the tile."""
    b = standardize_patches(x.unfold(2, p, p).unfold(3, p, p))
    return b.permute(0, 1, 2, 4, 3, 5).reshape(x.shape)


def with_neighbours(model: nn.Module, x: Tensor, p: int) -> Tensor:
    """Logits of every block from the trunk run over the whole tile."""

    def pooled(trunk: nn.Module) -> Tensor:
        f = trunk.forward_features(x)
        f = F.avg_pool2d(f, f.shape[-1] * p // x.shape[-1])
        return f[0].permute(1, 2, 0).reshape(-1, f.shape[1])

    if isinstance(model, ModalityBranch):
        z_inv = model.proj(pooled(model.e_inv))
        z_inf = pooled(model.e_spec)[:, : model.embed_dim]
        return model.head(torch.cat([z_inv, z_inf], dim=1))
    trunk, head = model  # a linear classifier: nn.Sequential(trunk, head)
    return head(pooled(trunk))


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--model', type=Path, required=True, help='an OMBRIA SAR export'
    )
    parser.add_argument('--realdata', type=Path, default=REALDATA)
    args = parser.parse_args()
    clf = load_exported(args.model)
    model, p = clf.model.eval(), clf.metadata.patch_size
    if clf.metadata.normalization.get('method') != 'per_patch':
        parser.error(f'{args.model}: not a per_patch-normalised classifier')
    folder = args.realdata / 'ombria' / 'OmbriaS1' / 'test'
    afters = sorted((folder / 'AFTER').glob('S1_after_*.png'))
    if not afters:
        parser.error(f'{folder}: no OMBRIA test tiles')
    predictions: dict[str, list[Tensor]] = {way: [] for way in WAYS}
    labels = []
    for after in afters:
        image = np.asarray(Image.open(after).convert('L'), np.float32)
        mask_png = folder / 'MASK' / after.name.replace('after', 'mask')
        mask = np.asarray(Image.open(mask_png).convert('L')) > 127
        labels.append(torch.from_numpy(patch_classes(mask, p).reshape(-1)))
        x = torch.from_numpy(image)[None, None]
        normalised = {
            'own': own_statistics(x, p),
            'box': local_standardize(x, torch.ones_like(x, dtype=torch.bool), p),
        }
        for way, (stats, context) in WAYS.items():
            xn = normalised[stats]
            logits = with_neighbours(model, xn, p) if context else model(blocks(xn, p))
            predictions[way].append(logits.argmax(1))
    y = torch.cat(labels).long()
    exact = torch.cat(predictions[next(iter(WAYS))])
    k = clf.metadata.num_classes
    print(f'{len(afters)} OMBRIA test tiles, {len(y)} patches of {p} px, '
          f'classes {torch.bincount(y, minlength=k).tolist()}')  # fmt: skip
    print(f'| way | weighted F1 | same class as per-patch | classes ({", ".join(clf.metadata.class_names)}) |')  # fmt: skip
    print('| --- | ---: | ---: | --- |')
    for way in WAYS:
        pred = torch.cat(predictions[way])
        f1 = multiclass_f1_score(pred, y, k, average='weighted')
        same = (pred == exact).float().mean()
        print(f'| {way} | {f1:.3f} | {same:.3f} | {torch.bincount(pred, minlength=k).tolist()} |')  # fmt: skip


if __name__ == '__main__':
    main()
