"""Single-modal baseline: one sensor, a backbone and a linear head, cross-entropy only."""

from ..models import ClassifierSpec, TrunkInit, Weights, linear_classifier
from ..precision import TrainPrecision
from .base import DeployableClassifier, check_classes
from .one_network import SingleSensorTask


class SingleModalTask(SingleSensorTask):
    """Train a classifier of one sensor alone: the paper's single-modal baseline.

    Also the cross-modal teacher of a distilled student on the other sensor. Batches
    are those of the multi-sensor DataModules; only ``image_<modality>`` is used.

    Logged metrics: see :class:`~geokd.tasks.base.PerClassifierTask`, with the
    modality as classifier name (``val_f1_sar``, ``test_acc_sar``, ...).
    """

    ignore = 'weights'

    def __init__(
        self,
        modality: str,
        in_channels: int,
        num_classes: int,
        backbone: str = 'resnet18',
        weights: Weights = None,
        trunk_init: TrunkInit = 'torchvision',
        class_names: list[str] | None = None,
        lr: float = 1e-4,
        precision: TrainPrecision = '32',
    ) -> None:
        """Initialize a new SingleModalTask instance.

        Args:
            modality: Name of the sensor (``image_<modality>`` in batches).
            in_channels: Number of channels of that sensor.
            num_classes: Number of task classes.
            backbone: timm model name of the trunk.
            weights: Initial trunk weights (not saved in checkpoints).
            trunk_init: Initialisation of trunks without pretrained weights:
                'torchvision' (the reference's) or 'timm', see
                :func:`~geokd.models.create_trunk`.
            class_names: Names of the classes, in label order.
            lr: Learning rate of Adam.
            precision: Training precision: '32' (default), 'bf16-mixed', or 'auto'
                (bfloat16 autocast on CPUs with native bfloat16, float32 elsewhere); an
                explicit ``trainer.precision`` other than 32 takes precedence.

        Raises:
            UsageError: If there are fewer than two classes, or ``class_names`` are
                not ``num_classes`` distinct names.
        """
        check_classes(num_classes, class_names)
        self.weights = weights
        super().__init__()

    def deployable_classifiers(self) -> dict[str, DeployableClassifier]:
        """The classifier, keyed by its sensor.

        Returns:
            The trunk and linear head, under the modality name.
        """
        spec = ClassifierSpec(
            'linear',
            self.hparams['in_channels'],
            self.hparams['num_classes'],
            self.hparams['backbone'],
        )
        return {self.hparams['modality']: DeployableClassifier(self.model, spec)}

    def configure_models(self) -> None:
        """Initialize the trunk and linear head."""
        self.model = linear_classifier(
            self.hparams['in_channels'],
            self.hparams['num_classes'],
            self.hparams['backbone'],
            self.weights,
            self.hparams['trunk_init'],
        )
