"""What every geokd task shares: per-classifier metrics, checkpoints and optimiser.

All methods (DisCoM-KD, the single-modal baselines, teachers and distilled students)
log the same metric names and keep one best checkpoint per classifier, so that one
benchmark runner and one report handle all of them.
"""

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from torch import Tensor, nn
from torch.optim import Adam
from torchgeo.datasets.utils import Sample
from torchgeo.tasks import BaseTask
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from ..errors import UsageError
from ..models import ClassifierSpec, SegmenterSpec
from ..precision import resolve_train_precision
from ..schema import Label
from .data_checks import check_task_data

Split = Literal['train', 'val', 'test']


@dataclass(frozen=True)
class DeployableClassifier:
    """A trained single-sensor classifier (or segmenter) of a task, ready to be exported.

    Attributes:
        module: The network: normalised images of its sensor in, logits (per image,
            or per pixel for a segmenter) out. It is the task's own module (not a
            copy).
        spec: Its architecture, enough to rebuild it before loading its weights.
    """

    module: nn.Module
    spec: ClassifierSpec | SegmenterSpec


def images_of(batch: Sample, modalities: Sequence[str]) -> dict[str, Tensor]:
    """The images of some modalities in a batch.

    Args:
        batch: ``image_<m>`` for each modality ``m``, and other keys.
        modalities: The modalities to take.

    Returns:
        Images keyed by modality.

    Raises:
        KeyError: If a modality has no image in the batch.
    """
    if missing := [m for m in modalities if f'image_{m}' not in batch]:
        msg = f"batch has no 'image_{missing[0]}'; keys are {sorted(batch)}"
        raise KeyError(msg)
    return {m: batch[f'image_{m}'] for m in modalities}


def targets_of(
    batch: Sample, modalities: Sequence[str], key: str, hint: str = ''
) -> dict[str, Tensor]:
    """The targets (labels or masks) of some modalities in a batch.

    Args:
        batch: Either ``<key>`` (paired samples) or ``<key>_<m>`` (each modality its
            own samples) for each modality ``m``.
        modalities: The modalities to take.
        key: ``'label'`` or ``'mask'``.
        hint: Appended to the message of a missing target.

    Returns:
        Targets keyed by modality.

    Raises:
        KeyError: If a modality has no target in the batch.
    """
    targets = {}
    for m in modalities:
        target = batch.get(f'{key}_{m}', batch.get(key))
        if target is None:
            msg = f"batch has neither '{key}_{m}' nor '{key}'{hint}"
            raise KeyError(msg)
        targets[m] = target
    return targets


def unpack_batch(
    batch: Sample, modalities: Sequence[str]
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Split a batch into images and labels per modality.

    Args:
        batch: ``image_<m>`` and either ``label`` (paired samples) or ``label_<m>``
            (each modality its own samples) for each modality ``m``.
        modalities: The modalities to take.

    Returns:
        Images and labels keyed by modality.

    Raises:
        KeyError: If a modality has no image or no label in the batch.
    """
    return images_of(batch, modalities), targets_of(batch, modalities, 'label')


def check_classes(num_classes: int, class_names: Sequence[str] | None) -> None:
    """Check a task's classes before it builds anything from them.

    Args:
        num_classes: Number of classes.
        class_names: Their names in label order, if given.

    Raises:
        UsageError: If there are fewer than two classes, or the names are not
            ``num_classes`` distinct names that a model file can store.
    """
    if num_classes < 2:
        msg = f'model.init_args.num_classes: must be at least 2, got {num_classes}'
        raise UsageError(msg)
    if class_names is None:
        return
    if len(class_names) != num_classes or len(set(class_names)) != num_classes:
        msg = (
            f'model.init_args.class_names: {len(class_names)} names for '
            f'num_classes={num_classes} (give one distinct name per class)'
        )
        raise UsageError(msg)
    for name in class_names:
        try:
            Label(name)
        except ValueError as err:
            msg = (
                f'model.init_args.class_names: {name!r} cannot be stored in a model '
                'file (use letters, digits, spaces and _ . , ( ) + -)'
            )
            raise UsageError(msg) from err


def require_paired(batch: Sample, task: str) -> None:
    """Refuse unpaired batches in a task that relates several sensors per sample.

    Args:
        batch: The batch.
        task: Name of the task, for the message.

    Raises:
        ValueError: If the batch has per-modality labels or masks (``label_<m>``,
            ``mask_<m>``), i.e. each sensor its own samples, instead of one
            ``label`` or ``mask``.
    """
    shared = 'label' in batch or 'mask' in batch
    if not shared and any(k.startswith(('label_', 'mask_')) for k in batch):
        msg = (
            f'{task} needs paired batches (the same samples in every sensor); '
            'set data.init_args.paired: true'
        )
        raise ValueError(msg)


class PerClassifierTask(BaseTask):
    """A task training one or more classifiers, each evaluated and kept on its own.

    Subclasses name their classifiers in :attr:`modalities` (the sensor each one
    needs, or e.g. ``'ms+sar'`` for a classifier of several sensors) and need the
    hyperparameters ``num_classes`` and ``lr``.

    Logged metrics, per classifier ``m`` and split ``s``: ``s_f1_m`` (weighted F1, the
    paper's metric), ``s_f1_macro_m`` and ``s_acc_m`` (overall accuracy).
    :class:`~geokd.callbacks.ClassifierCheckpoints` keeps one checkpoint per
    classifier at its best ``val_f1_m``, so each classifier comes from its own best
    epoch, as in the paper.

    The single-sensor classifiers among them are returned by
    :meth:`deployable_classifiers`, which export and prediction use.
    """

    @property
    @abstractmethod
    def method_name(self) -> str:
        """Name of the training method, recorded in exported models."""

    @property
    @abstractmethod
    def modalities(self) -> list[str]:
        """Names of the classifiers this task trains (the suffix of their metrics)."""

    @abstractmethod
    def deployable_classifiers(self) -> dict[str, DeployableClassifier]:
        """The classifiers that need a single sensor, keyed by that sensor.

        Returns:
            Per modality name, its network and architecture; empty when the task
            has no single-sensor classifier (a multi-modal teacher).
        """

    def input_channels(self) -> dict[str, int]:
        """Channels of each sensor the task reads.

        Returns:
            ``in_channels`` per modality (a single-sensor task's ``modality``).
        """
        channels = self.hparams['in_channels']
        if isinstance(channels, Mapping):
            return dict(channels)
        return {self.hparams['modality']: channels}

    def setup(self, stage: str) -> None:
        """Check the task against its DataModule before any batch is read.

        Lightning sets the DataModule up first, so its modalities, channels, class
        names and labels are known here.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        trainer = self._trainer
        self._install_precision()
        datamodule = getattr(trainer, 'datamodule', None)
        if datamodule is not None:
            check_task_data(
                self.input_channels(),
                self.hparams['num_classes'],
                self.hparams.get('class_names'),
                datamodule,
            )

    def _install_precision(self) -> None:
        """Give the trainer the autocast of the task's ``precision`` hyperparameter.

        Lightning has no 'auto' precision, so the task resolves its own before the
        strategy wraps the model. A trainer whose precision was set to anything but
        plain float32 keeps it.
        """
        if self._trainer is None:  # set up by hand, outside a trainer
            return
        strategy = self._trainer.strategy
        if type(strategy.precision_plugin) is not Precision:
            return
        device = strategy.root_device.type
        chosen = resolve_train_precision(self.hparams.get('precision', 'auto'), device)
        if chosen == 'bf16-mixed':
            strategy.precision_plugin = MixedPrecision('bf16-mixed', device)

    @abstractmethod
    def _shared_step(self, batch: Sample, split: Split) -> Tensor:
        """Compute the loss of a batch and log it with the metrics of ``split``."""

    def training_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Compute the training loss and metrics.

        Args:
            batch: The output of your DataLoader.
            batch_idx: Integer displaying index of this batch.
            dataloader_idx: Index of the current dataloader.

        Returns:
            The total loss.
        """
        return self._shared_step(batch, 'train')

    def validation_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Compute the validation loss and metrics.

        Args:
            batch: The output of your DataLoader.
            batch_idx: Integer displaying index of this batch.
            dataloader_idx: Index of the current dataloader.
        """
        self._shared_step(batch, 'val')

    def test_step(self, batch: Sample, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Compute the test loss and metrics.

        Args:
            batch: The output of your DataLoader.
            batch_idx: Integer displaying index of this batch.
            dataloader_idx: Index of the current dataloader.
        """
        self._shared_step(batch, 'test')

    def unpack(
        self, batch: Sample, modalities: Sequence[str]
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Split a batch into images and targets per modality (:func:`unpack_batch`).

        Args:
            batch: ``image_<m>`` and ``label`` or ``label_<m>`` for each modality.
            modalities: The modalities to take.

        Returns:
            Images and labels keyed by modality.
        """
        return unpack_batch(batch, modalities)

    def task_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        """The loss of a network's logits against its targets: cross-entropy.

        Args:
            logits: Logits ``(N, K)``.
            target: Class indices ``(N,)``.

        Returns:
            Scalar loss.
        """
        return F.cross_entropy(logits, target)

    def configure_metrics(self) -> None:
        """Initialize weighted F1, macro F1 and accuracy per split and classifier."""
        k = self.hparams['num_classes']
        self.metrics = torch.nn.ModuleDict()
        for split in ('train', 'val', 'test'):
            for m in self.modalities:
                self.metrics[f'{split}_{m}'] = MetricCollection(
                    {
                        'f1': MulticlassF1Score(k, average='weighted'),
                        'f1_macro': MulticlassF1Score(k, average='macro'),
                        'acc': MulticlassAccuracy(k, average='micro'),
                    },
                    prefix=f'{split}_',
                    postfix=f'_{m}',
                )

    def log_metrics(
        self, split: Split, name: str, logits: Tensor, labels: Tensor
    ) -> None:
        """Update and log the metrics of one classifier.

        Args:
            split: 'train', 'val' or 'test'.
            name: Classifier name, one of :attr:`modalities`.
            logits: Its logits ``(N, K)``.
            labels: Class indices ``(N,)``.
        """
        # Every value of the ModuleDict is a MetricCollection (see __init__).
        metrics = cast(MetricCollection, self.metrics[f'{split}_{name}'])
        metrics(logits.detach(), labels)
        self.log_dict(metrics, batch_size=len(labels))

    def log_loss(self, split: Split, loss: Tensor, batch_size: int) -> None:
        """Log the total loss of a step.

        Args:
            split: 'train', 'val' or 'test'.
            loss: The loss.
            batch_size: Samples it was computed on.
        """
        self.log(
            f'{split}_loss',
            loss,
            batch_size=batch_size,
            prog_bar=split != 'test',
            sync_dist=split != 'train',  # epoch-level: averaged over every process
        )

    def configure_optimizers(self) -> Any:
        """Adam with a constant learning rate, as the DisCoM-KD reference.

        Returns:
            The optimizer, over the trainable parameters only.
        """
        params = [p for p in self.parameters() if p.requires_grad]
        return Adam(params, lr=self.hparams['lr'])
