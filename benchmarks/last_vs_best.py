"""Test each benchmark run's last weights beside its best-validation checkpoint.

``geokd benchmark`` tests every classifier from the checkpoint with the best
validation weighted F1 (the paper's model selection). Where validation tiles come
from the training events, that choice may not carry to new events. This script
reads the ``runs.csv`` of finished benchmarks, tests each run's ``last.ckpt`` (the
final epoch's weights) on the same test split with the run's own saved config, and
prints per method and seed the test weighted F1 of both, with the best checkpoint's
epoch. It is a diagnosis: the test figures choose nothing.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/last_vs_best.py \\
        benchmarks/results/ombria_stability_part2_runs.csv --classifier sar
"""

import argparse
import csv
import re
import statistics
import tempfile
from pathlib import Path
from typing import Any

from geokd.cli import build_cli

BEST_EPOCH = re.compile(r'best-[^-]+-(\d+)-')


def test_last(run_dir: Path, classifier: str) -> dict[str, float]:
    """Test weighted and macro F1 of a run's classifier from its ``last.ckpt``.

    Args:
        run_dir: A finished run of ``geokd benchmark``.
        classifier: The modality whose classifier is tested.

    Returns:
        ``{'f1': ..., 'f1_macro': ...}``.

    Raises:
        SystemExit: If the run has no ``last.ckpt`` or config.
    """
    config = run_dir / 'config.yaml'
    last = run_dir / 'checkpoints' / 'last.ckpt'
    for path in (config, last):
        if not path.is_file():
            raise SystemExit(f'{path}: missing; is {run_dir} a finished benchmark run?')
    with tempfile.TemporaryDirectory() as tmp:
        cli = build_cli(
            [
                '--config',
                str(config),
                '--trainer.logger=false',
                '--trainer.callbacks=[]',
                '--trainer.enable_progress_bar=false',
                f'--trainer.default_root_dir={tmp}',
            ],
            run=False,
        )
        [metrics] = cli.trainer.test(
            cli.model, datamodule=cli.datamodule, ckpt_path=str(last),
            weights_only=True, verbose=False,
        )  # fmt: skip
    return {k: float(metrics[f'test_{k}_{classifier}']) for k in ('f1', 'f1_macro')}


def read_runs(paths: list[Path], classifier: str) -> list[dict[str, Any]]:
    """Rows of the benchmarks' ``runs.csv`` for one classifier, each run once.

    Parts of a study that share an output folder list the same runs; a method of
    another folder (another held-out range) keeps its own row, named with its folder.
    """
    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        with path.open() as f:
            for row in csv.DictReader(f):
                if row['classifier'] == classifier:
                    rows.setdefault(row['run_dir'], row)
    folders = {str(Path(r['run_dir']).parents[1]) for r in rows.values()}
    if len(folders) > 1:
        for row in rows.values():
            row['method'] += f' ({Path(row["run_dir"]).parents[1]})'
    return list(rows.values())


def main() -> None:
    """Print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('runs_csv', nargs='+', type=Path)
    parser.add_argument('--classifier', default='sar')
    parser.add_argument('--methods', nargs='*', help='only these methods')
    args = parser.parse_args()
    rows = read_runs(args.runs_csv, args.classifier)
    if args.methods:
        rows = [r for r in rows if r['method'] in args.methods]
    by_method: dict[str, list[tuple[int, float, float, str]]] = {}
    for row in rows:
        run_dir = Path(row['run_dir'])
        last = test_last(run_dir, args.classifier)['f1']
        best_ckpt = next(
            (run_dir / 'checkpoints').glob(f'best-{args.classifier}-*'), None
        )
        match = BEST_EPOCH.match(best_ckpt.name) if best_ckpt else None
        epoch = match.group(1) if match else '?'
        by_method.setdefault(row['method'], []).append(
            (int(row['seed']), float(row['f1']), last, epoch)
        )
    print('| method | best val checkpoint: test F1 per seed (epoch) | mean +- std '
          '| last epoch: test F1 per seed | mean +- std |')  # fmt: skip
    print('|---|---|---|---|---|')
    for method, seeds in by_method.items():
        seeds.sort()
        best = [100 * s[1] for s in seeds]
        last = [100 * s[2] for s in seeds]
        spread = [
            f'{statistics.mean(v):.2f} +- {statistics.stdev(v) if len(v) > 1 else 0:.2f}'
            for v in (best, last)
        ]
        print(
            f'| {method} | '
            + ' / '.join(f'{b:.2f} ({s[3]})' for b, s in zip(best, seeds, strict=True))
            + f' | {spread[0]} | '
            + ' / '.join(f'{v:.2f}' for v in last)
            + f' | {spread[1]} |'
        )


if __name__ == '__main__':
    main()
