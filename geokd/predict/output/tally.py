"""Cells and area of each class in a class map, counted window by window."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from affine import Affine
from pyproj import Geod
from rasterio.crs import CRS


def cell_areas_km2(
    crs: CRS | None, transform: Affine, row_start: int, rows: int
) -> np.ndarray | None:
    """Area of one output cell in each of ``rows`` rows of the grid, in km2.

    Args:
        crs: CRS of the grid; None when the scene is not georeferenced.
        transform: Affine transform of the output grid (north-up).
        row_start: First row.
        rows: Number of rows.

    Returns:
        The area per row (constant for a projected CRS, latitude-dependent for a
        geographic one), or None when it cannot be known.
    """
    if crs is None or transform.b != 0 or transform.d != 0:
        return None
    if crs.is_geographic:
        geod = Geod(ellps='WGS84')
        x0, dx, dy = transform.c, transform.a, transform.e
        out = np.empty(rows)
        for i in range(rows):
            y0 = transform.f + (row_start + i) * dy
            lons = [x0, x0 + dx, x0 + dx, x0]
            lats = [y0, y0, y0 + dy, y0 + dy]
            out[i] = abs(geod.polygon_area_perimeter(lons, lats)[0]) / 1e6
        return out
    unit = crs.linear_units_factor[1] if crs.is_projected else math.nan
    return np.full(rows, abs(transform.a * transform.e) * unit**2 / 1e6)


@dataclass
class ClassTally:
    """Number of cells and area of each class, summed over the windows written.

    Attributes:
        cells: Cells per class.
        km2: Area per class in km2; None once any window's area is unknown.
    """

    cells: list[int]
    km2: list[float] | None

    @classmethod
    def zeros(cls, num_classes: int) -> Self:
        """An empty tally.

        Args:
            num_classes: Number of classes.

        Returns:
            The tally.
        """
        return cls([0] * num_classes, [0.0] * num_classes)

    def add(
        self,
        classes: np.ndarray,
        valid: np.ndarray,
        crs: CRS | None,
        transform: Affine,
        row_start: int,
    ) -> None:
        """Add one window of the class map.

        Args:
            classes: Class of each cell ``(rows, cols)``.
            valid: Cells that have a class.
            crs: CRS of the output grid.
            transform: Transform of the output grid.
            row_start: First row of the window in the grid.
        """
        k = len(self.cells)
        counts = np.bincount(classes[valid], minlength=k)
        self.cells = [a + int(b) for a, b in zip(self.cells, counts, strict=True)]
        areas = cell_areas_km2(crs, transform, row_start, classes.shape[0])
        if areas is None or self.km2 is None:
            self.km2 = None
            return
        per_cell = np.broadcast_to(areas[:, None], classes.shape)[valid]
        km2 = np.bincount(classes[valid], weights=per_cell, minlength=k)
        self.km2 = [a + float(b) for a, b in zip(self.km2, km2, strict=True)]

    def per_class(self, class_names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The tally by class name, as the summary reports it.

        Args:
            class_names: Class names in label order.

        Returns:
            ``{name: {'cells': ..., 'area_km2': ...}}`` (area None when unknown).
        """
        return {
            name: {
                'cells': self.cells[i],
                'area_km2': self.km2[i] if self.km2 else None,
            }
            for i, name in enumerate(class_names)
        }
