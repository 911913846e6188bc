"""Paired per-seed comparison of benchmark runs against a baseline, as Markdown.

Reads the ``runs.csv`` that ``geokd benchmark`` writes (one or several: the parts
of a protocol) and prints, for every method and classifier against the baseline,
the per-seed differences of test weighted and macro F1 with their mean and 95 %
interval (:func:`geokd.reports.paired.paired_table`), then each run's best
validation weighted F1 (the checkpoint-selection score, from its ``metrics.csv``).

    .venv/bin/python benchmarks/paired_report.py runs/benchmark-ombria-paper/part*/runs.csv \\
        --baseline SAR-only sar
"""

import argparse
import csv
from pathlib import Path

from geokd.reports.paired import paired_table


def best_val_f1(run_dir: Path, classifier: str) -> float | None:
    """Highest ``val_f1_<classifier>`` logged by a run, None if not logged."""
    values = []
    for path in run_dir.glob('**/metrics.csv'):
        with path.open() as f:
            values += [
                float(v)
                for row in csv.DictReader(f)
                if (v := row.get(f'val_f1_{classifier}'))
            ]
    return max(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', type=Path, help='runs.csv files')
    parser.add_argument('--baseline', nargs=2, required=True, metavar=('METHOD', 'CLF'))
    args = parser.parse_args()
    rows = []
    for path in args.runs:
        with path.open() as f:
            rows += list(csv.DictReader(f))
    print(paired_table(rows, tuple(args.baseline)))
    print('\n| method | classifier | seed | best val F1 | test F1 | test macro F1 |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        val = best_val_f1(Path(r['run_dir']), r['classifier'])
        shown = f'{100 * val:.2f}' if val is not None else 'n/a'
        print(
            f'| {r["method"]} | {r["classifier"]} | {r["seed"]} | {shown} | '
            f'{100 * float(r["f1"]):.2f} | {100 * float(r["f1_macro"]):.2f} |'
        )


if __name__ == '__main__':
    main()
