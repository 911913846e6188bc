"""Fingerprints that say whether a resumed run is the same run: scene, model, options.

A scene is identified by its content, not by its path, size and modification time: a
scene replaced by another file of the same size with the old time must not be mixed
into an interrupted run. Files up to :data:`WHOLE_FILE` bytes are hashed whole (a
second or two per GiB, little next to classifying them). Larger files are hashed by
their size, their first and last :data:`EDGE` bytes (a GeoTIFF's headers, tile
offsets and byte counts live there, and any change of a compressed tile changes
them) and :data:`SAMPLES` chunks spread evenly over the rest.
"""

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .export import SingleSensorClassifier

WHOLE_FILE = 2**30
EDGE = 2**20
SAMPLES = 256
CHUNK = 2**16


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


def run_fingerprint(
    scene: Path,
    files: Iterable[str | Path],
    classifier: SingleSensorClassifier,
    key: dict[str, Any],
) -> str:
    """Identify a run: same scene content, model and options.

    Args:
        scene: The scene as given (its absolute path is part of the identity).
        files: Every file the scene is read from (e.g. a VRT and its sources).
        classifier: The classifier.
        key: The options that change the windows or their contents.

    Returns:
        A hex digest.
    """
    data = {
        'scene': os.path.abspath(scene),
        'content': {str(f): file_digest(f) for f in sorted(map(str, files))},
        'model': model_digest(classifier),
        **key,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
