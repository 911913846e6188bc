"""Runs that can be resumed: which run a directory holds, and how far it got.

A run writes into ``OutputPaths.partial`` and records there, after each window, the
windows done and their class counts; once every output is staged there, it records
that too, then moves them in (:func:`~geokd.predict.output.paths.commit`). A run is
identified by a fingerprint of the scene's content, the model and every option that
changes the windows or their contents (:mod:`.fingerprint`): ``--resume`` continues
only a run with the same fingerprint and otherwise starts over. The summary, moved
in last, marks finished outputs.

A partial directory is removed only when it is geokd's: a real directory holding a
progress file (or nothing yet).
"""

import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from ...errors import PredictError
from ..options import PredictOptions
from . import writers
from .io_errors import writing
from .paths import STAGED, SUFFIXES, OutputPaths, existing_outputs, refuse_existing
from .tally import ClassTally


def check_existing(paths: OutputPaths, options: PredictOptions) -> None:
    """Apply the rules on existing outputs before anything is computed.

    Without ``--overwrite`` no existing output is replaced, whether or not geokd's
    summary is there. With ``--resume`` the decision waits for the fingerprint
    (:func:`finished_run`, :func:`start_or_resume`). With ``--overwrite`` nothing
    is removed now: old outputs are replaced once the new ones are complete.

    Args:
        paths: The outputs.
        options: ``overwrite`` and ``resume`` are read.

    Raises:
        PredictError: If outputs exist and neither option is set.
    """
    if not (options.overwrite or options.resume):
        refuse_existing(paths)


def finished_run(
    paths: OutputPaths, fingerprint: str, options: PredictOptions
) -> dict[str, Any] | None:
    """The summary of an identical finished run, when resuming.

    Args:
        paths: The outputs.
        fingerprint: The run's fingerprint.
        options: ``resume`` and ``overwrite`` are read.

    Returns:
        The finished run's summary, or None when there is none to return.

    Raises:
        PredictError: If resuming over finished outputs of another run without
            ``--overwrite``.
    """
    if not (options.resume and paths.summary.is_file()):
        return None
    try:
        finished = json.loads(paths.summary.read_text())
    except (OSError, ValueError, RecursionError):
        finished = None
    if isinstance(finished, dict) and finished.get('fingerprint') == fingerprint:
        if _is_ours(paths.partial):  # left by a run stopped after its last rename
            shutil.rmtree(paths.partial, ignore_errors=True)
        return finished
    if options.overwrite:
        return None
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
        staged: Once every output is complete in the partial directory: their
            names, the summary last (see :func:`~geokd.predict.output.paths.commit`).
        remove: Names of old outputs to remove when the staged ones are moved in
            (names, not paths: a progress file cannot name any other file).
    """

    fingerprint: str
    completed: int
    tally: ClassTally
    staged: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, num_classes: int | None = None) -> Self | None:
        """Read a saved state.

        Args:
            path: The progress file.
            num_classes: Number of classes the tally must have, if known.

        Returns:
            The state, or None when the file is unreadable, incomplete or invalid.
        """
        try:
            data = json.loads(path.read_text())
            state = cls(
                str(data['fingerprint']),
                data['completed'],
                ClassTally(data['class_cells'], data['class_km2']),
                data.get('staged', []),
                data.get('remove', []),
            )
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            RecursionError,
        ):
            return None
        return state if state.valid(num_classes) else None

    def valid(self, num_classes: int | None) -> bool:
        """Whether the fields have the types and ranges a run writes.

        Args:
            num_classes: Number of classes the tally must have, if known.

        Returns:
            True when valid.
        """
        tally = self.tally
        counts = (
            isinstance(tally.cells, list)
            and all(type(c) is int and c >= 0 for c in tally.cells)
            and (num_classes is None or len(tally.cells) == num_classes)
            and (
                tally.km2 is None
                or (
                    isinstance(tally.km2, list)
                    and len(tally.km2) == len(tally.cells)
                    and all(isinstance(a, int | float) and a >= 0 for a in tally.km2)
                )
            )
        )
        names = (
            isinstance(self.staged, list)
            and isinstance(self.remove, list)
            and all(n in STAGED for n in self.staged)
            and all(n in SUFFIXES for n in self.remove)
        )
        return counts and names and type(self.completed) is int and self.completed >= 0

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
            'staged': self.staged,
            'remove': self.remove,
        }
        with writing(path):
            writers.write_json(path, data)


def _is_ours(partial: Path) -> bool:
    """Whether a partial directory is geokd's (so it may be removed).

    It is when it is a real directory holding a progress file, or nothing but the
    temporary files of one being written.
    """
    try:
        if not stat.S_ISDIR(os.lstat(partial).st_mode):
            return False
        names = os.listdir(partial)
    except OSError:
        return False
    return 'progress.json' in names or all(n.startswith('.') for n in names)


def start_or_resume(
    paths: OutputPaths,
    fingerprint: str,
    options: PredictOptions,
    num_classes: int,
    windows: int,
) -> RunState:
    """Load the progress of an interrupted identical run, or start afresh.

    Args:
        paths: The outputs; their partial directory holds the run.
        fingerprint: The run's fingerprint.
        options: ``resume``, ``overwrite`` and ``quiet`` are read.
        num_classes: Number of classes.
        windows: Number of windows of the run.

    Returns:
        The state to continue from; a fresh start has a new partial directory
        holding only its progress file.

    Raises:
        PredictError: If the partial directory is not geokd's (it is not removed),
            or, without ``--overwrite``, outputs exist that this run did not stage.
    """
    if os.path.lexists(paths.partial) and not _is_ours(paths.partial):
        msg = (
            f'{paths.partial}: exists but is not a geokd working directory; not '
            'removed (move it away)'
        )
        raise PredictError(msg)
    if options.resume and paths.progress.is_file():
        state = RunState.load(paths.progress, num_classes)
        if (
            state is not None
            and state.fingerprint == fingerprint
            and state.completed <= windows
        ):
            if not (state.staged or options.overwrite):
                refuse_existing(paths)
            return state
        if not options.quiet:
            print(
                f'{paths.partial}: from another scene, model or options; starting over'
            )
    if not options.overwrite:
        refuse_existing(paths)
    return fresh_state(paths, fingerprint, num_classes)


def fresh_state(paths: OutputPaths, fingerprint: str, num_classes: int) -> RunState:
    """Start a run afresh: a new partial directory holding its progress file.

    Args:
        paths: The outputs.
        fingerprint: The run's fingerprint.
        num_classes: Number of classes.

    Returns:
        The state of a run with nothing done.
    """
    shutil.rmtree(paths.partial, ignore_errors=True)
    paths.partial.mkdir(mode=0o700)
    state = RunState(fingerprint, 0, ClassTally.zeros(num_classes))
    state.save(paths.progress)
    return state


def old_outputs(paths: OutputPaths, options: PredictOptions) -> list[str]:
    """Outputs an overwriting run removes: those of the prefix it does not write.

    Args:
        paths: The outputs.
        options: The run's options.

    Returns:
        Their names.
    """
    written = set(paths.written(options).values())
    existing = set(existing_outputs(paths))
    return [
        name
        for name, path in paths.finals.items()
        if path in existing and path not in written
    ]
