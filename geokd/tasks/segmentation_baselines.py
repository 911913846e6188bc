"""DisCoM-KD's competitors for segmentation: single-sensor U-Net, multi-modal teacher, pixel KD.

All use the encoders and U-Net decoder of
:class:`~geokd.tasks.DisCoMKDSegmentationTask`, so that a benchmark changes the
training method only.
"""

from torch import Tensor

from ..losses import segmentation as seg
from ..models.segmentation import DECODER_CHANNELS as DECODER_CHANNELS
from ..models.segmentation import EncoderWeights
from ..models.segmenters import SumFusionSegmenter, unet_segmenter
from .base import DeployableClassifier, PerClassifierTask, check_classes
from .distillation import StudentTask
from .one_network import MultiSensorTask, SingleSensorTask
from .segmentation_base import PerSegmenterTask, check_positive_class


class SingleModalSegmentationTask(SingleSensorTask, PerSegmenterTask):
    """Train a U-Net of one sensor alone: the single-sensor segmentation baseline.

    Also the cross-modal teacher of :class:`PixelKDSegmentationTask`. Batches are
    those of the multi-sensor segmentation DataModules; only ``image_<modality>``
    and the mask are used. Metrics are logged under the modality's name.
    """

    ignore = 'weights'

    def __init__(
        self,
        modality: str,
        in_channels: int,
        num_classes: int = 2,
        encoder: str = 'resnet18',
        encoder_depth: int = 5,
        weights: EncoderWeights = None,
        decoder_channels: list[int] | None = None,
        class_names: list[str] | None = None,
        ignore_index: int = seg.IGNORE_INDEX,
        positive_class: int = 1,
        lr: float = 1e-4,
    ) -> None:
        """Initialize a new SingleModalSegmentationTask instance.

        Args:
            modality: Name of the sensor (``image_<modality>`` in batches).
            in_channels: Number of channels of that sensor.
            num_classes: Number of pixel classes.
            encoder: smp encoder name or ``'tu-<timm name>'``.
            encoder_depth: Number of encoder stages.
            weights: Initial encoder weights (not saved in checkpoints).
            decoder_channels: Channels of the decoder blocks; None takes the first
                ``encoder_depth`` of smp's.
            class_names: Names of the classes, in label order.
            ignore_index: Mask value of unlabelled pixels.
            positive_class: Class whose F1 and IoU are reported (flooded).
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
        """Initialize the U-Net."""
        self.model = self.build_segmenter(unet_segmenter)

    def deployable_classifiers(self) -> dict[str, DeployableClassifier]:
        """The U-Net, keyed by its sensor.

        Returns:
            The segmenter under the modality name.
        """
        spec = self.segmenter_spec('unet', self.hparams['in_channels'])
        return {self.hparams['modality']: DeployableClassifier(self.model, spec)}


class MultiModalSegmentationTeacherTask(MultiSensorTask, PerSegmenterTask):
    """The multi-modal teacher: one encoder per sensor, feature maps summed, one decoder.

    Needs paired batches. Its one segmenter is named after its sensors joined by
    ``+`` (``val_f1_ms+sar``); it needs every sensor, so it is never deployed alone.
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
        lr: float = 1e-4,
    ) -> None:
        """Initialize a new MultiModalSegmentationTeacherTask instance.

        Args:
            in_channels: Channel count per modality.
            num_classes: Number of pixel classes.
            encoder: smp encoder name of every sensor.
            encoder_depth: Number of encoder stages.
            weights: Initial encoder weights per modality (not saved).
            decoder_channels: Channels of the decoder blocks; None takes the first
                ``encoder_depth`` of smp's.
            class_names: Names of the classes, in label order.
            ignore_index: Mask value of unlabelled pixels.
            positive_class: Class whose F1 and IoU are reported (flooded).
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
        """Initialize the sum-fusion segmenter."""
        self.model = self.build_segmenter(SumFusionSegmenter)


class PixelKDSegmentationTask(StudentTask, SingleModalSegmentationTask):
    """Distil a trained segmenter into a single-sensor U-Net, pixel by pixel (Hinton).

    Loss: ``ce_weight * CE(student, mask) + kd_weight * T**2 KL`` at every labelled
    pixel between the softened teacher and student. The teacher (e.g. the Sentinel-2
    U-Net of :class:`SingleModalSegmentationTask`, or the multi-modal teacher) sees
    the same augmented paired batch, in its own sensors; it is frozen, stays in
    eval mode and is not saved with the student. Validation and test losses are the
    cross-entropy alone.
    """

    def __init__(
        self,
        modality: str,
        in_channels: int,
        teacher_checkpoint: str,
        num_classes: int = 2,
        teacher_class: str | None = None,
        temperature: float = 4.0,
        ce_weight: float = 1.0,
        kd_weight: float = 1.0,
        encoder: str = 'resnet18',
        encoder_depth: int = 5,
        weights: EncoderWeights = None,
        decoder_channels: list[int] | None = None,
        class_names: list[str] | None = None,
        ignore_index: int = seg.IGNORE_INDEX,
        positive_class: int = 1,
        lr: float = 1e-4,
    ) -> None:
        """Initialize a new PixelKDSegmentationTask instance.

        Args:
            modality: Sensor of the student.
            in_channels: Number of channels of that sensor.
            teacher_checkpoint: Checkpoint of the trained teacher segmenter.
            num_classes: Number of pixel classes.
            teacher_class: Task class of the teacher, for checkpoints that do not
                record it.
            temperature: Softening temperature ``T``.
            ce_weight: Weight of the cross-entropy with the mask.
            kd_weight: Weight of the distillation loss.
            encoder: smp encoder name of the student.
            encoder_depth: Number of encoder stages.
            weights: Initial student encoder weights (not saved).
            decoder_channels: Channels of the decoder blocks; None takes the first
                ``encoder_depth`` of smp's.
            class_names: Names of the classes, in label order.
            ignore_index: Mask value of unlabelled pixels.
            positive_class: Class whose F1 and IoU are reported (flooded).
            lr: Learning rate of Adam.
        """
        super().__init__(
            modality,
            in_channels,
            num_classes,
            encoder,
            encoder_depth,
            weights,
            decoder_channels,
            class_names,
            ignore_index,
            positive_class,
            lr,
        )
        # A list keeps the teacher out of the module tree: not trained, not saved.
        self._teacher: list[PerClassifierTask] = []

    @property
    def method_name(self) -> str:
        """Name of the training method, recorded in exported models."""
        return 'pixel KD'

    def check_teacher(self, teacher: PerClassifierTask, path: str) -> None:
        """Refuse a teacher this student cannot learn from.

        Args:
            teacher: The loaded teacher.
            path: Its checkpoint, for the message.

        Raises:
            ValueError: If it is no segmenter, or predicts another number of
                classes.
        """
        if not isinstance(teacher, PerSegmenterTask):
            msg = f'{path}: a {type(teacher).__name__} is not a segmenter'
            raise ValueError(msg)
        super().check_teacher(teacher, path)

    def distillation_loss(
        self, student: Tensor, teacher: Tensor, mask: Tensor
    ) -> Tensor:
        """Hinton's KD at every labelled pixel (without its weight).

        Args:
            student: Student logits ``(N, K, H, W)``.
            teacher: Teacher logits ``(N, K, H, W)``, detached.
            mask: Class indices ``(N, H, W)``; unlabelled pixels do not count.

        Returns:
            Scalar loss.
        """
        return seg.pixel_kd_loss(
            student,
            teacher,
            self.hparams['temperature'],
            mask,
            self.hparams['ignore_index'],
        )
