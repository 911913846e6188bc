"""Scenes on web servers and object storage, read by HTTP range requests.

A scene (or band file) given as an ``http://`` or ``https://`` URL, or as GDAL's
``/vsicurl/https://...``, is a :class:`Url`: never a local :class:`~pathlib.Path`
(``Path('https://a/b')`` would collapse the ``//``). GDAL reads it through
``/vsicurl/``, fetching only the byte ranges of the header and of the tiles a window
needs, with the options of :data:`REMOTE_OPTIONS` (each left to the user when set in
the environment). Credentials, proxies and timeouts are GDAL's own configuration
options (``GDAL_HTTP_HEADERS``, ``GDAL_HTTP_AUTH``, ``GDAL_HTTP_PROXY``,
``GDAL_HTTP_TIMEOUT``, ...), read from the environment.
"""

import os
import posixpath
import re
from pathlib import Path
from typing import Any, Self, TypeGuard
from urllib.parse import unquote, urlsplit

#: GDAL's prefix of files read by HTTP range requests.
VSICURL = '/vsicurl/'
#: Options of GDAL that avoid requests a COG does not need.
REMOTE_OPTIONS = {
    # No directory listing nor probes for sidecar files (.aux.xml, .ovr, .msk).
    'GDAL_DISABLE_READDIR_ON_OPEN': 'EMPTY_DIR',
    # The header, IFDs and tile index of a COG in the first request.
    'GDAL_INGESTED_BYTES_AT_OPEN': '32768',
    # Adjacent tiles of one window in one request.
    'GDAL_HTTP_MERGE_CONSECUTIVE_RANGES': 'YES',
    # Ranges read again (overlapping windows, the band files of a VRT) from memory.
    'VSI_CACHE': 'TRUE',
    'VSI_CACHE_SIZE': str(64 * 2**20),
    # A transient server error is retried rather than failing the scene.
    'GDAL_HTTP_MAX_RETRY': '3',
    'GDAL_HTTP_RETRY_DELAY': '1',
}
_URL = re.compile(r'^(?:/vsicurl/)?https?://', re.IGNORECASE)
#: Characters allowed in an output name made from a remote name.
_UNSAFE = re.compile(r'[^A-Za-z0-9._-]+')
#: The query of a URL within a text (up to white space or a fragment).
_QUERY = re.compile(r'(https?://[^\s?#]*)\?[^\s#]*', re.IGNORECASE)


def is_url(text: object) -> TypeGuard[str]:
    """Whether a scene argument names a remote file (``http(s)://``, ``/vsicurl/``).

    Args:
        text: The argument.

    Returns:
        True for URLs.
    """
    return isinstance(text, str) and bool(_URL.match(text))


class Url(str):
    """The URL of a remote file (``/vsicurl/`` removed), named like a path.

    ``name``, ``stem`` and ``suffix`` are those of the URL's path (without query or
    fragment), as :class:`~pathlib.Path` gives them for a file.
    """

    def __new__(cls, value: str) -> Self:
        """Make a URL; a ``/vsicurl/`` prefix is dropped.

        Raises:
            ValueError: If ``value`` is not an http(s) URL.
        """
        if not is_url(value):
            msg = f'{value}: not an http:// or https:// URL'
            raise ValueError(msg)
        if value.startswith(VSICURL):
            value = value[len(VSICURL) :]
        return super().__new__(cls, value)

    @property
    def name(self) -> str:
        """Last segment of the URL's path."""
        return posixpath.basename(unquote(urlsplit(self).path))

    @property
    def stem(self) -> str:
        """:attr:`name` without its extension."""
        return Path(self.name).stem if self.name else ''

    @property
    def suffix(self) -> str:
        """Extension of :attr:`name` (``.tif``)."""
        return Path(self.name).suffix if self.name else ''

    @property
    def folder(self) -> str:
        """Host and folders of the URL, as a path (tells same-named files apart)."""
        parts = urlsplit(self)
        return posixpath.normpath(f'/{parts.netloc}{posixpath.dirname(parts.path)}')


def safe_name(name: str) -> str:
    """An output name from a remote name (a file in a URL, a STAC item's id).

    Args:
        name: The name (the server's choice: untrusted).

    Returns:
        Letters, digits, ``.``, ``_`` and ``-`` only (others become ``_``): one path
        component, never ``.`` or ``..``.
    """
    return _UNSAFE.sub('_', name).strip('._-')[:200] or 'item'


def gdal_path(file: Path | str) -> str:
    """The name GDAL opens a file by: ``/vsicurl/`` URLs for remote files.

    Args:
        file: A local path or a URL.

    Returns:
        The path, or the ``/vsicurl/`` URL.
    """
    return VSICURL + Url(file) if is_url(file) else str(file)


def absolute(file: Path | str) -> str:
    """A file as recorded in summaries: URLs as they are, paths made absolute.

    Args:
        file: A local path or a URL.

    Returns:
        The URL or the absolute path.
    """
    return str(Url(file)) if is_url(file) else str(Path(file).resolve())


def public(file: Path | str) -> str:
    """A file as written in summaries: :func:`absolute`, a URL's query left out.

    Args:
        file: A local path or a URL.

    Returns:
        The absolute path, or the URL with ``?<query removed>`` for its query.
    """
    text = absolute(file)
    return redact_queries(text) if is_url(text) else text


def redact_queries(text: str) -> str:
    """A text (a summary's file, a terminal line) with each URL's query left out.

    The query of a signed URL holds its credentials (``X-Amz-Signature``, a SAS
    ``sig``, a token): summaries are shared and terminals recorded, they are not.

    Args:
        text: The text.

    Returns:
        The text, each URL's ``?query`` as ``?<query removed>``.
    """
    return _QUERY.sub(r'\1?<query removed>', text)


def remote_options() -> dict[str, Any]:
    """:data:`REMOTE_OPTIONS` without those the user set in the environment.

    Returns:
        GDAL configuration options for :class:`rasterio.Env`.
    """
    return {k: v for k, v in REMOTE_OPTIONS.items() if k not in os.environ}


def remote_failure(url: str, detail: str) -> str:
    """Say, on one line, why a remote file cannot be opened and what to do.

    Args:
        url: The file's URL.
        detail: GDAL's (or the HTTP client's) message.

    Returns:
        ``<url>: <what> (<what to do>)``.
    """
    detail = (detail.strip().splitlines() or ['unknown error'])[0]
    code = re.search(r'(?:HTTP response code|HTTP Error):? (\d{3})', detail)
    if code and code.group(1) == '404':
        what, todo = 'not found (HTTP 404)', 'check the URL'
    elif code and code.group(1) in ('401', '403'):
        what = f'access denied (HTTP {code.group(1)})'
        todo = "give credentials with GDAL's options, e.g. GDAL_HTTP_HEADERS"
    elif code:
        what = f'the server answered HTTP {code.group(1)}'
        todo = 'try again later, or check the URL'
    elif 'not recognized as' in detail or 'not a supported' in detail:
        what, todo = 'not a raster GDAL can read', 'give the URL of a GeoTIFF or COG'
    elif re.search(r'CURL error|connect|resolve|timed? ?out|refused', detail, re.I):
        what = f'server unreachable ({detail.removeprefix("CURL error: ")})'
        todo = 'check the URL and the network; GDAL_HTTP_TIMEOUT and GDAL_HTTP_PROXY'
        todo += ' set timeouts and proxies'
    else:
        what, todo = f'cannot be read ({detail})', 'check the URL'
    return f'{url}: {what} ({todo})'
