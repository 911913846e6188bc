"""Validate, select, test and export an exponential moving average of the weights.

Lightning's :class:`~lightning.pytorch.callbacks.EMAWeightAveraging` validates with
the averaged weights and saves them as a checkpoint's ``state_dict``, keeping the
trained ones aside (``current_model_state``) to resume from. Two things make it
unsafe with geokd's callbacks as it is:

- a weights-only checkpoint skips the callbacks' save hook, so the best checkpoint of
  a classifier, chosen on the average's validation F1, would hold the trained
  weights instead;
- testing a checkpoint in the run that wrote it (``EvaluateClassifiers``) goes
  through its load hook, which puts the trained weights back: the test figures
  would be those of other weights than the ones exported.

This callback checks the first and, outside fitting, leaves the loaded average in
place. A stability candidate of issue 17 (``docs/results-real.md``).
"""

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn

from ..errors import UsageError
from .checkpoint import ClassifierCheckpoints


class EMAWeights(EMAWeightAveraging):
    """An exponential moving average of the weights, used for everything but training.

    Args:
        decay: Weight of the average at each update (0.99: about the last 100
            steps).
        update_every_n_steps: Steps between two updates.
        update_starting_at_step: First step updated, or None for the first one.
    """

    def __init__(
        self,
        decay: float = 0.999,
        update_every_n_steps: int = 1,
        update_starting_at_step: int | None = None,
    ) -> None:
        """Initialize a new EMAWeights instance."""
        if not 0 < decay < 1:
            msg = f'EMAWeights: decay must be in (0, 1), got {decay}'
            raise UsageError(msg)
        super().__init__(
            decay=decay,
            update_every_n_steps=update_every_n_steps,
            update_starting_at_step=update_starting_at_step,
        )

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Refuse checkpoints that would not hold the average.

        Args:
            trainer: The trainer.
            pl_module: The task.
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            UsageError: If a ClassifierCheckpoints writes weights-only checkpoints.
        """
        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            if (
                isinstance(callback, ClassifierCheckpoints)
                and callback.best_weights_only
            ):
                msg = (
                    'EMAWeights: set ClassifierCheckpoints best_weights_only: false '
                    '(weights-only checkpoints would hold the trained weights, not '
                    'the average they were chosen by)'
                )
                raise UsageError(msg)
        super().setup(trainer, pl_module, stage)

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Resume training from the trained weights; evaluate the average otherwise.

        Args:
            trainer: The trainer.
            pl_module: The task, its ``state_dict`` (the average) already loaded.
            checkpoint: The checkpoint.
        """
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
