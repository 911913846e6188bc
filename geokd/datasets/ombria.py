"""OMBRIA: co-registered Sentinel-1 / Sentinel-2 flood pairs, as patch classification."""

import glob
import os
import re
import shutil
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Path, Sample, download_url, extract_archive

from .plot import plot_sample
from .splits import block_split, stratified_split
from .utils import read_image

#: Patch classes by flooded fraction: below 5 %, 5 to 50 %, from 50 %.
CLASSES = ('dry', 'partly flooded', 'flooded')

#: Folder prefix of each modality in the published layout.
SENSORS = {'sar': 'S1', 'ms': 'S2'}

#: Channels of the published PNGs, per modality (see :class:`OMBRIA`).
BANDS = {'sar': ('VV',), 'ms': ('png_r', 'png_g', 'png_b')}

_FILE = re.compile(r'^S[12]_(after|before|mask)_(\d+)\.png$')


def band_names(modality: str, before: bool = False) -> list[str]:
    """Channel names of one modality's samples.

    Args:
        modality: 'sar' or 'ms'.
        before: Whether the BEFORE image follows the AFTER image's channels.

    Returns:
        AFTER channel names, then ``<name>_before`` ones if ``before``.
    """
    names = list(BANDS[modality])
    return names + [f'{b}_before' for b in names] if before else names


def patch_classes(
    mask: np.ndarray, patch_size: int, thresholds: Sequence[float] = (0.05, 0.5)
) -> np.ndarray:
    """Class of every ``patch_size`` sub-patch of a flood mask, row by row.

    Args:
        mask: ``(H, W)`` boolean flood mask; ``H`` and ``W`` multiples of
            ``patch_size``.
        patch_size: Side of the sub-patches in pixels.
        thresholds: Flooded fractions where 'partly flooded' and 'flooded' start.

    Returns:
        ``(H // patch_size, W // patch_size)`` class indices into :data:`CLASSES`.
    """
    rows, cols = mask.shape[0] // patch_size, mask.shape[1] // patch_size
    fraction = mask.reshape(rows, patch_size, cols, patch_size).mean((1, 3))
    return fraction_classes(fraction, thresholds)


def fraction_classes(
    fraction: np.ndarray, thresholds: Sequence[float] = (0.05, 0.5)
) -> np.ndarray:
    """Class of areas by their flooded fraction: the rule of :func:`patch_classes`.

    Args:
        fraction: Flooded fraction of each area, in 0..1.
        thresholds: Flooded fractions where 'partly flooded' and 'flooded' start.

    Returns:
        Class indices into :data:`CLASSES` (for the default thresholds), of
        ``fraction``'s shape.
    """
    classes: np.ndarray = np.digitize(fraction, thresholds)
    return classes


class OMBRIA(NonGeoDataset):
    """OMBRIA flood pairs (Sentinel-1 + Sentinel-2), cut into classified sub-patches.

    `OMBRIA <https://github.com/geodrak/OMBRIA>`__ (Drakonakis et al., "OmbriaNet",
    IEEE JSTARS 2022) holds 694 co-registered 256x256 tiles at 10 m of 23 flood events
    (624 train, 70 test), each with a Sentinel-1 and a Sentinel-2 image after the flood,
    the same before it, and a binary flood mask from Copernicus EMS Rapid Mapping
    (identical for both sensors). Layout, as the repository publishes it::

        root/OmbriaS1/{train,test}/{AFTER,BEFORE,MASK}/S1_{after,before,mask}_NNNN.png
        root/OmbriaS2/{train,test}/{AFTER,BEFORE,MASK}/S2_{after,before,mask}_NNNN.png

    Every tile is cut into ``patch_size`` sub-patches of the AFTER images, labelled by
    the flooded fraction of their mask: 'dry' (< 5 %), 'partly flooded' (5 to 50 %),
    'flooded' (>= 50 %). The BEFORE image of the same sensor optionally follows as
    extra channels. Train and test are the published split; 'val' holds out whole
    tiles of the training split (so no tile has patches on both sides), a stratified
    ``val_fraction`` by tile class drawn with ``split_seed``, and 'train' is the rest.

    Leave-events-out: OMBRIA does not record which of its 23 events a tile comes
    from, but its numbering follows them (consecutive tiles look alike: the median
    distance between the image statistics of consecutive tiles is about half that of
    random pairs). With ``leave_out_block`` = k, the published training tiles, sorted
    by number, are cut into ``num_blocks`` contiguous ranges; range k becomes the
    'test' split (the published test tiles are then unused) and train / val are
    drawn from the other ranges as above. A range holds about two to three events;
    an event cut by a range boundary has tiles on both sides. With ``val_block`` = j
    (or a list of ranges), 'val' is range j instead of a stratified share, so that
    checkpoints are chosen on events the model did not train on.

    The files are not physical values, which matters when a model meets real scenes:

    * ``sar`` (1 channel, VV): 8-bit grey, backscatter in decibels stretched linearly
      per tile from its minimum to its maximum (every tile spans exactly 0..255, and
      the value histograms have the shape of decibels, not of linear power). The
      stretch of each tile is unknown, so decibels cannot be recovered.
    * ``ms`` (3 channels ``png_r``, ``png_g``, ``png_b``): an 8-bit colour composite
      with a fixed gain. Its colours are those of a SWIR / NIR / visible false-colour
      composite (vegetation green, bare soil pink, water dark), not true colour; the
      publication does not name the bands, so the channels keep neutral names and are
      never matched to a Sentinel-2 product's bands by name.

    Normalise with ``norm_method='per_patch'``
    (:class:`~geokd.transforms.SensorNormalization`), which removes any gain and offset
    per patch, so that a model trained here reads Sentinel-1 decibels the same way.
    Samples hold the raw 0..255 values: ``image_sar`` ``(1 or 2, p, p)``,
    ``image_ms`` ``(3 or 6, p, p)``, ``label``.

    Args:
        root: Folder holding ``OmbriaS1/`` and ``OmbriaS2/``.
        split: 'train', 'val' or 'test'.
        modalities: Sensors to load: 'sar' (Sentinel-1) and/or 'ms' (Sentinel-2).
        before: Append each sensor's BEFORE image as extra channels.
        patch_size: Side of the sub-patches; must divide the tiles' size.
        thresholds: Flooded fractions where 'partly flooded' and 'flooded' start.
        val_fraction: Share of the training tiles of each class held out for 'val'.
        split_seed: Seed of that hold-out.
        leave_out_block: Make 'test' this contiguous range of training tiles (see
            above); None keeps the published test split.
        num_blocks: Number of contiguous ranges of ``leave_out_block`` and
            ``val_block``.
        val_block: Make 'val' this contiguous range of training tiles, or these
            ranges (events unseen in training; ``val_fraction`` and ``split_seed``
            then do not apply); None holds out a stratified ``val_fraction`` of
            tiles.
        transforms: Applied to each sample dict.
        download: Download the repository archive if the data is absent.

    Raises:
        FileNotFoundError: If the data is absent and not downloaded.
        ValueError: On an unknown modality, inconsistent files or a ``patch_size``
            that does not divide the tiles.
    """

    classes: tuple[str, ...] = CLASSES
    all_band_names: ClassVar[dict[str, tuple[str, ...]]] = BANDS
    #: Ground sample distance of the tiles, metres.
    gsd: ClassVar[float] = 10.0
    #: Real Sentinel-1 and Sentinel-2 data.
    synthetic: ClassVar[bool] = False
    #: The published repository, at the commit this reader was written against.
    url = 'https://github.com/geodrak/OMBRIA/archive/38a4903.zip'
    filename = 'OMBRIA-38a4903.zip'

    def __init__(
        self,
        root: Path = 'data/ombria',
        split: Literal['train', 'val', 'test'] = 'train',
        modalities: Sequence[str] = ('ms', 'sar'),
        before: bool = False,
        patch_size: int = 64,
        thresholds: Sequence[float] = (0.05, 0.5),
        val_fraction: float = 0.1,
        split_seed: int = 0,
        leave_out_block: int | None = None,
        num_blocks: int = 8,
        val_block: int | Sequence[int] | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        download: bool = False,
    ) -> None:
        """Initialize a new OMBRIA instance."""
        unknown = [m for m in modalities if m not in SENSORS]
        if unknown or not modalities:
            msg = f'modalities must be among {sorted(SENSORS)}, got {list(modalities)}'
            raise ValueError(msg)
        self.root = os.fspath(root)
        self.split = split
        self.modalities = list(modalities)
        self.before = before
        self.patch_size = patch_size
        self.thresholds = tuple(thresholds)
        self.transforms = transforms
        self.download = download
        #: Band names per modality, in the samples' order.
        self.bands = {m: band_names(m, before) for m in self.modalities}
        self._verify()
        published_test = split == 'test' and leave_out_block is None
        self.folder = 'test' if published_test else 'train'
        tiles = block_split(self._scan(), split, leave_out_block, val_block, num_blocks)
        masks = [self._mask(t) for t in tiles]
        if split != 'test' and val_block is None:
            tile_classes = [int(np.digitize(m.mean(), self.thresholds)) for m in masks]
            parts = stratified_split(
                tile_classes, (1 - val_fraction, val_fraction, 0.0), split_seed
            )
            if not parts[split]:
                msg = (
                    f'{self.root}: val_fraction={val_fraction} of {len(tiles)} training '
                    f'tiles leaves the {split} split empty'
                )
                raise ValueError(msg)
            tiles = [tiles[i] for i in parts[split]]
            masks = [masks[i] for i in parts[split]]
        #: Tile number, sub-patch row and column of every sample.
        self.items: list[tuple[str, int, int]] = []
        #: Class of every sample.
        self.targets: list[int] = []
        for tile, mask in zip(tiles, masks, strict=True):
            grid = patch_classes(mask, patch_size, self.thresholds)
            for r, c in np.ndindex(grid.shape):
                self.items.append((tile, r, c))
                self.targets.append(int(grid[r, c]))

    def _path(self, modality: str, kind: str, tile: str) -> str:
        """File of one tile: ``kind`` is 'after', 'before' or 'mask'."""
        sensor = SENSORS[modality]
        return os.path.join(
            self.root,
            f'Ombria{sensor}',
            self.folder,
            kind.upper(),
            f'{sensor}_{kind}_{tile}.png',
        )

    def _verify(self) -> None:
        """Find the data, extract a downloaded archive, or download it.

        Raises:
            FileNotFoundError: If the data is absent and cannot be downloaded.
        """
        folders = sorted(f'Ombria{SENSORS[m]}' for m in self.modalities)
        if all(os.path.isdir(os.path.join(self.root, f)) for f in folders):
            return
        archive = os.path.join(self.root, self.filename)
        where = (
            f'OMBRIA not found under {self.root}: expected {" and ".join(folders)} '
            f'there, as https://github.com/geodrak/OMBRIA publishes them (git clone '
            'it, or copy its OmbriaS1 and OmbriaS2 folders there)'
        )
        if not os.path.isfile(archive):
            if not self.download:
                msg = f'{where}, or pass download=True to fetch {self.url}'
                raise FileNotFoundError(msg)
            try:
                download_url(self.url, self.root, self.filename)
            except Exception as err:  # urllib, socket and HTTP errors alike
                if os.path.isfile(archive):  # never leave a partial download behind
                    os.remove(archive)
                msg = f'{where}; downloading {self.url} failed: {err}'
                raise FileNotFoundError(msg) from err
        self._extract(archive, where)

    def _extract(self, archive: str, where: str) -> None:
        """Unpack the repository archive and move its missing data folders to ``root``."""
        staging = os.path.join(self.root, 'extracted')
        try:
            extract_archive(archive, staging)
        except Exception as err:  # zipfile and OS errors alike
            msg = f'{where}; {archive} cannot be extracted ({err}): delete it and retry'
            raise FileNotFoundError(msg) from err
        for sensor in sorted(SENSORS.values()):
            folder = f'Ombria{sensor}'
            if os.path.isdir(os.path.join(self.root, folder)):
                continue
            found = glob.glob(os.path.join(staging, '*', folder))
            if not found:
                msg = f'{where}; {archive} has no {folder} folder'
                raise FileNotFoundError(msg)
            shutil.move(found[0], os.path.join(self.root, folder))
        shutil.rmtree(staging)

    def _scan(self) -> list[str]:
        """Tile numbers of the split, checked to have every file needed.

        Raises:
            ValueError: If the split has no tile, or a tile misses a file.
        """
        kinds = ['after', 'mask'] + (['before'] if self.before else [])
        found: dict[str, set[str]] = {}
        for m in self.modalities:
            for kind in kinds:
                folder = os.path.dirname(self._path(m, kind, '0'))
                names = os.listdir(folder) if os.path.isdir(folder) else []
                matches = (_FILE.match(n) for n in names)
                found[folder] = {x.group(2) for x in matches if x and x[1] == kind}
        tiles = sorted(set.union(*found.values()))
        if not tiles:
            msg = f'{self.root}: no OMBRIA tiles in the {self.folder} split'
            raise ValueError(msg)
        for folder, have in found.items():
            if missing := [t for t in tiles if t not in have]:
                msg = (
                    f'{folder}: {len(missing)} of {len(tiles)} tiles missing '
                    f'({", ".join(missing[:5])}{" ..." if len(missing) > 5 else ""})'
                )
                raise ValueError(msg)
        return tiles

    def _mask(self, tile: str) -> np.ndarray:
        """Boolean flood mask of a tile (the first modality's; both are identical).

        Raises:
            ValueError: If its size is not a multiple of ``patch_size``.
        """
        path = self._path(self.modalities[0], 'mask', tile)
        mask = read_image(path)[0][0].numpy() > 0
        if mask.shape[0] % self.patch_size or mask.shape[1] % self.patch_size:
            msg = (
                f'{path}: {mask.shape[0]}x{mask.shape[1]} pixels is not a multiple of '
                f'patch_size={self.patch_size}'
            )
            raise ValueError(msg)
        return mask

    def __len__(self) -> int:
        """Number of sub-patches in the split."""
        return len(self.items)

    def _image(self, modality: str, tile: str, rows: slice, cols: slice) -> Tensor:
        """The AFTER (and BEFORE) channels of one sub-patch.

        Raises:
            ValueError: If a file has not the modality's channel count.
        """
        parts = []
        for kind in ('after', 'before') if self.before else ('after',):
            path = self._path(modality, kind, tile)
            image, _ = read_image(path)
            if image.shape[0] != len(BANDS[modality]):
                msg = f'{path}: {image.shape[0]} channels, expected {len(BANDS[modality])}'
                raise ValueError(msg)
            parts.append(image[:, rows, cols])
        return torch.cat(parts)

    def __getitem__(self, index: int) -> Sample:
        """Return one sub-patch.

        Args:
            index: Index of the sub-patch.

        Returns:
            ``image_<modality>`` (raw 0..255 values) per modality, and ``label``.
        """
        tile, r, c = self.items[index]
        p = self.patch_size
        rows, cols = slice(r * p, (r + 1) * p), slice(c * p, (c + 1) * p)
        sample: Sample = {
            f'image_{m}': self._image(m, tile, rows, cols) for m in self.modalities
        }
        sample['label'] = torch.tensor(self.targets[index])
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot a sample: each sensor's AFTER image, its label and any prediction.

        Sentinel-2 shows as the published colour composite.

        Args:
            sample: A sample returned by ``__getitem__``, optionally with
                ``prediction`` or ``prediction_<modality>``.
            show_titles: Flag indicating whether to show titles above each panel.
            suptitle: Optional string to use as a suptitle.

        Returns:
            A matplotlib Figure with the rendered sample.
        """
        shown = dict(sample)
        names = {}
        for m in self.modalities:
            after = len(BANDS[m])
            shown[f'image_{m}'] = sample[f'image_{m}'][:after]
            if m != 'ms':  # the composite's channels display as they are
                names[m] = self.bands[m][:after]
        return plot_sample(shown, self.classes, names, show_titles, suptitle)
