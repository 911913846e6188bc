"""Finding the model ``geokd predict --modality sar`` uses when none is named.

``geokd fit`` exports each single-sensor classifier into its run's log directory
(``runs/<name>/lightning_logs/version_N/export/<modality>/``); prediction without
``--model`` takes the newest finished export of the wanted modality under the runs
directory. Standard library only: ``geokd predict --help`` stays light.
"""

import json
import os
from pathlib import Path

#: Environment variable naming the directory searched for exports.
RUNS_ENV = 'GEOKD_RUNS'
#: Searched when the variable is unset (relative to the working directory).
DEFAULT_RUNS = 'runs'


def runs_directory() -> Path:
    """The directory searched for exported models.

    Returns:
        ``$GEOKD_RUNS``, or ``./runs``.
    """
    return Path(os.environ.get(RUNS_ENV) or DEFAULT_RUNS)


def _modality(metadata: Path) -> str | None:
    """The modality of a finished export's ``model.json``, None if not one."""
    if not (metadata.parent / 'model.safetensors').is_file():
        return None
    try:
        data = json.loads(metadata.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not str(data.get('format', '')).startswith(
        'geokd-'
    ):
        return None
    modality = data.get('modality')
    return modality if isinstance(modality, str) else None


def _files_named(name: str, root: Path) -> list[Path]:
    """Files called ``name`` under ``root``, following symbolic links to directories.

    Experiment folders are often links to larger disks (``Path.rglob`` does not
    follow them). Each directory is visited once, by device and inode, so a link
    back to a parent (a loop) ends the descent instead of repeating it forever.

    Args:
        name: The file name.
        root: The directory to search.

    Returns:
        The files found.
    """
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for directory, subdirectories, files in os.walk(root, followlinks=True):
        try:
            status = os.stat(directory)
        except OSError:
            subdirectories.clear()
            continue
        key = (status.st_dev, status.st_ino)
        if key in seen:
            subdirectories.clear()
            continue
        seen.add(key)
        if name in files:
            found.append(Path(directory) / name)
    return found


def find_exports(modality: str, root: Path) -> list[Path]:
    """Finished exports of a modality under a directory, newest first.

    An export is finished when both its files exist (``model.json`` is written last,
    atomically).

    Args:
        modality: The wanted modality (e.g. ``'sar'``).
        root: Directory to search, recursively, following links to directories.

    Returns:
        Export directories, by decreasing modification time of ``model.json``.
    """
    if not root.is_dir():
        return []
    # os.walk skips the folders it cannot read (/proc/1/map_files under /).
    found = [
        meta.parent
        for meta in _files_named('model.json', root)
        if _modality(meta) == modality
    ]
    return sorted(found, key=lambda d: (d / 'model.json').stat().st_mtime, reverse=True)


def latest_export(modality: str, root: Path | None = None) -> Path:
    """The newest finished export of a modality.

    Args:
        modality: The wanted modality.
        root: Directory to search; None takes :func:`runs_directory`.

    Returns:
        Its directory.

    Raises:
        FileNotFoundError: If there is none, with a one-line message saying where
            geokd looked and what to do.
    """
    root = root or runs_directory()
    exports = find_exports(modality, root)
    if not exports:
        msg = (
            f'no exported {modality!r} model under {root.resolve()} (searched because '
            f'no --model was given; set {RUNS_ENV} to search elsewhere); train one with '
            'geokd fit --config CONFIG.yaml, or pass --model DIR|CKPT'
        )
        raise FileNotFoundError(msg)
    return exports[0]
