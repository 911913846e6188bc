"""``geokd stats --config X.yaml``: normalisation statistics of the training split.

Builds the config's DataModule, estimates every modality's
:class:`~geokd.transforms.SensorNormalization` from its training split (with the
config's ``norm_method`` and ``to_db``) and prints a config snippet; with ``--output``
it also writes it, to be passed after the main config so that training, its
checkpoints and prediction all use exactly these numbers::

    geokd stats --config configs/eurosat_ms_sar.yaml --output stats.yaml
    geokd fit --config configs/eurosat_ms_sar.yaml --config stats.yaml
"""

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import yaml

from .loader import load_config

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
    return yaml.safe_dump(snippet, sort_keys=False, default_flow_style=None)


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``geokd stats``.

    Args:
        argv: Arguments after ``stats``: one or more ``--config`` (read as ``geokd
            fit`` reads them), optional ``--output`` and ``--samples``, and any
            ``--data.init_args.*`` (or other) overrides.
    """
    parser = argparse.ArgumentParser(
        prog='geokd stats',
        description='Normalisation statistics of the training split of a training '
        'config. Every other option (--config, repeatable, and --data.init_args.* '
        'overrides) is read as geokd fit reads it.',
    )
    parser.add_argument('--output', help='also write the snippet here')
    parser.add_argument(
        '--samples', type=int, default=0, help='training samples to use (0: all)'
    )
    args, config_args = parser.parse_known_args(argv)
    if not any(a == '--config' or a.startswith('--config=') for a in config_args):
        parser.error('--config is required')
    datamodule = load_config(config_args).datamodule
    text = statistics_snippet(datamodule, args.samples)
    print(text, end='')
    if args.output:
        with open(args.output, 'w') as f:
            f.write(text)
