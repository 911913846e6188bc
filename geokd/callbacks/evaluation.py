"""Testing after fit: each classifier from its own best checkpoint."""

import json
import os
import time
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback

from .checkpoint import ClassifierCheckpoints
from .trainer_attributes import trainer_datamodule

#: Metrics reported per classifier (logged as ``test_<metric>_<classifier>``).
METRICS = ('f1', 'f1_macro', 'acc')

#: Metrics reported where the task logs them (segmenters: IoU of the positive class).
OPTIONAL_METRICS = ('iou',)


def best_checkpoints(trainer: Trainer) -> dict[str, str]:
    """Best checkpoint of each classifier written by :class:`ClassifierCheckpoints`.

    Args:
        trainer: A trainer during or after ``fit``.

    Returns:
        Path per classifier name (empty without a :class:`ClassifierCheckpoints`).
    """
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ClassifierCheckpoints):
            return callback.best_paths
    return {}


def format_results(results: dict[str, dict[str, Any]]) -> str:
    """Render per-classifier test results as a small text table.

    Args:
        results: Per classifier: ``checkpoint``, the :data:`METRICS` and any of the
            :data:`OPTIONAL_METRICS` (``iou``: a table of segmenters).

    Returns:
        The table.
    """
    if any('iou' in r for r in results.values()):
        # Segmenters: F1 and IoU of the positive class, pixel accuracy.
        lines = [
            'Test results, each single-sensor segmenter from its best validation epoch:',
            f'{"modality":<10}{"F1":>8}{"IoU":>8}{"macro F1":>10}{"pixel acc":>11}'
            '  checkpoint',
        ]
        for m, r in results.items():
            lines.append(
                f'{m:<10}{r["f1"]:>8.4f}{r.get("iou", float("nan")):>8.4f}'
                f'{r["f1_macro"]:>10.4f}{r["acc"]:>11.4f}  {_name(r)}'
            )
        return '\n'.join(lines)
    lines = [
        'Test results, each single-sensor classifier from its best validation epoch:',
        f'{"modality":<10}{"weighted F1":>13}{"macro F1":>10}{"accuracy":>10}  checkpoint',
    ]
    for m, r in results.items():
        lines.append(
            f'{m:<10}{r["f1"]:>13.4f}{r["f1_macro"]:>10.4f}{r["acc"]:>10.4f}  {_name(r)}'
        )
    return '\n'.join(lines)


def _name(result: dict[str, Any]) -> str:
    """File name of a result's checkpoint, or where its weights came from."""
    ckpt = result['checkpoint']
    return os.path.basename(ckpt) if ckpt else '(final weights)'


class EvaluateClassifiers(Callback):
    """After ``fit``, test every classifier with the weights of its best epoch.

    Each classifier of the task (``pl_module.modalities``) is tested from the best
    checkpoint :class:`ClassifierCheckpoints` kept for it (from the final weights when
    none was written, e.g. under ``fast_dev_run``). The results are printed as a
    table, kept in :attr:`results` and written to ``<log_dir>/test_results.json``
    (``{classifier: {checkpoint, f1, f1_macro, acc}}``), which ``geokd report`` and
    ``geokd benchmark`` read.

    Args:
        enabled: Set False to skip testing after fit.
    """

    def __init__(self, enabled: bool = True) -> None:
        """Initialize a new EvaluateClassifiers instance."""
        self.enabled = enabled
        #: Test metrics per classifier of the last fit.
        self.results: dict[str, dict[str, Any]] = {}
        #: Seconds the tests took.
        self.seconds = 0.0

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Test each classifier from its best checkpoint and report.

        Args:
            trainer: The trainer that ran ``fit``.
            pl_module: The trained task.
        """
        names = list(getattr(pl_module, 'modalities', []))
        datamodule = trainer_datamodule(trainer)
        if not self.enabled or not names or datamodule is None:
            return
        start = time.perf_counter()
        best = best_checkpoints(trainer)
        self.results = {}
        for name in names:
            ckpt = best.get(name)
            [metrics] = trainer.test(
                pl_module, datamodule=datamodule, ckpt_path=ckpt, verbose=False
            )
            self.results[name] = {
                'checkpoint': ckpt,
                **{k: float(metrics[f'test_{k}_{name}']) for k in METRICS},
                **{
                    k: float(metrics[f'test_{k}_{name}'])
                    for k in OPTIONAL_METRICS
                    if f'test_{k}_{name}' in metrics
                },
            }
        self.seconds = time.perf_counter() - start
        # Every process must ask: trainer.log_dir is broadcast from global zero.
        log_dir = trainer.log_dir
        if trainer.is_global_zero:
            print(format_results(self.results))
            if log_dir:
                path = Path(log_dir) / 'test_results.json'
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(self.results, indent=2))
                print(f'Per-modality test results written to {path}')
