"""Hostile probes of ``geokd predict`` (issue 19.13): the set-up of a call with many
scenes (checking that no output replaces an input) is linear in the scenes, and the
locks of its pending scenes hold no open file each."""

import os
import resource
from pathlib import Path

import pytest

from tests.predict.conftest import sar_pixels

from .predict_helpers import Run, write_raster

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.mark.parametrize('count', [50, 300])
def test_set_up_is_linear_in_the_scenes(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(16, 16))
    (tmp_path / 'in').mkdir()
    data = scene.read_bytes()
    for i in range(count):
        (tmp_path / 'in' / f's{i:04d}.tif').write_bytes(data)
    calls, at_start = [0], []
    stat = os.stat

    def counted(*args: object, **kwargs: object) -> os.stat_result:
        calls[0] += 1
        return stat(*args, **kwargs)  # type: ignore[arg-type]

    def stop(*args: object) -> int:
        at_start.append(calls[0])  # where the first scene would be classified
        return 0

    monkeypatch.setattr('geokd.predict.cli._classify', stop)
    monkeypatch.setattr(os, 'stat', counted)
    result = run(tmp_path / 'in' / '*.tif', '-o', f'{tmp_path}/out/')
    assert result.code == 0, result.err
    assert at_start[0] < 60 * count, at_start[0]


def test_pending_scenes_hold_no_open_file_each(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(16, 16))
    (tmp_path / 'in').mkdir()
    data = scene.read_bytes()
    for i in range(300):
        (tmp_path / 'in' / f's{i:04d}.tif').write_bytes(data)
    opened: list[int] = []

    def stop(*args: object) -> int:  # every prefix is locked here
        opened.append(len(os.listdir('/proc/self/fd')))
        return 0

    monkeypatch.setattr('geokd.predict.cli._classify', stop)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    before = len(os.listdir('/proc/self/fd'))
    # As `ulimit -n`: far fewer files than scenes may be open.
    resource.setrlimit(resource.RLIMIT_NOFILE, (before + 64, hard))
    try:
        result = run(tmp_path / 'in' / '*.tif', '-o', f'{tmp_path}/out/')
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert result.code == 0, result.err
    assert opened
    assert opened[0] < before + 8, (before, opened)
