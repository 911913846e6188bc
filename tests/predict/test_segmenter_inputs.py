"""A segmenter reads every kind of scene a classifier reads: a COG URL (range
requests to a local HTTP server) and a STAC item with one asset per polarisation give
the map of the local file."""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geokd.export import SingleSensorClassifier
from geokd.predict import OutputPaths, PredictOptions, predict_scene

from .conftest import sar_pixels
from .scene.range_server import RangeServer
from .scene.test_cloud import _asset, _cog, _item
from .test_realdata import _cli

pytestmark = pytest.mark.enable_socket


@pytest.fixture(scope='module')
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-band SAR COG, its bands as single-band COGs, and a STAC item of those."""
    root = tmp_path_factory.mktemp('served')
    data = sar_pixels(96, 80, seed=5)
    _cog(data, root / 'S1_scene.tif', ('VV', 'VH'))
    _cog(data[:1], root / 'vv.tif', ('',))
    _cog(data[1:], root / 'vh.tif', ('',))
    item = _item(
        'S1_item', {'vv': _asset('vv.tif', 'VV'), 'vh': _asset('vh.tif', 'VH')}
    )
    (root / 'item.json').write_text(json.dumps(item))
    return root


@pytest.fixture(scope='module')
def server(served: Path) -> Iterator[RangeServer]:
    server = RangeServer(served).start()
    yield server
    server.stop()


def _read(prefix: Path) -> list[np.ndarray]:
    paths = OutputPaths(prefix)
    arrays = []
    for name in ('classes', 'confidence'):
        with rasterio.open(getattr(paths, name)) as src:
            arrays.append(src.read())
    return arrays


def test_url_and_stac_item_give_the_local_map(
    served: Path,
    server: RangeServer,
    sar_segmenter: SingleSensorClassifier,
    sar_segmenter_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = PredictOptions(window=32, quiet=True)
    predict_scene(sar_segmenter, served / 'S1_scene.tif', tmp_path / 'local', options)
    local = _read(tmp_path / 'local')
    for source in ('S1_scene.tif', 'item.json'):
        args = [server.url(source), '-m', str(sar_segmenter_dir), '-q',
                '--window', '32', '-o', f'{tmp_path}/remote/']  # fmt: skip
        code, _, err = _cli(args, capsys)
        assert code == 0, err
    for name in ('S1_scene', 'S1_item'):
        prefix = tmp_path / 'remote' / name
        for a, b in zip(_read(prefix), local, strict=True):
            np.testing.assert_array_equal(a, b)
        summary = json.loads(OutputPaths(prefix).summary.read_text())
        assert summary['model']['kind'] == 'segmenter'
