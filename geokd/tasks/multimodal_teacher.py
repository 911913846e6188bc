"""The paper's multi-modal teacher: one trunk per sensor, features summed, linear head."""

from ..errors import UsageError
from ..models import SumFusionClassifier, TrunkInit, Weights
from ..precision import TrainPrecision
from .base import DeployableClassifier, check_classes
from .one_network import MultiSensorTask


class MultiModalTeacherTask(MultiSensorTask):
    """Train the multi-modal teacher of the teacher/student baselines.

    Needs paired batches (the same samples in every modality, one ``label``). Its one
    classifier is named after its sensors joined by ``+`` (``'ms+sar'``), so it logs
    ``val_f1_ms+sar``, ``test_acc_ms+sar``, ...
    """

    ignore = 'weights'

    def __init__(
        self,
        in_channels: dict[str, int],
        num_classes: int,
        backbone: str = 'resnet18',
        weights: dict[str, Weights] | None = None,
        trunk_init: TrunkInit = 'torchvision',
        class_names: list[str] | None = None,
        lr: float = 1e-4,
        precision: TrainPrecision = '32',
    ) -> None:
        """Initialize a new MultiModalTeacherTask instance.

        Args:
            in_channels: Channel count per modality, e.g. ``{'ms': 13, 'sar': 2}``.
            num_classes: Number of task classes.
            backbone: timm model name of every trunk.
            weights: Initial trunk weights per modality (not saved in checkpoints).
            trunk_init: Initialisation of trunks without pretrained weights:
                'torchvision' (the reference's) or 'timm', see
                :func:`~geokd.models.create_trunk`.
            class_names: Names of the classes, in label order.
            lr: Learning rate of Adam.
            precision: Training precision: '32' (default), 'bf16-mixed', or 'auto'
                (bfloat16 autocast on CPUs with native bfloat16, float32 elsewhere); an
                explicit ``trainer.precision`` other than 32 takes precedence.

        Raises:
            UsageError: If fewer than two modalities are given.
            UsageError: If there are fewer than two classes, or ``class_names`` are
                not ``num_classes`` distinct names.
        """
        if len(in_channels) < 2:
            msg = (
                'model.init_args.in_channels: a multi-modal teacher needs two or '
                f'more modalities, got {list(in_channels)}'
            )
            raise UsageError(msg)
        check_classes(num_classes, class_names)
        self.weights = weights
        super().__init__()

    def deployable_classifiers(self) -> dict[str, DeployableClassifier]:
        """None: the teacher needs every sensor at once.

        Returns:
            An empty dict.
        """
        return {}

    def configure_models(self) -> None:
        """Initialize the trunks and the head."""
        self.model = SumFusionClassifier(
            self.hparams['in_channels'],
            self.hparams['num_classes'],
            self.hparams['backbone'],
            self.weights,
            self.hparams['trunk_init'],
        )
