"""``geokd evaluate``: compare a class map with per-pixel reference data.

Standard library only at module level: ``geokd evaluate --help`` is answered before
numpy, rasterio or torch are imported.
"""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from geokd.errors import CommandParser, GeokdError, UsageError, output_error

DESCRIPTION = """\
Compare a class map with a reference raster on the map's grid: the reference is
reprojected and resampled onto the map's cells, then a confusion matrix,
per-class precision / recall / F1 / IoU, overall accuracy, Cohen's kappa and the
mapped and reference area of each class are printed and written to JSON.

The reference is either
  labels          a label raster whose values are the map's class indices; each
                  cell takes the most frequent labelled value in it, or
  flood-fraction  a flood mask (0 dry, one other value flooded), classed as the
                  OMBRIA dataset labels patches: by the flooded share of each cell
                  (below 5 %% dry, 5 to 50 %% partly flooded, from 50 %% flooded).
Nodata pixels of the reference and --ignore values are unlabelled; a cell is
compared where the map has a class and at least --min-labelled of it is labelled.

example (Sen1Floods11 hand labels: 1 water, 0 land, -1 unlabelled):
  geokd evaluate chip_classes.tif Spain_7370579_LabelHand.tif \\
      --reference-kind flood-fraction --ignore -1
"""


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        msg = f'must be a number from 0 to 1, got {text!r}'
        raise argparse.ArgumentTypeError(msg)
    return value


def evaluate_parser() -> CommandParser:
    """The arguments of ``geokd evaluate``.

    Returns:
        The parser.
    """
    parser = CommandParser(
        prog='geokd evaluate',
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        'map',
        metavar='MAP',
        type=Path,
        help="class map to judge (geokd predict's *_classes.tif)",
    )
    parser.add_argument(
        'reference',
        metavar='REFERENCE',
        type=Path,
        help='reference raster (any CRS and resolution overlapping the map)',
    )
    parser.add_argument(
        '--reference-kind',
        choices=('labels', 'flood-fraction'),
        default='labels',
        help='how the reference gives classes (see above; default: labels)',
    )
    parser.add_argument(
        '--ignore',
        type=float,
        action='append',
        default=[],
        metavar='VALUE',
        help='a reference value meaning unlabelled, besides its nodata '
        '(repeat for several; e.g. -1 for Sen1Floods11)',
    )
    parser.add_argument(
        '--thresholds',
        type=_fraction,
        nargs='+',
        default=[0.05, 0.5],
        metavar='FRACTION',
        help='flood-fraction: flooded shares where each class after the first '
        "starts (default: OMBRIA's 0.05 0.5)",
    )
    parser.add_argument(
        '--min-labelled',
        type=_fraction,
        default=0.5,
        metavar='FRACTION',
        help='least labelled share of a cell for it to be compared (default: 0.5)',
    )
    parser.add_argument(
        '--output',
        '-o',
        type=Path,
        default=None,
        metavar='JSON',
        help='where to write the evaluation (default: MAP_evaluation.json beside '
        'the map; a file geokd evaluate did not write is never replaced)',
    )
    return parser


def output_path(args: argparse.Namespace) -> Path:
    """The JSON file to write, checked before any work.

    Args:
        args: The parsed arguments.

    Returns:
        ``--output``, or ``<map stem>_evaluation.json`` beside the map.

    Raises:
        GeokdError: If it is a directory, an input, or a file this command did not
            write.
    """
    from .report import MARK

    path: Path = args.output or args.map.with_name(f'{args.map.stem}_evaluation.json')
    if path.is_dir():
        msg = f'{path}: is a directory (give a JSON file to --output)'
        raise UsageError(msg)
    if not path.parent.is_dir():
        msg = f'{path}: its directory does not exist (create it, or give another --output)'
        raise UsageError(msg)
    inputs = [p.resolve() for p in (args.map, args.reference) if p.exists()]
    if path.exists() and path.resolve() in inputs:
        msg = f'{path}: is an input; choose another --output'
        raise UsageError(msg)
    if path.exists() or path.is_symlink():
        try:
            ours = MARK in json.loads(path.read_text())
        except (OSError, ValueError, TypeError):
            ours = False
        if not ours:
            msg = (
                f'{path}: exists and is not an evaluation geokd wrote; not replaced '
                '(choose another --output)'
            )
            raise GeokdError(msg)
    return path


def evaluate(argv: Sequence[str]) -> None:
    """Run ``geokd evaluate``.

    Args:
        argv: Arguments after ``evaluate``.

    Raises:
        GeokdError: On bad arguments or inputs, or an output that cannot be
            written (one line).
    """
    args = evaluate_parser().parse_args(argv)
    if args.thresholds != sorted(set(args.thresholds)):
        msg = f'--thresholds: must increase, got {" ".join(map(str, args.thresholds))}'
        raise UsageError(msg)
    path = output_path(args)
    from geokd.predict.output.writers import write_json

    from .compare import evaluate_map
    from .report import table

    evaluation = evaluate_map(
        args.map,
        args.reference,
        args.reference_kind,
        args.ignore,
        args.thresholds,
        args.min_labelled,
    )
    if not evaluation['cells']['compared']:
        msg = (
            f'{args.reference}: no cell of {args.map} is both mapped and labelled '
            '(check --ignore and --min-labelled)'
        )
        raise GeokdError(msg)
    try:
        write_json(path, evaluation)
    except OSError as err:
        raise output_error(path, err) from err
    print(table(evaluation))
    print(f'wrote {path}')
