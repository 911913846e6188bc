"""Runs that can be resumed: which run a directory holds, and how far it got.

A run writes into ``OutputPaths.partial`` and records there, after each window, the
windows done and their class counts. A run is identified by a fingerprint of the
scene file, the model and every option that changes the windows or their contents:
``--resume`` continues only a run with the same fingerprint and otherwise starts over.
The summary, written last, marks finished outputs.
"""

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

from . import writers
from .export import SingleSensorClassifier
from .options import PredictError, PredictOptions
from .outputs import OutputPaths
from .tally import ClassTally


def fingerprint(
    scene: Path, classifier: SingleSensorClassifier, key: dict[str, Any]
) -> str:
    """Identify a run: same scene file, model and options.

    Args:
        scene: The scene file (identified by path, size and modification time).
        classifier: The classifier (identified by its metadata and weights).
        key: The options that change the windows or their contents.

    Returns:
        A hex digest.
    """
    stat = scene.stat()
    weights = hashlib.sha256()
    for v in classifier.model.state_dict().values():
        weights.update(v.detach().cpu().contiguous().numpy().tobytes())
    data = {
        'scene': str(scene.resolve()),
        'size': stat.st_size,
        'mtime': stat.st_mtime_ns,
        'model': asdict(classifier.metadata),
        'weights': weights.hexdigest(),
        **key,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def check_existing(paths: OutputPaths, options: PredictOptions) -> None:
    """Apply the rules on finished outputs before anything is computed.

    With ``overwrite`` the summary is removed first, so that an interrupted
    overwrite can never be mistaken for a finished run.

    Args:
        paths: The outputs.
        options: ``overwrite`` and ``resume`` are read.

    Raises:
        PredictError: If finished outputs exist and neither option is set.
    """
    if options.overwrite:
        paths.summary.unlink(missing_ok=True)
    elif paths.summary.exists() and not options.resume:
        msg = f'{paths.summary}: outputs already exist (use --overwrite or --resume)'
        raise PredictError(msg)


def finished_run(
    paths: OutputPaths, fingerprint: str, options: PredictOptions
) -> dict[str, Any] | None:
    """The summary of an identical finished run, when resuming.

    Args:
        paths: The outputs.
        fingerprint: The run's fingerprint.
        options: ``resume`` is read.

    Returns:
        The finished run's summary, or None when there is none to return.

    Raises:
        PredictError: If resuming over finished outputs of another run.
    """
    if not (options.resume and paths.summary.exists()):
        return None
    finished = json.loads(paths.summary.read_text())
    if finished.get('fingerprint') == fingerprint:
        return finished
    msg = (
        f'{paths.summary}: finished outputs of another scene, model or options '
        '(use --overwrite)'
    )
    raise PredictError(msg)


@dataclass
class RunState:
    """Progress of a run, saved after every window.

    Attributes:
        fingerprint: The run's fingerprint.
        completed: Number of windows done (windows are done in index order).
        tally: Class counts of the windows done.
    """

    fingerprint: str
    completed: int
    tally: ClassTally

    @classmethod
    def load(cls, path: Path) -> Self | None:
        """Read a saved state.

        Args:
            path: The progress file.

        Returns:
            The state, or None when the file is unreadable or incomplete.
        """
        try:
            data = json.loads(path.read_text())
            tally = ClassTally(data['class_cells'], data['class_km2'])
            return cls(data['fingerprint'], data['completed'], tally)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, path: Path) -> None:
        """Write the state (atomically).

        Args:
            path: The progress file.
        """
        data = {
            'fingerprint': self.fingerprint,
            'completed': self.completed,
            'class_cells': self.tally.cells,
            'class_km2': self.tally.km2,
        }
        writers.write_json(path, data)


def start_or_resume(
    paths: OutputPaths, fingerprint: str, options: PredictOptions, num_classes: int
) -> RunState:
    """Load the progress of an interrupted identical run, or start afresh.

    Args:
        paths: The outputs; their partial directory holds the run.
        fingerprint: The run's fingerprint.
        options: ``resume`` and ``quiet`` are read.
        num_classes: Number of classes.

    Returns:
        The state to continue from; a fresh start has an empty partial directory.
    """
    if options.resume and paths.progress.is_file():
        state = RunState.load(paths.progress)
        if state is not None and state.fingerprint == fingerprint:
            return state
        if not options.quiet:
            print(
                f'{paths.partial}: from another scene, model or options; starting over'
            )
    shutil.rmtree(paths.partial, ignore_errors=True)
    paths.partial.mkdir(parents=True)
    return RunState(fingerprint, 0, ClassTally.zeros(num_classes))
