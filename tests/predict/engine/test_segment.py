"""The tiles of a segmenter: which cover a window, where they start."""

import pytest

from geokd.predict.engine.segment import segmenter_windows, tile_range, tile_step
from geokd.predict.engine.tiling import PatchGrid


def _covering(pixel: int, tile: int, extent: int) -> set[int]:
    """Tiles (by index) of an axis covering one pixel, by brute force."""
    s = tile_step(tile)
    last = max(0, -(-(extent - tile) // s))
    return {t for t in range(last + 1) if t * s <= pixel < t * s + tile}


@pytest.mark.parametrize('tile', [2, 8, 32])
@pytest.mark.parametrize('extent', [1, 7, 32, 33, 100])
def test_tile_range_is_exactly_the_tiles_covering_the_pixels(
    tile: int, extent: int
) -> None:
    for start in range(extent):
        for stop in range(start + 1, extent + 1):
            a, b = tile_range(start, stop, tile, extent)
            expected = set().union(
                *(_covering(p, tile, extent) for p in range(start, stop))
            )
            assert set(range(a, b)) == expected, (start, stop)


def test_every_pixel_of_an_axis_is_covered_and_tiles_start_inside() -> None:
    for extent in range(1, 90):
        a, b = tile_range(0, extent, 32, extent)
        assert a == 0
        assert (b - 1) * 16 < extent  # the last tile starts inside the scene
        assert (b - 1) * 16 + 32 >= extent  # and reaches its end


def test_windows_read_every_tile_they_need() -> None:
    grid = PatchGrid(100, 70, 32, 1)
    windows = list(segmenter_windows(grid, 32))
    assert len(windows) == 4 * 3
    for w in windows:
        (a, b), (c, d) = w.patch_rows, w.patch_cols
        assert w.pixels.row_off <= a * 16
        assert (b - 1) * 16 + 32 <= w.pixels.row_off + w.pixels.height
        assert w.pixels.col_off <= c * 16
        assert (d - 1) * 16 + 32 <= w.pixels.col_off + w.pixels.width
        assert w.num_patches == (b - a) * (d - c)
