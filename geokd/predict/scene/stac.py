"""STAC Items and ItemCollections as scenes (read with pystac).

A scene argument that is a STAC Item (a ``.json`` or ``.geojson`` file or URL) is one
scene named after the item's id; an ItemCollection (a GeoJSON FeatureCollection of
items) is one scene per item. The item's raster assets are its files, named by band
like the files of a directory of band files (:mod:`.sources`):

* an asset's band is the band code in its ``eo:bands`` (or STAC 1.1 ``bands``)
  ``name``, else in its key (``vv``, ``B04``), else that name or its common name
  (``red``) as it is. Several assets of one band are refused, unless exactly one of
  them is a cloud-optimized GeoTIFF (Earth Search's ``red`` and ``red-jp2``);
* single-band assets are stacked on the fly (:mod:`.stacking`), the model's bands
  are matched among them by name (:func:`~.bands.resolve_bands`);
* an item whose only raster is one multi-band asset is read from that file, its
  bands named by the asset's band list.

Relative asset hrefs are resolved against the item's (or collection's) location.
Items that cannot be read or used still become scenes, failing with one line when
classified (:attr:`~.sources.SceneInput.error`), so the other scenes of the call
run.
"""

import json
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from ...errors import PredictError
from .bands import band_code, band_order, canonical_band
from .remote import Url, is_url, remote_failure, safe_name
from .sources import RASTER_EXTENSIONS, Location, SceneInput, location

#: File extensions read as STAC JSON rather than as rasters.
STAC_EXTENSIONS = ('.json', '.geojson')
#: Media types of raster assets (GeoTIFF, COG, JPEG 2000).
RASTER_TYPES = ('image/tiff', 'image/jp2', 'image/vnd.stac.geotiff')
#: Asset roles that are never the data.
_NOT_DATA = {'thumbnail', 'overview', 'visual', 'metadata'}
#: Seconds to wait for a remote STAC document.
TIMEOUT = 60


def is_stac(argument: str | Path) -> bool:
    """Whether a scene argument names STAC JSON (by its extension).

    Args:
        argument: A scene argument (path or URL).

    Returns:
        True for ``.json`` and ``.geojson`` files and URLs.
    """
    suffix = Url(argument).suffix if is_url(argument) else Path(argument).suffix
    return suffix.lower() in STAC_EXTENSIONS


def stac_scenes(argument: str | Path) -> list[SceneInput]:
    """The scenes of a STAC Item or ItemCollection file or URL.

    Args:
        argument: The JSON's path or URL.

    Returns:
        One scene per item; a document that cannot be read is one scene that fails.
    """
    where = location(argument)
    try:
        document = _read_json(where)
        items = _items(document, where)
    except PredictError as err:
        return [SceneInput(safe_name(where.stem), where, error=str(err))]
    return [_scene(item, where) for item in items]


def _read_json(where: Location) -> dict[str, Any]:
    """The JSON object of a local or remote file."""
    try:
        if isinstance(where, Url):
            with urllib.request.urlopen(where, timeout=TIMEOUT) as answer:
                text = answer.read()
        else:
            text = where.read_bytes()
    except OSError as err:
        if isinstance(where, Url):
            raise PredictError(remote_failure(where, str(err))) from err
        msg = f'{where}: cannot be read ({err.strerror or err})'
        raise PredictError(msg) from err
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        msg = f'{where}: not JSON ({err}); give a STAC Item or ItemCollection'
        raise PredictError(msg) from err
    if not isinstance(document, dict):
        msg = f'{where}: not a STAC Item or ItemCollection (a JSON {type(document).__name__})'
        raise PredictError(msg)
    return document


def _items(document: dict[str, Any], where: Location) -> list[Any]:
    """The pystac items of an Item or ItemCollection document."""
    import pystac

    kind = document.get('type')
    if kind not in ('Feature', 'FeatureCollection'):
        msg = (
            f'{where}: not a STAC Item or ItemCollection (its "type" is {kind!r}, not '
            "'Feature' or 'FeatureCollection')"
        )
        raise PredictError(msg)
    try:
        if kind == 'Feature':
            items = [pystac.Item.from_dict(document, preserve_dict=False)]
        else:
            collection = pystac.ItemCollection.from_dict(document, preserve_dict=False)
            items = list(collection.items)
    except (
        pystac.STACError, pystac.STACTypeError, pystac.RequiredPropertyMissing,
        pystac.DuplicateObjectKeyError, KeyError, TypeError, ValueError, AttributeError,
    ) as err:  # fmt: skip
        detail = f'{type(err).__name__}: {err}'.splitlines()[0]
        msg = f'{where}: not a valid STAC item ({detail})'
        raise PredictError(msg) from err
    if not items:
        msg = f'{where}: an ItemCollection without items'
        raise PredictError(msg)
    return items


def _scene(item: Any, where: Location) -> SceneInput:
    """One item as a scene; an item that cannot be used as a scene that fails."""
    name = safe_name(str(item.id))
    base = str(where) if isinstance(where, Url) else str(where.resolve())
    label = f'{where} (STAC item {name})'
    key: Location = (
        Url(f'{base}#{name}') if isinstance(where, Url) else Path(base + '#' + name)
    )
    try:
        return _assets_scene(item, base, name, label, key)
    except PredictError as err:
        return SceneInput(name, key, label=label, error=str(err))
    except (AttributeError, TypeError, ValueError) as err:  # fields of wrong types
        detail = f'{type(err).__name__}: {err}'.splitlines()[0]
        error = f'{label}: not a valid STAC item ({detail})'
        return SceneInput(name, key, label=label, error=error)


def _assets_scene(
    item: Any, base: str, name: str, label: str, key: Location
) -> SceneInput:
    """The scene of an item's raster assets (see the module's description)."""
    single: dict[str, list[tuple[str, Any]]] = {}
    multi: list[tuple[str, Any, list[str | None]]] = []
    for asset_key, asset in item.assets.items():
        if not _is_raster(asset):
            continue
        bands = _asset_bands(asset)
        if len(bands) > 1:
            multi.append((asset_key, asset, [_band_name(b) for b in bands]))
            continue
        band = _single_band(asset_key, bands)
        if band is not None:
            single.setdefault(canonical_band(band), []).append((asset_key, asset))
    if single:
        chosen = {b: _one_asset(label, b, assets) for b, assets in single.items()}
        files = tuple(
            (b, _href(chosen[b][1], base)) for b in sorted(chosen, key=band_order)
        )
        return SceneInput(name, key, files, label)
    if len(multi) == 1:
        _, asset, names = multi[0]
        return SceneInput(
            name, _href(asset, base), label=label, band_names=tuple(names)
        )
    if multi:
        shown = ', '.join(k for k, _, _ in multi)
        msg = f'{label}: several multi-band raster assets ({shown}); give one as a URL'
        raise PredictError(msg)
    keys = ', '.join(item.assets) or 'none'
    msg = (
        f'{label}: no raster asset with a band name (eo:bands or a key such as vv, '
        f'B04; its assets: {keys})'
    )
    raise PredictError(msg)


def _is_raster(asset: Any) -> bool:
    """Whether an asset is data in a raster format (by media type, else extension)."""
    if _NOT_DATA & set(asset.roles or ()) and 'data' not in (asset.roles or ()):
        return False
    media = (asset.media_type or '').lower()
    if media:
        return media.startswith(RASTER_TYPES)
    path = Url(asset.href).name if is_url(asset.href) else asset.href
    return Path(path).suffix.lower() in RASTER_EXTENSIONS


def _asset_bands(asset: Any) -> list[dict[str, Any]]:
    """An asset's band list: ``eo:bands``, else STAC 1.1's ``bands``."""
    fields = asset.extra_fields
    bands = fields.get('eo:bands') or fields.get('bands') or []
    return [b for b in bands if isinstance(b, dict)] if isinstance(bands, list) else []


def _band_name(band: dict[str, Any]) -> str | None:
    """A band's name: the band code in its name, else its name or common name."""
    raw = [band.get(k) for k in ('name', 'common_name', 'eo:common_name')]
    texts = [str(t) for t in raw if isinstance(t, str | int) and str(t).strip()]
    for text in texts:
        if (code := band_code(text)) is not None:
            return code
    return texts[0] if texts else None


def _single_band(asset_key: str, bands: Sequence[dict[str, Any]]) -> str | None:
    """The band of a single-band asset: from its band list, else its key's code."""
    named = _band_name(bands[0]) if bands else None
    if named is not None and band_code(named) is not None:
        return named
    return band_code(asset_key) or named


def _one_asset(label: str, band: str, assets: list[tuple[str, Any]]) -> tuple[str, Any]:
    """The asset of a band: the only one, or the only cloud-optimized GeoTIFF."""
    if len(assets) > 1:
        cogs = [a for a in assets if 'cloud-optimized' in (a[1].media_type or '')]
        if len(cogs) != 1:
            shown = ', '.join(k for k, _ in assets)
            msg = f'{label}: several assets for band {band} ({shown}); keep one'
            raise PredictError(msg)
        assets = cogs
    return assets[0]


def _href(asset: Any, base: str) -> Location:
    """An asset's file: its href, resolved against the item's location."""
    href = str(asset.href)
    if is_url(href):
        return Url(href)
    if is_url(base):
        return Url(urljoin(base, href))
    if href.startswith('file://'):
        href = href.removeprefix('file://')
    return (Path(base).parent / href).resolve()
