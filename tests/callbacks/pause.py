"""A callback that stops a training process at a known moment, for resume tests."""

import time
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer


class PauseAt(Callback):
    """Write a marker and wait, in the middle of an epoch, to be killed there.

    Args:
        epoch: The epoch to stop in.
        batch: The training batch after which to stop.
        marker: File written when the pause starts.
        seconds: How long to wait before going on (the test kills the process first).
    """

    def __init__(
        self, epoch: int, batch: int, marker: str, seconds: float = 300
    ) -> None:
        """Initialize a new PauseAt instance."""
        self.epoch = epoch
        self.batch = batch
        self.marker = Path(marker)
        self.seconds = seconds

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: object,
        batch: object,
        batch_idx: int,
    ) -> None:
        """Pause after the chosen batch of the chosen epoch.

        Args:
            trainer: The trainer.
            pl_module: The task.
            outputs: The step's outputs.
            batch: The batch.
            batch_idx: Its index.
        """
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            self.marker.write_text(f'{self.epoch} {self.batch}')
            # A signal that only sets a flag (Lightning's SIGTERM) does not cut a
            # sleep short: wait in steps, and go on once the trainer has it.
            deadline = time.monotonic() + self.seconds
            while time.monotonic() < deadline and not trainer.received_sigterm:
                time.sleep(0.05)
