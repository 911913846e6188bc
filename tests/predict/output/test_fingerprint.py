import os
import shutil
from pathlib import Path

import torch

from geokd.export.classifier import SingleSensorClassifier
from geokd.predict.output.fingerprint import (
    EDGE,
    file_digest,
    model_digest,
    run_fingerprint,
)
from geokd.predict.scene.sources import scene_input

from ..conftest import tiny_classifier


def _edit(path: Path, offset: int) -> None:
    """Change one byte, keeping the size and the modification time."""
    stat = path.stat()
    with open(path, 'r+b') as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_small_files_are_hashed_whole(tmp_path: Path) -> None:
    path = tmp_path / 'scene.tif'
    path.write_bytes(os.urandom(100_000))
    digest = file_digest(path)
    shutil.copy(path, tmp_path / 'copy.tif')
    assert file_digest(tmp_path / 'copy.tif') == digest  # content, not name or time
    _edit(path, 54_321)
    assert file_digest(path) != digest


def test_large_files_are_hashed_by_edges_and_samples(tmp_path: Path) -> None:
    path = tmp_path / 'scene.tif'
    path.write_bytes(os.urandom(3 * EDGE + 12_345))
    digest = file_digest(path, whole_file=EDGE)
    for offset in (10, path.stat().st_size - 10, EDGE + 5):  # header, end, sample 0
        _edit(path, offset)
        assert file_digest(path, whole_file=EDGE) != digest
        _edit(path, offset)  # undone
        assert file_digest(path, whole_file=EDGE) == digest
    with open(path, 'ab') as f:  # any other size is another file
        f.write(b'\0')
    assert file_digest(path, whole_file=EDGE) != digest


def test_run_fingerprint(tmp_path: Path, sar_model: SingleSensorClassifier) -> None:
    scene = tmp_path / 'scene.tif'
    scene.write_bytes(b'a' * 1000)
    key = {'patch': 16}
    base = run_fingerprint(scene_input(scene), sar_model, key)
    assert run_fingerprint(scene_input(scene), sar_model, key) == base
    assert run_fingerprint(scene_input(scene), sar_model, {'patch': 8}) != base
    stat = scene.stat()
    scene.write_bytes(b'b' * 1000)
    os.utime(scene, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run_fingerprint(scene_input(scene), sar_model, key) != base
    other = tiny_classifier('sar')
    assert model_digest(other) == model_digest(sar_model)
    with torch.no_grad():
        next(other.model.parameters()).add_(1e-3)
    assert model_digest(other) != model_digest(sar_model)
