"""Hostile ``geokd evaluate``: missing, foreign and mismatched rasters, bad outputs."""

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.evaluate.rasters import NAMES, pixel_transform, write_map, write_raster

from .conftest import Geokd
from .helpers import Sandbox, assert_clean_error

#: A case: arguments after ``geokd evaluate`` and the text the error must contain.
Case = Callable[[Sandbox], tuple[list[str], str]]

PATTERN = np.add.outer(np.arange(4), np.arange(4)) % 3


def good_map(box: Sandbox) -> Path:
    return write_map(box.inputs / 'm_classes.tif', PATTERN)


def good_reference(box: Sandbox) -> Path:
    labels = np.kron(PATTERN, np.ones((10, 10), 'int16'))
    return write_raster(box.inputs / 'labels.tif', labels, pixel_transform())


def with_map(make: Callable[[Path], object], *extra: str) -> Case:
    """A case whose map is written by ``make(path)``."""

    def case(box: Sandbox) -> tuple[list[str], str]:
        path = box.inputs / 'bad_classes.tif'
        make(path)
        return [str(path), str(good_reference(box)), *extra], str(path)

    return case


def with_reference(make: Callable[[Path], object], *extra: str) -> Case:
    """A case whose reference is written by ``make(path)``."""

    def case(box: Sandbox) -> tuple[list[str], str]:
        path = box.inputs / 'bad_reference.tif'
        make(path)
        return [str(good_map(box)), str(path), *extra], str(path)

    return case


def arguments(*args: str, names: str) -> Case:
    def case(box: Sandbox) -> tuple[list[str], str]:
        return [str(good_map(box)), str(good_reference(box)), *args], names

    return case


def output(kind: str) -> Case:
    def case(box: Sandbox) -> tuple[list[str], str]:
        m, ref = good_map(box), good_reference(box)
        box.out.mkdir(exist_ok=True)
        foreign = box.out / 'foreign.json'
        foreign.write_text(json.dumps({'results': [1, 2]}))
        target = {
            'directory': box.out,
            'missing directory': box.out / 'no' / 'such' / 'e.json',
            'the map': m,
            'the reference': ref,
            'a foreign file': foreign,
        }[kind]
        return [str(m), str(ref), '--output', str(target)], str(target)

    return case


def text(path: Path) -> None:
    path.write_text('not a raster\n')


def _tags(names: object) -> dict[str, str]:
    return {'CLASS_NAMES': json.dumps(names)}


CASES: dict[str, Case] = {
    'map missing': lambda box: (
        [str(box.inputs / 'nope.tif'), str(good_reference(box))],
        'nope.tif',
    ),
    'map a directory': lambda box: (
        [str(box.inputs), str(good_reference(box))],
        str(box.inputs),
    ),
    'map not a raster': with_map(text),
    'map empty file': with_map(lambda p: p.write_bytes(b'')),
    'map truncated': with_map(
        lambda p: p.write_bytes(good_map_bytes(p)[: len(good_map_bytes(p)) // 2])
    ),
    'map of probabilities': with_map(
        lambda p: write_raster(
            p, np.zeros((3, 4, 4), 'float32'), pixel_transform(100), tags=_tags(NAMES)
        )
    ),
    'map without class names': with_map(
        lambda p: write_raster(p, PATTERN.astype('uint8'), pixel_transform(100))
    ),
    'map with malformed class names': with_map(
        lambda p: write_raster(
            p, PATTERN.astype('uint8'), pixel_transform(100), tags=_tags({'a': 1})
        )
    ),
    'map with a class beyond its names': with_map(lambda p: write_map(p, PATTERN + 3)),
    'map without CRS': with_map(lambda p: write_map(p, PATTERN, crs=None)),
    'reference missing': lambda box: (
        [str(good_map(box)), str(box.inputs / 'gone.tif')],
        'gone.tif',
    ),
    'reference not a raster': with_reference(text),
    'reference without CRS (an OMBRIA PNG)': with_reference(
        lambda p: write_raster(p, np.zeros((40, 40), 'uint8'), None, None)
    ),
    'reference with two bands': with_reference(
        lambda p: write_raster(p, np.zeros((2, 40, 40), 'uint8'), pixel_transform())
    ),
    'reference elsewhere': with_reference(
        lambda p: write_raster(
            p, np.zeros((40, 40), 'uint8'), pixel_transform() @ pixel_transform()
        )
    ),
    'reference all unlabelled': with_reference(
        lambda p: write_raster(p, np.full((40, 40), -1, 'int16'), pixel_transform()),
        '--ignore',
        '-1',
    ),
    'reference all nodata': with_reference(
        lambda p: write_raster(
            p, np.full((40, 40), np.nan, 'float32'), pixel_transform(), nodata=np.nan
        )
    ),
    'reference with more classes than the map': with_reference(
        lambda p: write_raster(p, np.full((40, 40), 5, 'uint8'), pixel_transform())
    ),
    'reference of fractions as labels': with_reference(
        lambda p: write_raster(p, np.full((40, 40), 0.4, 'float32'), pixel_transform())
    ),
    'reference naming fewer classes': with_reference(
        lambda p: write_raster(
            p,
            np.zeros((40, 40), 'uint8'),
            pixel_transform(),
            tags=_tags(['land', 'water']),
        )
    ),
    'flood mask of three values': with_reference(
        lambda p: write_raster(
            p, np.arange(1600).reshape(40, 40) % 3, pixel_transform()
        ),
        '--reference-kind',
        'flood-fraction',
    ),
    'flood mask unlabelled under the map': with_reference(
        lambda p: write_raster(
            p,
            np.where(np.arange(1600).reshape(40, 40) % 10 < 7, -1, 1).astype('int16'),
            pixel_transform(),
        ),
        '--reference-kind',
        'flood-fraction',
        '--ignore',
        '-1',
        '--min-labelled',
        '0.9',
    ),
    'thresholds for another number of classes': arguments(
        '--reference-kind', 'flood-fraction', '--thresholds', '0.5', names='m_classes'
    ),
    'thresholds decreasing': arguments(
        '--thresholds', '0.5', '0.05', names='--thresholds'
    ),
    'threshold above 1': arguments('--thresholds', '0.05', '50', names='--thresholds'),
    'min-labelled not a fraction': arguments(
        '--min-labelled', '2', names='--min-labelled'
    ),
    'unknown reference kind': arguments(
        '--reference-kind', 'polygons', names='--reference-kind'
    ),
    'ignore not a number': arguments('--ignore', 'minus-one', names='--ignore'),
    'output a directory': output('directory'),
    'output in a missing directory': output('missing directory'),
    'output is the map': output('the map'),
    'output is the reference': output('the reference'),
    'output a foreign file': output('a foreign file'),
    'no arguments': lambda box: ([], 'MAP'),
}


def good_map_bytes(path: Path) -> bytes:
    """Bytes of a valid class map, written beside ``path``."""
    return write_map(path.with_name('whole.tif'), PATTERN).read_bytes()


@pytest.mark.parametrize('case', CASES.values(), ids=CASES.keys())
def test_evaluate_hostile(case: Case, sandbox: Sandbox, geokd: Geokd) -> None:
    argv, names = case(sandbox)
    outcome = geokd(['evaluate', *argv])
    assert_clean_error(outcome, 'evaluate', names)
    written = list(sandbox.inputs.glob('*evaluation*')) + list(
        sandbox.out.glob('**/*evaluation*') if sandbox.out.exists() else []
    )
    assert written == []


@pytest.mark.skipif(os.geteuid() == 0, reason='root may write anywhere')
def test_evaluate_output_not_writable(sandbox: Sandbox, geokd: Geokd) -> None:
    m, ref = good_map(sandbox), good_reference(sandbox)
    sandbox.out.mkdir()
    sandbox.out.chmod(0o500)
    target = sandbox.out / 'e.json'
    try:
        outcome = geokd(['evaluate', str(m), str(ref), '--output', str(target)])
    finally:
        sandbox.out.chmod(0o700)
    assert_clean_error(outcome, 'evaluate', str(target))


def test_evaluate_disk_full(sandbox: Sandbox, geokd: Geokd, full_disk: Path) -> None:
    m, ref = good_map(sandbox), good_reference(sandbox)
    target = full_disk / 'e.json'
    outcome = geokd(['evaluate', str(m), str(ref), '--output', str(target)])
    assert_clean_error(outcome, 'evaluate', str(target))
    assert not target.exists()
