"""The patch grid of a scene and the windows it is processed in (pure functions).

A scene of ``H x W`` pixels classified with patches of ``P`` pixels at stride ``S``
gives an output grid of ``ceil(H / S) x ceil(W / S)`` cells, cell ``(i, j)`` covering
pixels ``[i S, (i + 1) S) x [j S, (j + 1) S)``. ``S`` divides ``P``, so a patch starting at
cell ``(r, c)`` covers exactly the ``k x k`` cells ``r .. r + k - 1`` (``k = P / S``), and
each cell's class probabilities are the mean over the valid patches that cover it.

A scene whose size is not a multiple of the stride leaves the last patch of each axis
reaching past the scene's edge. That patch is cut shifted inward instead, ending on the
scene's last pixel (:meth:`PatchGrid.origin`): it still covers every pixel of its cells
that lies in the scene, and holds no padding, so valid pixels at the right and bottom
edges get a class. Only a scene smaller than one patch along an axis is padded with
nodata there, and the valid fraction decides whether that patch is classified.

The output grid is processed in square windows of cells; each window reads only the
pixels its covering patches need, so windows are independent (resume restarts at any
window) and peak memory depends on the window size, not on the scene size.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

from rasterio.windows import Window


@dataclass(frozen=True)
class PatchGrid:
    """Geometry of the patch grid of one scene.

    Attributes:
        height: Scene height in pixels.
        width: Scene width in pixels.
        patch_size: Patch height and width in pixels.
        stride: Distance between patch origins in pixels; divides ``patch_size``.
    """

    height: int
    width: int
    patch_size: int
    stride: int

    def __post_init__(self) -> None:
        """Validate the geometry.

        Raises:
            ValueError: On non-positive sizes or a stride that does not divide the
                patch size.
        """
        if min(self.height, self.width, self.patch_size, self.stride) < 1:
            msg = f'sizes must be positive, got {self}'
            raise ValueError(msg)
        if self.patch_size % self.stride:
            msg = (
                f'stride {self.stride} must divide the patch size {self.patch_size} '
                '(e.g. patch size, half or quarter of it)'
            )
            raise ValueError(msg)

    @property
    def cells_per_patch(self) -> int:
        """Number ``k`` of output cells a patch spans along each axis."""
        return self.patch_size // self.stride

    @property
    def shape(self) -> tuple[int, int]:
        """Output grid size ``(rows, cols)`` in cells."""
        return math.ceil(self.height / self.stride), math.ceil(self.width / self.stride)

    @property
    def patch_shape(self) -> tuple[int, int]:
        """Number of patch origins ``(rows, cols)`` needed to cover every cell."""
        k = self.cells_per_patch
        rows, cols = self.shape
        return max(1, rows - k + 1), max(1, cols - k + 1)

    @property
    def num_patches(self) -> int:
        """Total number of patches of the scene."""
        rows, cols = self.patch_shape
        return rows * cols

    def origin(self, index: int, axis: int) -> int:
        """First pixel of the patch at grid position ``index`` along an axis.

        Args:
            index: Patch origin along the axis, in cells.
            axis: 0 for rows, 1 for columns.

        Returns:
            ``index * stride``, or for a patch that would reach past the scene's edge
            the origin that makes it end on the scene's last pixel (when the scene
            holds a whole patch along the axis).
        """
        extent = (self.height, self.width)[axis]
        return inward_origin(index * self.stride, self.patch_size, extent)


@dataclass(frozen=True)
class GridWindow:
    """One window of the output grid and the pixels its patches read.

    Attributes:
        index: Position of the window in processing (row-major) order.
        cells: Window of the output grid, in cells.
        patch_rows: Range ``(start, stop)`` of patch-origin rows covering the cells.
        patch_cols: Range ``(start, stop)`` of patch-origin columns covering the cells.
        pixels: Window of the scene to read, in pixels (may reach past its edges).
    """

    index: int
    cells: Window
    patch_rows: tuple[int, int]
    patch_cols: tuple[int, int]
    pixels: Window

    @property
    def num_patches(self) -> int:
        """Number of patches the window classifies."""
        rows = self.patch_rows[1] - self.patch_rows[0]
        return rows * (self.patch_cols[1] - self.patch_cols[0])


def inward_origin(start: int, patch: int, extent: int) -> int:
    """Shift a patch starting at ``start`` inward so that it ends inside the scene.

    Args:
        start: First pixel of the patch on the regular grid.
        patch: Patch size in pixels.
        extent: Pixels along the axis.

    Returns:
        ``start``, or ``extent - patch`` when the patch would reach past the edge and
        the axis holds a whole patch (otherwise it stays padded).
    """
    if start + patch > extent >= patch:
        return extent - patch
    return start


def covering_patches(start: int, stop: int, k: int, num: int) -> tuple[int, int]:
    """Patch origins ``[a, b)`` along one axis covering cells ``[start, stop)``.

    Args:
        start: First cell.
        stop: One past the last cell.
        k: Cells spanned by one patch.
        num: Number of patch origins along the axis.

    Returns:
        The range of patch origins.
    """
    return max(0, start - k + 1), min(stop, num)


def window_size(
    patch_size: int, stride: int, block: int = 512, target: int = 1024
) -> int:
    """Side of a window in cells: about ``target`` pixels, in whole input blocks.

    Args:
        patch_size: Patch size in pixels.
        stride: Stride in pixels.
        block: Block (tile) size of the input file along the axis, in pixels.
        target: Desired window side in pixels (at least one patch).

    Returns:
        A multiple of 16 cells (GeoTIFF tiles are multiples of 16) and, when
        ``stride`` divides ``block``, of the cells in one input block.
    """
    unit = math.lcm(16, block // stride) if block % stride == 0 else 16
    cells = max(target, patch_size) / stride
    return max(unit, round(cells / unit) * unit)


def grid_windows(grid: PatchGrid, size: int) -> Iterator[GridWindow]:
    """Split the output grid into square windows, row by row.

    Args:
        grid: The patch grid.
        size: Window side in cells.

    Yields:
        The windows, with the patches and pixels each one needs.
    """
    rows, cols = grid.shape
    k = grid.cells_per_patch
    num_rows, num_cols = grid.patch_shape
    index = 0
    for r0 in range(0, rows, size):
        r1 = min(rows, r0 + size)
        pr = covering_patches(r0, r1, k, num_rows)
        for c0 in range(0, cols, size):
            c1 = min(cols, c0 + size)
            pc = covering_patches(c0, c1, k, num_cols)
            # From the first patch's first pixel to the last patch's last one (the
            # last patch of an axis may be shifted inward: origins stay increasing).
            top, left = grid.origin(pr[0], 0), grid.origin(pc[0], 1)
            pixels = Window(
                left,
                top,
                grid.origin(pc[1] - 1, 1) + grid.patch_size - left,
                grid.origin(pr[1] - 1, 0) + grid.patch_size - top,
            )
            yield GridWindow(index, Window(c0, r0, c1 - c0, r1 - r0), pr, pc, pixels)
            index += 1


def dense_windows(grid: PatchGrid, size: int, margin: int) -> Iterator[GridWindow]:
    """Split the output grid into square windows for dense evaluation, row by row.

    Dense evaluation classifies every cell from a box centred on it, so a window
    reads its own cells' pixels and ``margin`` pixels of context on every side (past
    the scene's edges too, as nodata), whatever the window size: a cell sees the same
    pixels in any window. Each window's "patches" are its cells (one box each).

    Args:
        grid: The patch grid (its stride is the cell size).
        size: Window side in cells.
        margin: Context read around the window's cells, in pixels (a multiple of
            the stride).

    Yields:
        The windows.
    """
    rows, cols = grid.shape
    s = grid.stride
    index = 0
    for r0 in range(0, rows, size):
        r1 = min(rows, r0 + size)
        for c0 in range(0, cols, size):
            c1 = min(cols, c0 + size)
            pixels = Window(
                c0 * s - margin,
                r0 * s - margin,
                (c1 - c0) * s + 2 * margin,
                (r1 - r0) * s + 2 * margin,
            )
            cells = Window(c0, r0, c1 - c0, r1 - r0)
            yield GridWindow(index, cells, (r0, r1), (c0, c1), pixels)
            index += 1
