"""EuroSat-MS-SAR: EuroSAT Sentinel-2 (13 bands) paired with EuroSAT-SAR (VV, VH)."""

import os
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Literal

import torch
from torchgeo.datasets import (
    CopernicusBenchBase,
    CopernicusBenchEuroSATS1,
    CopernicusBenchEuroSATS2,
    DatasetNotFoundError,
    NonGeoDataset,
)
from torchgeo.datasets.utils import Path, Sample

from ..errors import DataError
from .plot import PlotMixin
from .utils import Invalid, check_valid, read_image

#: Class order of geokd (alphabetical, as torchgeo's ``EuroSAT``); the Copernicus-Bench
#: halves list the same names in another order, so labels are remapped by name.
CLASSES = (
    'AnnualCrop',
    'Forest',
    'HerbaceousVegetation',
    'Highway',
    'Industrial',
    'Pasture',
    'PermanentCrop',
    'Residential',
    'River',
    'SeaLake',
)


class EuroSATMSSAR(PlotMixin, NonGeoDataset):
    """EuroSat-MS-SAR, the DisCoM-KD benchmark: co-located Sentinel-2 and Sentinel-1.

    Reads torchgeo's :class:`~torchgeo.datasets.CopernicusBenchEuroSATS2` (13 bands,
    EuroSAT order with B8A last) and :class:`~torchgeo.datasets.CopernicusBenchEuroSATS1`
    (VV, VH) under the same ``root`` and pairs their samples by file name, per official
    split. Layout (what ``download=True`` fetches through torchgeo)::

        root/eurosat_s2/eurosat-{train,val,test}.txt
        root/eurosat_s2/all_imgs/<Class>/<Class>_<n>.tif
        root/eurosat_s1/ (the same)

    Labels follow :data:`CLASSES` (alphabetical, as torchgeo's ``EuroSAT``), for both
    halves. Samples: ``image_ms`` ``(len(bands['ms']), 64, 64)``, ``image_sar``
    ``(len(bands['sar']), 64, 64)``, ``label``; raw values (S2 digital numbers, S1 as
    stored), normalised later by the DataModule.

    Args:
        root: Folder holding ``eurosat_s2/`` and ``eurosat_s1/`` (or their zips).
        split: 'train', 'val' or 'test'.
        bands: Band names per modality ('ms', 'sar'); None or a missing key keeps all.
        drop_unpaired: Drop samples whose partner is missing instead of raising.
        invalid: 'error' or 'fill' for NaN, inf and nodata pixels (see
            :func:`~geokd.datasets.utils.check_valid`).
        fill_value: Replacement of invalid pixels in 'fill' mode.
        transforms: Applied to each sample dict.
        download: Download both halves through torchgeo if absent.
        checksum: Verify the downloads' SHA-256.

    Raises:
        FileNotFoundError: If the data is absent and not (or not successfully)
            downloaded, saying where to put it.
        ValueError: If a file of one half has no partner in the other (and
            ``drop_unpaired`` is False), or a band name is unknown.
    """

    classes = CLASSES
    all_band_names: ClassVar[dict[str, tuple[str, ...]]] = {
        'ms': CopernicusBenchEuroSATS2.all_bands,
        'sar': CopernicusBenchEuroSATS1.all_bands,
    }
    #: Ground sample distance of the patches, metres (both sensors at 10 m).
    gsd: ClassVar[float] = 10.0
    #: Real Sentinel-2 and Sentinel-1 data.
    synthetic: ClassVar[bool] = False

    def __init__(
        self,
        root: Path = 'data',
        split: Literal['train', 'val', 'test'] = 'train',
        bands: Mapping[str, Sequence[str]] | None = None,
        drop_unpaired: bool = False,
        invalid: Invalid = 'error',
        fill_value: float = 0.0,
        transforms: Callable[[Sample], Sample] | None = None,
        download: bool = False,
        checksum: bool = False,
    ) -> None:
        """Initialize a new EuroSATMSSAR instance."""
        bands = bands or {}
        for m, names in bands.items():
            unknown = [b for b in names if b not in self.all_band_names.get(m, ())]
            if unknown:
                msg = f'unknown {m} bands {unknown}; choose from {self.all_band_names}'
                raise DataError(msg)
        where = (
            f'EuroSat-MS-SAR not found under {root}: expected eurosat_s2/ and '
            "eurosat_s1/ there (torchgeo's CopernicusBenchEuroSATS2 and "
            'CopernicusBenchEuroSATS1, or their zips)'
        )
        try:
            self.ms = CopernicusBenchEuroSATS2(
                root, split, bands.get('ms'), download=download, checksum=checksum
            )
            self.sar = CopernicusBenchEuroSATS1(
                root, split, bands.get('sar'), download=download, checksum=checksum
            )
        except DatasetNotFoundError:
            msg = f'{where}; pass download=True to fetch them ({CopernicusBenchEuroSATS2.url})'
            raise FileNotFoundError(msg) from None
        except Exception as err:  # urllib, socket, HTTP and checksum errors alike
            if not download:
                raise
            msg = f'{where}; downloading them failed: {err}'
            raise FileNotFoundError(msg) from err
        #: Band names per modality, in the samples' order.
        self.bands = {'ms': list(self.ms.bands), 'sar': list(self.sar.bands)}
        self.split = split
        self.invalid = invalid
        self.fill_value = fill_value
        self.transforms = transforms
        ms_index = {name: i for i, name in enumerate(self.ms.files)}
        sar_index = {name: i for i, name in enumerate(self.sar.files)}
        lonely = sorted(set(ms_index) ^ set(sar_index))
        if lonely and not drop_unpaired:
            shown = ', '.join(lonely[:5]) + (' ...' if len(lonely) > 5 else '')
            msg = (
                f'{len(lonely)} {split} files have no partner between eurosat_s2 and '
                f'eurosat_s1 under {root}: {shown}; pass drop_unpaired=True to skip them'
            )
            raise DataError(msg)
        #: (S2 index, S1 index) per sample, in the order of the S2 split file.
        self.pairs = [(i, sar_index[n]) for n, i in ms_index.items() if n in sar_index]

    def __len__(self) -> int:
        """Number of pairs in the split."""
        return len(self.pairs)

    def _path(self, half: CopernicusBenchBase, index: int) -> str:
        file = str(half.files[index]).replace('.jpg', '.tif')
        return os.path.join(
            half.root, half.directory, 'all_imgs', file.split('_')[0], file
        )

    def class_name(self, index: int) -> str:
        """Class of a sample, from its file name (no image read).

        Args:
            index: Sample index.

        Returns:
            The class name.
        """
        return str(self.ms.files[self.pairs[index][0]]).split('_')[0]

    @property
    def targets(self) -> list[int]:
        """Label of every sample, read from the file names."""
        return [self.classes.index(self.class_name(i)) for i in range(len(self))]

    def __getitem__(self, index: int) -> Sample:
        """Return one pair.

        Args:
            index: Index of the pair.

        Returns:
            ``image_ms``, ``image_sar`` and ``label``.
        """
        i_ms, i_sar = self.pairs[index]
        sample: Sample = {}
        for m, half, i in (('ms', self.ms, i_ms), ('sar', self.sar, i_sar)):
            # Read directly rather than through half[i], which also reprojects the
            # centre to lat/lon with pyproj for every sample (slow, unused here).
            path = self._path(half, i)
            image, nodata = read_image(path)
            if image.shape[0] != len(half.all_bands):
                msg = f'{path}: {image.shape[0]} bands, expected {len(half.all_bands)}'
                raise DataError(msg)
            keep = [b - 1 for b in half.band_indices]
            image = image[keep]
            nodata = nodata[keep] if nodata is not None else None
            sample[f'image_{m}'] = check_valid(
                image, path, self.invalid, self.fill_value, nodata
            )
        sample['label'] = torch.tensor(self.classes.index(self.class_name(index)))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
