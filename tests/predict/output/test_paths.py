import json
from pathlib import Path

import pytest

from geokd.predict import OutputPaths, PredictError, PredictOptions
from geokd.predict.output.paths import check_not_inputs, commit


def test_outputs_written_follow_the_options(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path / 's')
    assert list(paths.written(PredictOptions())) == [
        'classes',
        'confidence',
        'style',
        'categories',
        'summary',
    ]
    every = PredictOptions(probabilities=True, polygons=True)
    assert list(paths.written(every)) == list(paths.finals)
    assert paths.lock.name == '.geokd-predict.lock'
    assert paths.staged('summary') == paths.partial / 'summary.json'


def test_no_output_replaces_an_input(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path / 's')
    check_not_inputs(paths, [tmp_path / 's.tif', tmp_path / 'other_classes.tif'])
    with pytest.raises(PredictError, match=r's_confidence\.tif: is an input'):
        check_not_inputs(paths, [tmp_path / 'x' / '..' / 's_confidence.tif'])
    (tmp_path / 'scene.tif').write_text('x')
    paths.classes.symlink_to(tmp_path / 'scene.tif')
    with pytest.raises(PredictError, match=r'scene\.tif: is an input'):
        check_not_inputs(paths, [tmp_path / 'scene.tif'])


def _stage(paths: OutputPaths, names: list[str]) -> None:
    paths.partial.mkdir(exist_ok=True)
    for name in names:
        paths.staged(name).write_text(f'new {name}')


def test_commit_moves_everything_in_the_summary_last(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path / 's')
    for name in ('classes', 'summary', 'probabilities'):
        paths.finals[name].write_text(f'old {name}')
    names = ['classes', 'confidence', 'style', 'summary']
    _stage(paths, names)
    commit(paths, names, ['probabilities'])
    suffixes = {
        'classes': 'classes.tif',
        'confidence': 'confidence.tif',
        'style': 'classes.qml',
        'summary': 'summary.json',
    }
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        f's_{suffix}': f'new {name}' for name, suffix in suffixes.items()
    }


def test_commit_can_be_repeated_after_an_interruption(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path / 's')
    paths.summary.write_text(json.dumps({'old': True}))
    names = ['classes', 'confidence', 'style', 'summary']
    _stage(paths, names)
    paths.staged('classes').rename(paths.classes)  # stopped after the first move
    paths.summary.unlink()
    commit(paths, names, [])
    assert paths.summary.read_text() == 'new summary'
    assert not paths.partial.exists()
    # Stopped after the summary's move: a repeat keeps the new summary.
    _stage(paths, ['classes'])
    commit(paths, names, [])
    assert paths.summary.read_text() == 'new summary'


def test_commit_refuses_a_staged_output_that_vanished(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path / 's')
    _stage(paths, ['classes', 'summary'])
    with pytest.raises(PredictError, match=r'confidence\.cog\.tif: missing'):
        commit(paths, ['classes', 'confidence', 'summary'], [])
    assert not paths.summary.exists()
