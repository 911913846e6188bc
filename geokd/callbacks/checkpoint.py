"""Checkpointing for tasks with several classifiers: resumable last, best per classifier."""

import os

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint


class ClassifierCheckpoints(ModelCheckpoint):
    """Keep ``last.ckpt`` every epoch and, per classifier, its best epoch.

    A DisCoM-KD model holds one classifier per sensor and each is deployed from the
    epoch where its own validation weighted F1 (``val_f1_<name>``) was best, as in the
    paper. This callback writes, in ``dirpath``:

    * ``last.ckpt``, the full training state (optimiser included), replaced after
      every ``every_n_epochs`` epochs: ``--ckpt_path last`` resumes from it;
    * ``best-<name>-<epoch>-<score>.ckpt`` for each classifier the task names in
      ``modalities``: weights and DataModule state only, as export and testing need.

    The per-classifier checkpoints are Lightning :class:`ModelCheckpoint` callbacks
    added to the trainer at ``setup``, so ``trainer.checkpoint_callbacks`` lists them
    and their best scores are restored when training resumes.

    Args:
        dirpath: Directory of the checkpoints; None takes
            ``<default_root_dir>/checkpoints`` (shared by successive runs, so that
            ``--ckpt_path last`` finds the newest ``last*.ckpt``).
        every_n_epochs: Epochs between two writes of ``last.ckpt``.
        best_weights_only: Write the per-classifier checkpoints without optimiser
            state (a third of the size).
    """

    def __init__(
        self,
        dirpath: str | None = None,
        every_n_epochs: int = 1,
        best_weights_only: bool = True,
    ) -> None:
        """Initialize a new ClassifierCheckpoints instance."""
        # Without a monitor, ModelCheckpoint's top-1 is the newest epoch: named
        # 'last', it is a resumable last.ckpt written every epoch (save_last=True
        # alone writes it only when a top-k checkpoint is written, i.e. at the end).
        super().__init__(
            dirpath=dirpath,
            filename=self.CHECKPOINT_NAME_LAST,
            save_top_k=1,
            every_n_epochs=every_n_epochs,
        )
        self.best_weights_only = best_weights_only
        #: The checkpoint callback of each classifier, created at setup.
        self.best: dict[str, ModelCheckpoint] = {}

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Resolve the directory and add one best-checkpoint callback per classifier.

        Args:
            trainer: The trainer.
            pl_module: The task; its ``modalities`` name the classifiers.
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        self._resolve_dirpath(trainer)
        super().setup(trainer, pl_module, stage)
        names = list(getattr(pl_module, 'modalities', []))
        for name in names:
            if name in self.best:
                continue
            callback = ModelCheckpoint(
                dirpath=self.dirpath,
                monitor=f'val_f1_{name}',
                mode='max',
                filename=f'best-{name}-{{epoch}}-{{val_f1_{name}:.4f}}',
                auto_insert_metric_name=False,
                save_weights_only=self.best_weights_only,
            )
            self.best[name] = callback
            # The trainer iterates this list to call the setup hook we are in, so
            # the new callback's own setup runs next, before checkpoint restore.
            trainer.callbacks.append(callback)

    def _resolve_dirpath(self, trainer: Trainer) -> None:
        if self.dirpath is None:
            self.dirpath = os.path.join(trainer.default_root_dir, 'checkpoints')

    def _find_last_checkpoints(self, trainer: Trainer) -> set[str]:
        # Lightning resolves ckpt_path='last' before any hook: resolve dirpath now.
        self._resolve_dirpath(trainer)
        return super()._find_last_checkpoints(trainer)

    @property
    def best_paths(self) -> dict[str, str]:
        """Best checkpoint written for each classifier.

        Returns:
            Path per classifier name; classifiers without a checkpoint yet (as
            under ``fast_dev_run``) are left out.
        """
        return {n: c.best_model_path for n, c in self.best.items() if c.best_model_path}
