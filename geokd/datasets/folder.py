"""Paired folders of co-registered images of any sensors (RGB, depth, thermal, ...)."""

import csv
import functools
import glob
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Literal

import rasterio
import torch
import torch.nn.functional as F
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning
from torch import Tensor
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Path, Sample

from ..errors import DataError
from .plot import PlotMixin
from .splits import DEFAULT_FRACTIONS, stratified_split
from .utils import PIL_EXTENSIONS, Invalid, check_valid, read_image, relative_stem

#: Extensions the adapter reads.
EXTENSIONS = ('.tif', '.tiff', '.png', '.jpg', '.jpeg')


class PairedFolder(PlotMixin, NonGeoDataset):
    """Classification samples seen by several sensors, one folder per sensor.

    Every modality has its own folder under ``root`` and the same relative file
    names in it (extensions may differ: ``color/0001.jpg`` pairs ``depth/0001.png``).
    GeoTIFF (any band count, declared nodata honoured), PNG (8 or 16 bit, values kept:
    depth in millimetres stays in millimetres) and JPEG are read.

    Labels come from either

    * class sub-folders (``manifest=None``)::

          root/<folder of modality>/<class>/<name>.<ext>

    * or a CSV manifest with a header ``file,label[,split]``: ``file`` is the path
      relative to each modality's folder (with or without extension), ``label`` a
      class name, ``split`` optionally 'train', 'val' or 'test'.

    Without official splits (no ``split`` column), a stratified ``fractions`` split
    (default 70/10/20) is drawn with ``split_seed``.

    Documented layouts:

    * SUN RGB-D (scene classification, RGB + depth)::

          root/rgb/<scene>/<id>.jpg            root/depth/<scene>/<id>.png (uint16 mm)
          folders={'rgb': 'rgb', 'depth': 'depth'}

    * TRISTAR (depth + thermal, optionally RGB; the reference uses depth + thermal)::

          root/depth/<id>.png  root/thermal/<id>.png  [root/rgb/<id>.png]
          root/manifest.csv    (file,label,split)
          folders={'depth': 'depth', 'thermal': 'thermal'}, manifest='manifest.csv'

    Args:
        root: Dataset folder.
        folders: Folder (relative to ``root``) of each modality, keyed by modality name.
        split: 'train', 'val' or 'test'.
        manifest: CSV file relative to ``root``; None reads classes from sub-folders.
        classes: Class names in label order; None sorts the names found.
        size: Resize every image to ``size x size`` (bilinear, antialiased) so images
            of different sizes batch together; None keeps the files' size.
        gsd: Ground sample distance of the files' pixels in metres, one number or one
            per modality; None when unknown (e.g. indoor RGB-D). It is recorded with
            exported models so that prediction reads scenes at the training scale;
            with ``size``, the recorded value is the resized patches' (see
            :attr:`gsd`).
        channels: Expected channel count per modality; a file with another count
            is a clear error rather than a failure to batch.
        fractions: Train/val/test fractions when the data has no split column.
        split_seed: Seed of that stratified split.
        drop_unpaired: Drop files missing in some modality instead of raising.
        invalid: 'error' or 'fill' for NaN, inf and nodata pixels.
        fill_value: Replacement of invalid pixels in 'fill' mode.
        transforms: Applied to each sample dict.

    Raises:
        FileNotFoundError: If ``root`` does not exist, saying what to put there.
        ValueError: If a folder or the manifest is missing or empty, a file has no
            partner (unless ``drop_unpaired``), or a label is not a known class.
    """

    #: The user's own files: not simulated.
    synthetic: ClassVar[bool] = False

    def __init__(
        self,
        root: Path,
        folders: Mapping[str, str],
        split: Literal['train', 'val', 'test'] = 'train',
        manifest: str | None = None,
        classes: Sequence[str] | None = None,
        size: int | None = None,
        gsd: float | Mapping[str, float] | None = None,
        channels: Mapping[str, int] | None = None,
        fractions: Sequence[float] = DEFAULT_FRACTIONS,
        split_seed: int = 0,
        drop_unpaired: bool = False,
        invalid: Invalid = 'error',
        fill_value: float = 0.0,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        """Initialize a new PairedFolder instance."""
        self.root = os.fspath(root)
        self.folders = dict(folders)
        if not os.path.isdir(self.root):
            layout = [f'{f}/' for f in self.folders.values()] + [manifest or '']
            msg = (
                f'dataset folder {self.root} does not exist: put the folder of each '
                f'sensor there ({" ".join(layout).strip()}) or point root at your data'
            )
            raise FileNotFoundError(msg)
        #: Files do not name their bands: 3-channel images plot as RGB, others grey.
        self.bands: dict[str, list[str]] = {}
        if size is not None and size < 1:
            msg = (
                f'data.init_args.size: must be a positive number of pixels, got {size}'
            )
            raise DataError(msg)
        self.size = size
        self.channels = dict(channels or {})
        self.invalid = invalid
        self.fill_value = fill_value
        self.transforms = transforms
        files = {m: self._scan(m) for m in self.folders}
        keys = sorted(set.intersection(*(set(f) for f in files.values())))
        lonely = sorted(set.union(*(set(f) for f in files.values())) - set(keys))
        if lonely and not drop_unpaired:
            shown = ', '.join(lonely[:5]) + (' ...' if len(lonely) > 5 else '')
            msg = (
                f'{len(lonely)} files under {self.root} are missing in some of the '
                f'folders {sorted(self.folders.values())}: {shown}; pass '
                'drop_unpaired=True to skip them'
            )
            raise DataError(msg)
        if manifest is None:
            names = {k: k.split('/')[0] for k in keys if '/' in k}
            given_split: dict[str, str] = {}
            keys = [k for k in keys if k in names]
        else:
            names, given_split = self._read_manifest(manifest, keys)
            keys = [k for k in keys if k in names]
        if not keys:
            msg = f'no labelled file pairs found under {self.root}'
            raise DataError(msg)
        self.classes = list(classes or sorted(set(names.values())))
        unknown = sorted({names[k] for k in keys} - set(self.classes))
        if unknown:
            msg = f'labels {unknown} are not in classes {self.classes}'
            raise DataError(msg)
        labels = [self.classes.index(names[k]) for k in keys]
        if given_split:
            splits = {
                s: [i for i, k in enumerate(keys) if given_split[k] == s]
                for s in ('train', 'val', 'test')
            }
        else:
            splits = stratified_split(labels, fractions, split_seed)
        _check_class_counts(
            self.root, self.classes, labels, splits, warn=split == 'train'
        )
        chosen = splits[split]
        #: The file whose channel count every file of its modality must have: the
        #: first labelled one, the same for every split.
        self.reference = {m: files[m][keys[0]] for m in self.folders}
        #: Pairing key (relative path without extension) of every sample.
        self.keys = [keys[i] for i in chosen]
        self.targets = [labels[i] for i in chosen]
        self.paths = {m: [files[m][k] for k in self.keys] for m in self.folders}
        #: Ground sample distance of the samples' pixels per modality, metres (None:
        #: unknown): ``gsd`` scaled by the ``size`` resize of the split's first file.
        self.gsd = self._patch_gsd(gsd)

    def _patch_gsd(
        self, gsd: float | Mapping[str, float] | None
    ) -> dict[str, float | None] | None:
        """The ground sample distance of the patches after the ``size`` resize.

        A ``h x w`` file resized to ``size x size`` has pixels ``w / size`` times wider
        and ``h / size`` times taller; the geometric mean of the two is recorded.
        Files are assumed to share one size per modality (the first one is read).
        """
        if gsd is None or not self.keys:
            return None
        per = gsd if isinstance(gsd, Mapping) else dict.fromkeys(self.folders, gsd)
        out: dict[str, float | None] = {}
        for m in self.folders:
            value = per.get(m)
            if value is not None and self.size is not None:
                height, width = _image_shape(self.paths[m][0])
                value *= math.sqrt(height * width) / self.size
            out[m] = None if value is None else float(value)
        return out

    def _scan(self, modality: str) -> dict[str, str]:
        folder = os.path.join(self.root, self.folders[modality])
        if not os.path.isdir(folder):
            msg = (
                f'{folder}: the folder of modality {modality!r} does not exist '
                '(check root and folders)'
            )
            raise DataError(msg)
        paths = [
            p
            for p in glob.glob(os.path.join(folder, '**', '*'), recursive=True)
            if p.lower().endswith(EXTENSIONS)
        ]
        found: dict[str, str] = {}
        for path in sorted(paths):
            key = relative_stem(path, folder)
            if key in found:
                msg = f'{found[key]} and {path} have the same name; keep one'
                raise DataError(msg)
            found[key] = path
        return found

    def _read_manifest(
        self, manifest: str, keys: Sequence[str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        path = os.path.join(self.root, manifest)
        if not os.path.isfile(path):
            msg = f'manifest {path} does not exist'
            raise DataError(msg)
        with open(path, newline='') as f:
            rows = list(csv.DictReader(f))
        if not rows or not {'file', 'label'} <= set(rows[0]):
            msg = f'{path}: needs a header with columns file,label[,split]'
            raise DataError(msg)
        names, splits = {}, {}
        for row in rows:
            key = os.path.splitext(row['file'])[0].replace(os.sep, '/')
            names[key] = row['label']
            if row.get('split'):
                if row['split'] not in ('train', 'val', 'test'):
                    msg = f'{path}: split {row["split"]!r} of {row["file"]} is not train, val or test'
                    raise DataError(msg)
                splits[key] = row['split']
        missing = sorted(set(names) - set(keys))
        if missing:
            msg = (
                f'{path}: {len(missing)} files not found in every folder: {missing[:5]}'
            )
            raise DataError(msg)
        if splits and len(splits) != len(names):
            msg = f'{path}: the split column is empty for some files'
            raise DataError(msg)
        return names, splits

    def __len__(self) -> int:
        """Number of samples in the split."""
        return len(self.keys)

    def _load(self, modality: str, path: str) -> Tensor:
        image, nodata = read_image(path)
        expected = self.channels.get(modality)
        if expected is not None and image.shape[0] != expected:
            msg = f'{path}: {image.shape[0]} channels, expected {expected} channels'
            raise DataError(msg)
        if expected is None:
            # Images of one sensor batch together only with one channel count (an
            # RGB image saved as greyscale would fail deep inside torch).
            reference = self.reference[modality]
            count = _channel_count(reference)
            if image.shape[0] != count:
                msg = (
                    f'{path}: {image.shape[0]} channels, but {reference} (the first '
                    f'{modality!r} image) has {count}: every {modality!r} image needs '
                    f'the same number (convert it, or set channels)'
                )
                raise DataError(msg)
        image = check_valid(image, path, self.invalid, self.fill_value, nodata)
        if self.size is not None and image.shape[-2:] != (self.size, self.size):
            image = F.interpolate(
                image[None],
                size=(self.size, self.size),
                mode='bilinear',
                antialias=True,
                align_corners=False,
            )[0]
        return image

    def __getitem__(self, index: int) -> Sample:
        """Return one sample.

        Args:
            index: Index within the split.

        Returns:
            ``image_<modality>`` for every modality, and ``label``.
        """
        sample: Sample = {
            f'image_{m}': self._load(m, p[index]) for m, p in self.paths.items()
        }
        sample['label'] = torch.tensor(self.targets[index])
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample


def _image_shape(path: str) -> tuple[int, int]:
    """Height and width of an image file, from its header."""
    if path.lower().endswith(PIL_EXTENSIONS):
        with Image.open(path) as img:
            return img.height, img.width
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return src.height, src.width


@functools.cache
def _channel_count(path: str) -> int:
    """Number of channels of an image file, as :func:`read_image` returns them."""
    return int(read_image(path)[0].shape[0])


def _check_class_counts(
    root: str,
    classes: Sequence[str],
    labels: Sequence[int],
    splits: Mapping[str, Sequence[int]],
    warn: bool,
) -> None:
    """Refuse a listed class without samples; warn of one missing from a split.

    Such a class would be trained, tested and exported without a word, its
    metrics computed from nothing.

    Args:
        root: The dataset folder, for the message.
        classes: Class names in label order.
        labels: Label of every sample.
        splits: Sample indices of each split.
        warn: Warn of classes missing from a split (once: for the training split).

    Raises:
        DataError: If a class has no sample in any split.
    """
    counts = {
        name: {s: sum(labels[i] == c for i in idx) for s, idx in splits.items()}
        for c, name in enumerate(classes)
    }

    def tally(name: str) -> str:
        return ', '.join(f'{s} {n}' for s, n in counts[name].items())

    empty = [n for n in classes if not any(counts[n].values())]
    if empty:
        msg = (
            f'{root}: class {empty[0]!r} has no samples ({tally(empty[0])}): remove '
            'it from classes, or add its images'
        )
        raise DataError(msg)
    if warn:
        for name in classes:
            missing = [s for s, n in counts[name].items() if n == 0]
            if missing:
                warnings.warn(
                    f'{root}: class {name!r} has {tally(name)} samples: it cannot be '
                    f'{" or ".join(_USES[s] for s in missing)} (add samples to '
                    f'{", ".join(missing)})',
                    UserWarning,
                    stacklevel=3,
                )


#: What a split lacking a class prevents.
_USES = {'train': 'learned', 'val': 'validated', 'test': 'tested'}
