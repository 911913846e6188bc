"""``geokd predict``: classify the scenes of a command line and report each.

Standard library only at module level: ``geokd predict --help`` is answered before
torch, rasterio or the model are imported (in :func:`run`).
"""

import argparse
import glob
import sys
import warnings
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    GeokdError,
    Interrupted,
    PredictError,
    UsageError,
    one_line,
    printable,
)
from ..signals import Terminated

if TYPE_CHECKING:
    from ..export.classifier import SingleSensorClassifier
    from .options import PredictOptions
    from .output.prefixes import SceneKey
    from .scene.sources import SceneInput
    from .workers import SceneResult


def _scenes(patterns: Sequence[str]) -> list['Path | SceneInput']:
    """Expand globs; URLs and STAC JSON become scene inputs (one per STAC item).

    A pattern matching nothing is kept so its error names it.
    """
    from .scene.remote import is_url
    from .scene.sources import scene_input
    from .scene.stac import is_stac, stac_scenes

    scenes: list[Path | SceneInput] = []
    for pattern in patterns:
        if is_url(pattern):
            stac = is_stac(pattern)
            scenes.extend(stac_scenes(pattern) if stac else [scene_input(pattern)])
            continue
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else []
        for match in matches or [pattern]:
            stac = is_stac(match) and Path(match).is_file()
            scenes.extend(stac_scenes(match) if stac else [Path(match)])
    return scenes


def predict(argv: Sequence[str]) -> None:
    """Run ``geokd predict``.

    Args:
        argv: Arguments after ``predict``.
    """
    from .arguments import predict_parser

    stdout = sys.stdout
    sys.stdout = _ClosedPipeTolerant(stdout)  # `geokd predict a b c | head -1`
    try:
        run(predict_parser().parse_args(argv))
    finally:
        sys.stdout = stdout


class _ClosedPipeTolerant:
    """Standard output whose reader may go away.

    The reports are then dropped and the work goes on: a closed pipe must not stop
    the scenes still to classify.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            written: int = self._stream.write(text)
            return written
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        """Point the stream's file at /dev/null, so that no later flush fails."""
        import os

        try:
            fd = self._stream.fileno()
        except (OSError, ValueError, AttributeError):
            return
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run(args: argparse.Namespace) -> None:
    """Load the model and classify every scene, reporting each; exit 1 if any failed.

    Arguments are checked first (exit 2), then the scenes' output prefixes (which
    must be distinct and replace no input), before the model is loaded; every prefix
    is locked before the first scene is classified. A failure of the whole command
    is raised, for :mod:`geokd.main` to report; each failed scene is reported here,
    and the others are classified.

    Args:
        args: Arguments of :func:`~geokd.predict.arguments.predict_parser`.

    Raises:
        UsageError: If an option or ``--band-file`` is invalid, or no scene is given.
        GeokdError: If no model is found, or it cannot be loaded.
        PredictError: If the outputs cannot be written (an output would replace an
            input, or another run holds them ...).
        Interrupted: On Ctrl-C, once every scene begun is left resumable.
    """
    from .arguments import check_synthetic_size, options_from
    from .describe import tile_unit
    from .output.prefixes import output_prefixes, unique_scenes
    from .scene.sources import SceneInput, band_files_input
    from .workers import worker_devices

    options = options_from(args)
    options.check()
    check_synthetic_size(args.synthetic_size)
    _, devices = worker_devices(args.workers, args.devices, options.device)
    scenes = _scenes(args.scenes)
    # Scenes given as inputs (band files, URLs, STAC items), by their key in prefixes.
    band_scenes: dict[SceneKey, SceneInput] = {
        s.key: s for s in scenes if isinstance(s, SceneInput)
    }
    if args.band_file:
        try:
            band_scene = band_files_input(args.band_file)
        except PredictError as err:
            raise UsageError(str(err)) from err
        band_scenes[band_scene.key] = band_scene
        scenes.append(band_scene)
    if args.synthetic_scene:
        scenes.append(Path(args.synthetic_scene))
    if not scenes:
        msg = 'no scene given'
        raise UsageError(msg)
    prefixes = output_prefixes(args.output, unique_scenes(scenes))
    model = args.model or _default_model(args.modality)
    classifier = _load_model(args, model)
    options.check_for(classifier.metadata.kind, tile_unit(classifier.metadata))
    files = [f for scene in band_scenes.values() for f in scene.files]
    try:
        with _locked_outputs(args, prefixes, options, devices, files):
            jobs = [(_job_scene(s, band_scenes), p) for s, p in prefixes.items()]
            failed = _classify(args, classifier, model, jobs, options, devices)
    except Terminated:
        raise  # geokd's reporter says how to go on, with SIGTERM's exit status
    except KeyboardInterrupt:
        msg = 'interrupted; run the same command with --resume to continue'
        raise Interrupted(msg) from None
    if failed:
        sys.exit(1)


def _job_scene(
    key: 'SceneKey', inputs: dict['SceneKey', 'SceneInput']
) -> 'Path | SceneInput':
    """The scene of an output prefix: a scene input given as such, else its file."""
    scene = inputs.get(key)
    return scene if scene is not None else Path(key)


def _load_model(args: argparse.Namespace, model: Path) -> 'SingleSensorClassifier':
    """The classifier of ``--model`` (or the newest export of ``--modality``)."""
    from ..export.classifier import load_classifier

    return load_classifier(model, args.modality, args.patch_size)


@contextmanager
def _locked_outputs(
    args: argparse.Namespace,
    prefixes: dict['SceneKey', Path],
    options: 'PredictOptions',
    devices: Sequence[str],
    band_files: Sequence[Path | str] = (),
) -> Iterator[None]:
    """Check every prefix's outputs and lock it, before any scene is classified.

    ``devices`` are the workers' devices, checked to exist; ``band_files`` are the
    files of ``--band-file`` scenes, inputs too.

    Raises:
        PredictError: If an output would replace an input, the device is missing,
            an output directory is unusable, another run holds a prefix, or outputs
            exist that may not be replaced.
    """
    from .engine.classify import resolve_device
    from .output.locks import PrefixLock
    from .output.paths import (
        InputFiles,
        OutputPaths,
        check_not_inputs,
        prepare_output_dir,
    )
    from .output.run_state import check_existing
    from .synthetic_scene import truth_path

    inputs: list[Path | str] = [*prefixes, *band_files]
    if args.synthetic_scene:
        inputs.append(truth_path(args.synthetic_scene))
    if args.model:
        inputs.append(Path(args.model))
    index = InputFiles(inputs)
    for prefix in prefixes.values():
        check_not_inputs(OutputPaths(prefix), index)
    for device in dict.fromkeys(devices):
        resolve_device(device)
    with ExitStack() as stack:
        for prefix in prefixes.values():
            paths = OutputPaths(prefix)
            prepare_output_dir(paths)
            stack.enter_context(PrefixLock(prefix))
            check_existing(paths, options)
        yield


def _classify(
    args: argparse.Namespace,
    classifier: 'SingleSensorClassifier',
    model: Path,
    jobs: list[tuple['Path | SceneInput', Path]],
    options: 'PredictOptions',
    devices: Sequence[str],
) -> int:
    """Classify every scene (writing the synthetic one first); returns the failures.

    One device classifies the scenes one by one in this process; several spread
    them over worker processes (:mod:`.workers`). Each scene is reported as it
    finishes, and the failures are listed at the end.
    """
    from dataclasses import replace

    from .workers import classify_scenes

    truths: dict[Path | SceneInput, Path] = {}
    if args.synthetic_scene:
        synthetic, truths[synthetic] = _synthetic_scene(args, classifier)
    warned: set[str] = set()
    if len(devices) == 1:
        options = replace(options, device=devices[0])
        results: Generator[tuple[Path | SceneInput, SceneResult], None, None] = (
            (scene, _predict_one(classifier, scene, prefix, options, warned))
            for scene, prefix in jobs
        )
    else:
        results = classify_scenes(
            model, args.modality, args.patch_size, jobs, options, devices
        )
    failures: list[tuple[str, str]] = []
    # Closed here, also when Ctrl-C lands while a result is reported: the workers
    # stop before the error line, not at interpreter exit.
    with closing(results):
        for scene, result in results:
            for message in dict.fromkeys(result.warnings).keys() - warned:
                warned.add(message)
                print(
                    f'geokd predict: warning: {printable(str(message))}',
                    file=sys.stderr,
                )
            if result.summary is None:
                failures.append((str(scene), result.error or 'failed'))
                print(f'geokd predict: error: {result.error}', file=sys.stderr)
            elif not args.quiet:
                path = getattr(scene, 'path', scene)
                _report(scene, result.summary, truths.get(path))
    _report_failures(failures, len(jobs), args.quiet)
    return len(failures)


def _default_model(modality: str | None) -> Path:
    """The newest export of ``modality`` under the runs directory, announced.

    Announced even with --quiet: which model classified a scene is never a detail.
    """
    from ..export.discovery import latest_export

    if modality is None:
        msg = 'give --modality (e.g. sar) or --model'
        raise GeokdError(msg)
    try:
        model = latest_export(modality)
    except FileNotFoundError as err:
        raise GeokdError(str(err)) from err
    print(f'Using the newest exported {modality} model: {model}', file=sys.stderr)
    return model


def _synthetic_scene(
    args: argparse.Namespace, classifier: 'SingleSensorClassifier'
) -> tuple[Path, Path]:
    """Write the SYNTHETIC scene of ``--synthetic-scene``; returns it and its truth.

    Raises:
        PredictError: If the path holds a file that is not a synthetic scene geokd
            wrote, or the scene cannot be written.
    """
    from .synthetic_scene import truth_path, write_synthetic_scene

    meta = classifier.metadata
    try:
        scene = write_synthetic_scene(
            args.synthetic_scene,
            meta.modality,
            args.synthetic_size,
            args.synthetic_size,
            block=meta.patch_size,
            resolution=meta.gsd or 10.0,
        )
    except (ValueError, OSError) as err:
        raise PredictError(one_line(err)) from err
    if not args.quiet:
        print(f'SYNTHETIC {meta.modality} scene written to {scene}')
    return scene, truth_path(scene)


def _predict_one(
    classifier: 'SingleSensorClassifier',
    scene: 'Path | SceneInput',
    prefix: Path,
    options: 'PredictOptions',
    warned: set[str],
) -> 'SceneResult':
    """Classify one scene in this process, printing its warnings as they are raised.

    Args:
        classifier: The classifier.
        scene: A scene path (file or directory of band files) or band files.
        prefix: Its output prefix.
        options: Prediction options.
        warned: Warnings printed for earlier scenes, not repeated.

    Returns:
        Its summary, or its error.
    """
    from rasterio.errors import NotGeoreferencedWarning

    from .workers import classify_scene

    def show(
        message: Warning | str, category: type[Warning], *_: Any, **__: Any
    ) -> None:
        # Printed when raised (before the progress bar), even with --quiet, each
        # message once per command; rasterio's NotGeoreferencedWarning is left out:
        # geokd's own says the same, naming the file.
        if issubclass(category, NotGeoreferencedWarning) or str(message) in warned:
            return
        warned.add(str(message))
        print(f'geokd predict: warning: {printable(str(message))}', file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter('always')
        warnings.showwarning = show
        return classify_scene(classifier, scene, prefix, options)


def _report_failures(failures: list[tuple[str, str]], total: int, quiet: bool) -> None:
    """After several scenes: how many were classified, and which failed (one line).

    With ``quiet``, said only when some failed.
    """
    if total < 2 or (quiet and not failures):
        return
    line = f'geokd predict: {total - len(failures)} of {total} scenes classified'
    if failures:
        line += f'; {len(failures)} failed: ' + ', '.join(s for s, _ in failures)
    print(line, file=sys.stderr)


def _report(
    scene: 'Path | SceneInput', summary: dict[str, Any], truth: Path | None
) -> None:
    """Print what was written for a scene (and its agreement with a synthetic truth)."""
    print(
        f'{scene}: {summary["patches"]} patches in {summary["seconds"]:.1f} s; '
        f'{summary["grid"].get("cell", "")}'
    )
    for name, path in summary['outputs'].items():
        print(f'  {name:<14}{path}')
    if truth is not None:
        from .synthetic_scene import agreement

        fraction = agreement(Path(summary['outputs']['classes']), truth)
        if fraction is not None:
            print(f'  agreement with the synthetic truth: {fraction:.1%}')
