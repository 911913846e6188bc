import json
from pathlib import Path

import pytest

from geokd.deploy import OutputPaths, PredictError, PredictOptions
from geokd.deploy.run_state import (
    RunState,
    check_existing,
    finished_run,
    start_or_resume,
)
from geokd.deploy.tally import ClassTally


def test_state_round_trip_and_unreadable_progress(tmp_path: Path) -> None:
    state = RunState('abc', 3, ClassTally([1, 2], None))
    state.save(tmp_path / 'progress.json')
    assert RunState.load(tmp_path / 'progress.json') == state
    (tmp_path / 'bad.json').write_text('{"fingerprint": "abc"')
    assert RunState.load(tmp_path / 'bad.json') is None
    (tmp_path / 'partial.json').write_text('{"fingerprint": "abc"}')
    assert RunState.load(tmp_path / 'partial.json') is None


def test_resume_continues_only_the_same_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = OutputPaths(tmp_path / 's')
    resume = PredictOptions(resume=True)
    state = start_or_resume(paths, 'abc', resume, 2)
    assert state == RunState('abc', 0, ClassTally.zeros(2))
    (paths.partial / 'classes.tif').write_text('working raster')
    state.completed = 2
    state.save(paths.progress)
    assert start_or_resume(paths, 'abc', resume, 2).completed == 2
    # Without --resume, or for another run, the partial directory starts empty.
    assert start_or_resume(paths, 'abc', PredictOptions(), 2).completed == 0
    assert not (paths.partial / 'classes.tif').exists()
    state.save(paths.progress)
    assert start_or_resume(paths, 'other', resume, 2).completed == 0
    assert 'starting over' in capsys.readouterr().out
    assert list(paths.partial.iterdir()) == []


def test_rules_on_finished_outputs(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path / 's')
    check_existing(paths, PredictOptions())
    assert finished_run(paths, 'abc', PredictOptions(resume=True)) is None
    paths.summary.write_text(json.dumps({'fingerprint': 'abc'}))
    with pytest.raises(PredictError, match='already exist'):
        check_existing(paths, PredictOptions())
    check_existing(paths, PredictOptions(resume=True))
    assert finished_run(paths, 'abc', PredictOptions()) is None
    assert finished_run(paths, 'abc', PredictOptions(resume=True)) == {
        'fingerprint': 'abc'
    }
    with pytest.raises(PredictError, match='another scene, model or options'):
        finished_run(paths, 'other', PredictOptions(resume=True))
    check_existing(paths, PredictOptions(overwrite=True))
    assert not paths.summary.exists()
