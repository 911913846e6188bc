"""Hostile probes of ``geokd predict`` (issue 19.20): names from files that others
wrote never reach the terminal with control characters, and signed URLs' tokens
never reach the summary."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.predict.conftest import sar_pixels
from tests.predict.scene.range_server import RangeServer

from .predict_helpers import Run, predict, write_raster
from .round2 import out_of, summaries

pytestmark = pytest.mark.usefixtures('one_thread')

ESCAPES = ['\x1b[2J', '\x1b]0;pwned\x07', '\x9b31m', 'a\rb', 'x\x00y', '\u202eevil']


def _clean(text: str) -> bool:
    return not any(c in text for c in '\x1b\x07\x9b\r\x00\u202e')


def _item(names: list[str], href: str) -> dict:
    return {
        'type': 'Feature', 'stac_version': '1.0.0', 'id': 'item',
        'geometry': None, 'properties': {'datetime': '2020-01-01T00:00:00Z'},
        'links': [],
        'assets': {'data': {'href': href, 'type': 'image/tiff',
                            'eo:bands': [{'name': n} for n in names]}},
    }  # fmt: skip


@pytest.mark.parametrize('escape', ESCAPES)
def test_stac_band_names_with_control_characters(
    tmp_path: Path, run: Run, escape: str
) -> None:
    write_raster(tmp_path / 'scene.tif', sar_pixels(32, 32))
    item = tmp_path / 'item.json'
    item.write_text(json.dumps(_item([f'VV{escape}', f'{escape}HH'], 'scene.tif')))
    result = run(item, '-o', out_of(tmp_path))
    assert result.code == 1  # the model's VH is not among the item's bands
    assert _clean(result.out + result.err), repr(result.err)
    assert len(result.err.splitlines()) == 1, result.err


@pytest.mark.parametrize('escape', ESCAPES)
def test_band_descriptions_with_control_characters(
    tmp_path: Path, run: Run, escape: str
) -> None:
    import rasterio

    path = write_raster(tmp_path / 'scene.tif', sar_pixels(32, 32))
    with rasterio.open(path, 'r+') as dst:
        dst.descriptions = (f'HH{escape}', f'{escape}HV')
    result = run(path, '-o', out_of(tmp_path))
    assert result.code == 1
    assert _clean(result.out + result.err), repr(result.err)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RangeServer]:
    (tmp_path / 'served').mkdir()
    write_raster(tmp_path / 'served' / 'scene.tif', sar_pixels(32, 32))
    started = RangeServer(tmp_path / 'served').start()
    yield started
    started.stop()


@pytest.mark.enable_socket
@pytest.mark.parametrize('query', ['X-Amz-Signature=SECRET&X-Amz-Credential=KEY',
                                   'sig=SECRET&se=2030', 'token=SECRET'])  # fmt: skip
def test_signed_url_tokens_stay_out_of_the_summary(
    tmp_path: Path,
    model: Path,
    server: RangeServer,
    capsys: pytest.CaptureFixture[str],
    query: str,
) -> None:
    url = f'{server.url("scene.tif")}?{query}'
    result = predict([url, '--model', model, '-o', out_of(tmp_path)], capsys)
    assert result.code == 0, result.err
    [summary] = summaries(tmp_path)
    text = summary.read_text()
    assert 'SECRET' not in text
    assert 'KEY' not in text
    assert server.url('scene.tif') in text


def _single_bands(folder: Path) -> None:
    import rasterio

    with rasterio.open(folder / 'scene.tif') as src:
        profile, data = {**src.profile, 'count': 1}, src.read()
    for band, name in zip(data, ('vv', 'vh'), strict=True):
        with rasterio.open(folder / f'scene_{name}.tif', 'w', **profile) as dst:
            dst.write(band[None])


@pytest.mark.enable_socket
@pytest.mark.parametrize('query', ['X-Amz-Signature=SECRET&X-Amz-Credential=KEY',
                                   'sig=SECRET&se=2030', 'token=SECRET'])  # fmt: skip
@pytest.mark.parametrize('how', ['scene', 'band files'])
def test_signed_url_tokens_stay_off_the_terminal(
    tmp_path: Path,
    model: Path,
    server: RangeServer,
    capsys: pytest.CaptureFixture[str],
    query: str,
    how: str,
) -> None:
    url = f'{server.url("scene.tif")}?{query}'
    if how == 'scene':
        args = [url]
    else:
        _single_bands(tmp_path / 'served')
        args = [f'--band-file=VV={server.url("scene_vv.tif")}?{query}',
                f'--band-file=VH={server.url("scene_vh.tif")}?{query}']  # fmt: skip
    result = predict([*args, '--model', model, '-o', out_of(tmp_path)], capsys)
    assert result.code == 0, result.err
    assert result.out, 'the report names the scene'
    assert 'SECRET' not in result.out + result.err, result.out + result.err
    assert 'KEY' not in result.out + result.err
