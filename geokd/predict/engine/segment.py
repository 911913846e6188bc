"""Segmenting a window: per-pixel class probabilities, blended from overlapping tiles.

A segmenter is a dense evaluator whose cell is one pixel. The scene is cut into tiles
of the model's patch size ``P`` on one grid anchored at the scene's origin, ``P / 2``
apart, and each tile is normalised and segmented alone, exactly as the training
patches were. Every pixel's probabilities are the mean of those of the tiles
covering it, weighted by a window that falls off towards each tile's border
(:mod:`.blending`), so no seam is left where tiles meet.

Windows reuse the dense machinery (:func:`~.tiling.dense_windows`): a window reads its
own pixels and one tile of context on every side, so every tile covering one of its
pixels lies wholly in what it read. A pixel thus gets the same tiles, with the same
contents, whatever the window size: the map does not depend on it. Each tile is
normalised as it would be alone, and each forward pass sees a batch of the same size
(``--batch-size`` tiles, or fewer for a small scene; padded), so that a tile's
logits do not depend on the other tiles its window holds either.
"""

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from .blending import blend_patches
from .classify import PAD_TO, WindowClassifier
from .softmax import class_softmax
from .tiling import GridWindow, PatchGrid, dense_windows


def tile_step(tile: int) -> int:
    """Pixels between neighbouring tiles: half a tile (every pixel in two per axis).

    Args:
        tile: Tile side in pixels.

    Returns:
        The step.
    """
    return max(1, tile // 2)


def tile_range(start: int, stop: int, tile: int, extent: int) -> tuple[int, int]:
    """Indexes ``[a, b)`` of the tiles covering pixels ``[start, stop)`` of an axis.

    Tile ``t`` covers pixels ``[t s, t s + tile)`` (``s`` = :func:`tile_step`); the
    tiles of an axis of ``extent`` pixels are those from 0 to the first that reaches
    its end.

    Args:
        start: First pixel.
        stop: One past the last pixel.
        tile: Tile side in pixels.
        extent: Pixels along the axis (the scene's height or width).

    Returns:
        The range of tile indexes.
    """
    s = tile_step(tile)
    last = max(0, -(-(extent - tile) // s))
    return max(0, (start - tile) // s + 1), min(last, (stop - 1) // s) + 1


def segmenter_windows(grid: PatchGrid, size: int) -> Iterator[GridWindow]:
    """Split a scene into square windows of pixels to segment, row by row.

    Args:
        grid: The scene's grid, with the tile as patch and a stride of one pixel.
        size: Window side in pixels.

    Yields:
        The windows: ``cells`` are the window's pixels, ``pixels`` what it reads (one
        tile of context around them), ``patch_rows`` and ``patch_cols`` the indexes
        of the tiles covering its pixels.
    """
    tile = grid.patch_size
    for w in dense_windows(grid, size, tile):
        (r0, r1), (c0, c1) = w.patch_rows, w.patch_cols
        yield replace(
            w,
            patch_rows=tile_range(r0, r1, tile, grid.height),
            patch_cols=tile_range(c0, c1, tile, grid.width),
        )


class WindowSegmenter(WindowClassifier):
    """Turns one window of pixels (with its context) into probabilities per pixel.

    Args:
        classifier: The single-sensor segmenter; moved to ``device``.
        grid: The scene's grid (:func:`segmenter_windows`).
        options: Prediction options (batch size, precision).
        device: The device to segment on.
        nodata: The scene's nodata value.
    """

    @torch.inference_mode()
    def probabilities(self, pixels: np.ndarray, w: GridWindow) -> tuple[Tensor, int]:
        """Segment the tiles covering the window and blend them per pixel.

        Tiles holding no valid pixel are skipped; every other tile is segmented
        (``--min-valid`` does not apply: a tile at the scene's edge is the only one
        covering its outermost pixels). Invalid pixels get no class.

        Args:
            pixels: The window's pixels and context ``(C, h, w)``, NaN outside the
                scene.
            w: The window.

        Returns:
            Probabilities ``(K, rows, cols)`` of the window's pixels (NaN where
            invalid), and the number of tiles segmented.
        """
        p = self.grid.patch_size
        s = tile_step(p)
        (a, b), (c, d) = w.patch_rows, w.patch_cols
        # Where the first tile starts in what was read, and what the tiles span.
        y0, x0 = a * s - int(w.pixels.row_off), c * s - int(w.pixels.col_off)
        span = ((b - a - 1) * s + p, (d - c - 1) * s + p)
        tiles = pixels[:, y0 : y0 + span[0], x0 : x0 + span[1]]
        valid = torch.from_numpy(self.valid_mask(tiles))
        x = torch.from_numpy(np.ascontiguousarray(tiles))
        patches = x.unfold(1, p, s).unfold(2, p, s)  # (C, nr, nc, p, p)
        masks = valid.unfold(0, p, s).unfold(1, p, s)  # (nr, nc, p, p)
        keep = masks.any(-1).any(-1)
        probs = blend_patches(self._segment(patches, masks, keep), keep, s)
        r = int(w.cells.row_off) - a * s
        col = int(w.cells.col_off) - c * s
        h, wd = int(w.cells.height), int(w.cells.width)
        out = probs[:, r : r + h, col : col + wd]
        inside = valid[r : r + h, col : col + wd]
        return torch.where(inside, out, torch.nan), int(keep.sum())

    def _normalize(self, batch: Tensor, mask: Tensor) -> Tensor:
        """Normalise tiles, each as it would be alone.

        Per-patch standardisation takes a faster path when every pixel of its
        input is valid, which rounds differently: whole tiles and tiles with
        nodata are normalised apart, so that a tile's values do not depend on the
        other tiles of its batch (which change with the window size).
        """
        whole = mask.flatten(1).all(1)
        if bool(whole.all()) or not bool(whole.any()):
            return self.norm(batch, valid=mask)
        out = torch.empty_like(batch, dtype=torch.float32)
        out[whole] = self.norm(batch[whole], valid=mask[whole]).float()
        out[~whole] = self.norm(batch[~whole], valid=mask[~whole]).float()
        return out

    def _segment(self, patches: Tensor, masks: Tensor, keep: Tensor) -> Tensor:
        """Per-pixel probabilities ``(nr, nc, K, p, p)`` of the kept tiles, 0 elsewhere.

        Invalid pixels of a kept tile are set to 0 after normalisation (the mean).
        """
        rows, cols = keep.nonzero(as_tuple=True)
        p = patches.shape[-1]
        probs = torch.zeros(*keep.shape, self.num_classes, p, p)
        # A scene-wide batch size, a multiple of PAD_TO: CPU kernels (oneDNN)
        # pick thread-dependent reductions for small batches, and --workers runs
        # with fewer threads. Never far beyond the tiles there are.
        grid = self.grid
        tiles_y = tile_range(0, grid.height, p, grid.height)
        tiles_x = tile_range(0, grid.width, p, grid.width)
        tiles = (tiles_y[1] - tiles_y[0]) * (tiles_x[1] - tiles_x[0])
        n_batch = min(self.options.batch_size, -(-tiles // PAD_TO) * PAD_TO)
        for i in range(0, len(rows), n_batch):
            r, c = rows[i : i + n_batch], cols[i : i + n_batch]
            batch = self._to_device(patches[:, r, c].transpose(0, 1))
            mask = self._to_device(masks[r, c])[:, None]
            batch = torch.where(mask, self._normalize(batch, mask), 0.0)
            n = len(batch)
            if n < n_batch:  # a fixed batch shape: logits independent of the window
                batch = torch.cat(
                    [batch, batch.new_zeros(n_batch - n, *batch.shape[1:])]
                )
            if self.cuda:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.autocast(
                self.device.type,
                dtype=self.autocast,
                enabled=self.autocast is not None,
            ):
                logits = self.model(batch)[:n]
            probs[r, c] = class_softmax(logits, 1).cpu()
        return probs
