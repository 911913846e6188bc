"""So2Sat LCZ42 as a two-sensor dataset: Sentinel-1 and Sentinel-2 patches, 17 LCZs."""

import os
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Literal

import h5py
import numpy as np
from torchgeo.datasets import DatasetNotFoundError, NonGeoDataset, So2Sat
from torchgeo.datasets.utils import Path, Sample

from ..errors import DataError
from .plot import PlotMixin
from .splits import stratified_split
from .utils import Invalid, check_valid


class So2SatMSSAR(PlotMixin, NonGeoDataset):
    """So2Sat LCZ42 split into ``image_sar`` (Sentinel-1) and ``image_ms`` (Sentinel-2).

    Wraps torchgeo's :class:`~torchgeo.datasets.So2Sat` (HDF5 files, 32x32 patches,
    8 Sentinel-1 channels ``S1_B1..S1_B8`` and 10 Sentinel-2 bands), so the layout and
    versions are torchgeo's::

        root/training.h5, root/validation.h5, root/testing.h5      (version '2')
        root/{random,block,culture_10}/{training,testing}.h5       (version '3_*')

    Version 2 has official train/validation/test files. Version 3 has no validation
    file: 'val' is then a stratified ``val_fraction`` of the training file and 'train'
    the rest, chosen by ``split_seed``.

    Args:
        root: Folder of the HDF5 files.
        version: '2', '3_random', '3_block' or '3_culture_10'.
        split: 'train', 'val' or 'test'.
        bands: torchgeo band names per modality ('sar': ``S1_B*``, 'ms': ``S2_*``);
            None or a missing key keeps all of that sensor.
        val_fraction: Version 3 only: share of each class of the training file held
            out for validation.
        split_seed: Version 3 only: seed of that hold-out.
        invalid: 'error' or 'fill' for NaN and inf values.
        fill_value: Replacement of invalid values in 'fill' mode.
        transforms: Applied to each sample dict.
        checksum: Verify the files' MD5 (slow on the full files).

    Raises:
        FileNotFoundError: If the split's HDF5 file is absent, saying where to put it.
        ValueError: On a band name of the wrong sensor.
    """

    classes = So2Sat.classes
    all_band_names: ClassVar[dict[str, tuple[str, ...]]] = {
        'sar': So2Sat.all_s1_band_names,
        'ms': So2Sat.all_s2_band_names,
    }
    #: So2Sat LCZ42's S1_B5 and S1_B6 are the Lee-filtered VH and VV intensities.
    plot_aliases: ClassVar[dict[str, str]] = {'S1_B5': 'VH', 'S1_B6': 'VV'}
    #: Ground sample distance of the 32x32 patches, metres (both sensors at 10 m).
    gsd: ClassVar[float] = 10.0
    #: Real Sentinel-1 and Sentinel-2 data.
    synthetic: ClassVar[bool] = False

    def __init__(
        self,
        root: Path = 'data',
        version: Literal['2', '3_random', '3_block', '3_culture_10'] = '2',
        split: Literal['train', 'val', 'test'] = 'train',
        bands: Mapping[str, Sequence[str]] | None = None,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        invalid: Invalid = 'error',
        fill_value: float = 0.0,
        transforms: Callable[[Sample], Sample] | None = None,
        checksum: bool = False,
    ) -> None:
        """Initialize a new So2SatMSSAR instance."""
        bands = bands or {}
        for m, names in bands.items():
            wrong = [b for b in names if b not in self.all_band_names.get(m, ())]
            if wrong:
                msg = f'{m} bands {wrong} unknown; choose from {self.all_band_names}'
                raise DataError(msg)
        self.bands = {
            m: list(bands.get(m) or all_) for m, all_ in self.all_band_names.items()
        }
        official = So2Sat.filenames_by_version[version]
        hold_out = 'validation' not in official and split != 'test'
        files: dict[str, Literal['train', 'validation', 'test']] = {
            'train': 'train',
            'val': 'validation',
            'test': 'test',
        }
        file_split = files[split]
        try:
            self.so2sat = So2Sat(
                root,
                version=version,
                split='train' if hold_out else file_split,
                bands=[*self.bands['sar'], *self.bands['ms']],
                checksum=checksum,
            )
        except DatasetNotFoundError:
            expected = ', '.join(So2Sat.filenames_by_version[version].values())
            source = (
                'https://dataserv.ub.tum.de/index.php/s/m1483140'
                if version == '2'
                else 'https://mediatum.ub.tum.de/1613658'
            )
            msg = (
                f'So2Sat LCZ42 version {version} not found (or failing its checksum) '
                f'under {root}: expected '
                f'{expected} there; download them from {source} (torchgeo cannot '
                'download So2Sat itself)'
            )
            raise FileNotFoundError(msg) from None
        self.num_sar = len(self.so2sat.s1_band_names)
        self.split = split
        self.invalid = invalid
        self.fill_value = fill_value
        self.transforms = transforms
        with h5py.File(self.so2sat.fn, 'r') as f:
            labels = np.asarray(f['label']).argmax(axis=1)
        self.indices = list(range(len(labels)))
        if hold_out:
            parts = stratified_split(
                labels.tolist(), (1 - val_fraction, val_fraction, 0.0), split_seed
            )
            self.indices = parts[split]
        self.targets = labels[self.indices].tolist()

    def __len__(self) -> int:
        """Number of samples in the split."""
        return len(self.indices)

    def __getitem__(self, index: int) -> Sample:
        """Return one sample.

        Args:
            index: Index within the split.

        Returns:
            ``image_sar``, ``image_ms`` and ``label``.
        """
        row = self.indices[index]
        sample = self.so2sat[row]
        source = f'{os.fspath(self.so2sat.fn)} (sample {row})'
        image = check_valid(sample['image'], source, self.invalid, self.fill_value)
        out: Sample = {
            'image_sar': image[: self.num_sar],
            'image_ms': image[self.num_sar :],
            'label': sample['label'],
        }
        if self.transforms is not None:
            out = self.transforms(out)
        return out
