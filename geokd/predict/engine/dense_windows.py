"""Dense evaluation of a window: class probabilities of every cell from its box.

See :mod:`.dense` for the network. Every cell of the output grid takes the class of
the patch-sized box centred on it, evaluated on a trunk run once over the window and
``margin`` pixels of context around it; a cell whose box holds fewer valid pixels
than ``--min-valid`` (at a scene's edge, beside nodata) takes the nearest box shifted
inward instead, so valid pixels near edges get a class.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import PredictError
from ...export.classifier import SingleSensorClassifier
from ..options import PredictOptions
from .classify import WindowClassifier
from .dense import DenseClassifier, check_dense_stride, dense_normalize
from .softmax import class_softmax
from .tiling import GridWindow, PatchGrid


def dense_margin(patch_size: int, stride: int) -> int:
    """Context read around a window's cells: one patch, in whole cells.

    Args:
        patch_size: Patch size in pixels.
        stride: Cell size in pixels.

    Returns:
        The margin in pixels, a multiple of the stride.
    """
    return math.ceil(patch_size / stride) * stride


def inward(keep: Tensor, occupied: Tensor, radius: int) -> tuple[Tensor, Tensor]:
    """For every occupied cell, the nearest cell whose box was classified.

    Args:
        keep: ``(rows, cols)`` cells whose centred box holds enough valid pixels.
        occupied: ``(rows, cols)`` cells holding a valid pixel.
        radius: Farthest shift in cells (half a patch: the shifted box still covers
            the cell).

    Returns:
        Row and column ``(rows, cols)`` of the box each cell takes: its own where
        kept, else the nearest kept one (ties in a fixed order), -1 where none.
    """
    rows, cols = keep.shape
    r = torch.arange(rows)[:, None].expand(rows, cols)
    c = torch.arange(cols)[None, :].expand(rows, cols)
    src_r, src_c = torch.where(keep, r, -1), torch.where(keep, c, -1)
    span = range(-radius, radius + 1)
    offsets = sorted(
        ((dy, dx) for dy in span for dx in span),
        key=lambda o: (o[0] ** 2 + o[1] ** 2, o),
    )
    for dy, dx in offsets[1:]:
        missing = occupied & (src_r < 0)
        if not missing.any():
            break
        rr, cc = r + dy, c + dx
        ok = missing & (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        ok[ok.clone()] = keep[rr[ok], cc[ok]]
        src_r, src_c = torch.where(ok, rr, src_r), torch.where(ok, cc, src_c)
    return src_r, src_c


class DenseWindowClassifier(WindowClassifier):
    """Turns one window of pixels (with margin) into class probabilities per cell.

    Args:
        classifier: The single-sensor classifier; moved to ``device``.
        grid: The scene's patch grid (its stride is the cell size).
        options: Prediction options (valid fraction, precision).
        device: The device to classify on.
        nodata: The scene's nodata value.

    Raises:
        PredictError: If dense evaluation cannot give this cell size with this
            model.
    """

    def __init__(
        self,
        classifier: SingleSensorClassifier,
        grid: PatchGrid,
        options: PredictOptions,
        device: torch.device,
        nodata: float | None,
    ) -> None:
        """Initialize a new DenseWindowClassifier instance."""
        super().__init__(classifier, grid, options, device, nodata)
        meta = classifier.metadata
        try:
            check_dense_stride(grid.stride, grid.patch_size)
            dense = DenseClassifier(
                classifier.model,
                meta.backbone,
                meta.in_channels,
                grid.patch_size,
                grid.stride,
            )
        except ValueError as err:
            raise PredictError(f'--evaluation dense: {err}') from err
        self.dense = dense.to(device).eval()
        self.margin = dense_margin(grid.patch_size, grid.stride)

    @torch.inference_mode()
    def probabilities(self, pixels: np.ndarray, w: GridWindow) -> tuple[Tensor, int]:
        """Classify the box centred on each of the window's cells.

        Args:
            pixels: The window's pixels and margin ``(C, h, w)``, NaN outside the
                scene (:func:`~geokd.predict.engine.tiling.dense_windows`).
            w: The window.

        Returns:
            Probabilities ``(K, rows, cols)`` of the window's cells (NaN where no
            box could be classified), and the number of boxes classified.
        """
        s, k = self.grid.stride, self.grid.patch_size // self.grid.stride
        valid = torch.from_numpy(self.valid_mask(pixels))
        x = self._to_device(torch.from_numpy(np.nan_to_num(pixels))[None])
        v = self._to_device(valid[None, None])
        x = dense_normalize(self.norm, x, v, self.grid.patch_size)
        if self.cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(
            self.device.type, dtype=self.autocast, enabled=self.autocast is not None
        ):
            logits = self.dense(x)[0]
        probs = class_softmax(logits, 0).cpu()
        cell = F.avg_pool2d(valid[None, None].float(), s, s)
        box = F.avg_pool2d(
            cell, k + 1, stride=1, padding=k // 2, count_include_pad=True
        )
        box = box[0, 0]
        keep = (box >= self.options.min_valid) & (box > 0)
        rows, cols = inward(keep, cell[0, 0] > 0, k // 2)
        m, h, wd = self.margin // s, int(w.cells.height), int(w.cells.width)
        rows, cols = rows[m : m + h, m : m + wd], cols[m : m + h, m : m + wd]
        out = torch.full((self.num_classes, h, wd), float('nan'))
        found = rows >= 0
        out[:, found] = probs[:, rows[found], cols[found]]
        return out, int(found.sum())
