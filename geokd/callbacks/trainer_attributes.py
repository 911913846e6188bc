"""Typed access to the Trainer attributes that Lightning sets at run time.

Lightning's connectors assign ``trainer.callbacks`` and ``trainer.datamodule`` when a
run starts; the ``Trainer`` class does not declare them, so a type checker cannot
see them. These accessors say what they hold, in one place.
"""

from lightning.pytorch import Callback, LightningDataModule, Trainer


def trainer_callbacks(trainer: Trainer) -> list[Callback]:
    """The trainer's callbacks, the list it calls hooks on (callbacks may reorder it).

    Args:
        trainer: The trainer.

    Returns:
        The list itself, not a copy.
    """
    # Set by Lightning's CallbackConnector; undeclared on Trainer.
    callbacks: list[Callback] = trainer.callbacks  # type: ignore[attr-defined]
    return callbacks


def trainer_datamodule(trainer: Trainer) -> LightningDataModule | None:
    """The DataModule of the trainer's current run.

    Args:
        trainer: The trainer.

    Returns:
        The DataModule, or None when the run was given dataloaders instead.
    """
    # Set by Lightning's DataConnector; undeclared on Trainer.
    datamodule: LightningDataModule | None = trainer.datamodule  # type: ignore[attr-defined]
    return datamodule
