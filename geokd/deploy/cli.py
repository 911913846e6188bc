"""``geokd predict``: argument parsing and reporting.

Standard library only at module level: ``geokd predict --help`` is answered before
torch, rasterio or the model are imported (in :func:`run`).
"""

import argparse
import glob
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .export import SingleSensorClassifier
    from .options import PredictOptions
    from .prefixes import SceneKey
    from .sources import SceneInput
    from .workers import SceneResult


#: Largest ``--synthetic-size``: a float32 SAR scene of 16384 x 16384 pixels is 2 GiB.
MAX_SYNTHETIC = 16384


def _scenes(patterns: Sequence[str]) -> list['Path | SceneInput']:
    """Expand globs; URLs and STAC JSON become scene inputs (one per STAC item).

    A pattern matching nothing is kept so its error names it.
    """
    from .remote import is_url
    from .sources import scene_input
    from .stac import is_stac, stac_scenes

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


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        """Print the error on one line and exit with status 2."""
        print(f'{self.prog}: error: {message} (see --help)', file=sys.stderr)
        sys.exit(2)


def predict_parser() -> argparse.ArgumentParser:
    """Build the parser of ``geokd predict``.

    Returns:
        The parser.
    """
    p = _OneLineParser(
        prog='geokd predict',
        description=(
            'Classify whole GeoTIFF scenes with a single-sensor classifier distilled by '
            'DisCoM-KD, on the patch grid. One output cell is one patch at the default '
            'stride: one class per 64 x 64 patch = 640 m for a 64-pixel model trained '
            'at 10 m (a smaller --stride gives smaller cells). Scenes are read at the '
            "model's ground sample distance: other resolutions are resampled on the "
            'fly, geographic (degree) CRSs reprojected to the UTM zone of the scene. '
            'Bands are matched by name. Writes, per scene, PREFIX_classes.tif (COG, '
            'colour table, QGIS style beside it), PREFIX_confidence.tif, '
            'PREFIX_summary.json and optionally PREFIX_probabilities.tif and '
            'PREFIX_classes.gpkg.'
        ),
    )
    _add_scene_arguments(p)
    _add_model_arguments(p)
    _add_output_arguments(p)
    _add_parallel_arguments(p)
    return p


def _add_scene_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('scenes')
    g.add_argument(
        'scenes', nargs='*',
        help='scene files, glob patterns, or directories of single-band files whose '
        'names carry the band code (..._B08.tif, T31TCJ_..._B8A_20m.jp2, '
        '..._VV.tif, s1a-iw-grd-vh-....tiff): each directory is one scene',
    )  # fmt: skip
    g.add_argument(
        '--band-file', action='append', metavar='NAME=PATH',
        help='one band of a scene delivered as single-band files (repeat it: '
        '--band-file VV=vv.tif --band-file VH=vh.tif); the files are stacked on the '
        'fly, never copied',
    )  # fmt: skip
    g.add_argument(
        '--bands',
        help="the scene's bands in the model's order, comma-separated 1-based indexes "
        "or names (e.g. 'VV,VH' or '2,1'), or 'file-order' for a scene whose bands "
        "are unnamed but known to be in the model's order; default: match the band "
        'names (unnamed bands are refused)',
    )  # fmt: skip
    g.add_argument(
        '--synthetic-scene', metavar='PATH',
        help="first write a SYNTHETIC scene of the model's sensor (the demo dataset's "
        'classes and sensor model) to PATH, then classify it and report the agreement '
        'with its true classes',
    )  # fmt: skip
    g.add_argument(
        '--synthetic-size', type=int, default=1024,
        help='height and width of the synthetic scene in pixels (default: 1024)',
    )  # fmt: skip


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('model and patches')
    g.add_argument(
        '-m', '--model',
        help='exported model directory (geokd export), or a training .ckpt with '
        '--modality; default: the newest model of --modality that geokd fit exported '
        'under ./runs (or $GEOKD_RUNS)',
    )  # fmt: skip
    g.add_argument(
        '--modality',
        help='the sensor to classify (e.g. sar): picks the model when --model is not '
        'given, and the classifier taken from a checkpoint',
    )  # fmt: skip
    g.add_argument('--patch-size', type=int, help="patch size (default: the model's)")
    g.add_argument(
        '--stride', type=int,
        help='stride in pixels, dividing the patch size (default: patch size); smaller '
        'strides average the probabilities of overlapping patches per output cell',
    )  # fmt: skip
    g.add_argument(
        '--min-valid', type=float, default=0.5,
        help='minimum fraction of valid (not nodata, finite) pixels for a patch to be '
        'classified; other cells get the nodata value (default: 0.5)',
    )  # fmt: skip
    g.add_argument('--batch-size', type=int, default=64)
    g.add_argument('--device', default='auto', help="'cpu', 'cuda[:N]' or 'auto'")
    g.add_argument(
        '--precision', default='auto', choices=('auto', '32', '16-mixed', 'bf16-mixed'),
        help="'32', or float16/bfloat16 autocast (default: '16-mixed' on CUDA, "
        "'32' elsewhere)",
    )  # fmt: skip
    g.add_argument('--window', type=int, default=1024, help='window side in pixels')


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('outputs')
    g.add_argument(
        '-o', '--output', default='predictions/',
        help='output directory (one PREFIX per scene: DIR/<scene name>) or, for one '
        'scene, a file prefix (default: predictions/)',
    )  # fmt: skip
    g.add_argument(
        '--probabilities', action='store_true',
        help='also write all class probabilities',
    )  # fmt: skip
    g.add_argument(
        '--polygons', action='store_true', help='also write polygons (GeoPackage)'
    )
    g.add_argument(
        '--resume', action='store_true',
        help='continue an interrupted run of the same scene, model and options',
    )  # fmt: skip
    g.add_argument(
        '--overwrite', action='store_true',
        help='replace existing outputs (only once the new ones are complete)',
    )  # fmt: skip
    g.add_argument(
        '-q', '--quiet', action='store_true', help='no progress bar or messages'
    )


def _add_parallel_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('many scenes in parallel')
    g.add_argument(
        '--workers', type=int, metavar='N',
        help='classify scenes in N processes at once (default: 1, or one per '
        '--devices entry); outputs are the same as one by one',
    )  # fmt: skip
    g.add_argument(
        '--devices', metavar='I,J',
        help='CUDA devices to spread the workers over, e.g. 0,1',
    )  # fmt: skip


def predict(argv: Sequence[str]) -> None:
    """Run ``geokd predict``.

    Args:
        argv: Arguments after ``predict``.
    """
    run(predict_parser().parse_args(argv))


def options_from(args: argparse.Namespace) -> 'PredictOptions':
    """Prediction options from parsed arguments.

    Args:
        args: Arguments of :func:`predict_parser`.

    Returns:
        The options.
    """
    from .options import PredictOptions

    return PredictOptions(
        patch_size=args.patch_size,
        stride=args.stride,
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        bands=args.bands.split(',') if args.bands else None,
        min_valid=args.min_valid,
        probabilities=args.probabilities,
        polygons=args.polygons,
        resume=args.resume,
        overwrite=args.overwrite,
        quiet=args.quiet,
        window=args.window,
    )


def run(args: argparse.Namespace) -> None:
    """Load the model and classify every scene, reporting each; exit 1 if any failed.

    Arguments are checked first (exit 2), then the scenes' output prefixes (which
    must be distinct and replace no input), before the model is loaded; every prefix
    is locked before the first scene is classified.

    Args:
        args: Arguments of :func:`predict_parser`.
    """
    from .options import OptionError, PredictError
    from .prefixes import output_prefixes, unique_scenes
    from .sources import SceneInput, band_files_input
    from .workers import worker_devices

    try:
        options = options_from(args)
        options.check()
        _check_synthetic_size(args.synthetic_size)
        _, devices = worker_devices(args.workers, args.devices, options.device)
    except OptionError as err:
        _fail(err, 2)
    scenes = _scenes(args.scenes)
    # Scenes given as inputs (band files, URLs, STAC items), by their key in prefixes.
    band_scenes: dict[SceneKey, SceneInput] = {
        s.key: s for s in scenes if isinstance(s, SceneInput)
    }
    if args.band_file:
        try:
            band_scene = band_files_input(args.band_file)
        except PredictError as err:
            _fail(err, 2)
        band_scenes[band_scene.key] = band_scene
        scenes.append(band_scene)
    if args.synthetic_scene:
        scenes.append(Path(args.synthetic_scene))
    if not scenes:
        _fail('no scene given', 2)
    try:
        prefixes = output_prefixes(args.output, unique_scenes(scenes))
    except PredictError as err:
        _fail(err)
    model = args.model or _default_model(args.modality)
    classifier = _load_model(args, model)
    files = [f for scene in band_scenes.values() for f in scene.files]
    try:
        with _locked_outputs(args, prefixes, options, devices, files):
            jobs = [(band_scenes.get(s, s), p) for s, p in prefixes.items()]
            failed = _classify(args, classifier, model, jobs, options, devices)
    except PredictError as err:
        _fail(err)
    except KeyboardInterrupt:
        _fail('interrupted; run the same command with --resume to continue', 130)
    if failed:
        sys.exit(1)


def _fail(message: object, code: int = 1) -> NoReturn:
    """Print one error line and exit."""
    print(f'geokd predict: error: {message}', file=sys.stderr)
    sys.exit(code)


def _check_synthetic_size(size: int) -> None:
    """Refuse a ``--synthetic-size`` out of range."""
    from .options import OptionError

    if not 1 <= size <= MAX_SYNTHETIC:
        msg = f'--synthetic-size {size}: must be an integer in [1, {MAX_SYNTHETIC}]'
        raise OptionError(msg)


def _load_model(args: argparse.Namespace, model: Path) -> 'SingleSensorClassifier':
    """The classifier of ``--model`` (or the newest export of ``--modality``)."""
    from .export import ModelLoadError, load_classifier

    try:
        return load_classifier(model, args.modality, args.patch_size)
    except ModelLoadError as err:
        _fail(err)


@contextmanager
def _locked_outputs(
    args: argparse.Namespace,
    prefixes: dict['SceneKey', Path],
    options: 'PredictOptions',
    devices: Sequence[str],
    band_files: Sequence[Path] = (),
) -> Iterator[None]:
    """Check every prefix's outputs and lock it, before any scene is classified.

    ``devices`` are the workers' devices, checked to exist; ``band_files`` are the
    files of ``--band-file`` scenes, inputs too.

    Raises:
        PredictError: If an output would replace an input, the device is missing,
            an output directory is unusable, another run holds a prefix, or outputs
            exist that may not be replaced.
    """
    from ..datasets.synthetic_scene import truth_path
    from .engine import resolve_device
    from .locks import PrefixLock
    from .outputs import OutputPaths, check_not_inputs, prepare_output_dir
    from .run_state import check_existing

    inputs = [*prefixes, *band_files]
    if args.synthetic_scene:
        inputs.append(truth_path(args.synthetic_scene))
    if args.model:
        inputs.append(Path(args.model))
    for prefix in prefixes.values():
        check_not_inputs(OutputPaths(prefix), inputs)
    for device in dict.fromkeys(devices):
        resolve_device(device)
    with ExitStack() as stack:
        for prefix in prefixes.values():
            paths = OutputPaths(prefix)
            prepare_output_dir(paths)
            stack.enter_context(PrefixLock(paths.lock, str(prefix)))
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

    from .outputs import OutputPaths
    from .workers import classify_scenes

    truths = {}
    if args.synthetic_scene:
        scene, truths[scene] = _synthetic_scene(args, classifier)
    warned: set[str] = set()
    if len(devices) == 1:
        options = replace(options, device=devices[0])
        results = (
            (scene, _predict_one(classifier, scene, prefix, options, warned))
            for scene, prefix in jobs
        )
    else:
        locks = [OutputPaths(prefix).lock for _, prefix in jobs]
        results = classify_scenes(
            model, args.modality, args.patch_size, jobs, options, devices, locks
        )
    failures: list[tuple[str, str]] = []
    for scene, result in results:
        for message in dict.fromkeys(result.warnings).keys() - warned:
            warned.add(message)
            print(f'geokd predict: warning: {message}', file=sys.stderr)
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
    from .discovery import latest_export

    if modality is None:
        sys.exit('geokd predict: error: give --modality (e.g. sar) or --model')
    try:
        model = latest_export(modality)
    except FileNotFoundError as err:
        sys.exit(f'geokd predict: error: {err}')
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
    from ..datasets.synthetic_scene import truth_path, write_synthetic_scene
    from .options import PredictError

    meta = classifier.metadata
    try:
        scene = write_synthetic_scene(
            args.synthetic_scene, meta.modality, args.synthetic_size,
            args.synthetic_size, block=meta.patch_size,
            resolution=meta.gsd or 10.0,
        )  # fmt: skip
    except (ValueError, OSError) as err:
        raise PredictError(_first_line(err)) from err
    if not args.quiet:
        print(f'SYNTHETIC {meta.modality} scene written to {scene}')
    return scene, truth_path(scene)


def _first_line(err: BaseException) -> str:
    """An exception's message, on one line."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


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

    from .locks import LockedError
    from .options import PredictError
    from .predict import predict_scene
    from .sources import SceneInput, scene_input
    from .workers import SceneResult

    def show(
        message: Warning | str, category: type[Warning], *_: Any, **__: Any
    ) -> None:
        # Printed when raised (before the progress bar), even with --quiet, each
        # message once per command; rasterio's NotGeoreferencedWarning is left out:
        # geokd's own says the same, naming the file.
        if issubclass(category, NotGeoreferencedWarning) or str(message) in warned:
            return
        warned.add(str(message))
        print(f'geokd predict: warning: {message}', file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter('always')
            warnings.showwarning = show
            source = scene if isinstance(scene, SceneInput) else scene_input(scene)
            return SceneResult(predict_scene(classifier, source, prefix, options))
    except LockedError:
        raise
    except (PredictError, OSError) as err:
        return SceneResult(error=_first_line(err))
    except MemoryError:
        msg = f'{scene}: out of memory (use a smaller --window or --batch-size)'
        return SceneResult(error=msg)


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
    print(f'{scene}: {summary["patches"]} patches in {summary["seconds"]:.1f} s; '
          f'{summary["grid"].get("cell", "")}')  # fmt: skip
    for name, path in summary['outputs'].items():
        print(f'  {name:<14}{path}')
    if truth is not None:
        from ..datasets.synthetic_scene import agreement

        fraction = agreement(Path(summary['outputs']['classes']), truth)
        if fraction is not None:
            print(f'  agreement with the synthetic truth: {fraction:.1%}')
