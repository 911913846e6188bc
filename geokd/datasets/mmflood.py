"""MMFlood: Sentinel-1, DEM and hydrography with per-pixel flood masks, as patches."""

import math
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from pyproj import CRS
from torchgeo.datasets import MMFlood as TorchGeoMMFlood
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.errors import DatasetNotFoundError
from torchgeo.datasets.utils import Path, Sample

#: Bands of each modality, in the order of torchgeo's ``image`` channels.
BANDS = {'sar': ('VV', 'VH'), 'dem': ('DEM',), 'hydro': ('hydro',)}

#: Colour map of each modality's panel.
CMAPS = {'sar': 'gray', 'dem': 'terrain', 'hydro': 'Blues'}

#: Metres per degree of longitude at the equator (WGS 84).
METRES_PER_DEGREE = 111_319.49

#: A patch: ``(xmin, xmax, ymin, ymax)`` in the dataset's CRS.
Window = tuple[float, float, float, float]


def patch_offsets(length: int, size: int) -> list[int]:
    """Starts of the fewest ``size``-pixel patches that cover ``length`` pixels.

    Patches stay inside: the last one ends at the edge, overlapping its neighbour
    rather than reaching past it (outside a tile there is no image and no label).

    Args:
        length: Pixels along one side of a tile.
        size: Pixels along one side of a patch.

    Returns:
        The start of each patch; empty if the tile is smaller than one patch.
    """
    if length < size:
        return []
    n = math.ceil(length / size)
    if n == 1:
        return [0]
    return [round(i * (length - size) / (n - 1)) for i in range(n)]


def tile_windows(
    bounds: tuple[float, float, float, float], res: tuple[float, float], size: int
) -> list[Window]:
    """Patches of ``size`` pixels covering one tile, row by row from its top-left.

    Args:
        bounds: ``(xmin, ymin, xmax, ymax)`` of the tile.
        res: ``(x, y)`` resolution of the dataset, CRS units per pixel.
        size: Side of a patch in pixels.

    Returns:
        One window per patch.
    """
    xmin, ymin, xmax, ymax = bounds
    width = round((xmax - xmin) / res[0])
    height = round((ymax - ymin) / res[1])
    return [
        (
            xmin + col * res[0],
            xmin + (col + size) * res[0],
            ymax - (row + size) * res[1],
            ymax - row * res[1],
        )
        for row in patch_offsets(height, size)
        for col in patch_offsets(width, size)
    ]


def metres_per_pixel(crs: CRS, res: tuple[float, float]) -> float:
    """Ground sample distance of a CRS's pixels, at the equator for degrees.

    Args:
        crs: The dataset's CRS.
        res: Its ``(x, y)`` resolution.

    Returns:
        Metres per pixel along x.
    """
    if crs.is_geographic:
        return res[0] * METRES_PER_DEGREE
    return res[0] * crs.axis_info[0].unit_conversion_factor


class MMFlood(NonGeoDataset):
    """MMFlood flood tiles cut into paired segmentation patches.

    `MMFlood <https://huggingface.co/datasets/links-ads/mmflood>`__ (Montello et al.,
    IEEE Access 2022) holds 1,748 Sentinel-1 tiles of 95 Copernicus EMS flood
    activations, with a DEM, a hydrography map (for 1,012 tiles) and the EMS flood
    delineation of each. Files, splits, download (the 11 parts of
    ``activations.tar.gz`` and ``activations.json``) and nodata come from
    :class:`torchgeo.datasets.MMFlood`: its published train/val/test split of the
    activations, and pixels without Sentinel-1 data set to 0 in every image and
    ignored in the mask. Each tile of the split is cut into ``patch_size`` patches
    that cover it (the last one of a row or column overlapping its neighbour);
    tiles smaller than a patch are left out. Samples:

    * ``image_sar``: VV and VH backscatter, linear power (not dB), float32.
    * ``image_dem``: elevation in metres.
    * ``image_hydro``: the hydrography map. Requesting it keeps only the tiles that
      have one, as torchgeo does.
    * ``mask``: 1 flooded, 0 not, -1 ignored (no Sentinel-1 data, or MMFlood's 255).

    Args:
        root: Folder holding ``activations/`` and ``activations.json``.
        split: 'train', 'val' or 'test'.
        modalities: Sensors to load, among 'sar', 'dem' and 'hydro'.
        patch_size: Side of the patches in pixels.
        transforms: Applied to each sample dict.
        download: Download and extract the release if the data is absent.
        checksum: Check the MD5 of the downloaded files.
        crs: CRS to warp every tile to (default: the first file's).
        res: Resolution to warp to, in CRS units (default: the first file's).

    Raises:
        FileNotFoundError: If the data is absent and not downloaded, or the
            download fails.
        ValueError: On an unknown split or modality, a patch size below 1, or
            one larger than every tile of the split.
    """

    classes = ('not flooded', 'flooded')
    all_band_names: ClassVar[dict[str, tuple[str, ...]]] = BANDS
    #: Mask value of ignored pixels.
    ignore_index: ClassVar[int] = -1
    #: Real Sentinel-1 acquisitions, DEM and Copernicus EMS delineations.
    synthetic: ClassVar[bool] = False

    def __init__(
        self,
        root: Path = 'data/mmflood',
        split: Literal['train', 'val', 'test'] = 'train',
        modalities: Sequence[str] = ('sar', 'dem'),
        patch_size: int = 512,
        transforms: Callable[[Sample], Sample] | None = None,
        download: bool = False,
        checksum: bool = True,
        crs: CRS | None = None,
        res: float | tuple[float, float] | None = None,
    ) -> None:
        """Initialize a new MMFlood instance."""
        if split not in ('train', 'val', 'test'):
            msg = f"split must be one of ['test', 'train', 'val'], got {split!r}"
            raise ValueError(msg)
        unknown = [m for m in modalities if m not in BANDS]
        if unknown or not modalities:
            msg = f'modalities must be among {sorted(BANDS)}, got {list(modalities)}'
            raise ValueError(msg)
        if patch_size < 1:
            msg = f'patch_size must be at least 1, got {patch_size}'
            raise ValueError(msg)
        self.root = os.fspath(root)
        self.split = split
        self.modalities = list(modalities)
        self.patch_size = patch_size
        self.transforms = transforms
        #: The tiles of the split, read through torchgeo.
        self.source = self._source(download, checksum, crs, res)
        res_xy = self.source.res
        #: Metres per pixel of the patches.
        self.gsd = metres_per_pixel(self.source.crs, res_xy)
        #: One window per patch, tile by tile.
        self.windows = [
            window
            for geometry in self.source.index.geometry
            for window in tile_windows(geometry.bounds, res_xy, patch_size)
        ]
        if not self.windows:
            msg = (
                f'{self.root}: no MMFlood tile of split {split!r} is at least '
                f'{patch_size}x{patch_size} pixels (lower patch_size)'
            )
            raise ValueError(msg)

    def _source(
        self,
        download: bool,
        checksum: bool,
        crs: CRS | None,
        res: float | tuple[float, float] | None,
    ) -> TorchGeoMMFlood:
        """Torchgeo's MMFlood of the split, downloaded first if asked.

        Raises:
            FileNotFoundError: If the data is absent and not downloaded, the
                download fails, or the split has no tile.
        """
        where = (
            f'MMFlood not found under {self.root}: expected activations/ and '
            'activations.json there, as https://huggingface.co/datasets/links-ads/'
            'mmflood publishes them (after joining and extracting its '
            'activations.tar.*.gz.part)'
        )
        try:
            return TorchGeoMMFlood(
                self.root,
                crs=crs,
                res=res,
                split=self.split,
                include_dem='dem' in self.modalities,
                include_hydro='hydro' in self.modalities,
                download=download,
                checksum=checksum,
            )
        except DatasetNotFoundError as err:
            present = os.path.isdir(
                os.path.join(self.root, 'activations')
            ) and os.path.isfile(os.path.join(self.root, 'activations.json'))
            if present:  # torchgeo found no tile of the split
                msg = (
                    f'{self.root}: MMFlood has no tile of split {self.split!r} ({err})'
                )
                raise FileNotFoundError(msg) from err
            msg = f'{where}, or pass download=True to fetch {TorchGeoMMFlood.url}'
            raise FileNotFoundError(msg) from err
        except Exception as err:  # urllib, socket, checksum and tar errors alike
            if not download:
                raise
            msg = (
                f'{where}; downloading or extracting {TorchGeoMMFlood.url} failed: '
                f'{err} (a retry fetches only the parts still missing; delete a '
                'part that is corrupt)'
            )
            raise FileNotFoundError(msg) from err

    def __len__(self) -> int:
        """Number of patches in the split."""
        return len(self.windows)

    def __getitem__(self, index: int) -> Sample:
        """Return one patch.

        Args:
            index: Index of the patch.

        Returns:
            ``image_<modality>`` (float32) per modality and ``mask`` (int64).
        """
        xmin, xmax, ymin, ymax = self.windows[index]
        data = self.source[xmin:xmax, ymin:ymax]
        image = data['image']
        # torchgeo stacks Sentinel-1 first, then the DEM and hydrography asked for.
        loaded = ['sar'] + [m for m in ('dem', 'hydro') if m in self.modalities]
        sample: dict[str, Any] = {}
        start = 0
        for m in loaded:
            channels = len(BANDS[m])
            if m in self.modalities:
                sample[f'image_{m}'] = image[start : start + channels].float()
            start += channels
        mask = data['mask'].long()
        mask[mask == TorchGeoMMFlood._ignore_index] = self.ignore_index
        sample['mask'] = mask
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self,
        sample: Sample,
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Plot VV in dB, the DEM, the hydrography, the mask and any prediction.

        Args:
            sample: A sample returned by ``__getitem__``, optionally with
                ``prediction`` (a ``(p, p)`` class map).
            show_titles: Flag indicating whether to show titles above each panel.
            suptitle: Optional string to use as a suptitle.

        Returns:
            A matplotlib Figure with the rendered sample; ignored pixels of the mask
            are grey.
        """
        shown = [m for m in BANDS if f'image_{m}' in sample]
        maps = [k for k in ('mask', 'prediction') if k in sample]
        n = len(shown) + len(maps)
        fig, axes = plt.subplots(1, n, figsize=(3 * n, 3), squeeze=False)
        for ax, m in zip(axes[0], shown, strict=False):
            band = torch.as_tensor(sample[f'image_{m}'])[0].float()
            if m == 'sar':  # linear power: dB shows land and water apart
                band = 10 * torch.log10(band.clamp_min(1e-5))
            ax.imshow(band.numpy(), cmap=CMAPS[m])
            if show_titles:
                ax.set_title('VV (dB)' if m == 'sar' else m)
        cmap = plt.get_cmap('Blues').copy()
        cmap.set_bad('lightgrey')
        for ax, key in zip(axes[0][len(shown) :], maps, strict=True):
            target = torch.as_tensor(sample[key]).float()
            target[target == self.ignore_index] = float('nan')
            ax.imshow(target.numpy(), vmin=0, vmax=1, cmap=cmap)
            if show_titles:
                ax.set_title(key)
        for ax in axes[0]:
            ax.axis('off')
        if suptitle is not None:
            fig.suptitle(suptitle)
        return fig
