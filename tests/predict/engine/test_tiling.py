import numpy as np
import pytest

from geokd.predict.engine.tiling import (
    PatchGrid,
    covering_patches,
    grid_windows,
    window_size,
)


@pytest.mark.parametrize(
    ('height', 'width', 'patch', 'stride', 'shape', 'patches'),
    [
        (64, 64, 16, 16, (4, 4), (4, 4)),
        (70, 50, 16, 16, (5, 4), (5, 4)),
        (64, 64, 16, 8, (8, 8), (7, 7)),
        (100, 100, 32, 16, (7, 7), (6, 6)),
        (10, 5, 16, 16, (1, 1), (1, 1)),
        (10, 5, 16, 4, (3, 2), (1, 1)),
    ],
)
def test_grid_shapes(
    height: int,
    width: int,
    patch: int,
    stride: int,
    shape: tuple[int, int],
    patches: tuple[int, int],
) -> None:
    grid = PatchGrid(height, width, patch, stride)
    assert grid.shape == shape
    assert grid.patch_shape == patches


def test_stride_must_divide_patch() -> None:
    with pytest.raises(ValueError, match='must divide'):
        PatchGrid(64, 64, 16, 6)
    with pytest.raises(ValueError, match='positive'):
        PatchGrid(0, 64, 16, 16)


def test_covering_patches() -> None:
    # k = 2: cells 3..5 are covered by patches starting at cells 2..5.
    assert covering_patches(3, 6, 2, 100) == (2, 6)
    assert covering_patches(0, 4, 2, 100) == (0, 4)
    # The last patch origin bounds the range.
    assert covering_patches(90, 100, 2, 99) == (89, 99)


@pytest.mark.parametrize(('patch', 'stride'), [(16, 16), (16, 8), (32, 8), (64, 64)])
def test_windows_tile_the_grid_and_read_their_patches(patch: int, stride: int) -> None:
    grid = PatchGrid(1000, 700, patch, stride)
    seen = np.zeros(grid.shape, dtype=int)
    k = grid.cells_per_patch
    windows = list(grid_windows(grid, 16))
    assert [w.index for w in windows] == list(range(len(windows)))
    for w in windows:
        r0, c0 = int(w.cells.row_off), int(w.cells.col_off)
        seen[r0 : r0 + int(w.cells.height), c0 : c0 + int(w.cells.width)] += 1
        # Every cell of the window is covered by a patch of the window...
        assert w.patch_rows[0] <= r0
        assert w.patch_rows[1] - 1 + k - 1 >= min(
            r0 + int(w.cells.height) - 1, grid.shape[0] - 1
        )
        # ...and the pixel window holds exactly those patches: from the first one's
        # origin to the last one's end, which is the scene's edge when the last
        # patch of the grid (shifted inward) is among them.
        a, b = w.patch_rows
        assert w.pixels.row_off == a * stride
        end = min((b - 1) * stride + patch, grid.height)
        assert w.pixels.row_off + w.pixels.height == end
        c, d = w.patch_cols
        assert w.pixels.col_off == c * stride
        assert w.pixels.col_off + w.pixels.width == min((d - 1) * stride + patch, 700)
        assert end <= grid.height
    assert (seen == 1).all()


@pytest.mark.parametrize(
    ('height', 'patch', 'stride', 'origins'),
    [
        (64, 16, 16, [0, 16, 32, 48]),  # a multiple of the patch: nothing moves
        (70, 16, 16, [0, 16, 32, 48, 54]),  # the last patch ends on pixel 69
        (70, 16, 8, [0, 8, 16, 24, 32, 40, 48, 54]),
        (10, 16, 16, [0]),  # smaller than a patch: padded, not shifted
    ],
)
def test_the_last_patch_is_shifted_inside_the_scene(
    height: int, patch: int, stride: int, origins: list[int]
) -> None:
    grid = PatchGrid(height, 40, patch, stride)
    rows, _ = grid.patch_shape
    assert [grid.origin(i, 0) for i in range(rows)] == origins
    # A shifted patch still covers every pixel of its cells inside the scene.
    k = grid.cells_per_patch
    last = rows - 1
    assert grid.origin(last, 0) <= last * stride
    assert grid.origin(last, 0) + patch >= min(height, (last + k) * stride)


def test_window_size() -> None:
    assert window_size(64, 64, 512, 1024) == 16
    assert window_size(16, 16, 256, 1024) == 64
    assert window_size(16, 8, 16, 256) == 32
    for args in [(64, 32, 512, 1024), (16, 16, 100, 1024), (30, 10, 7, 64)]:
        assert window_size(*args) % 16 == 0
