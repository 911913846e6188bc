from collections.abc import Sequence
from pathlib import Path

import pytest

from geokd.predict import PredictError, resolve_bands
from geokd.predict.scene.bands import (
    FILE_ORDER,
    band_code,
    band_order,
    canonical_band,
    describe_mapping,
)

SCENE = Path('scene.tif')
#: A standard Sentinel-2 L1C stack: B8A after B8.
L1C = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12']
#: EuroSAT's order: B8A last.
EUROSAT = [b for b in L1C if b != 'B8A'] + ['B8A']
SAR = ['VV', 'VH']


def indexes(
    names: Sequence[str | None],
    expected: Sequence[str],
    bands: Sequence[str | int] | None = None,
) -> list[int]:
    matches = resolve_bands(SCENE, names, expected, len(expected) or 2, bands)
    return [m.index for m in matches]


def test_canonical_band_names() -> None:
    assert canonical_band(' b01 ') == 'B1'
    for spelling in ('B8A', 'B08A', 'B8a', 'b08a', 'S2_B8A'):
        assert canonical_band(spelling) == 'B8A'
    assert canonical_band('vv') == 'VV'
    assert canonical_band('B10') == 'B10'


@pytest.mark.parametrize(
    ('text', 'code'),
    [
        ('S2A_MSIL2A_20170613T101031_87_48_B08', 'B8'),
        ('T31TCJ_20200101T105441_B8A_20m', 'B8A'),
        ('T31TCJ_20200101T105441_B02_10m.jp2', 'B2'),
        ('s1a-iw-grd-vv-20200101t060000-20200101t060025-030000-036000-001', 'VV'),
        ('S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48_VH', 'VH'),
        ('S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db', 'VV'),
        ('Sigma0_VV_db', 'VV'),
        ('B1', 'B1'),
        ('T31TCJ_20200101T105441_TCI_10m', None),
        ('S1_VV_VH', None),  # two codes: not one band
        ('scene', None),
    ],
)
def test_band_codes_in_file_names(text: str, code: str | None) -> None:
    assert band_code(text) == code


def test_band_order_is_the_sensors() -> None:
    shuffled = ['B12', 'VH', 'B8A', 'B1', 'VV', 'B8', 'B9', 'B10']
    assert sorted(shuffled, key=band_order) == [
        'B1', 'B8', 'B8A', 'B9', 'B10', 'B12', 'VV', 'VH',
    ]  # fmt: skip


def test_names_matched_in_the_model_order() -> None:
    assert indexes(['B01', 'B02', 'B8A', 'B04'], ['B4', 'B8A']) == [4, 3]
    # EuroSAT's model (B8A last) reading a standard L1C stack (B8A ninth).
    assert indexes(L1C, EUROSAT) == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 9]
    assert indexes(['vh', 'vv'], SAR) == [2, 1]


def test_the_mapping_is_reported_on_one_line() -> None:
    matches = resolve_bands(SCENE, ['VH', 'VV'], SAR, 2, None)
    assert describe_mapping(matches) == 'VV <- 2 (VV), VH <- 1 (VH)'
    unnamed = resolve_bands(SCENE, [None, None], SAR, 2, [FILE_ORDER])
    assert describe_mapping(unnamed) == 'VV <- 1, VH <- 2'


def test_user_selection_by_index_name_or_file_order() -> None:
    assert indexes(['VH', 'VV'], SAR, ['vv', 1]) == [2, 1]
    assert indexes([None, None], SAR, ['2', '1']) == [2, 1]
    assert indexes([None, None], SAR, [FILE_ORDER]) == [1, 2]
    # A model without band names (e.g. RGB photographs) reads the file's order.
    assert indexes([None, None], []) == [1, 2]


@pytest.mark.parametrize(
    ('names', 'bands', 'message'),
    [
        (
            [None] * 13,
            None,
            r'scene\.tif: its 13 band\(s\) carry no names.*in this order: B1, B2, '
            r'.*B12, B8A; pass --bands .* or --bands file-order',
        ),
        ([None, None], None, r'carry no names'),
        (
            ['VV'],
            None,
            r'scene\.tif: has no band VH \(its bands: VV\); the model reads VV, VH; '
            r'.* with a model trained on VV only',
        ),
        (
            ['HH', 'HV'],
            None,
            r'has no band VV, VH \(its bands: HH, HV\); the model reads VV, VH$',
        ),
        (['VV', 'VV', 'VH'], None, r'several bands named VV'),
        (['VV', 'VH'], ['1', '1'], r'--bands uses band 1 more than once'),
        (['VV', 'VH'], ['vv', '1'], r'--bands uses band 1 more than once'),
        (['VV', 'VH'], ['3', '1'], r'has no band 3 \(it has 2: VV, VH\)'),
        (['VV', 'VH'], ['0', '1'], r'has no band 0'),
        (['VV', 'VH'], ['HH', 'VV'], r"has no band named 'HH' \(its bands: VV, VH\)"),
        (['VV', 'VH'], ['VV'], r'selects 1 band\(s\) but the model reads 2 bands'),
        (['VV'], [FILE_ORDER], r'file-order needs exactly .* 2 bands .* has 1 \(VV\)'),
        (['VV'], ['1', '1'], r'more than once'),
    ],
)
def test_refusals_are_one_line_naming_the_scene(
    names: list[str | None], bands: list[str] | None, message: str
) -> None:
    expected = EUROSAT if len(names) == 13 else SAR
    with pytest.raises(PredictError, match=message) as info:
        resolve_bands(SCENE, names, expected, len(expected), bands)
    assert '\n' not in str(info.value)
    assert str(info.value).startswith('scene.tif: ')
