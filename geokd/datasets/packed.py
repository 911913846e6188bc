"""A packed, memory-mapped copy of a dataset split: one array per modality, built once.

Reading thousands of 64x64 GeoTIFFs costs a file open and a decode per sample; a packed
split is read by slicing a memory-mapped ``.npy`` file instead.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Sample

from ..errors import DataError
from .utils import dataset_length

_DONE = 'packed.json'


def pack(
    dataset: Dataset[Sample],
    modalities: Sequence[str],
    directory: str,
    num_workers: int = 0,
) -> None:
    """Write every sample of ``dataset`` into ``directory`` (skipped if already there).

    The arrays are written under a temporary name of this process's own and the folder
    is renamed at the end, so an interrupted build never looks complete and two jobs
    sharing a cache (two benchmarks, or DDP ranks) never write into each other's files:
    the first to finish wins, the other's copy is discarded.

    Args:
        dataset: Samples with ``image_<m>`` of one shape per modality, and ``label``.
        modalities: Modalities to keep.
        directory: Destination folder.
        num_workers: Workers reading the source dataset.
    """
    if os.path.isfile(os.path.join(directory, _DONE)):
        return
    parent, name = os.path.split(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'{name}.partial-', dir=parent)
    try:
        _write(dataset, modalities, tmp, num_workers)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.isfile(os.path.join(directory, _DONE)):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    shutil.rmtree(directory, ignore_errors=True)
    try:
        os.rename(tmp, directory)
    except OSError:
        # Another job renamed its complete copy in between: keep that one.
        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.isfile(os.path.join(directory, _DONE)):
            raise


def _write(
    dataset: Dataset[Sample], modalities: Sequence[str], tmp: str, num_workers: int
) -> None:
    """Write the arrays of :func:`pack` into the temporary folder ``tmp``."""
    n = dataset_length(dataset)
    loader = DataLoader(dataset, batch_size=64, num_workers=num_workers)
    arrays: dict[str, np.memmap] = {}
    labels = np.empty(n, dtype=np.int64)
    start = 0
    for batch in loader:
        size = len(batch['label'])
        for m in modalities:
            x = batch[f'image_{m}'].numpy().astype(np.float32)
            if m not in arrays:
                arrays[m] = np.lib.format.open_memmap(
                    os.path.join(tmp, f'{m}.npy'), 'w+', np.float32, (n, *x.shape[1:])
                )
            arrays[m][start : start + size] = x
        labels[start : start + size] = batch['label'].numpy()
        start += size
    for array in arrays.values():
        array.flush()
    np.save(os.path.join(tmp, 'label.npy'), labels)
    with open(os.path.join(tmp, _DONE), 'w') as f:
        json.dump({'samples': n, 'modalities': list(modalities)}, f)


class PackedDataset(NonGeoDataset):
    """Samples of a split written by :func:`pack`, read from memory-mapped arrays.

    Args:
        directory: Folder written by :func:`pack`.

    Raises:
        ValueError: If the folder holds no complete packed split.
    """

    def __init__(self, directory: str) -> None:
        """Initialize a new PackedDataset instance."""
        meta = os.path.join(directory, _DONE)
        if not os.path.isfile(meta):
            msg = f'{directory} holds no complete packed split'
            raise DataError(msg)
        with open(meta) as f:
            self.modalities: list[str] = json.load(f)['modalities']
        self.directory = directory
        self.targets = np.load(os.path.join(directory, 'label.npy')).tolist()
        # Opened lazily, so each DataLoader worker maps the files itself.
        self._arrays: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        """Number of samples."""
        return len(self.targets)

    def __getitem__(self, index: int) -> Sample:
        """Return one sample.

        Args:
            index: Sample index.

        Returns:
            ``image_<modality>`` for each packed modality, and ``label``.
        """
        if self._arrays is None:
            self._arrays = {
                m: np.load(os.path.join(self.directory, f'{m}.npy'), mmap_mode='r')
                for m in self.modalities
            }
        sample: Sample = {
            f'image_{m}': torch.from_numpy(np.array(a[index]))
            for m, a in self._arrays.items()
        }
        sample['label'] = torch.tensor(self.targets[index])
        return sample
