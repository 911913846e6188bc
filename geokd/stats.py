"""``geokd stats --config X.yaml``: normalisation statistics of the training split.

Builds the config's DataModule, estimates every modality's
:class:`~geokd.transforms.SensorNormalization` from its training split (with the
config's ``norm_method`` and ``to_db``) and prints a config snippet; with ``--output``
it also writes it, to be passed after the main config so that training, its
checkpoints and prediction all use exactly these numbers::

    geokd stats --config configs/eurosat_ms_sar.yaml --output stats.yaml
    geokd fit --config configs/eurosat_ms_sar.yaml --config stats.yaml
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .cli import load_config
from .config import config_files
from .errors import CommandParser, UsageError, int_at_least, output_error

if TYPE_CHECKING:
    from .datamodules import MultiModalDataModule


def statistics_snippet(datamodule: 'MultiModalDataModule', samples: int = 0) -> str:
    """Estimate the statistics and render them as a config snippet.

    Args:
        datamodule: DataModule whose training split is measured.
        samples: Training samples to use (evenly spread); 0 uses all of them.

    Returns:
        YAML setting ``data.init_args.normalization``.
    """
    datamodule.estimate_normalization(samples=samples)
    normalization = {m: n.to_dict() for m, n in datamodule.normalization.items()}
    snippet: dict[str, Any] = {'data': {'init_args': {'normalization': normalization}}}
    text: str = yaml.safe_dump(snippet, sort_keys=False, default_flow_style=None)
    return text


def check_output(output: Path, configs: Sequence[Path]) -> None:
    """Refuse, before any work, an output that cannot or must not be written.

    Args:
        output: The ``--output`` file.
        configs: The config files read (never replaced).

    Raises:
        UsageError: If it is a directory, one of the configs, or its directory
            is missing or not writable.
    """
    if output.is_dir():
        msg = f'{output}: is a directory (give a file name for --output)'
        raise UsageError(msg)
    if any(c.exists() and output.exists() and output.samefile(c) for c in configs):
        msg = f'{output}: is a config this command reads (give another --output)'
        raise UsageError(msg)
    parent = output.parent
    if not parent.is_dir():
        msg = f'{output}: its directory {parent} does not exist (create it first)'
        raise UsageError(msg)
    if not os.access(parent, os.W_OK) or (
        output.exists() and not os.access(output, os.W_OK)
    ):
        msg = f'{output}: not writable (check permissions, or choose another path)'
        raise UsageError(msg)


def write_snippet(output: Path, text: str) -> None:
    """Write the snippet through a temporary file, so a failure leaves no half file.

    The temporary file has a random name in a new directory beside ``output`` (as
    predict's outputs), so a link planted at a predictable name is never written
    through.

    Args:
        output: The file.
        text: Its content.

    Raises:
        GeokdError: If it cannot be written (a full disk, ...).
    """
    from .predict.output.writers import write_text

    try:
        write_text(output, text)
    except OSError as err:
        raise output_error(output, err) from err


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``geokd stats``.

    Args:
        argv: Arguments after ``stats``: one or more ``--config`` (read as ``geokd
            fit`` reads them), optional ``--output`` and ``--samples``, and any
            ``--data.init_args.*`` (or other) overrides.

    Raises:
        GeokdError: If an argument, a config or the data cannot be used, or the
            output cannot be written (``geokd`` prints it as one line).
    """
    parser = CommandParser(
        prog='geokd stats',
        description='Normalisation statistics of the training split of a training '
        'config. Every other option (--config, repeatable, and --data.init_args.* '
        'overrides) is read as geokd fit reads it.',
    )
    parser.add_argument('--output', type=Path, help='also write the snippet here')
    parser.add_argument(
        '--samples',
        type=int_at_least(0),
        default=0,
        help='training samples to use (0: all)',
    )
    args, config_args = parser.parse_known_args(argv)
    if not config_files(config_args):
        parser.error('--config is required')
    if args.output:
        check_output(args.output, config_files(config_args))
    datamodule = load_config(config_args, plain_trainer=True).datamodule
    text = statistics_snippet(datamodule, args.samples)
    print(text, end='')
    if args.output:
        write_snippet(args.output, text)
