"""``geokd stats --config X.yaml``: normalisation statistics of the training split.

Builds the config's DataModule, estimates every modality's
:class:`~geokd.transforms.SensorNormalization` from its training split (with the
config's ``norm_method`` and ``to_db``) and prints a config snippet; with ``--output``
it also writes it, to be passed after the main config so that training, its
checkpoints and prediction all use exactly these numbers::

    geokd stats --config configs/eurosat_ms_sar.yaml --output stats.yaml
    geokd fit --config configs/eurosat_ms_sar.yaml --config stats.yaml
"""

from collections.abc import Sequence
from typing import Any

import yaml
from jsonargparse import ArgumentParser

from .datamodules import MultiModalDataModule


def statistics_snippet(datamodule: MultiModalDataModule, samples: int = 0) -> str:
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
        argv: Arguments after ``stats``: ``--config`` (a geokd training config),
            optional ``--output``, ``--samples`` and ``--data.init_args.*`` overrides.
    """
    parser = ArgumentParser(
        prog='geokd stats',
        description='Normalisation statistics of the training split of a config.',
    )
    parser.add_argument('--config', required=True, help='geokd training config.')
    parser.add_argument('--output', default=None, help='Also write the snippet here.')
    parser.add_argument(
        '--samples', type=int, default=0, help='Training samples to use (0: all).'
    )
    parser.add_subclass_arguments(MultiModalDataModule, 'data', required=True)
    args = list(argv or [])
    if '-h' in args or '--help' in args:
        parser.parse_args(['--help'])
    # The training config also holds trainer/model sections: only its data section is
    # parsed (followed by the command line, so --data.init_args.* overrides it).
    with open(_option(args, '--config')) as f:
        config = yaml.safe_load(f)
    if 'data' not in config:
        parser.error(f'{_option(args, "--config")} has no data section')
    cfg = parser.parse_args(['--data', yaml.safe_dump(config['data']), *args])
    datamodule = parser.instantiate_classes(cfg).data
    text = statistics_snippet(datamodule, cfg.samples)
    print(text, end='')
    if cfg.output:
        with open(cfg.output, 'w') as f:
            f.write(text)


def _option(argv: Sequence[str], option: str) -> str:
    """Value of ``option`` in ``argv`` (``--x v`` or ``--x=v``)."""
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option + '='):
            return arg.split('=', 1)[1]
    msg = f'{option} is required'
    raise SystemExit(msg)
