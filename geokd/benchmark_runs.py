"""The run directories of ``geokd benchmark``: created, marked, read back, deleted.

geokd deletes a run directory's content only to train the run again, and only when
it can prove the directory is its own: geokd created it, wrote into it a marker
holding a random run id, and recorded that id in the output directory. Even then
only the names a run writes are deleted; anything else stops the benchmark first.
"""

import fnmatch
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from .errors import GeokdError, one_line

#: Per-run file marking a finished run; its presence makes re-runs skip the run.
RESULT_FILE = 'result.json'
#: Per-run file marking a directory geokd created for a run: it holds the run's id,
#: which geokd also records in :data:`RUNS_FILE`.
RUN_MARKER = '.geokd-run.json'
#: File of ``output_dir`` recording the id of every run directory geokd created.
RUNS_FILE = '.geokd-runs.json'
#: What a run writes into its directory (Lightning's loggers and checkpoints,
#: geokd's callbacks): the only names geokd deletes to train a run again.
RUN_OUTPUTS = (
    RUN_MARKER,
    RESULT_FILE,
    'config.yaml',
    'hparams.yaml',
    'metrics.csv',
    'events.out.tfevents.*',
    'checkpoints',
    '*.ckpt',
    'test_results.json',
    'export',
)


def read_result(path: Path) -> dict[str, Any]:
    """Read a run's ``result.json``, refusing one geokd did not write whole.

    Args:
        path: The file.

    Returns:
        Its content: the run's name, directory, seed, training seconds, results per
        classifier and fingerprint.

    Raises:
        GeokdError: If it is unreadable, truncated or not of that form.
    """
    try:
        done = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        reason = 'nested too deeply' if isinstance(err, RecursionError) else err
        msg = (
            f'{path}: unreadable result of a run ({one_line(str(reason))}); delete it '
            'to train the run again'
        )
        raise GeokdError(msg) from err
    results = done.get('results') if isinstance(done, dict) else None
    if not (
        isinstance(done, dict)
        and isinstance(results, dict)
        and isinstance(done.get('run_dir'), str)
        and isinstance(done.get('fit_seconds'), int | float)
        and all(
            isinstance(r, dict)
            and all(
                isinstance(r.get(k), int | float) for k in ('f1', 'f1_macro', 'acc')
            )
            for r in results.values()
        )
    ):
        msg = (
            f'{path}: not the result of a geokd benchmark run (expected an object '
            'with run_dir, fit_seconds and results per classifier); delete it to '
            'train the run again'
        )
        raise GeokdError(msg)
    return done


def _recorded_runs(output_dir: Path) -> dict[str, str]:
    """The run directories geokd created under ``output_dir``, with their ids."""
    try:
        runs = json.loads((output_dir / RUNS_FILE).read_text()).get('runs')
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, AttributeError):
        return {}
    if not isinstance(runs, dict):
        return {}
    return {str(k): v for k, v in runs.items() if isinstance(v, str)}


def _run_key(run_dir: Path, output_dir: Path) -> str:
    return run_dir.relative_to(output_dir).as_posix()


def create_run(run_dir: Path, output_dir: Path) -> None:
    """Create a run's directory, marked with an id that geokd records.

    Args:
        run_dir: The directory (it must not exist).
        output_dir: The benchmark's output directory, holding :data:`RUNS_FILE`.
    """
    from .predict.output.writers import write_json

    run_dir.mkdir(parents=True)
    run_id = uuid.uuid4().hex
    runs = _recorded_runs(output_dir)
    runs[_run_key(run_dir, output_dir)] = run_id
    write_json(output_dir / RUNS_FILE, {'runs': runs})
    write_json(run_dir / RUN_MARKER, {'run_id': run_id})


def is_geokd_run(run_dir: Path, output_dir: Path) -> bool:
    """Whether geokd created ``run_dir``: its marker holds the id geokd recorded."""
    if run_dir.is_symlink() or not run_dir.is_dir():
        return False
    try:
        marked = json.loads((run_dir / RUN_MARKER).read_text()).get('run_id')
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, AttributeError):
        return False
    recorded = _recorded_runs(output_dir).get(_run_key(run_dir, output_dir))
    return isinstance(marked, str) and marked == recorded


def remove_run(run_dir: Path, output_dir: Path) -> None:
    """Delete what an unfinished or outdated run of geokd's wrote, and nothing else.

    Only a directory geokd created (:func:`is_geokd_run`) is emptied, and only if
    it holds nothing but what a run writes (:data:`RUN_OUTPUTS`); links are removed,
    never followed.

    Args:
        run_dir: The run's directory.
        output_dir: The benchmark's output directory.

    Raises:
        GeokdError: If the directory is not one geokd created, or holds files of
            someone else; nothing is deleted then.
    """
    if not is_geokd_run(run_dir, output_dir):
        msg = (
            f'{run_dir}: exists but holds no geokd run, and would be deleted to train '
            'this one (move it away, or choose another output_dir)'
        )
        raise GeokdError(msg)
    entries = sorted(run_dir.iterdir())
    foreign = [
        e.name
        for e in entries
        if not any(fnmatch.fnmatchcase(e.name, p) for p in RUN_OUTPUTS)
    ]
    if foreign:
        msg = (
            f'{run_dir}: holds files no geokd run writes ({", ".join(foreign)}), and '
            'would be emptied to train this run again (move them away)'
        )
        raise GeokdError(msg)
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    run_dir.rmdir()
