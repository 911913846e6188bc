"""Checkpointing for tasks with several classifiers: resumable last, best per classifier."""

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from .trainer_attributes import trainer_callbacks


def random_states() -> dict[str, Any]:
    """The states of every random generator training uses, as plain values.

    Plain values (tensors, lists, numbers) so that checkpoints still load with
    ``weights_only``.

    Returns:
        torch's (and CUDA's, when available), numpy's and Python's states.
    """
    # The global numpy generator is what seed_everything seeds and libraries use.
    name, keys, position, has_gauss, gauss = np.random.get_state(legacy=True)  # noqa: NPY002
    states: dict[str, Any] = {
        'torch': torch.get_rng_state(),
        'numpy': [name, keys.tolist(), position, has_gauss, gauss],
        'python': random.getstate(),
    }
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict[str, Any]) -> None:
    """Put every random generator back where :func:`random_states` found it.

    Args:
        states: Output of :func:`random_states`.
    """
    torch.set_rng_state(states['torch'])
    name, keys, position, has_gauss, gauss = states['numpy']
    numpy_state = (name, np.array(keys, np.uint32), position, has_gauss, gauss)
    np.random.set_state(numpy_state)  # noqa: NPY002
    version, internal, gauss_next = states['python']
    random.setstate((version, tuple(internal), gauss_next))
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class ClassifierCheckpoints(ModelCheckpoint):
    """Keep ``last.ckpt`` every epoch and, per classifier, its best epoch.

    A DisCoM-KD model holds one classifier per sensor and each is deployed from the
    epoch where its own validation weighted F1 (``val_f1_<name>``) was best, as in the
    paper. This callback writes, in ``dirpath``:

    * ``last.ckpt``, the full training state (optimiser and random generators
      included), replaced after every ``every_n_epochs`` epochs: ``--ckpt_path
      last`` resumes from it, and continues exactly as the uninterrupted run (same
      shuffles and augmentations);
    * ``best-<name>-<epoch>-<score>.ckpt`` for each classifier the task names in
      ``modalities``: weights and DataModule state only, as export and testing need.

    The per-classifier checkpoints are Lightning :class:`ModelCheckpoint` callbacks
    added to the trainer at ``setup``, so ``trainer.checkpoint_callbacks`` lists them
    and their best scores are restored when training resumes.

    Checkpoints are kept per run, as Lightning keeps them by default: in
    ``<log_dir>/checkpoints`` of the logger's version (``<default_root_dir>/
    lightning_logs/version_N/checkpoints``; ``<default_root_dir>/checkpoints``
    without a logger), so that two runs never share a directory and "the best
    checkpoint" of a directory is its run's. ``--ckpt_path last`` takes the newest
    ``last*.ckpt`` of every version of the logger, and the resumed run goes on in
    that version (its best checkpoints, logs and exports stay together).

    A run stopped by SIGTERM (``timeout``, a scheduler) before it finished an
    epoch saves its state to ``last.ckpt`` where Lightning stops it (the end of a
    batch), so that it can always be resumed; otherwise ``last.ckpt`` stays the
    one of the last finished epoch, which resumes exactly.

    Args:
        dirpath: Directory of the checkpoints; None: per run, as above. A fixed
            directory is shared by every run that names it.
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
        #: Random states restored from a checkpoint, applied when training goes on.
        self._resumed_random_states: dict[str, Any] | None = None
        #: The best checkpoints when training ended (see :attr:`best_paths`).
        self._final: dict[str, str] | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Resolve the directory and add one best-checkpoint callback per classifier.

        Args:
            trainer: The trainer.
            pl_module: The task; its ``modalities`` name the classifiers.
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
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
            trainer_callbacks(trainer).append(callback)

    def state_dict(self) -> dict[str, Any]:
        """ModelCheckpoint's state and the random states, saved in checkpoints.

        Returns:
            The state.
        """
        return {**super().state_dict(), 'random_states': random_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state; the random states wait until training goes on.

        Lightning restores callbacks before the DataModule and the loops, which
        may draw random numbers: they are restored at ``on_fit_start``.

        Args:
            state_dict: Output of :meth:`state_dict`.
        """
        state = dict(state_dict)
        self._resumed_random_states = state.pop('random_states', None)
        super().load_state_dict(state)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Restore the random states of a resumed checkpoint, as they were saved.

        Lightning restores the checkpoint just before this hook and runs its sanity
        validation with the random states isolated, so the next random number drawn
        (the shuffle of the first resumed epoch) is the one the interrupted run
        would have drawn.

        This callback also moves itself after the per-classifier ones, so that at
        each epoch's end they record their best epoch before ``last.ckpt`` saves
        their state: a resumed run then knows every classifier's best so far.

        Args:
            trainer: The trainer.
            pl_module: The task.
        """
        trainer_callbacks(trainer).remove(self)
        trainer_callbacks(trainer).append(self)
        self._final = None
        if self._resumed_random_states is not None:
            restore_random_states(self._resumed_random_states)
            self._resumed_random_states = None

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """After SIGTERM, save ``last.ckpt`` if this run has not written one yet.

        Lightning stops a trainer that received SIGTERM at the end of a batch, so
        the state is consistent; an earlier ``last.ckpt`` (a finished epoch) is
        kept, as it resumes exactly.

        Args:
            trainer: The trainer.
            pl_module: The task.
            exception: What stopped the run.
        """
        if (
            not trainer.received_sigterm
            or trainer.state.fn != 'fit'
            or not self.dirpath
        ):
            return
        if self.best_model_path and os.path.exists(self.best_model_path):
            return
        path = os.path.join(
            self.dirpath, self.CHECKPOINT_NAME_LAST + self.FILE_EXTENSION
        )
        # Recorded before saving, as ModelCheckpoint does: the resumed run then
        # replaces this file instead of writing last-v1.ckpt beside it.
        self.best_model_path = path
        trainer.save_checkpoint(path, weights_only=False)

    def _find_last_checkpoints(self, trainer: Trainer) -> set[str]:
        """The newest ``last*.ckpt`` of every version of the run, for ``--ckpt_path last``.

        Lightning looks in the new run's own version only, which is empty: a
        resumed run would silently start again. The version that holds the newest
        one becomes the logger's, so that the run goes on where it stopped.

        Args:
            trainer: The trainer.

        Returns:
            The newest last checkpoint, or nothing.
        """
        if self.dirpath is not None or not trainer.loggers:
            return super()._find_last_checkpoints(trainer)
        logger = trainer.loggers[0]
        root = Path(logger.save_dir or trainer.default_root_dir) / str(logger.name)
        candidates = [
            *root.glob('*/checkpoints/last*.ckpt'),
            # Runs of geokd before checkpoints were kept per version.
            *Path(trainer.default_root_dir).glob('checkpoints/last*.ckpt'),
        ]
        candidates = [
            p for p in candidates if re.fullmatch(r'last(-v\d+)?\.ckpt', p.name)
        ]
        if not candidates:
            return set()
        newest = max(candidates, key=lambda p: p.stat().st_mtime)
        version = newest.parent.parent
        if version.parent == root and getattr(logger, '_experiment', None) is None:
            match = re.fullmatch(r'version_(\d+)', version.name)
            if hasattr(logger, '_version'):
                logger._version = int(match[1]) if match else version.name
        return {os.path.normpath(newest)}

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Keep each classifier's best checkpoint as training left it.

        Testing a full checkpoint (``best_weights_only: false``) after fitting
        restores the callbacks' state saved in it: the best paths as they were at
        that epoch, whose files may be gone since. What is tested and exported after
        fitting must be what training chose.

        Args:
            trainer: The trainer.
            pl_module: The task.
        """
        super().on_train_end(trainer, pl_module)
        self._final = self._live_best()

    @property
    def best_paths(self) -> dict[str, str]:
        """Best checkpoint written for each classifier.

        Returns:
            Path per classifier name, as training ended once it has; classifiers
            without a checkpoint yet (as under ``fast_dev_run``) are left out.
        """
        return dict(self._final) if self._final is not None else self._live_best()

    def _live_best(self) -> dict[str, str]:
        """Each per-classifier callback's best path now."""
        return {n: c.best_model_path for n, c in self.best.items() if c.best_model_path}
