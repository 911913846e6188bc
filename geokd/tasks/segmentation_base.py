"""What every segmentation task shares: per-segmenter flood metrics and masks.

Segmentation tasks keep the contract of :class:`~geokd.tasks.PerClassifierTask`
(one best checkpoint per segmenter on ``val_f1_<name>``, the same test callback and
benchmark), with metrics computed per pixel: ``s_f1_<name>`` and ``s_iou_<name>``
are the F1 score and IoU of the ``positive_class`` (flooded), ``s_acc_<name>`` the
pixel accuracy and ``s_f1_macro_<name>`` the macro F1 over classes, all over the
labelled pixels only (the mask's ``ignore_index`` is left out).
"""

from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn
from torchgeo.datasets.utils import Sample
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryF1Score,
    BinaryJaccardIndex,
    MulticlassAccuracy,
    MulticlassF1Score,
)

from ..errors import UsageError
from ..losses import segmentation as seg
from ..models import SegmenterSpec
from ..models.segmentation import unet_decoder_channels
from ..models.segmenter_spec import SegmenterArchitecture
from .base import (
    DeployableClassifier,
    PerClassifierTask,
    Split,
    images_of,
    targets_of,
)


def unpack_masks(
    batch: Sample, modalities: Sequence[str]
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Split a segmentation batch into images and masks per modality.

    Args:
        batch: ``image_<m>`` and either ``mask`` (paired samples) or ``mask_<m>``
            (each modality its own samples) for each modality ``m``.
        modalities: The modalities to take.

    Returns:
        Images and masks keyed by modality.

    Raises:
        KeyError: If a modality has no image or no mask in the batch.
    """
    hint = ' (a segmentation dataset?)'
    return images_of(batch, modalities), targets_of(batch, modalities, 'mask', hint)


def check_positive_class(num_classes: int, positive_class: int) -> None:
    """Refuse a positive class outside the classes.

    Args:
        num_classes: Number of classes.
        positive_class: Class whose F1 and IoU are reported.

    Raises:
        UsageError: If it is not in ``0 .. num_classes - 1``.
    """
    if not 0 <= positive_class < num_classes:
        msg = (
            f'model.init_args.positive_class: {positive_class} is not a class of '
            f'num_classes={num_classes}'
        )
        raise UsageError(msg)


class PerSegmenterTask(PerClassifierTask):
    """A task training one or more segmenters, each evaluated and kept on its own.

    Subclasses need the hyperparameters ``num_classes``, ``lr``, ``ignore_index``
    and ``positive_class``. Those with single-sensor segmenters return them from
    :meth:`deployable_classifiers` (built with :meth:`segmenter_spec`), for
    ``geokd export`` and ``geokd predict``.
    """

    #: Initial encoder weights, set by subclasses before building their network.
    weights: Any

    def build_segmenter[M: nn.Module](self, build: Callable[..., M], **extra: Any) -> M:
        """Build a network of smp encoders and a U-Net decoder from the hyperparameters.

        Args:
            build: The network's class or factory, taking ``in_channels``,
                ``num_classes``, ``encoder``, ``encoder_depth``, ``weights`` and
                ``decoder_channels``.
            **extra: Its other arguments.

        Returns:
            The network, with the task's ``in_channels``, ``num_classes``,
            ``encoder``, ``encoder_depth``, ``weights`` and ``decoder_channels``
            (None: smp's for the depth).
        """
        depth = self.hparams['encoder_depth']
        return build(
            self.hparams['in_channels'],
            self.hparams['num_classes'],
            encoder=self.hparams['encoder'],
            encoder_depth=depth,
            weights=self.weights,
            decoder_channels=unet_decoder_channels(
                self.hparams['decoder_channels'], depth
            ),
            **extra,
        )

    def segmenter_spec(
        self, architecture: SegmenterArchitecture, in_channels: int
    ) -> SegmenterSpec:
        """The spec of one of the task's single-sensor segmenters.

        Args:
            architecture: Its network type.
            in_channels: Its sensor's bands.

        Returns:
            The spec, with the task's classes, encoder, depth and decoder channels.
        """
        depth = self.hparams['encoder_depth']
        return SegmenterSpec(
            architecture,
            in_channels,
            self.hparams['num_classes'],
            self.hparams['encoder'],
            depth,
            tuple(unet_decoder_channels(self.hparams['decoder_channels'], depth)),
        )

    def deployable_classifiers(self) -> dict[str, DeployableClassifier]:
        """None by default: subclasses with single-sensor segmenters list them.

        Returns:
            An empty dict.
        """
        return {}

    def unpack(
        self, batch: Sample, modalities: Sequence[str]
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Split a batch into images and masks per modality (:func:`unpack_masks`).

        Args:
            batch: ``image_<m>`` and ``mask`` or ``mask_<m>`` for each modality.
            modalities: The modalities to take.

        Returns:
            Images and masks keyed by modality.
        """
        return unpack_masks(batch, modalities)

    def task_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        """The loss of a segmenter's logits against its mask, over labelled pixels.

        Args:
            logits: Per-pixel logits ``(N, K, H, W)``.
            target: Mask ``(N, H, W)``.

        Returns:
            Scalar loss, see
            :func:`~geokd.losses.segmentation.pixel_classification_loss`.
        """
        return seg.pixel_classification_loss(
            logits, target, self.hparams['ignore_index']
        )

    def configure_metrics(self) -> None:
        """Initialize pixel and positive-class metrics per split and segmenter."""
        k = self.hparams['num_classes']
        ignore = self.hparams['ignore_index']
        self.metrics = torch.nn.ModuleDict()
        self.positive_metrics = torch.nn.ModuleDict()
        for split in ('train', 'val', 'test'):
            for m in self.modalities:
                self.metrics[f'{split}_{m}'] = MetricCollection(
                    {
                        'acc': MulticlassAccuracy(
                            k, average='micro', ignore_index=ignore
                        ),
                        'f1_macro': MulticlassF1Score(
                            k, average='macro', ignore_index=ignore
                        ),
                    },
                    prefix=f'{split}_',
                    postfix=f'_{m}',
                )
                self.positive_metrics[f'{split}_{m}'] = MetricCollection(
                    {
                        'f1': BinaryF1Score(ignore_index=ignore),
                        'iou': BinaryJaccardIndex(ignore_index=ignore),
                    },
                    prefix=f'{split}_',
                    postfix=f'_{m}',
                )

    def log_metrics(
        self, split: Split, name: str, logits: Tensor, mask: Tensor
    ) -> None:
        """Update and log the metrics of one segmenter.

        Args:
            split: 'train', 'val' or 'test'.
            name: Segmenter name, one of :attr:`modalities`.
            logits: Its per-pixel logits ``(N, K, H, W)``.
            mask: Class indices ``(N, H, W)``.
        """
        ignore = self.hparams['ignore_index']
        positive = self.hparams['positive_class']
        preds = logits.detach().argmax(dim=1)
        # Every value of both ModuleDicts is a MetricCollection (see configure_metrics).
        metrics = cast(MetricCollection, self.metrics[f'{split}_{name}'])
        metrics(preds, mask)
        target = torch.where(mask == ignore, ignore, (mask == positive).long())
        binary = cast(MetricCollection, self.positive_metrics[f'{split}_{name}'])
        binary((preds == positive).long(), target)
        self.log_dict(metrics, batch_size=len(mask))
        self.log_dict(binary, batch_size=len(mask))
