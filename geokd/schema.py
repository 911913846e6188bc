"""Restricted value types for what geokd reads from untrusted files.

``model.json`` (:class:`~geokd.export.ModelMetadata`) and the hyperparameters saved
in checkpoints (:class:`HyperparameterLimits`) are checked against these with
jsonargparse before anything is built from them: bounds keep a hostile file from
asking for absurd allocations, and names that become file or directory names are
restricted to characters that cannot form a path.
"""

from dataclasses import dataclass

from jsonargparse.typing import restricted_number_type, restricted_string_type

#: A modality name: it becomes a directory name, so no separator, no leading dot.
SafeName = restricted_string_type('SafeName', r'^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$')
#: A class or band name: shown in rasters, styles and tables (letters, digits,
#: spaces and ``_ . , ( ) + -``; no ``/``).
Label = restricted_string_type('Label', r'^[\w][\w .,()+-]{0,99}$')
#: Bounds that keep a hostile file from asking for absurd allocations.
Channels = restricted_number_type('Channels', int, [('>=', 1), ('<=', 1024)])
Classes = restricted_number_type('Classes', int, [('>=', 2), ('<=', 65535)])
PatchSize = restricted_number_type('PatchSize', int, [('>=', 1), ('<=', 4096)])
EmbedDim = restricted_number_type('EmbedDim', int, [('>=', 1), ('<=', 65536)])


@dataclass
class HyperparameterLimits:
    """Bounds of the hyperparameters of geokd's tasks that size networks or name things.

    Every task names its classes and sensors with these (those it has); the keys of
    a ``channels_per_modality`` mapping are modality names, checked as
    :data:`SafeName`.

    Attributes:
        num_classes: Number of classes.
        class_names: Class names, in label order.
        in_channels: Channels of a single-sensor task's sensor.
        channels_per_modality: ``in_channels`` of a task of several sensors.
        modality: The sensor of a single-sensor task.
        embed_dim: Embedding size of DisCoM-KD.
    """

    num_classes: Classes  # type: ignore[valid-type]
    class_names: list[Label] | None = None  # type: ignore[valid-type]
    in_channels: Channels | None = None  # type: ignore[valid-type]
    channels_per_modality: dict[str, Channels] | None = None  # type: ignore[valid-type]
    modality: SafeName | None = None  # type: ignore[valid-type]
    embed_dim: EmbedDim | None = None  # type: ignore[valid-type]
