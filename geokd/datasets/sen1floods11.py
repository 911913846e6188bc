"""Sen1Floods11's hand-labelled chips: Sentinel-1, Sentinel-2 and per-pixel water labels."""

import csv
import os
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

import numpy as np
import rasterio
import torch
from rasterio.errors import RasterioIOError
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Path, Sample

#: Folder of each modality's chips, and of the labels, under ``data/flood_events/HandLabeled``.
FOLDERS = {'sar': 'S1Hand', 'ms': 'S2Hand', 'label': 'LabelHand'}

#: Bands of each modality, in file order.
BANDS = {
    'sar': ('VV', 'VH'),
    'ms': (
        'B1',
        'B2',
        'B3',
        'B4',
        'B5',
        'B6',
        'B7',
        'B8',
        'B8A',
        'B9',
        'B10',
        'B11',
        'B12',
    ),
}

#: Split file of each split, under ``splits/flood_handlabeled``.
SPLIT_FILES = {
    'train': 'flood_train_data.csv',
    'val': 'flood_valid_data.csv',
    'test': 'flood_test_data.csv',
    'bolivia': 'flood_bolivia_data.csv',
}


class Sen1Floods11(NonGeoDataset):
    """Sen1Floods11 hand-labelled flood chips as paired segmentation samples.

    `Sen1Floods11 <https://github.com/cloudtostreet/Sen1Floods11>`__ (Bonafilia et al.,
    CVPR Workshops 2020) holds 446 hand-labelled 512x512 chips of 11 flood events, in
    EPSG:4326 at about 10 m. Layout, as its bucket publishes it (version 1.1)::

        root/data/flood_events/HandLabeled/S1Hand/<event>_<id>_S1Hand.tif
        root/data/flood_events/HandLabeled/S2Hand/<event>_<id>_S2Hand.tif
        root/data/flood_events/HandLabeled/LabelHand/<event>_<id>_LabelHand.tif
        root/splits/flood_handlabeled/flood_{train,valid,test,bolivia}_data.csv

    Each split file lists one chip per line, its Sentinel-1 file name first.

    * ``sar``: VV and VH backscatter in dB, float32, NaN where there is no data.
    * ``ms``: the 13 Sentinel-2 L1C bands B1..B12 (B8A after B8, B10 included),
      int16, 0 where there is no data.
    * ``mask``: 1 water, 0 land, -1 unlabelled. Pixels where any loaded sensor has
      no data are set to -1 as well (and their image values to 0), so that a loss
      with ``ignore_index=-1`` never reads them.

    Args:
        root: Folder holding ``data/`` and ``splits/``.
        split: 'train', 'val', 'test' or 'bolivia' (the held-out event).
        modalities: Sensors to load: 'sar' and/or 'ms'.
        transforms: Applied to each sample dict.

    Raises:
        FileNotFoundError: If the split file or a chip is missing.
        ValueError: On an unknown split or modality.
    """

    classes = ('land', 'water')
    all_band_names: ClassVar[dict[str, tuple[str, ...]]] = BANDS
    #: Mask value of unlabelled pixels.
    ignore_index: ClassVar[int] = -1
    #: Ground sample distance of the chips, metres (0.00009 degrees at the equator).
    gsd: ClassVar[float] = 10.0
    #: Real Sentinel-1 and Sentinel-2 data.
    synthetic: ClassVar[bool] = False

    def __init__(
        self,
        root: Path = 'data/sen1floods11',
        split: Literal['train', 'val', 'test', 'bolivia'] = 'train',
        modalities: Sequence[str] = ('ms', 'sar'),
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        """Initialize a new Sen1Floods11 instance."""
        if split not in SPLIT_FILES:
            msg = f'split must be one of {sorted(SPLIT_FILES)}, got {split!r}'
            raise ValueError(msg)
        unknown = [m for m in modalities if m not in BANDS]
        if unknown or not modalities:
            msg = f'modalities must be among {sorted(BANDS)}, got {list(modalities)}'
            raise ValueError(msg)
        self.root = os.fspath(root)
        self.split = split
        self.modalities = list(modalities)
        self.transforms = transforms
        #: Chip names (``<event>_<id>``) of the split.
        self.chips = self._read_split()

    def _read_split(self) -> list[str]:
        """Chip names listed in the split file.

        Raises:
            FileNotFoundError: If the split file is missing.
            ValueError: If it lists no chip, or a line is not a Sentinel-1 file name.
        """
        path = os.path.join(
            self.root, 'splits', 'flood_handlabeled', SPLIT_FILES[self.split]
        )
        if not os.path.isfile(path):
            msg = (
                f'{path}: Sen1Floods11 split file not found (expected the layout of '
                'gs://sen1floods11/v1.1 under root)'
            )
            raise FileNotFoundError(msg)
        chips = []
        with open(path, newline='') as f:
            for number, row in enumerate(csv.reader(f), start=1):
                if not row or not row[0].strip():
                    continue
                name = row[0].strip()
                if not name.endswith('_S1Hand.tif'):
                    msg = f'{path}, line {number}: {name!r} is not an S1Hand file name'
                    raise ValueError(msg)
                chips.append(name.removesuffix('_S1Hand.tif'))
        if not chips:
            msg = f'{path}: lists no chip'
            raise ValueError(msg)
        return chips

    def _path(self, kind: str, chip: str) -> str:
        folder = FOLDERS[kind]
        return os.path.join(
            self.root,
            'data',
            'flood_events',
            'HandLabeled',
            folder,
            f'{chip}_{folder}.tif',
        )

    def _read(self, kind: str, chip: str) -> np.ndarray:
        """All bands of one file.

        Raises:
            FileNotFoundError: If it cannot be read.
        """
        path = self._path(kind, chip)
        try:
            with rasterio.open(path) as src:
                bands: np.ndarray = src.read()
                return bands
        except RasterioIOError as err:
            msg = f'{path}: cannot be read ({err})'
            raise FileNotFoundError(msg) from err

    def __len__(self) -> int:
        """Number of chips in the split."""
        return len(self.chips)

    def __getitem__(self, index: int) -> Sample:
        """Return one chip.

        Args:
            index: Index of the chip.

        Returns:
            ``image_<modality>`` (float32) per modality and ``mask`` (int64).
        """
        chip = self.chips[index]
        mask = self._read('label', chip)[0].astype(np.int64)
        sample: Sample = {}
        for m in self.modalities:
            image = self._read(m, chip).astype(np.float32)
            nodata = ~np.isfinite(image).all(0)
            if m == 'ms':
                nodata |= (image == 0).all(0)
            mask[nodata] = self.ignore_index
            image[:, nodata] = 0.0
            sample[f'image_{m}'] = torch.from_numpy(image)
        sample['mask'] = torch.from_numpy(mask)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
