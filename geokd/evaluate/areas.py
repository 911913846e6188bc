"""Ground area of the cells of a raster grid (pure functions)."""

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError


def cell_areas(transform: Affine, crs: CRS, height: int) -> np.ndarray | None:
    """Ground area of one cell in each row of a grid, in square metres.

    In a projected CRS every cell has the area of the transform's parallelogram; in a
    geographic one the area shrinks toward the poles and is computed on the CRS's
    ellipsoid, row by row (cells of one row of a north-up grid are equal).

    Args:
        transform: The grid's affine transform.
        crs: The grid's CRS.
        height: Number of rows.

    Returns:
        ``(height,)`` areas in m², or None when the CRS's units are not metres or
        degrees (an engineering CRS, say).
    """
    if crs.is_geographic:
        from pyproj import CRS as ProjCRS

        geod = ProjCRS.from_wkt(crs.to_wkt()).get_geod()
        if geod is None:
            return None
        rows = np.arange(height)
        corners = [transform @ (c, r) for c, r in ((0, 0), (1, 0), (1, 1), (0, 1))]
        areas = np.empty(height)
        for row in rows:
            lons = [x + transform.b * row for x, _ in corners]
            lats = [y + transform.e * row for _, y in corners]
            areas[row] = abs(geod.polygon_area_perimeter(lons, lats)[0])
        return areas
    try:
        unit, factor = crs.linear_units_factor
    except CRSError:  # no linear units
        return None
    if not unit or not factor:
        return None
    return np.full(height, abs(transform.determinant) * factor**2)
