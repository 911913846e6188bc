"""The files a prediction run writes: their names, what they may replace, and how.

A run builds every output in its partial directory (``.NAME.partial/``), then moves
them to their final names at once, the summary last (:func:`commit`): a file with a
final name is always complete, and old outputs (with ``--overwrite``) are replaced
only once every new one is ready. Nothing is written at a name that holds an input
or a file geokd did not write, unless ``--overwrite`` says so; renaming replaces a
symbolic link at a final name, never the file it points to.
"""

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import PredictError
from ..options import PredictOptions
from .locks import LOCK_NAME

#: The outputs, in the summary's order: name -> suffix of the final file.
SUFFIXES = {
    'classes': '_classes.tif',
    'confidence': '_confidence.tif',
    'probabilities': '_probabilities.tif',
    'style': '_classes.qml',
    'categories': '_classes.tif.aux.xml',
    'polygons': '_classes.gpkg',
    'summary': '_summary.json',
}
#: Name of each output in the partial directory, ready to be moved in.
STAGED = {
    'classes': 'classes.cog.tif',
    'confidence': 'confidence.cog.tif',
    'probabilities': 'probabilities.cog.tif',
    'style': 'classes.qml',
    'categories': 'classes.cog.tif.aux.xml',
    'polygons': 'classes.gpkg',
    'summary': 'summary.json',
}


@dataclass(frozen=True)
class OutputPaths:
    """Files written for one scene, from a prefix ``dir/name``.

    Attributes:
        prefix: Output prefix.
    """

    prefix: Path

    def _file(self, suffix: str) -> Path:
        return self.prefix.with_name(self.prefix.name + suffix)

    @property
    def classes(self) -> Path:
        """Class map COG."""
        return self._file(SUFFIXES['classes'])

    @property
    def style(self) -> Path:
        """QGIS style of the class map."""
        return self._file(SUFFIXES['style'])

    @property
    def categories(self) -> Path:
        """GDAL category names of the class map (its PAM sidecar)."""
        return self._file(SUFFIXES['categories'])

    @property
    def confidence(self) -> Path:
        """Confidence (maximum probability) COG."""
        return self._file(SUFFIXES['confidence'])

    @property
    def probabilities(self) -> Path:
        """All class probabilities COG."""
        return self._file(SUFFIXES['probabilities'])

    @property
    def polygons(self) -> Path:
        """GeoPackage of class polygons."""
        return self._file(SUFFIXES['polygons'])

    @property
    def summary(self) -> Path:
        """JSON summary, written last: its presence means the run completed."""
        return self._file(SUFFIXES['summary'])

    @property
    def partial(self) -> Path:
        """Directory of the unfinished run (working rasters and progress)."""
        return self.prefix.with_name(f'.{self.prefix.name}.partial')

    @property
    def progress(self) -> Path:
        """Progress of the unfinished run, in its partial directory."""
        return self.partial / 'progress.json'

    @property
    def lock(self) -> Path:
        """Lock file of the output directory (see :mod:`.locks`)."""
        return self.prefix.parent / LOCK_NAME

    @property
    def finals(self) -> dict[str, Path]:
        """Every output's final file, by name (optional ones included)."""
        return {name: self._file(suffix) for name, suffix in SUFFIXES.items()}

    def written(self, options: PredictOptions) -> dict[str, Path]:
        """The outputs a run with ``options`` writes, by name, the summary last.

        Args:
            options: ``probabilities`` and ``polygons`` are read.

        Returns:
            Their final files.
        """
        skip = {'probabilities'} - (
            {'probabilities'} if options.probabilities else set()
        )
        if not options.polygons:
            skip.add('polygons')
        return {k: v for k, v in self.finals.items() if k not in skip}

    def staged(self, name: str) -> Path:
        """Where output ``name`` waits, complete, to be moved in.

        Args:
            name: An output name (a key of :attr:`finals`).

        Returns:
            Its file in the partial directory.
        """
        return self.partial / STAGED[name]

    def every_file(self) -> list[Path]:
        """Every path a run may create: outputs, partial directory and lock file.

        The lock file is its directory's, shared with the other prefixes there.
        """
        return [*self.finals.values(), self.partial, self.lock]

    def own_files(self) -> list[Path]:
        """The paths only this prefix's runs create: outputs and partial directory."""
        return [*self.finals.values(), self.partial]


def prepare_output_dir(paths: OutputPaths) -> None:
    """Create the output directory and check that it is writable.

    Args:
        paths: The outputs.

    Raises:
        PredictError: If the directory cannot be created or written to.
    """
    directory = paths.prefix.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f'{directory}: output directory cannot be created ({err.strerror})'
        raise PredictError(msg) from err
    if not os.access(directory, os.W_OK | os.X_OK):
        msg = f'{directory}: output directory is not writable'
        raise PredictError(msg)


def same_file(a: Path, b: Path | str) -> bool:
    """Whether two paths name one file (or one name), following links.

    Args:
        a: A path.
        b: Another path (a URL names no local file: never the same).

    Returns:
        True for equal absolute paths, or existing paths of one file (links, hard
        links, another spelling on a case-insensitive file system).
    """
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def file_keys(path: Path | str) -> list[object]:
    """What tells a file apart: its absolute path, and its device and inode if it exists.

    Two paths name one file when they share a key (as :func:`same_file` says), so a
    set of keys answers in one look-up what comparing every pair would.

    Args:
        path: A path.

    Returns:
        Its keys.
    """
    keys: list[object] = [os.path.abspath(path)]
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return keys
    return [*keys, (info.st_dev, info.st_ino)]


class InputFiles:
    """The files a run reads, indexed to find one among them in constant time.

    Args:
        inputs: The files, in the order messages prefer them.
    """

    def __init__(self, inputs: Iterable[Path | str]) -> None:
        self.first: dict[object, tuple[int, Path | str]] = {}
        for i, source in enumerate(inputs):
            for key in file_keys(source):
                self.first.setdefault(key, (i, source))

    def find(self, path: Path) -> tuple[int, Path | str] | None:
        """The first input that is ``path``, with its position, or None."""
        found = [self.first[k] for k in file_keys(path) if k in self.first]
        return min(found, key=lambda f: f[0]) if found else None


def check_not_inputs(
    paths: OutputPaths, inputs: 'Iterable[Path | str] | InputFiles'
) -> None:
    """Refuse outputs that would replace an input (a scene, a model file).

    Args:
        paths: The outputs.
        inputs: Files the run reads (an :class:`InputFiles` for many prefixes: the
            check is then linear in the number of scenes, not quadratic).

    Raises:
        PredictError: Naming the input and the prefix.
    """
    index = inputs if isinstance(inputs, InputFiles) else InputFiles(inputs)
    hits = [(hit, out) for out in paths.every_file() if (hit := index.find(out))]
    if hits:
        (_, source), out = min(hits, key=lambda h: h[0][0])
        msg = (
            f'{source}: is an input, and output prefix {paths.prefix} would '
            f'replace it with {out.name} (choose another --output)'
        )
        raise PredictError(msg)


def existing_outputs(paths: OutputPaths) -> list[Path]:
    """Outputs of the prefix that exist (symbolic links included, even broken).

    Args:
        paths: The outputs.

    Returns:
        The existing files, in :data:`SUFFIXES` order.
    """
    return [p for p in paths.finals.values() if os.path.lexists(p)]


def refuse_existing(paths: OutputPaths) -> None:
    """Refuse to replace existing outputs of the prefix (without ``--overwrite``).

    Args:
        paths: The outputs.

    Raises:
        PredictError: Naming the first existing file.
    """
    if existing := existing_outputs(paths):
        msg = (
            f'{existing[0]}: already exists; not replaced (use --overwrite to replace '
            'the outputs, or --resume to continue an interrupted run)'
        )
        raise PredictError(msg)


def commit(paths: OutputPaths, names: Sequence[str], remove: Sequence[str]) -> None:
    """Move the staged outputs to their final names, the summary last.

    Can be repeated after an interruption (``--resume``): outputs already moved are
    skipped, and an old summary is removed only while the new one is still staged,
    so no mixture of old and new outputs ever looks finished.

    Args:
        paths: The outputs.
        names: The outputs staged (keys of :data:`STAGED`), 'summary' last.
        remove: Old outputs (keys of :data:`SUFFIXES`) that the new ones replace
            without writing (e.g. the probabilities of an overwritten run).

    Raises:
        PredictError: If a staged output is neither staged nor in place.
    """
    finals = paths.finals
    if paths.staged('summary').exists():
        finals['summary'].unlink(missing_ok=True)
    for old in remove:
        finals[old].unlink(missing_ok=True)
    for name in names:
        staged = paths.staged(name)
        if staged.exists():
            os.replace(staged, finals[name])
        elif not os.path.lexists(finals[name]):
            msg = f'{staged}: missing; rerun without --resume'
            raise PredictError(msg)
    shutil.rmtree(paths.partial, ignore_errors=True)
