"""The window engine: windows of pixels to mean class probabilities per output cell."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from rasterio.windows import Window
from torch import Tensor

from ...errors import PredictError
from ...export.classifier import SingleSensorClassifier
from ..options import PredictOptions, check_device
from .tiling import GridWindow, PatchGrid


def resolve_device(name: str) -> torch.device:
    """The device to classify on, checked to exist on this machine.

    Args:
        name: 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto' (CUDA when available).

    Returns:
        The device.

    Raises:
        PredictError: If the name is not a device geokd classifies on, or the
            device is not available.
    """
    check_device(name)
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    device = torch.device(name)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            msg = (
                f'--device {name}: CUDA is not available on this machine '
                '(use --device cpu)'
            )
            raise PredictError(msg)
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            msg = f'--device {name}: this machine has {count} CUDA device(s)'
            raise PredictError(msg)
    if device.type == 'mps' and not torch.backends.mps.is_available():
        msg = (
            f'--device {name}: MPS (Apple GPU) is not available on this machine '
            '(use --device cpu)'
        )
        raise PredictError(msg)
    return device


#: Batches are padded to a multiple of this size (the default --batch-size).
PAD_TO = 64
#: Autocast data type of each mixed precision.
AUTOCAST = {'16-mixed': torch.float16, 'bf16-mixed': torch.bfloat16}


class WindowClassifier:
    """Turns one window of pixels into mean class probabilities per output cell.

    On CUDA, batches leave pinned host memory with non-blocking copies, and the model
    and its batches are channels-last (NHWC), which tensor cores prefer; elsewhere
    the tensors stay as they are, so CPU results do not depend on these paths.

    Args:
        classifier: The single-sensor classifier; moved to ``device``.
        grid: The scene's patch grid.
        options: Prediction options (batch size, valid fraction, precision).
        device: The device to classify on.
        nodata: The scene's nodata value.
    """

    def __init__(
        self,
        classifier: SingleSensorClassifier,
        grid: PatchGrid,
        options: PredictOptions,
        device: torch.device,
        nodata: float | None,
    ) -> None:
        self.cuda = device.type == 'cuda'
        self.model = classifier.model.to(device).eval()
        if self.cuda:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.norm = classifier.metadata.preprocessing
        self.num_classes = classifier.metadata.num_classes
        self.grid = grid
        self.options = options
        self.device = device
        self.nodata = nodata
        self.autocast = AUTOCAST.get(options.resolved_precision(device.type))

    def valid_mask(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels where every band is finite and differs from the nodata value.

        Args:
            pixels: Pixels ``(C, h, w)``.

        Returns:
            ``(h, w)`` boolean mask.
        """
        valid = np.isfinite(pixels).all(0)
        if self.nodata is not None and np.isfinite(self.nodata):
            valid &= (pixels != self.nodata).all(0)
        return valid

    @torch.inference_mode()
    def probabilities(self, pixels: np.ndarray, w: GridWindow) -> tuple[Tensor, int]:
        """Classify the window's patches and average them per cell.

        Args:
            pixels: The window's pixels ``(C, h, w)``, NaN outside the scene.
            w: The window.

        Returns:
            Mean probabilities ``(K, rows, cols)`` of the window's cells (NaN where
            no valid patch covers a cell), and the number of patches classified.
        """
        p = self.grid.patch_size
        x = torch.from_numpy(pixels)
        valid = torch.from_numpy(self.valid_mask(pixels))
        (ys, xs), (gy, gx) = self._offsets(w, inward=True), self._offsets(w)
        # Every p x p box of the window, as views: patches are picked from them by
        # their offsets, which are regular but for a last patch shifted inward.
        boxes = x.unfold(1, p, 1).unfold(2, p, 1)  # (C, h - p + 1, w - p + 1, p, p)
        masks = valid.unfold(0, p, 1).unfold(1, p, 1)
        table = summed_area(valid)
        fraction = box_counts(table, ys, ys + p, xs, xs + p) / (p * p)
        # The pixels a patch covers on the regular grid, inside what was read: a
        # patch shifted inward is classified only if its own cells hold a valid
        # pixel, as it would be unshifted (a nodata strip at the edge stays nodata).
        bottom, right = (
            (gy + p).clamp(max=valid.shape[0]),
            (gx + p).clamp(max=valid.shape[1]),
        )
        own = box_counts(table, gy, bottom, gx, right)
        keep = (fraction >= self.options.min_valid) & (own > 0)
        probs = self._classify(boxes, masks, keep, ys, xs)
        total, count = self._spread(probs, keep)
        r0 = int(w.cells.row_off) - w.patch_rows[0]
        c0 = int(w.cells.col_off) - w.patch_cols[0]
        h, wd = int(w.cells.height), int(w.cells.width)
        total, count = (
            total[:, r0 : r0 + h, c0 : c0 + wd],
            count[r0 : r0 + h, c0 : c0 + wd],
        )
        return (total / count).float(), int(keep.sum())

    def _offsets(self, w: GridWindow, inward: bool = False) -> tuple[Tensor, Tensor]:
        """First pixel of each of the window's patches in what it read, per axis.

        With ``inward``, a last patch reaching past the scene's edge is shifted
        inward (:meth:`~.tiling.PatchGrid.origin`); without, on the regular grid.
        """
        (a, b), (c, d) = w.patch_rows, w.patch_cols
        s, top, left = self.grid.stride, int(w.pixels.row_off), int(w.pixels.col_off)
        origin = self.grid.origin if inward else lambda i, _: i * s
        ys = [origin(i, 0) - top for i in range(a, b)]
        xs = [origin(j, 1) - left for j in range(c, d)]
        return torch.tensor(ys, dtype=torch.long), torch.tensor(xs, dtype=torch.long)

    def _classify(
        self, boxes: Tensor, masks: Tensor, keep: Tensor, ys: Tensor, xs: Tensor
    ) -> Tensor:
        """Class probabilities ``(K, nr, nc)`` of the kept patches, zero elsewhere.

        Patch ``(r, c)`` is the box at ``(ys[r], xs[c])`` of ``boxes`` and ``masks``
        (every box of the window's pixels and of their valid mask). Invalid pixels of
        a kept patch are set to 0 after normalisation (the mean).
        """
        rows, cols = keep.nonzero(as_tuple=True)
        probs = torch.zeros(self.num_classes, *keep.shape)
        batch_size = self.options.batch_size
        # Batches are padded to a multiple of PAD_TO, never beyond the patches there
        # are: a huge --batch-size allocates no more than the patches need.
        padded = min(batch_size, -(-len(rows) // PAD_TO) * PAD_TO)
        for i in range(0, len(rows), batch_size):
            r, c = rows[i : i + batch_size], cols[i : i + batch_size]
            y, x = ys[r], xs[c]
            batch = self._to_device(boxes[:, y, x].transpose(0, 1))
            mask = self._to_device(masks[y, x])[:, None]
            batch = torch.where(mask, self.norm(batch, valid=mask), 0.0)
            if self.cuda:
                batch = batch.contiguous(memory_format=torch.channels_last)
            n = len(batch)
            if n < padded:
                # Every forward pass sees a batch of a size that does not depend on
                # the run: CPU kernels (oneDNN) pick thread-dependent reductions for
                # small batches, so results would differ in the last bit between a
                # serial run and --workers.
                batch = torch.cat(
                    [batch, batch.new_zeros(padded - n, *batch.shape[1:])]
                )
            with torch.autocast(
                self.device.type,
                dtype=self.autocast,
                enabled=self.autocast is not None,
            ):
                logits = self.model(batch)[:n]
            probs[:, r, c] = logits.float().softmax(1).T.cpu()
        return probs

    def _to_device(self, tensor: Tensor) -> Tensor:
        """Copy a host tensor to the device; on CUDA from pinned memory, asynchronously."""
        if self.cuda:
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=self.cuda)

    def _spread(self, probs: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
        """Sum of probabilities and number of kept patches over the cells they cover.

        Each patch spreads its probabilities over the ``k x k`` cells it covers.
        """
        k = self.grid.cells_per_patch
        return spread_sums(probs, k), spread_sums(keep, k)


def spread_sums(values: Tensor, k: int) -> Tensor:
    """Sum, on every cell, of the values of the patches covering it.

    A patch at grid position ``(r, c)`` covers cells ``r .. r + k - 1`` and
    ``c .. c + k - 1``. Through cumulative sums, so the work is linear in the cells
    whatever ``k`` is (at ``--stride 1``, ``k`` is the patch size: adding each
    patch's values to its ``k x k`` cells would cost ``k**2`` passes per window).

    Args:
        values: ``(..., nr, nc)`` values of the patches (booleans count as 0 or 1).
        k: Cells per patch side.

    Returns:
        ``(..., nr + k - 1, nc + k - 1)`` sums: float64, or int64 for booleans and
        integers (exact counts).
    """
    t = values.long() if not values.is_floating_point() else values.double()
    for dim in (-2, -1):
        n = t.shape[dim] + k - 1
        # One zero before for the exclusive prefix, k - 1 after for the last cells.
        pad = [0, 0] * (-dim - 1) + [k, k - 1]
        c = F.pad(t, pad).cumsum(dim)
        t = c.narrow(dim, k, n) - c.narrow(dim, 0, n)
    return t


def summed_area(valid: Tensor) -> Tensor:
    """The summed-area table of a mask: ``table[i, j]`` counts ``valid[:i, :j]``.

    Memory and work grow with the window's pixels, not with its patches times their
    area, which a stride of one pixel makes thousands of times larger.

    Args:
        valid: ``(h, w)`` boolean mask of the window's valid pixels.

    Returns:
        ``(h + 1, w + 1)`` int64 counts.
    """
    table = torch.zeros(valid.shape[0] + 1, valid.shape[1] + 1, dtype=torch.int64)
    table[1:, 1:] = valid.to(torch.int64).cumsum(0).cumsum(1)
    return table


def box_counts(
    table: Tensor, top: Tensor, bottom: Tensor, left: Tensor, right: Tensor
) -> Tensor:
    """Valid pixels of every box ``[top[r], bottom[r]) x [left[c], right[c])``.

    Args:
        table: The mask's :func:`summed_area` table.
        top: First row of each row of boxes, ``(rows,)``.
        bottom: One past the last row of each row of boxes, ``(rows,)``.
        left: First column of each column of boxes, ``(cols,)``.
        right: One past the last column of each column of boxes, ``(cols,)``.

    Returns:
        ``(rows, cols)`` int64 counts.
    """
    t, b, lt, rt = top[:, None], bottom[:, None], left[None], right[None]
    return table[b, rt] - table[t, rt] - table[b, lt] + table[t, lt]


def prefetch(
    read: Callable[[Window], np.ndarray], windows: list[GridWindow]
) -> Iterator[tuple[GridWindow, np.ndarray]]:
    """Read windows one ahead in a thread, so I/O overlaps the forward passes.

    Args:
        read: Reads the pixels of a window (e.g. :meth:`Scene.read`).
        windows: The windows, in order.

    Yields:
        Each window and its pixels.
    """
    if not windows:  # a resumed run interrupted after its last window
        return
    with ThreadPoolExecutor(1) as pool:
        pending = [(w, pool.submit(read, w.pixels)) for w in windows[:1]]
        for nxt in [*windows[1:], None]:
            w, future = pending.pop()
            if nxt is not None:
                pending.append((nxt, pool.submit(read, nxt.pixels)))
            yield w, future.result()
