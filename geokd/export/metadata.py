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
from typing import Any, Literal

from jsonargparse.typing import restricted_number_type, restricted_string_type

import geokd

from ..loader import LoadError
from ..models import ClassifierSpec
from ..schema import Channels, Classes, EmbedDim, Label, PatchSize, SafeName
from ..transforms import SensorNormalization

#: Identifies geokd's metadata files and their schema version. Older versions are
#: read: version 1 files predate ``architecture`` (they hold DisCoM-KD branches),
#: versions 1 and 2 predate the provenance fields (read as None: unknown).
FORMAT = 'geokd-single-sensor-classifier'
FORMAT_VERSION = 3

Version = restricted_number_type('Version', int, [('>=', 1), ('<=', FORMAT_VERSION)])
#: Ground sample distance in metres: from a millimetre to 100 km.
Metres = restricted_number_type('Metres', float, [('>', 0.001), ('<=', 100_000)])
#: An importable class name (module path and qualified name).
ClassPath = restricted_string_type('ClassPath', r'^[A-Za-z_][\w.]{0,199}$')
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

    datamodule: ClassPath | None = None  # type: ignore[valid-type]
    dataset: ClassPath | None = None  # type: ignore[valid-type]
    synthetic: bool | None = None


@dataclass
class ModelMetadata:
    """What prediction needs to know about an exported single-sensor classifier.

    Attributes:
        modality: Sensor name in the training data (e.g. ``'sar'``).
        in_channels: Number of input bands.
        num_classes: Number of classes.
        class_names: Class names in label order.
        band_names: Band names in the order the model reads them (may be empty).
        normalization: :meth:`SensorNormalization.to_dict` of the training data,
            including the dB conversion.
        patch_size: Height and width of the training patches in pixels.
        backbone: timm name of the trunks.
        embed_dim: Embedding size of a DisCoM-KD branch (None for other
            architectures).
        architecture: Network type, see :class:`~geokd.models.ClassifierSpec`.
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

    modality: SafeName  # type: ignore[valid-type]
    in_channels: Channels  # type: ignore[valid-type]
    num_classes: Classes  # type: ignore[valid-type]
    class_names: list[Label]  # type: ignore[valid-type]
    band_names: list[Label]  # type: ignore[valid-type]
    normalization: dict[str, Any]
    patch_size: PatchSize  # type: ignore[valid-type]
    backbone: str
    embed_dim: EmbedDim | None  # type: ignore[valid-type]
    architecture: Literal['discomkd_branch', 'linear'] = 'discomkd_branch'
    method: str = 'DisCoM-KD'
    geokd_version: str = geokd.__version__
    source: str | None = None
    training_data: TrainingData | None = None
    gsd: Metres | None = None  # type: ignore[valid-type]
    test_metrics: dict[SafeName, dict[str, float]] | None = None  # type: ignore[valid-type]
    exported_at: Timestamp | None = None  # type: ignore[valid-type]
    torch_version: PackageVersion | None = None  # type: ignore[valid-type]
    format: str = field(default=FORMAT)
    format_version: Version = FORMAT_VERSION  # type: ignore[valid-type]

    @property
    def spec(self) -> ClassifierSpec:
        """The architecture to rebuild."""
        return ClassifierSpec(
            self.architecture,
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
        keys = ('training_data', 'band_names', 'gsd', 'patch_size', 'normalization',
                'test_metrics', 'method', 'source', 'exported_at', 'geokd_version',
                'torch_version', 'format_version')  # fmt: skip
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
