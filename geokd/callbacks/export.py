"""Export after fit: each single-sensor classifier from its own best checkpoint."""

from pathlib import Path

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback

from ..deploy.export import (
    classifier_from_task,
    export_model,
    load_checkpoint,
)
from .evaluation import best_checkpoints


class ExportClassifiers(Callback):
    """After ``fit``, export every single-sensor classifier for ``geokd predict``.

    Each classifier the task can deploy (DisCoM-KD's branches, a single-modal
    baseline, a distilled student; see
    :meth:`~geokd.tasks.PerClassifierTask.deployable_classifiers`) is exported from
    the best checkpoint :class:`~geokd.callbacks.ClassifierCheckpoints` kept for it
    (from the final weights when none was written) to ``<dirpath>/<modality>/``:
    ``model.safetensors`` + ``model.json``, with the DataModule's normalisation, band
    names and patch size. Runs on the global-zero process only.

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

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Export each single-sensor classifier from its best checkpoint.

        Args:
            trainer: The trainer that ran ``fit``.
            pl_module: The trained task.
        """
        deployable = getattr(pl_module, 'deployable_classifiers', dict)()
        if not self.enabled or not deployable:
            return
        # Every process must ask: trainer.log_dir is broadcast from global zero.
        root = self.directory(trainer)
        if not trainer.is_global_zero:
            # Wait for global zero's exports: no process leaves fit (and may end the
            # job) while they are being written.
            trainer.strategy.barrier('geokd-export')
            return
        datamodule = trainer.datamodule
        state = datamodule.state_dict() if datamodule is not None else {}
        best = best_checkpoints(trainer)
        self.exported = {}
        for name in deployable:
            ckpt = best.get(name)
            if ckpt:
                classifier = load_checkpoint(ckpt, name, task_class=type(pl_module))
            else:
                classifier = classifier_from_task(pl_module, name, state)
            self.exported[name] = export_model(
                classifier.model, classifier.metadata, root / name
            )
            print(f'Exported the {name} classifier to {self.exported[name]}')
        trainer.strategy.barrier('geokd-export')
