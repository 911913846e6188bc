"""The arguments of ``geokd predict``: its parser and the options they make.

Standard library only at module level: ``geokd predict --help`` is answered before
torch, rasterio or the model are imported.
"""

import argparse
from typing import TYPE_CHECKING, NoReturn

from ..errors import UsageError

if TYPE_CHECKING:
    from .options import PredictOptions


#: Largest ``--synthetic-size``: a float32 SAR scene of 16384 x 16384 pixels is 2 GiB.
MAX_SYNTHETIC = 16384


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        """Raise the error, for :mod:`geokd.main` to report on one line (exit 2).

        Raises:
            UsageError: Always.
        """
        msg = f'{message} (see --help)'
        raise UsageError(msg)


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
            'PREFIX_classes.gpkg. A segmenter (geokd export of a segmentation '
            'checkpoint) gives one class per pixel instead, blended from tiles of its '
            'patch size overlapping by half; --stride and --evaluation do not apply '
            'to it (--stride and --evaluation dense are refused).'
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
        'scenes',
        nargs='*',
        help='scene files, glob patterns, or directories of single-band files whose '
        'names carry the band code (..._B08.tif, T31TCJ_..._B8A_20m.jp2, '
        '..._VV.tif, s1a-iw-grd-vh-....tiff): each directory is one scene',
    )
    g.add_argument(
        '--band-file',
        action='append',
        metavar='NAME=PATH',
        help='one band of a scene delivered as single-band files (repeat it: '
        '--band-file VV=vv.tif --band-file VH=vh.tif); the files are stacked on the '
        'fly, never copied',
    )
    g.add_argument(
        '--bands',
        help="the scene's bands in the model's order, comma-separated 1-based indexes "
        "or names (e.g. 'VV,VH' or '2,1'), or 'file-order' for a scene whose bands "
        "are unnamed but known to be in the model's order; default: match the band "
        'names (unnamed bands are refused)',
    )
    g.add_argument(
        '--synthetic-scene',
        metavar='PATH',
        help="first write a SYNTHETIC scene of the model's sensor (the demo dataset's "
        'classes and sensor model) to PATH, then classify it and report the agreement '
        'with its true classes',
    )
    g.add_argument(
        '--synthetic-size',
        type=int,
        default=1024,
        help='height and width of the synthetic scene in pixels (default: 1024)',
    )


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('model and patches')
    g.add_argument(
        '-m',
        '--model',
        help='exported model directory (geokd export), or a training .ckpt with '
        '--modality; default: the newest model of --modality that geokd fit exported '
        'under ./runs (or $GEOKD_RUNS)',
    )
    g.add_argument(
        '--modality',
        help='the sensor to classify (e.g. sar): picks the model when --model is not '
        'given, and the classifier taken from a checkpoint',
    )
    g.add_argument(
        '--patch-size',
        type=int,
        help="patch size (default: the model's; a segmenter's tile size, a multiple "
        'of 2 ** its encoder depth)',
    )
    g.add_argument(
        '--stride',
        type=int,
        help='stride in pixels, dividing the patch size (default: patch size); smaller '
        'strides average the probabilities of overlapping patches per output cell '
        '(classifiers only: a segmenter maps every pixel)',
    )
    g.add_argument(
        '--min-valid',
        type=float,
        default=0.5,
        help='minimum fraction of valid (not nodata, finite) pixels for a patch to be '
        'classified; other cells get the nodata value (default: 0.5). A patch that '
        "would reach past the scene's right or bottom edge is cut shifted inward, "
        "ending on the scene's last pixel, so valid pixels at the edges get a class "
        '(dense evaluation: a box under --min-valid takes the nearest one shifted '
        'inward). A segmenter segments every tile holding a valid pixel and leaves '
        'only invalid pixels nodata',
    )
    g.add_argument('--batch-size', type=int, default=64)
    g.add_argument('--device', default='auto', help="'cpu', 'cuda[:N]' or 'auto'")
    g.add_argument(
        '--precision',
        default='auto',
        choices=('auto', '32', '16-mixed', 'bf16-mixed'),
        help="'32', or float16/bfloat16 autocast (default 'auto': '16-mixed' on "
        "CUDA, '32' elsewhere; --resume refuses to change it)",
    )
    g.add_argument('--window', type=int, default=1024, help='window side in pixels')
    g.add_argument(
        '--evaluation',
        choices=('patch', 'dense'),
        default='patch',
        help="'patch' (default): every patch classified alone, the probabilities of "
        'overlapping patches averaged per cell (exact, cost grows with (patch / '
        "stride)^2); 'dense': the trunk runs once over each window and the head is "
        'applied on a patch-sized box centred on every cell (--stride 32, 16 or 8: '
        'fine maps at near the cost of --stride = patch size, but not the per-patch '
        'answers: check one against reference data with geokd evaluate); the summary '
        "records which ('segmenter' for a segmenter, which takes no --evaluation)",
    )


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('outputs')
    g.add_argument(
        '-o',
        '--output',
        default='predictions/',
        help='output directory (one PREFIX per scene: DIR/<scene name>) or, for one '
        'scene, a file prefix (default: predictions/)',
    )
    g.add_argument(
        '--probabilities',
        action='store_true',
        help='also write all class probabilities',
    )
    g.add_argument(
        '--polygons', action='store_true', help='also write polygons (GeoPackage)'
    )
    g.add_argument(
        '--resume',
        action='store_true',
        help='continue an interrupted run of the same scene, model and options',
    )
    g.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing outputs (only once the new ones are complete)',
    )
    g.add_argument(
        '-q', '--quiet', action='store_true', help='no progress bar or messages'
    )


def _add_parallel_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('many scenes in parallel')
    g.add_argument(
        '--workers',
        type=int,
        metavar='N',
        help='classify scenes in N processes at once (default: 1, or one per '
        '--devices entry); outputs are the same as one by one',
    )
    g.add_argument(
        '--devices',
        metavar='I,J',
        help='CUDA devices to spread the workers over, e.g. 0,1',
    )


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
        evaluation=args.evaluation,
    )


def check_synthetic_size(size: int) -> None:
    """Refuse a ``--synthetic-size`` out of range."""
    from ..errors import OptionError

    if not 1 <= size <= MAX_SYNTHETIC:
        msg = f'--synthetic-size {size}: must be an integer in [1, {MAX_SYNTHETIC}]'
        raise OptionError(msg)
