"""The metadata of an exported model (``model.json``) and its validation.

``model.json`` files come from other people: every field is checked against its type
and range with jsonargparse's typing before anything is built from it, names that
become file or directory names are restricted to a safe set of characters, and the
fields are checked against each other.
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jsonargparse.typing import restricted_number_type, restricted_string_type

import geokd

from ..errors import LoadError
from ..models import (
    ARCHITECTURES,
    SEGMENTER_ARCHITECTURES,
    ClassifierSpec,
    SegmenterSpec,
)
from ..schema import Channels, Classes, EmbedDim, Label, PatchSize, SafeName
from ..transforms import SensorNormalization

#: Identifies geokd's metadata files and their schema version. Older versions are
#: read: version 1 files predate ``architecture`` (they hold DisCoM-KD branches),
#: versions 1 and 2 predate the provenance fields (read as None: unknown), versions
#: 1 to 3 predate ``kind`` (they hold classifiers). Segmenters are version 4, which
#: older geokd versions refuse instead of reading them as classifiers.
FORMAT = 'geokd-single-sensor-classifier'
FORMAT_VERSION = 4
#: What an exported network outputs: a class per image, or per pixel.
KINDS = ('classifier', 'segmenter')

if TYPE_CHECKING:
    # mypy cannot read the classes jsonargparse builds at run time; they subclass
    # these.
    Version = int
    Metres = float
    ClassPath = str
    PackageVersion = str
    Timestamp = str
    EncoderDepth = int
else:
    Version = restricted_number_type(
        'Version', int, [('>=', 1), ('<=', FORMAT_VERSION)]
    )
    #: Ground sample distance in metres: from a millimetre to 100 km.
    Metres = restricted_number_type('Metres', float, [('>', 0.001), ('<=', 100_000)])
    #: An importable class name (module path and qualified name).
    ClassPath = restricted_string_type('ClassPath', r'^[A-Za-z_][\w.]{0,199}$')
    #: Number of encoder stages of a segmenter (smp's U-Net takes 1 to 5).
    EncoderDepth = restricted_number_type('EncoderDepth', int, [('>=', 1), ('<=', 5)])
    #: A package version such as ``2.14.1+cu130``.
    PackageVersion = restricted_string_type('PackageVersion', r'^[\w.+!-]{1,64}$')
    #: A UTC date and time, ISO 8601 (``2025-01-31T12:00:00Z``).
    Timestamp = restricted_string_type(
        'Timestamp', r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$'
    )


class ModelLoadError(LoadError):
    """A model file is missing, unreadable or inconsistent."""


@dataclass
class TrainingData:
    """What a model was trained on.

    Attributes:
        datamodule: Class path of the DataModule.
        dataset: Class path of the dataset it read.
        synthetic: True for simulated data (the model's classes mean nothing on real
            scenes), False for real data, None when the dataset does not say.
    """

    datamodule: ClassPath | None = None
    dataset: ClassPath | None = None
    synthetic: bool | None = None


@dataclass
class ModelMetadata:
    """What prediction needs to know about an exported single-sensor model.

    Attributes:
        modality: Sensor name in the training data (e.g. ``'sar'``).
        in_channels: Number of input bands.
        num_classes: Number of classes.
        class_names: Class names in label order.
        band_names: Band names in the order the model reads them (may be empty).
        normalization: :meth:`SensorNormalization.to_dict` of the training data,
            including the dB conversion.
        patch_size: Height and width of the training patches in pixels (for a
            segmenter, of the tiles prediction cuts the scene into).
        backbone: timm name of the trunks (smp encoder name of a segmenter).
        embed_dim: Embedding size of a DisCoM-KD branch (None for other
            architectures).
        architecture: Network type, see :class:`~geokd.models.ClassifierSpec` and
            :class:`~geokd.models.SegmenterSpec`.
        kind: ``'classifier'`` (one class per patch) or ``'segmenter'`` (one class
            per pixel); files before version 4 hold classifiers.
        encoder_depth: A segmenter's number of encoder stages (None for
            classifiers).
        decoder_channels: A segmenter's U-Net decoder channels, one per stage (None
            for classifiers).
        method: Training method (``DisCoM-KD``, ``single-modal``, ``KD``, ...).
        geokd_version: geokd version that exported the model.
        source: Checkpoint the weights came from, if any.
        training_data: The DataModule and dataset it was trained on, and whether
            they are synthetic (None: unknown, e.g. exported before version 3).
        gsd: Ground sample distance of the training patches in metres: prediction
            reads scenes at this resolution (None: unknown; scenes are read at their
            own resolution).
        test_metrics: Test metrics (``f1``, ``f1_macro``, ``acc``) of every
            classifier of the training run, keyed by classifier (this model's is
            ``test_metrics[modality]``), each from its best checkpoint, as
            :class:`~geokd.callbacks.EvaluateClassifiers` measured them after fit;
            None when the export did not follow such a test (``geokd export``).
        exported_at: When the model was exported (UTC, ISO 8601).
        torch_version: PyTorch version that exported the model.
        format: Always :data:`FORMAT`.
        format_version: Schema version, at most :data:`FORMAT_VERSION`.
    """

    modality: SafeName
    in_channels: Channels
    num_classes: Classes
    class_names: list[Label]
    band_names: list[Label]
    normalization: dict[str, Any]
    patch_size: PatchSize
    backbone: str
    embed_dim: EmbedDim | None
    architecture: Literal[
        'discomkd_branch', 'linear', 'discomkd_segmentation_branch', 'unet'
    ] = 'discomkd_branch'
    kind: Literal['classifier', 'segmenter'] = 'classifier'
    encoder_depth: EncoderDepth | None = None
    decoder_channels: list[PatchSize] | None = None  # 1 to 4096 channels
    method: str = 'DisCoM-KD'
    geokd_version: str = geokd.__version__
    source: str | None = None
    training_data: TrainingData | None = None
    gsd: Metres | None = None
    test_metrics: dict[SafeName, dict[str, float]] | None = None
    exported_at: Timestamp | None = None
    torch_version: PackageVersion | None = None
    format: str = field(default=FORMAT)
    format_version: Version = FORMAT_VERSION

    @property
    def spec(self) -> ClassifierSpec | SegmenterSpec:
        """The architecture to rebuild."""
        if self.kind == 'segmenter':
            return SegmenterSpec(
                self.architecture,  # type: ignore[arg-type]  # checked on reading
                self.in_channels,
                self.num_classes,
                self.backbone,
                self.encoder_depth or 0,
                tuple(self.decoder_channels or ()),
            )
        return ClassifierSpec(
            self.architecture,  # type: ignore[arg-type]  # checked on reading
            self.in_channels,
            self.num_classes,
            self.backbone,
            self.embed_dim,
        )

    @property
    def preprocessing(self) -> SensorNormalization:
        """The input normalisation, as used in training."""
        return SensorNormalization.from_dict(dict(self.normalization))

    @property
    def synthetic(self) -> bool:
        """Whether the model was trained on synthetic data (False when unknown)."""
        return bool(self.training_data and self.training_data.synthetic)

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the model comes from, as repeated in every prediction summary.

        Returns:
            The training data, bands, ground sample distance, normalisation, test
            metrics, export date and versions.
        """
        data = self.to_dict()
        keys = (
            'kind',
            'training_data',
            'band_names',
            'gsd',
            'patch_size',
            'normalization',
            'test_metrics',
            'method',
            'source',
            'exported_at',
            'geokd_version',
            'torch_version',
            'format_version',
        )
        return {k: data[k] for k in keys}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible data, as written to ``model.json``.

        Returns:
            The fields.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> 'ModelMetadata':
        """Read and validate metadata from an untrusted source.

        Args:
            data: Parsed JSON.
            path: File it came from (for error messages).

        Returns:
            The metadata.

        Raises:
            ModelLoadError: With a one-line message naming ``path``, if it is not
                geokd metadata or any field is missing, mistyped, out of range or
                inconsistent with another.
        """
        if not isinstance(data, Mapping) or data.get('format') != FORMAT:
            msg = f'{path}: not a geokd model metadata file (no format {FORMAT!r})'
            raise ModelLoadError(msg)
        meta = _parse(data, path)
        _check_consistent(meta, path)
        return meta


def _parse(data: Mapping[str, Any], path: Path) -> ModelMetadata:
    """Type- and range-check every field with jsonargparse."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(ModelMetadata, 'model', fail_untyped=True)
    try:
        config = parser.parse_object({'model': dict(data)})
        meta = parser.instantiate(config).model
    except Exception as err:  # jsonargparse raises several types, all one fault
        detail = ' '.join(str(err).split()).replace('Parser key "model.', '"')
        detail = detail.replace('model.', '')
        msg = f'{path}: invalid model metadata: {detail}'
        raise ModelLoadError(msg) from err
    if not isinstance(meta, ModelMetadata):
        msg = f'{path}: invalid model metadata'
        raise ModelLoadError(msg)
    return meta


def _check_consistent(meta: ModelMetadata, path: Path) -> None:
    """Check the fields against each other and build the normalisation."""
    problems = []
    if len(meta.class_names) != meta.num_classes:
        problems.append(
            f'{len(meta.class_names)} class_names for num_classes={meta.num_classes}'
        )
    if len(set(meta.class_names)) != len(meta.class_names):
        problems.append('class_names are not unique')
    if meta.band_names and len(meta.band_names) != meta.in_channels:
        problems.append(
            f'{len(meta.band_names)} band_names for in_channels={meta.in_channels}'
        )
    metrics = meta.test_metrics or {}
    if not all(math.isfinite(v) for m in metrics.values() for v in m.values()):
        problems.append('test_metrics must be finite numbers')
    if meta.architecture == 'discomkd_branch' and meta.embed_dim is None:
        problems.append('a discomkd_branch needs embed_dim')
    problems += _kind_problems(meta)
    try:
        bands = meta.preprocessing.num_bands
    except (TypeError, ValueError) as err:
        problems.append(f'normalization: {err}')
    else:
        if bands != meta.in_channels:
            problems.append(
                f'normalisation has {bands} bands but in_channels={meta.in_channels}'
            )
    if problems:
        msg = f'{path}: invalid model metadata: {"; ".join(problems)}'
        raise ModelLoadError(msg)


def _kind_problems(meta: ModelMetadata) -> list[str]:
    """What does not fit the model's kind: its architecture, a segmenter's geometry."""
    if meta.kind not in KINDS:  # jsonargparse lets null through
        return [f'"kind" must be one of {KINDS}, got {meta.kind!r}']
    allowed = SEGMENTER_ARCHITECTURES if meta.kind == 'segmenter' else ARCHITECTURES
    if meta.architecture not in allowed:
        return [f'a {meta.kind} cannot be a {meta.architecture!r} (one of {allowed})']
    if meta.kind == 'classifier':
        return []
    depth, channels = meta.encoder_depth, meta.decoder_channels
    if depth is None or channels is None:
        return ['a segmenter needs encoder_depth and decoder_channels']
    problems = []
    if len(channels) != depth:
        problems.append(f'{len(channels)} decoder_channels for encoder_depth={depth}')
    # The encoder halves its input depth times: a tile must divide evenly.
    if meta.patch_size % 2**depth:
        problems.append(
            f'patch_size {meta.patch_size} is not a multiple of {2**depth} '
            f'(2 ** encoder_depth={depth})'
        )
    return problems
