"""``geokd benchmark --config BENCH.yaml``: the paper's protocol over methods and seeds.

A benchmark file lists methods, each a set of LightningCLI configs (one per trained
run; teacher/student methods also name their teacher's config), and the seeds. Every
run is trained, then each of its classifiers is tested from its best validation
checkpoint (:class:`geokd.callbacks.EvaluateClassifiers`). Each run directory gets a
``result.json`` once finished; re-running the command skips those runs (and runs
shared between methods, such as a teacher, are trained once per seed). The summary,
mean +- std over seeds of test weighted F1 and accuracy per method and classifier,
plus the training wall-clock each method needed for all of its classifiers (teacher
included), is written as ``results.csv`` and ``results.md``, the per-run numbers as
``runs.csv``.

Benchmark file::

    output_dir: runs/benchmark
    seeds: [0, 1, 2]
    seed_args: [seed_everything, data.init_args.seed]  # options that receive the seed
    base_configs: [configs/baselines/synthetic.yaml]   # trainer + data of every run
    tables_dir: runs/benchmark                         # default: output_dir
    args: [--trainer.max_epochs=10]                    # appended to every run
    methods:
      DisCoM-KD: {configs: [configs/baselines/discomkd.yaml]}
      KD: {teacher: configs/baselines/multimodal_teacher.yaml,
           configs: [configs/baselines/kd_sar.yaml]}
"""

import csv
import hashlib
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .benchmark_file import Benchmark, load_benchmark
from .benchmark_runs import RESULT_FILE, create_run, read_result, remove_run
from .errors import CommandParser, GeokdError


def _loggers(run_dir: Path) -> str:
    """CSV and TensorBoard loggers writing straight into ``run_dir``."""
    return json.dumps(
        [
            {
                'class_path': f'lightning.pytorch.loggers.{cls}',
                'init_args': {'save_dir': str(run_dir), 'name': '', 'version': ''},
            }
            for cls in ('CSVLogger', 'TensorBoardLogger')
        ]
    )


def _fingerprint(configs: Sequence[str], args: Sequence[str]) -> str:
    """Hash of the configs' contents and the arguments that define a run."""
    digest = hashlib.sha256()
    for c in configs:
        digest.update(Path(c).read_bytes())
    digest.update(json.dumps(list(args)).encode())
    return digest.hexdigest()[:16]


def train_run(argv: list[str]) -> tuple[dict[str, dict[str, Any]], float]:
    """Train one config as ``geokd fit`` does and read its per-classifier tests.

    Args:
        argv: LightningCLI arguments without a subcommand (``--config ...``).

    Returns:
        Per classifier its best checkpoint and test metrics (from the run's
        :class:`~geokd.callbacks.EvaluateClassifiers`), and the seconds training
        took (the tests after it excluded).

    Raises:
        GeokdError: If the run's callbacks do not test its classifiers.
    """
    from geokd.callbacks import EvaluateClassifiers
    from geokd.callbacks.trainer_attributes import trainer_callbacks

    from .cli import load_config

    # The same config loading as `geokd fit`, without running it, so fit is timed.
    cli = load_config(argv)
    evaluations = [
        cb
        for cb in trainer_callbacks(cli.trainer)
        if isinstance(cb, EvaluateClassifiers)
    ]
    if not evaluations or not evaluations[0].enabled:
        msg = f'{argv}: the run has no enabled EvaluateClassifiers callback'
        raise GeokdError(msg)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    seconds = time.perf_counter() - start - evaluations[0].seconds
    return evaluations[0].results, seconds


def _run(
    bench: Benchmark,
    config: str,
    seed: int,
    teacher: dict[str, Any] | None,
    progress: str,
) -> dict[str, Any]:
    """Train one run, or read it back if it finished before with the same settings."""
    name = Path(config).stem
    if teacher is not None:
        name += f'_from_{teacher["name"]}'
    run_dir = bench.output_dir / name / f'seed{seed}'
    configs = [*bench.base_configs, config]
    args = [a for c in configs for a in ('--config', c)] + bench.args
    args += [f'--{key}={seed}' for key in bench.seed_args]
    if teacher is not None:
        if len(teacher['results']) != 1:
            msg = (
                f'teacher run {teacher["run_dir"]} has classifiers '
                f'{sorted(teacher["results"])}; a teacher needs exactly one'
            )
            raise GeokdError(msg)
        [result] = teacher['results'].values()
        if not result['checkpoint']:
            msg = f'teacher run {teacher["run_dir"]} wrote no checkpoint to distil from'
            raise GeokdError(msg)
        args.append(f'--model.init_args.teacher_checkpoint={result["checkpoint"]}')
    fingerprint = _fingerprint(configs, args)
    marker = run_dir / RESULT_FILE
    if marker.is_file():
        done = read_result(marker)
        if done.get('fingerprint') == fingerprint:
            print(f'{progress} {name} seed {seed}: done before, skipped', flush=True)
            return done
        print(
            f'{progress} {name} seed {seed}: settings changed, retraining', flush=True
        )
    if run_dir.exists() or run_dir.is_symlink():
        remove_run(run_dir, bench.output_dir)
    create_run(run_dir, bench.output_dir)
    print(f'{progress} {name} seed {seed}: training in {run_dir}', flush=True)
    results, seconds = train_run(
        [
            *args,
            f'--trainer.default_root_dir={run_dir}',
            f'--trainer.logger={_loggers(run_dir)}',
        ]
    )
    done = {
        'name': name,
        'run_dir': str(run_dir),
        'seed': seed,
        'fit_seconds': seconds,
        'results': results,
        'fingerprint': fingerprint,
    }
    from .predict.output.writers import write_json

    # Written last and atomically (under a random name, never through a link
    # planted at a predictable one): its presence means the run is complete.
    write_json(marker, done)
    scores = ', '.join(f'{m} F1 {r["f1"]:.4f}' for m, r in results.items())
    print(f'{progress} {name} seed {seed}: {seconds:.0f} s, {scores}', flush=True)
    return done


def run_benchmark(bench: Benchmark) -> list[dict[str, Any]]:
    """Train (or read back) every run of every method and seed.

    Args:
        bench: The benchmark.

    Returns:
        One row per method, seed and classifier: test metrics and the seconds of
        training the method needed for all of its classifiers at that seed.

    Raises:
        GeokdError: If two runs of one method produce classifiers of the same name.
    """
    total = len(bench.seeds) * sum(
        len(m.configs) + (m.teacher is not None) for m in bench.methods
    )
    step = 0
    rows = []
    for seed in bench.seeds:
        for method in bench.methods:
            runs = []
            teacher = None
            if method.teacher:
                step += 1
                teacher = _run(
                    bench,
                    method.teacher,
                    seed,
                    None,
                    f'[{step}/{total}] {method.name}:',
                )
            for config in method.configs:
                step += 1
                runs.append(
                    _run(
                        bench, config, seed, teacher, f'[{step}/{total}] {method.name}:'
                    )
                )
            seconds = sum(r['fit_seconds'] for r in runs)
            seconds += teacher['fit_seconds'] if teacher else 0.0
            seen: set[str] = set()
            for run in runs:
                for classifier, res in run['results'].items():
                    if classifier in seen:
                        msg = (
                            f'method {method.name!r} has two {classifier!r} classifiers'
                        )
                        raise GeokdError(msg)
                    seen.add(classifier)
                    rows.append(
                        {
                            'method': method.name,
                            'seed': seed,
                            'classifier': classifier,
                            'f1': res['f1'],
                            'f1_macro': res['f1_macro'],
                            'acc': res['acc'],
                            'train_seconds': seconds,
                            'run_dir': run['run_dir'],
                        }
                    )
    return rows


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(
        values
    ) > 1 else 0.0


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds per method and classifier.

    Args:
        rows: Output of :func:`run_benchmark`.

    Returns:
        One row per method and classifier, in the order first seen.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row['method'], row['classifier']), []).append(row)
    summary = []
    for (method, classifier), group in groups.items():
        out: dict[str, Any] = {
            'method': method,
            'classifier': classifier,
            'seeds': len(group),
        }
        for key in ('f1', 'acc', 'f1_macro', 'train_seconds'):
            out[f'{key}_mean'], out[f'{key}_std'] = _mean_std([r[key] for r in group])
        summary.append(out)
    return summary


def markdown_table(summary: Sequence[dict[str, Any]]) -> str:
    """Render the summary as a Markdown table (scores in percent).

    Args:
        summary: Output of :func:`summarize`.

    Returns:
        The table.
    """
    lines = [
        '| Method | Classifier | Weighted F1 (%) | Accuracy (%) | Seeds '
        '| Training wall-clock, all classifiers (s) |',
        '|---|---|---|---|---|---|',
    ]
    for s in summary:
        lines.append(
            f'| {s["method"]} | {s["classifier"]} '
            f'| {100 * s["f1_mean"]:.2f} +- {100 * s["f1_std"]:.2f} '
            f'| {100 * s["acc_mean"]:.2f} +- {100 * s["acc_std"]:.2f} '
            f'| {s["seeds"]} '
            f'| {s["train_seconds_mean"]:.0f} +- {s["train_seconds_std"]:.0f} |'
        )
    return '\n'.join(lines)


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_tables(rows: Sequence[dict[str, Any]], output_dir: Path) -> str:
    """Write ``runs.csv``, ``results.csv`` and ``results.md``.

    Args:
        rows: Output of :func:`run_benchmark`.
        output_dir: Where to write them.

    Returns:
        The Markdown table.
    """
    summary = summarize(rows)
    table = markdown_table(summary)
    output_dir.mkdir(parents=True, exist_ok=True)
    _write_csv(output_dir / 'runs.csv', rows)
    _write_csv(output_dir / 'results.csv', summary)
    (output_dir / 'results.md').write_text(table + '\n')
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``geokd benchmark``.

    Args:
        argv: Command-line arguments after ``benchmark``.

    Raises:
        GeokdError: If the benchmark file or a run cannot be used (``geokd``
            prints it as one line).
    """
    parser = CommandParser(
        prog='geokd benchmark',
        description='Train and test a list of methods over several seeds; write '
        'mean +- std tables. Finished runs are skipped when re-run.',
    )
    parser.add_argument('--config', required=True, help='benchmark YAML file')
    parser.add_argument('--output_dir', help='overrides output_dir of the file')
    parser.add_argument(
        '--run_arg',
        action='append',
        default=[],
        help="argument appended to every run after the file's args (repeatable; "
        'write it with =, e.g. --run_arg=--trainer.max_epochs=1)',
    )
    args = parser.parse_args(argv)
    bench = load_benchmark(args.config)
    if args.output_dir:
        bench.output_dir = Path(args.output_dir)
    bench.args += args.run_arg
    rows = run_benchmark(bench)
    tables_dir = bench.tables_dir or bench.output_dir
    table = write_tables(rows, tables_dir)
    print(table)
    print(f'Tables written to {tables_dir}/results.md, results.csv and runs.csv')
