import json
from pathlib import Path

import pytest

from geokd.predict import OutputPaths, PredictError, PredictOptions
from geokd.predict.output.run_state import (
    RunState,
    check_existing,
    finished_run,
    start_or_resume,
)
from geokd.predict.output.tally import ClassTally


def test_state_round_trip_and_unreadable_progress(tmp_path: Path) -> None:
    state = RunState('abc', 3, ClassTally([1, 2], None), ['classes'], ['polygons'])
    state.save(tmp_path / 'progress.json')
    assert RunState.load(tmp_path / 'progress.json') == state
    assert RunState.load(tmp_path / 'progress.json', 3) is None  # other class count
    (tmp_path / 'bad.json').write_text('{"fingerprint": "abc"')
    assert RunState.load(tmp_path / 'bad.json') is None
    (tmp_path / 'partial.json').write_text('{"fingerprint": "abc"}')
    assert RunState.load(tmp_path / 'partial.json') is None


@pytest.mark.parametrize(
    'change',
    [
        {'completed': -1},
        {'completed': 1.5},
        {'completed': True},
        {'class_cells': [1, -2]},
        {'class_cells': 'ab'},
        {'class_km2': [0.1]},
        {'class_km2': [0.1, -1.0]},
        {'staged': [1]},
        {'staged': ['../../x']},
        {'remove': 'summary'},
        {'remove': ['/etc/passwd']},
        {'fingerprint': None, 'class_cells': None},
    ],
)
def test_hostile_progress_is_not_trusted(tmp_path: Path, change: dict) -> None:
    data = {'fingerprint': 'abc', 'completed': 1, 'class_cells': [1, 2],
            'class_km2': [0.1, 0.2], 'staged': [], 'remove': []}  # fmt: skip
    (tmp_path / 'p.json').write_text(json.dumps(data | change))
    assert RunState.load(tmp_path / 'p.json', 2) is None


def test_resume_continues_only_the_same_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = OutputPaths(tmp_path / 's')
    resume = PredictOptions(resume=True)
    state = start_or_resume(paths, 'abc', resume, 2, 5)
    assert state == RunState('abc', 0, ClassTally.zeros(2))
    assert RunState.load(paths.progress) == state  # the partial directory is marked
    (paths.partial / 'classes.tif').write_text('working raster')
    state.completed = 2
    state.save(paths.progress)
    assert start_or_resume(paths, 'abc', resume, 2, 5).completed == 2
    # More windows done than the run has: not this run.
    assert start_or_resume(paths, 'abc', resume, 2, 1).completed == 0
    state.save(paths.progress)
    # Without --resume, or for another run, the partial directory starts afresh.
    assert start_or_resume(paths, 'abc', PredictOptions(), 2, 5).completed == 0
    assert not (paths.partial / 'classes.tif').exists()
    state.save(paths.progress)
    assert start_or_resume(paths, 'other', resume, 2, 5).completed == 0
    assert 'starting over' in capsys.readouterr().out
    assert sorted(p.name for p in paths.partial.iterdir()) == ['progress.json']


def test_a_partial_directory_that_is_not_geokds_is_kept(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path / 's')
    paths.partial.mkdir()
    (paths.partial / 'notes.txt').write_text('mine')
    with pytest.raises(PredictError, match=r'\.s\.partial: exists but is not a geokd'):
        start_or_resume(paths, 'abc', PredictOptions(), 2, 5)
    assert (paths.partial / 'notes.txt').read_text() == 'mine'
    (paths.partial / 'notes.txt').unlink()
    paths.partial.rmdir()
    (tmp_path / 'elsewhere').mkdir()
    paths.partial.symlink_to(tmp_path / 'elsewhere')
    with pytest.raises(PredictError, match='not a geokd working directory'):
        start_or_resume(paths, 'abc', PredictOptions(overwrite=True), 2, 5)
    assert paths.partial.is_symlink()


def test_rules_on_existing_outputs(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path / 's')
    check_existing(paths, PredictOptions())
    assert finished_run(paths, 'abc', PredictOptions(resume=True)) is None
    # Any existing output, summary or not, is refused without --overwrite.
    paths.classes.write_text('a class map without summary')
    with pytest.raises(PredictError, match=r's_classes\.tif: already exists'):
        check_existing(paths, PredictOptions())
    with pytest.raises(PredictError, match=r's_classes\.tif: already exists'):
        start_or_resume(paths, 'abc', PredictOptions(resume=True), 2, 5)
    check_existing(paths, PredictOptions(overwrite=True))
    assert paths.classes.exists()  # nothing removed before the new run is complete
    paths.summary.write_text(json.dumps({'fingerprint': 'abc'}))
    check_existing(paths, PredictOptions(resume=True))
    assert finished_run(paths, 'abc', PredictOptions()) is None
    assert finished_run(paths, 'abc', PredictOptions(resume=True)) == {
        'fingerprint': 'abc'
    }
    with pytest.raises(PredictError, match='another scene, model or options'):
        finished_run(paths, 'other', PredictOptions(resume=True))
    both = PredictOptions(resume=True, overwrite=True)
    assert finished_run(paths, 'other', both) is None
    assert paths.summary.exists()
