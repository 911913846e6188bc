from pathlib import Path

import pytest

from geokd.deploy import PredictError, resolve_bands
from geokd.deploy.bands import canonical_band

SCENE = Path('scene.tif')
S2 = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12']


def test_canonical_band_names() -> None:
    assert canonical_band(' b01 ') == 'B1'
    assert canonical_band('B08A') == 'B8A'
    assert canonical_band('vv') == 'VV'
    assert canonical_band('B10') == 'B10'


def test_names_matched_in_the_model_order() -> None:
    descriptions = ['B01', 'B02', 'B8A', 'B04']
    assert resolve_bands(SCENE, descriptions, ['B4', 'B8A'], 2, None) == [4, 3]
    # Model order differs from the file's (EuroSAT puts B8A last).
    model = [b for b in S2 if b != 'B8A'] + ['B8A']
    assert resolve_bands(SCENE, S2, model, 13, None)[-1] == S2.index('B8A') + 1


def test_file_order_when_names_do_not_match_but_counts_do() -> None:
    assert resolve_bands(SCENE, [None, None], ['VV', 'VH'], 2, None) == [1, 2]
    assert resolve_bands(SCENE, ['HH', 'HV'], ['VV', 'VH'], 2, None) == [1, 2]


def test_user_selection_by_index_or_name() -> None:
    assert resolve_bands(SCENE, ['VH', 'VV'], ['VV', 'VH'], 2, ['vv', 1]) == [2, 1]
    assert resolve_bands(SCENE, [None, None], [], 2, ['2', '1']) == [2, 1]


@pytest.mark.parametrize(
    ('descriptions', 'bands', 'message'),
    [
        (
            ['VV', 'VH'],
            ['3', '1'],
            r'scene\.tif: has no band 3 \(it has 2 \(VV, VH\)\)',
        ),
        (['VV', 'VH'], ['HH', 'VV'], r"has no band named 'HH' \(bands \(VV, VH\)\)"),
        (
            ['VV', 'VH'],
            ['VV'],
            r'selects 1 bands but the model reads 2 bands \(VV, VH\)',
        ),
        ([None, None, None], None, r'has 3 band\(s\) \(unnamed\) .* select them'),
    ],
)
def test_errors_name_the_file_and_the_bands(
    descriptions: list[str | None], bands: list[str] | None, message: str
) -> None:
    with pytest.raises(PredictError, match=message):
        resolve_bands(SCENE, descriptions, ['VV', 'VH'], 2, bands)
