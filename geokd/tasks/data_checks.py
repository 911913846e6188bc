"""Checks that a task and its DataModule fit together, before training starts.

Without them a wrong ``in_channels``, a modality the data lacks, too few classes or
class names in another order than the dataset's fail deep inside a convolution or a
loss (or, for the class order, not at all: exported models would name every class
wrongly).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from lightning.pytorch import LightningDataModule

from ..errors import DataError, UsageError
from ..schema import Label


def check_task_data(
    channels: Mapping[str, int],
    num_classes: int,
    class_names: Sequence[str] | None,
    datamodule: LightningDataModule,
) -> None:
    """Check a task's inputs and classes against a set-up DataModule.

    Checks what the DataModule knows: the channels of each modality
    (``datamodule.channels``), the dataset's class names in label order
    (``datamodule.class_names``) and the labels of each split set up (``targets``
    of the datasets).

    Args:
        channels: Channels of each modality the task reads.
        num_classes: The task's number of classes.
        class_names: The task's class names, if given.
        datamodule: The DataModule, after ``setup``.

    Raises:
        UsageError: If the task reads a modality the data lacks, with other
            channels, or names the classes otherwise than the dataset.
        DataError: If a label is out of range.
    """
    check_channels(channels, getattr(datamodule, 'channels', None) or {})
    dataset_classes = getattr(datamodule, 'class_names', None)
    if dataset_classes is not None:
        check_class_names(num_classes, class_names, dataset_classes)
    for split in ('train', 'val', 'test'):
        check_labels(getattr(datamodule, f'{split}_dataset', None), num_classes, split)


def check_channels(expected: Mapping[str, int], found: Mapping[str, int]) -> None:
    """Check the modalities and channels a task reads against the data's.

    Args:
        expected: Channels per modality of the task (``in_channels``).
        found: Channels per modality in the data; empty when unknown.

    Raises:
        UsageError: Naming the modality.
    """
    if not found:
        return
    for m, n in expected.items():
        if m not in found:
            msg = (
                f'model.init_args.in_channels: modality {m!r} is not in the data, '
                f"which has {sorted(found)} (name the data's modalities)"
            )
            raise UsageError(msg)
        if int(n) != found[m]:
            msg = (
                f'model.init_args.in_channels: {m!r} has {found[m]} channels in the '
                f'data, not {n} (set in_channels to {dict(found)})'
            )
            raise UsageError(msg)


def check_class_names(
    num_classes: int, class_names: Sequence[str] | None, dataset: Sequence[str]
) -> None:
    """Check a task's classes against the dataset's, which define the labels.

    Args:
        num_classes: The task's number of classes.
        class_names: The task's class names, if given.
        dataset: The dataset's class names in label order.

    Raises:
        UsageError: If the counts differ, the names are another order or other
            names, or a dataset class name cannot be written in a model file.
    """
    if num_classes != len(dataset):
        msg = (
            f'model.init_args.num_classes: {num_classes}, but the dataset has '
            f'{len(dataset)} classes {list(dataset)} (set num_classes to {len(dataset)})'
        )
        raise UsageError(msg)
    if class_names is not None and list(class_names) != list(dataset):
        how = (
            "are the dataset's classes in another order"
            if sorted(class_names) == sorted(dataset)
            else "are not the dataset's classes"
        )
        msg = (
            f'model.init_args.class_names: {list(class_names)} {how}; labels follow '
            f'its order {list(dataset)} (give them in that order, or leave '
            'class_names out)'
        )
        raise UsageError(msg)
    for name in dataset:
        try:
            Label(name)
        except ValueError as err:
            msg = (
                f'class name {name!r} of the dataset cannot be stored in a model '
                'file (use letters, digits, spaces and _ . , ( ) + -)'
            )
            raise DataError(msg) from err


def check_labels(dataset: Any, num_classes: int, split: str) -> None:
    """Check a split's labels (its ``targets``, where it lists them).

    Args:
        dataset: The split's dataset, or None.
        num_classes: The task's number of classes.
        split: Its name, for messages.

    Raises:
        DataError: Naming the first sample whose label is out of range.
    """
    targets = getattr(dataset, 'targets', None)
    if targets is None:
        return
    bad = [i for i, t in enumerate(targets) if not 0 <= int(t) < num_classes]
    if not bad:
        return
    paths = getattr(dataset, 'paths', None)
    if isinstance(paths, Mapping) and paths:
        where = str(next(iter(paths.values()))[bad[0]])
    else:
        where = f'{type(dataset).__name__} {split} sample {bad[0]}'
    msg = (
        f'{where}: label {int(targets[bad[0]])} is out of range for '
        f'num_classes={num_classes} ({len(bad)} {split} samples are; set num_classes '
        "to the dataset's number of classes)"
    )
    raise DataError(msg)
