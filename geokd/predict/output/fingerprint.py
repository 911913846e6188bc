"""Fingerprints that say whether a resumed run is the same run: scene, model, options.

A scene is identified by its content, not by its path, size and modification time: a
scene replaced by another file of the same size with the old time must not be mixed
into an interrupted run. Files up to :data:`WHOLE_FILE` bytes are hashed whole (a
second or two per GiB, little next to classifying them). Larger files are hashed by
their size, their first and last :data:`EDGE` bytes (a GeoTIFF's headers, tile
offsets and byte counts live there, and any change of a compressed tile changes
them) and :data:`SAMPLES` chunks spread evenly over the rest.

A remote file (a :class:`~.remote.Url`) is not downloaded for this: it is identified
by one ranged GET of its first :data:`REMOTE_HEAD` bytes (a COG's header, IFDs, tile
offsets and byte counts: a changed tile changes them) and the headers of that answer
that change with the content: its total size (``Content-Range``), ``ETag`` and
``Last-Modified``.
"""

import hashlib
import json
import os
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ...errors import PredictError
from ...export.classifier import SingleSensorClassifier
from ..scene.remote import Url, absolute, is_url, remote_failure
from ..scene.sources import SceneInput

WHOLE_FILE = 2**30
EDGE = 2**20
SAMPLES = 256
CHUNK = 2**16
#: Bytes of a remote file fetched for its fingerprint (as GDAL ingests on opening).
REMOTE_HEAD = 2**15
#: Seconds to wait for a remote file's answer.
TIMEOUT = 60


def _gdal_headers() -> dict[str, str]:
    """The HTTP headers the user gives GDAL (``GDAL_HTTP_HEADERS``), sent too."""
    lines = os.environ.get('GDAL_HTTP_HEADERS', '').replace('\r', '\n').split('\n')
    pairs = (line.partition(':') for line in lines if ':' in line)
    return {k.strip(): v.strip() for k, _, v in pairs}


def remote_digest(url: str) -> str:
    """A hash of a remote file's first bytes, total size, ETag and Last-Modified.

    Args:
        url: The file's http(s) URL.

    Returns:
        A hex digest.

    Raises:
        PredictError: If the server cannot be reached or answers with an error.
    """
    headers = {'Range': f'bytes=0-{REMOTE_HEAD - 1}', **_gdal_headers()}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            head = answer.read(REMOTE_HEAD)
            info = answer.headers
    except OSError as err:
        raise PredictError(remote_failure(url, str(err))) from err
    size = info.get('Content-Range', '').rpartition('/')[2] or info.get(
        'Content-Length', ''
    )
    h = hashlib.sha256(f'remote {size}'.encode())
    for name in ('ETag', 'Last-Modified'):
        h.update(f'{name}: {info.get(name, "")}'.encode())
    h.update(head)
    return h.hexdigest()


def file_digest(path: str | Path, whole_file: int = WHOLE_FILE) -> str:
    """A hash of a file's content: whole, or its edges and samples when large.

    Args:
        path: The file.
        whole_file: Files up to this size are hashed whole.

    Returns:
        A hex digest.

    Raises:
        OSError: If the file cannot be read.
    """
    with open(path, 'rb') as f:
        size = os.fstat(f.fileno()).st_size
        if size <= whole_file:
            return hashlib.file_digest(f, 'sha256').hexdigest()
        h = hashlib.sha256(f'sampled {size}'.encode())
        for offset in (0, size - EDGE):
            f.seek(offset)
            h.update(f.read(EDGE))
        span = size - 2 * EDGE - CHUNK
        for i in range(SAMPLES):
            f.seek(EDGE + i * span // (SAMPLES - 1))
            h.update(f.read(CHUNK))
        return h.hexdigest()


def model_digest(classifier: SingleSensorClassifier) -> str:
    """A hash of a classifier's metadata and weights.

    Args:
        classifier: The classifier.

    Returns:
        A hex digest.
    """
    h = hashlib.sha256(json.dumps(asdict(classifier.metadata), sort_keys=True).encode())
    for name, v in classifier.model.state_dict().items():
        h.update(name.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def content_digest(file: str | Path) -> str:
    """A hash of a local file's content (:func:`file_digest`) or a remote file's.

    Args:
        file: A local path or an http(s) URL.

    Returns:
        A hex digest.

    Raises:
        OSError: If a local file cannot be read.
        PredictError: If a remote file cannot be reached.
    """
    return remote_digest(str(file)) if is_url(file) else file_digest(file)


def run_fingerprint(
    scene: SceneInput, classifier: SingleSensorClassifier, key: dict[str, Any]
) -> str:
    """Identify a run: same scene content, model and options.

    Args:
        scene: The scene: its absolute path or URL is part of the identity, and the
            content of every file it is read from, local or remote (see
            :func:`content_digest`).
        classifier: The classifier.
        key: The options that change the windows or their contents.

    Returns:
        A hex digest.
    """
    path = scene.path
    files = scene.files
    data = {
        'scene': absolute(path) if isinstance(path, Url) else os.path.abspath(path),
        'content': {str(f): content_digest(f) for f in sorted(files, key=str)},
        'model': model_digest(classifier),
        **key,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
