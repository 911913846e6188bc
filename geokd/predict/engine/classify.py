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
        p, s = self.grid.patch_size, self.grid.stride
        x = torch.from_numpy(pixels)
        valid = torch.from_numpy(self.valid_mask(pixels))
        patches = x.unfold(1, p, s).unfold(2, p, s)  # (C, nr, nc, p, p)
        masks = valid.unfold(0, p, s).unfold(1, p, s)  # (nr, nc, p, p): a view
        fraction = valid_fractions(valid, p, s)
        keep = (fraction >= self.options.min_valid) & (fraction > 0)
        probs = self._classify(patches, masks, keep)
        total, count = self._spread(probs, keep)
        r0 = int(w.cells.row_off) - w.patch_rows[0]
        c0 = int(w.cells.col_off) - w.patch_cols[0]
        h, wd = int(w.cells.height), int(w.cells.width)
        total, count = (
            total[:, r0 : r0 + h, c0 : c0 + wd],
            count[r0 : r0 + h, c0 : c0 + wd],
        )
        return (total / count).float(), int(keep.sum())

    def _classify(self, patches: Tensor, masks: Tensor, keep: Tensor) -> Tensor:
        """Class probabilities ``(K, nr, nc)`` of the kept patches, zero elsewhere.

        Invalid pixels of a kept patch are set to 0 after normalisation (the mean).
        """
        rows, cols = keep.nonzero(as_tuple=True)
        probs = torch.zeros(self.num_classes, *keep.shape)
        batch_size = self.options.batch_size
        # Batches are padded to a multiple of PAD_TO, never beyond the patches there
        # are: a huge --batch-size allocates no more than the patches need.
        padded = min(batch_size, -(-len(rows) // PAD_TO) * PAD_TO)
        for i in range(0, len(rows), batch_size):
            r, c = rows[i : i + batch_size], cols[i : i + batch_size]
            batch = self._to_device(patches[:, r, c].transpose(0, 1))
            mask = self._to_device(masks[r, c])[:, None]
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


def valid_fractions(valid: Tensor, patch: int, stride: int) -> Tensor:
    """The fraction of valid pixels of every patch, from a summed-area table.

    Memory and work grow with the window's pixels, not with its patches times their
    area, which a stride of one pixel makes thousands of times larger.

    Args:
        valid: ``(h, w)`` boolean mask of the window's valid pixels.
        patch: Patch size in pixels.
        stride: Stride in pixels.

    Returns:
        ``(rows, cols)`` float32 fractions of the patches ``unfold`` would cut, the
        same values as the mean of each patch's mask.
    """
    table = torch.zeros(valid.shape[0] + 1, valid.shape[1] + 1, dtype=torch.int64)
    table[1:, 1:] = valid.to(torch.int64).cumsum(0).cumsum(1)
    rows = max((valid.shape[0] - patch) // stride + 1, 0)
    cols = max((valid.shape[1] - patch) // stride + 1, 0)
    y = torch.arange(rows) * stride
    x = torch.arange(cols) * stride
    top, bottom, left, right = y[:, None], y[:, None] + patch, x[None], x[None] + patch
    counts = (
        table[bottom, right]
        - table[top, right]
        - table[bottom, left]
        + table[top, left]
    )
    return counts.to(torch.float32) / (patch * patch)


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
