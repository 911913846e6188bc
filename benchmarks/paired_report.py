"""Paired per-seed comparison of benchmark runs against a baseline, as Markdown.

Reads the ``runs.csv`` that ``geokd benchmark`` writes (one or several: the parts
of a protocol) and prints, for every method and classifier against the baseline,
the per-seed differences of test weighted and macro F1 with their mean and 95 %
interval (:func:`geokd.reports.paired.paired_table`), then each run's best
validation weighted F1 (the checkpoint-selection score, from its ``metrics.csv``).
With ``--per-class``, the per-class test F1 of every run is compared too, from the
``report/per_class_<classifier>.csv`` that ``geokd report RUN_DIR`` writes.

    .venv/bin/python benchmarks/paired_report.py runs/benchmark-ombria-paper/part*/runs.csv \\
        --baseline SAR-only sar --per-class
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


def per_class_f1(run_dir: Path, classifier: str) -> dict[str, float]:
    """Test F1 of each class of a run's classifier, as ``geokd report`` wrote it.

    Raises:
        SystemExit: If the run has no report.
    """
    path = run_dir / 'report' / f'per_class_{classifier}.csv'
    if not path.is_file():
        raise SystemExit(f'{path}: missing; run geokd report {run_dir} first')
    with path.open() as f:
        return {f'F1 {row["class"]}': float(row['f1']) for row in csv.DictReader(f)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', type=Path, help='runs.csv files')
    parser.add_argument('--baseline', nargs=2, required=True, metavar=('METHOD', 'CLF'))
    parser.add_argument('--per-class', action='store_true', help='per-class F1 too')
    args = parser.parse_args()
    rows = []
    for path in args.runs:
        with path.open() as f:
            rows += list(csv.DictReader(f))
    metrics = ['f1', 'f1_macro']
    if args.per_class:
        for r in rows:
            r.update(per_class_f1(Path(r['run_dir']), r['classifier']))
        metrics += [k for k in rows[0] if k.startswith('F1 ')]
    print(paired_table(rows, tuple(args.baseline), metrics))
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
