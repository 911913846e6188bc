"""Export after fit: each single-sensor classifier from its own best checkpoint."""

from dataclasses import replace
from pathlib import Path

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback

from ..errors import GeokdError
from ..export.classifier import (
    METADATA_FILE,
    classifier_from_checkpoint,
    classifier_from_task,
    export_directory,
    export_model,
)
from ..tasks import PerClassifierTask
from ..tasks.base import DeployableClassifier
from .evaluation import METRICS, EvaluateClassifiers, best_checkpoints
from .trainer_attributes import trainer_callbacks, trainer_datamodule


def deployable_of(pl_module: LightningModule) -> dict[str, DeployableClassifier]:
    """The single-sensor classifiers a task can export (none for other modules).

    Args:
        pl_module: The task.

    Returns:
        Its deployable classifiers, keyed by sensor.
    """
    if not isinstance(pl_module, PerClassifierTask):
        return {}
    return pl_module.deployable_classifiers()


def measured_metrics(trainer: Trainer) -> dict[str, dict[str, float]] | None:
    """The test metrics :class:`EvaluateClassifiers` measured in this fit, if any.

    Args:
        trainer: The trainer that ran ``fit``.

    Returns:
        :data:`METRICS` per classifier, or None when no :class:`EvaluateClassifiers`
        ran before the export (not configured, disabled, or listed after it).
    """
    for callback in trainer_callbacks(trainer):
        if isinstance(callback, EvaluateClassifiers) and callback.results:
            return {
                name: {k: float(r[k]) for k in METRICS}
                for name, r in callback.results.items()
            }
    return None


class ExportClassifiers(Callback):
    """After ``fit``, export every single-sensor classifier for ``geokd predict``.

    Each classifier the task can deploy (DisCoM-KD's branches, a single-modal
    baseline, a distilled student; see
    :meth:`~geokd.tasks.PerClassifierTask.deployable_classifiers`) is exported from
    the best checkpoint :class:`~geokd.callbacks.ClassifierCheckpoints` kept for it
    (from the final weights when none was written) to ``<dirpath>/<modality>/``:
    ``model.safetensors`` + ``model.json``, with the DataModule's normalisation, band
    names and patch size, the provenance of the training data and the test metrics
    of :class:`~geokd.callbacks.EvaluateClassifiers` when it runs before (as in
    ``geokd fit``'s default callbacks). Runs on the global-zero process only.

    Args:
        dirpath: Output directory; None takes ``<log_dir>/export`` so that each run
            (a new ``version_N`` of the logger) keeps its own exports.
        enabled: Set False to skip exporting.
    """

    def __init__(self, dirpath: str | None = None, enabled: bool = True) -> None:
        """Initialize a new ExportClassifiers instance."""
        self.dirpath = dirpath
        self.enabled = enabled
        #: Export directory of each classifier of the last fit.
        self.exported: dict[str, Path] = {}

    def directory(self, trainer: Trainer) -> Path:
        """Where this run's exports go.

        Args:
            trainer: The trainer.

        Returns:
            The export directory.
        """
        if self.dirpath is not None:
            return Path(self.dirpath)
        return Path(trainer.log_dir or trainer.default_root_dir) / 'export'

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Refuse, before training, exports that would replace an earlier run's.

        Each run exports to its own logger version by default; a fixed ``dirpath``
        or a run without logger shares the directory between runs.

        Args:
            trainer: The trainer.
            pl_module: The task.
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            GeokdError: If an export of a classifier is already there, or a
                classifier's name cannot be a directory inside it.
        """
        deployable = deployable_of(pl_module)
        if stage != 'fit' or not self.enabled:
            return
        # Every process asks (trainer.log_dir is a broadcast) and every process
        # raises global zero's refusal: none is left waiting in a collective.
        root = self.directory(trainer)
        refusal = None
        # `--ckpt_path last` continues the version that holds the newest last.ckpt:
        # the exports there are this run's own, replaced when it ends.
        resumed = self.dirpath is None and any(
            (root.parent / 'checkpoints').glob('last*.ckpt')
        )
        if trainer.is_global_zero and not resumed:
            for name in deployable:
                directory = export_directory(root, name)
                if (directory / METADATA_FILE).exists():
                    refusal = (
                        f'{directory}: holds the export of an earlier run, which this '
                        'run would replace (set trainer.default_root_dir or '
                        'ExportClassifiers.dirpath elsewhere, or move it away)'
                    )
                    break
        refusal = trainer.strategy.broadcast(refusal)
        if refusal is not None:
            raise GeokdError(refusal)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Export each single-sensor classifier from its best checkpoint.

        Args:
            trainer: The trainer that ran ``fit``.
            pl_module: The trained task.
        """
        deployable = deployable_of(pl_module)
        if (
            not self.enabled
            or not deployable
            or not isinstance(pl_module, PerClassifierTask)
        ):
            return
        # Every process must ask: trainer.log_dir is broadcast from global zero.
        root = self.directory(trainer)
        if not trainer.is_global_zero:
            # Wait for global zero's exports: no process leaves fit (and may end the
            # job) while they are being written.
            trainer.strategy.barrier('geokd-export')
            return
        datamodule = trainer_datamodule(trainer)
        state = datamodule.state_dict() if datamodule is not None else {}
        best = best_checkpoints(trainer)
        self.exported = {}
        metrics = measured_metrics(trainer)
        for name in deployable:
            ckpt = best.get(name)
            if ckpt:
                classifier = classifier_from_checkpoint(
                    ckpt, name, task_class=type(pl_module)
                )
            else:
                classifier = classifier_from_task(pl_module, name, state)
            metadata = replace(classifier.metadata, test_metrics=metrics)
            self.exported[name] = export_model(
                classifier.model, metadata, export_directory(root, name)
            )
            print(f'Exported the {name} classifier to {self.exported[name]}')
        trainer.strategy.barrier('geokd-export')
