"""Hostile probes of ``geokd predict`` (issue 19): stac ids."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.predict.conftest import sar_pixels

from .predict_helpers import Run, assert_error, write_raster
from .round2 import out_of, summaries

pytestmark = pytest.mark.usefixtures('one_thread')

# 19.4: STAC items whose outputs would clash are never silently dropped -------------


def _item(item_id: str, href: str, assets: str = 'one file') -> dict[str, Any]:
    """An item of one two-band asset, or of two single-band assets (the same file)."""
    if assets == 'one file':
        bands = [{'name': 'VV'}, {'name': 'VH'}]
        files = {'data': {'href': href, 'type': 'image/tiff', 'eo:bands': bands}}
    else:
        files = {k: {'href': href, 'type': 'image/tiff', 'eo:bands': [{'name': k}]}
                 for k in ('vv', 'vh')}  # fmt: skip
    return {
        'type': 'Feature', 'stac_version': '1.0.0', 'id': item_id,
        'geometry': None, 'properties': {'datetime': '2020-01-01T00:00:00Z'},
        'links': [], 'assets': files,
    }  # fmt: skip


@pytest.mark.parametrize(
    'ids',
    [('x', 'x'), ('a/b', 'a_b'), ('Scene', 'scene'), ('a b', 'a_b', 'c')],
    ids=['same id', 'same once sanitised', 'same but for case', 'three items'],
)
@pytest.mark.parametrize('assets', ['one file', 'band files'])
def test_stac_items_whose_outputs_clash(
    tmp_path: Path, run: Run, ids: tuple, assets: str
) -> None:
    (tmp_path / 'in').mkdir()
    features = []
    for i, item_id in enumerate(ids):
        write_raster(tmp_path / 'in' / f'{i}.tif', sar_pixels(32, 32, seed=i))
        features.append(_item(item_id, f'{i}.tif', assets))
    collection = tmp_path / 'in' / 'items.json'
    collection.write_text(
        json.dumps({'type': 'FeatureCollection', 'features': features})
    )
    result = run(collection, '-o', out_of(tmp_path))
    line = assert_error(result, 1, 'items.json', 'same output files')
    assert repr(ids[0]) in line
    assert repr(ids[1]) in line
    assert summaries(tmp_path) == []  # neither item: no silent choice of one


def test_stac_items_with_distinct_ids_are_all_classified(
    tmp_path: Path, run: Run
) -> None:
    (tmp_path / 'in').mkdir()
    features = []
    for i, item_id in enumerate(['a', 'b']):
        write_raster(tmp_path / 'in' / f'{i}.tif', sar_pixels(32, 32, seed=i))
        features.append(_item(item_id, f'{i}.tif'))
    collection = tmp_path / 'in' / 'items.json'
    collection.write_text(
        json.dumps({'type': 'FeatureCollection', 'features': features})
    )
    assert run(collection, '-o', out_of(tmp_path)).code == 0
    assert [p.name for p in summaries(tmp_path)] == ['a_summary.json', 'b_summary.json']
