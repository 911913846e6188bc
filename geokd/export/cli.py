"""``geokd export``: argument parsing and reporting.

Standard library only at module level, so ``geokd export --help`` imports no torch.
"""

from collections.abc import Sequence

from ..errors import CommandParser, int_at_least


def export(argv: Sequence[str]) -> None:
    """Run ``geokd export``: checkpoint to self-contained single-sensor models.

    Classifiers and segmenters alike.

    Args:
        argv: Arguments after ``export``.

    Raises:
        GeokdError: If the checkpoint cannot be exported (``geokd`` prints it as
            one line).
    """
    p = CommandParser(
        prog='geokd export',
        description='Export the single-sensor classifiers or segmenters of a '
        'training checkpoint (DisCoM-KD, a single-modal baseline or a distilled '
        'student; classification or segmentation): per modality, '
        'OUTPUT/<modality>/model.safetensors + model.json (its "kind" says '
        'classifier or segmenter).',
    )
    p.add_argument('checkpoint', help='training checkpoint (.ckpt)')
    p.add_argument('-o', '--output', default='export', help='output directory')
    p.add_argument(
        '--modality',
        action='append',
        help='modality to export (repeatable; default: every one the task has)',
    )
    p.add_argument(
        '--patch-size',
        type=int_at_least(1),
        help='patch size, if the checkpoint lacks it',
    )
    args = p.parse_args(argv)
    from .classifier import export_checkpoint

    out = export_checkpoint(
        args.checkpoint, args.output, args.modality, args.patch_size
    )
    for m, path in out.items():
        print(f'{m}: {path}')
