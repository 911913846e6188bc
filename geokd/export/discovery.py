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
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not str(data.get('format', '')).startswith(
        'geokd-'
    ):
        return None
    modality = data.get('modality')
    return modality if isinstance(modality, str) else None


def find_exports(modality: str, root: Path) -> list[Path]:
    """Finished exports of a modality under a directory, newest first.

    An export is finished when both its files exist (``model.json`` is written last,
    atomically).

    Args:
        modality: The wanted modality (e.g. ``'sar'``).
        root: Directory to search, recursively.

    Returns:
        Export directories, by decreasing modification time of ``model.json``.
    """
    if not root.is_dir():
        return []
    found = [
        meta.parent for meta in root.rglob('model.json') if _modality(meta) == modality
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
