"""Lightning task training every single-sensor segmenter at once with DisCoM-KD."""

from typing import Literal

import torch
from torch import Tensor

from ..losses import segmentation as seg
from ..models.segmentation import (
    DisCoMKDSegmenter,
    EncoderWeights,
    SegmentationModalityOutput,
)
from .base import DeployableClassifier, check_classes
from .discomkd_base import DisCoMKDBase
from .segmentation_base import PerSegmenterTask, check_positive_class


class DisCoMKDSegmentationTask(
    DisCoMKDBase[SegmentationModalityOutput], PerSegmenterTask
):
    """DisCoM-KD for semantic segmentation: one segmenter per sensor, trained together.

    Batches hold ``image_<modality>`` for every modality and either one ``mask``
    (paired) or ``mask_<modality>`` (unpaired, as the reference code trains). The
    five terms (see :mod:`geokd.losses.segmentation` and ``docs/concepts.md``):
    ``L_cl`` per pixel; ``L_aux`` per pixel from the upsampled ``C_aux`` logits of
    every scale; ``L_mod``, ``L_adv`` and ``L_perp`` per location of every scale's
    embedding maps; the multi-scale terms are averaged over scales.

    Logged: the metrics of :class:`~geokd.tasks.segmentation_base.PerSegmenterTask`
    per modality, and each loss term (``train_loss_adv``, ...). Each validation epoch
    also logs the disentanglement diagnostics of the deepest scale, per location:
    ``val_adv_acc`` (accuracy of ``D_adv`` on ``z_inv``: chance, ``1/M``, when
    ``z_inv`` is modality-invariant), ``val_cos_inf_irr`` and ``val_cos_inf_inv``.
    One checkpoint per modality keeps its best validation F1 of the positive
    (flooded) class.
    """

    ignore = 'weights'

    def __init__(
        self,
        in_channels: dict[str, int],
        num_classes: int = 2,
        encoder: str = 'resnet18',
        encoder_depth: int = 5,
        weights: dict[str, EncoderWeights] | None = None,
        decoder_channels: list[int] | None = None,
        class_names: list[str] | None = None,
        ignore_index: int = seg.IGNORE_INDEX,
        positive_class: int = 1,
        cl_weight: float = 1.0,
        aux_weight: float = 1.0,
        mod_weight: float = 1.0,
        adv_weight: float = 1.0,
        perp_weight: float = 1.0,
        grl_lambda: float = 1.0,
        grl_schedule: Literal['constant', 'dann'] = 'constant',
        lr: float = 1e-4,
    ) -> None:
        """Initialize a new DisCoMKDSegmentationTask instance.

        Args:
            in_channels: Channel count per modality, e.g. ``{'ms': 3, 'sar': 1}``;
                the order defines the integer modality labels.
            num_classes: Number of pixel classes.
            encoder: smp encoder name (``'resnet18'``) or ``'tu-<timm name>'`` of
                every encoder.
            encoder_depth: Number of encoder stages (3 to 5).
            weights: Initial encoder weights per modality, as smp takes them (not
                saved in checkpoints; the trained weights are).
            decoder_channels: Channels of the U-Net decoder blocks, one per stage;
                None takes the first ``encoder_depth`` of smp's
                (256, 128, 64, 32, 16).
            class_names: Names of the classes, in label order.
            ignore_index: Mask value of unlabelled pixels.
            positive_class: Class whose F1 and IoU are reported (flooded).
            cl_weight: Weight of ``L_cl``.
            aux_weight: Weight of ``L_aux`` (0 = without it).
            mod_weight: Weight of ``L_mod`` (0 = without it).
            adv_weight: Weight of ``L_adv`` (0 = without it).
            perp_weight: Weight of ``L_perp`` (0 = without it).
            grl_lambda: Scale of the gradient reversal (reference: 1).
            grl_schedule: 'constant' keeps ``grl_lambda``; 'dann' ramps it up.
            lr: Learning rate of Adam.

        Raises:
            UsageError: On fewer than two classes, class names that do not fit, or
                a positive class outside the classes.
        """
        check_classes(num_classes, class_names)
        check_positive_class(num_classes, positive_class)
        self.weights = weights
        super().__init__()

    def configure_models(self) -> None:
        """Initialize the DisCoM-KD segmentation network."""
        self.model = self.build_segmenter(
            DisCoMKDSegmenter, grl_lambda=self.hparams['grl_lambda']
        )

    def deployable_classifiers(self) -> dict[str, DeployableClassifier]:
        """Every modality's branch, each a segmenter of its sensor alone.

        Returns:
            Per modality, its branch (``E_inv``, ``P``, ``E_spec``, the decoder and
            head), without the heads shared across modalities.
        """
        return {
            m: DeployableClassifier(
                branch,
                self.segmenter_spec('discomkd_segmentation_branch', branch.in_chans),
            )
            for m, branch in self.model.branches.items()
        }

    def _loss_terms(
        self, outputs: dict[str, SegmentationModalityOutput], masks: dict[str, Tensor]
    ) -> dict[str, Tensor]:
        """The per-pixel and multi-scale terms, see :mod:`geokd.losses.segmentation`."""
        names = list(outputs)

        def scales(field: str) -> list[Tensor]:
            per_modality = [getattr(outputs[m], field) for m in names]
            return [torch.cat(maps) for maps in zip(*per_modality, strict=True)]

        ignore = self.hparams['ignore_index']
        mask = torch.cat([masks[m] for m in names])
        modality = torch.cat(
            [
                torch.full(
                    (len(masks[m]),), self.model.modality_index(m), device=mask.device
                )
                for m in names
            ]
        )
        logits = torch.cat([outputs[m].logits for m in names])

        def aux(a: Tensor, b: Tensor) -> Tensor:
            return seg.upsampled_auxiliary_loss(a, b, mask, ignore)

        return {
            'cl': seg.pixel_classification_loss(logits, mask, ignore),
            'aux': seg.mean_over_scales(aux, scales('aux_inf'), scales('aux_inv')),
            'mod': seg.mean_over_scales(
                seg.modality_map_loss, scales('mod_inf'), scales('mod_irr'), (modality,)
            ),
            'adv': seg.mean_over_scales(
                seg.adversarial_map_loss, scales('mod_adv'), (modality,)
            ),
            'perp': seg.mean_over_scales(
                seg.orthogonality_map_loss,
                scales('z_inf'),
                scales('z_irr'),
                scales('z_inv'),
            ),
        }

    def _diagnostic_maps(
        self, out: SegmentationModalityOutput
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The maps and ``D_adv`` logits of the deepest scale, per location."""
        return out.mod_adv[-1], out.z_inf[-1], out.z_irr[-1], out.z_inv[-1]
