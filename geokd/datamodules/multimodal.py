"""Base DataModule for multi-sensor samples (``image_<modality>`` + ``label``)."""

import functools
import hashlib
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from lightning.pytorch.utilities import CombinedLoader
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Sample

from ..datasets.packed import PackedDataset, pack
from ..datasets.utils import dataset_length
from ..errors import DataError, UsageError
from ..signals import ignore_termination
from ..transforms import (
    Augmentation,
    NormalizeSensors,
    SensorNormalization,
    build_augmentation,
)
from ..transforms.normalization import Method
from .collate import collate_samples
from .distributed import evaluation_sampler, training_sampler
from .provenance import training_provenance


def refuse_packed_masks(kwargs: Mapping[str, Any]) -> None:
    """Refuse ``cache_dir`` for a segmentation source.

    Args:
        kwargs: A DataModule's keyword arguments.

    Raises:
        UsageError: If ``cache_dir`` is set: packed splits hold labels, not masks.
    """
    if kwargs.get('cache_dir') is not None:
        msg = 'data.init_args.cache_dir: packed splits hold no masks; leave it unset'
        raise UsageError(msg)


class ModalityView(Dataset[Sample]):
    """One modality of a multi-sensor dataset, its target as ``label_<modality>``.

    A segmentation dataset's ``mask`` becomes ``mask_<modality>`` the same way.

    Args:
        dataset: Samples with ``image_<modality>`` and ``label`` or ``mask``.
        modality: Modality to keep.
    """

    def __init__(self, dataset: Dataset[Sample], modality: str) -> None:
        """Initialize a new ModalityView instance."""
        self.dataset = dataset
        self.modality = modality

    def __len__(self) -> int:
        """Number of samples."""
        return dataset_length(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        """Return the modality's image and label of one sample.

        Args:
            index: Sample index.

        Returns:
            ``image_<modality>`` and ``label_<modality>`` or ``mask_<modality>``.
        """
        sample = self.dataset[index]
        m = self.modality
        view = {f'image_{m}': sample[f'image_{m}']}
        view.update({f'{k}_{m}': sample[k] for k in ('label', 'mask') if k in sample})
        return view


class MultiModalDataModule(NonGeoDataModule):
    """Normalises each sensor on the device and augments co-registered samples jointly.

    Preprocessing follows torchgeo's DataModules: after a batch reaches its device,
    ``on_after_batch_transfer`` applies ``train_aug``, ``val_aug``, ``test_aug`` or
    ``predict_aug`` for the running stage, or ``aug`` where that one is None. ``aug``
    is :attr:`normalizer` (each sensor's :class:`~geokd.transforms.SensorNormalization`);
    ``train_aug`` is the normalisation followed by ``augmentation``. Setting a hook
    replaces its whole pipeline, normalisation included.

    The statistics are part of the DataModule's state, saved in every Lightning
    checkpoint, so prediction applies exactly the same preprocessing. They come from
    ``normalization`` (for example a ``geokd stats`` snippet passed as a second
    ``--config``), from a checkpoint, or else are estimated from the training split
    when first needed (the first batch): Lightning restores a checkpoint's statistics
    after :meth:`setup`, so testing from a checkpoint never reads the training split.

    Paired mode (default) batches co-registered samples (one ``label``) and augments
    every modality of a sample with the same random parameters. Unpaired mode, as
    the DisCoM-KD reference trains, shuffles each modality's training set on its own:
    a training batch holds ``batch_size`` samples per modality with ``image_<m>`` and
    ``label_<m>`` keys, augmented independently; validation and test stay paired.

    Args:
        dataset_class: Dataset whose ``__init__`` takes ``split``.
        modalities: Modality names, matching the dataset's ``image_<modality>`` keys.
        normalization: Statistics per modality, as written by
            :meth:`SensorNormalization.to_dict`; None estimates them from the training
            split with ``norm_method`` and ``to_db`` when first needed.
        norm_method: 'standard' (mean/std) or 'percentile' (2nd..98th percentile
            clipped and rescaled to [0, 1], the DisCoM-KD reference).
        to_db: Modalities delivered as linear power, converted to dB first.
        batch_size: Size of each mini-batch.
        num_workers: Number of workers for parallel data loading.
        augmentation: Training augmentation: 'reference' (the DisCoM-KD reference's
            flips and quarter turns, :class:`~geokd.transforms.RandomFlipRotate90`),
            'none', or a list of kornia augmentations (``class_path``/``init_args``
            in a config).
        stats_samples: Training samples (evenly spread over the split) used to
            estimate missing statistics; 0 uses all of them.
        paired: Batch co-registered samples; False shuffles each modality's training
            set on its own.
        cache_dir: If set, each split is packed once into memory-mapped arrays under
            this folder (keyed by the dataset's arguments) and read from there.
        **kwargs: Passed to ``dataset_class``.
    """

    def __init__(
        self,
        dataset_class: type[NonGeoDataset],
        modalities: Sequence[str],
        normalization: Mapping[str, Mapping[str, Any]] | None = None,
        norm_method: Method = 'standard',
        to_db: Sequence[str] = (),
        batch_size: int = 64,
        num_workers: int = 0,
        augmentation: Augmentation = 'reference',
        stats_samples: int = 512,
        paired: bool = True,
        cache_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Initialize a new MultiModalDataModule instance."""
        if batch_size < 1:
            msg = f'data.init_args.batch_size: must be at least 1, got {batch_size}'
            raise UsageError(msg)
        if num_workers < 0:
            msg = f'data.init_args.num_workers: must be at least 0, got {num_workers}'
            raise UsageError(msg)
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        # Read from self.kwargs, not kwargs: jsonargparse would take a
        # kwargs.get('root') here for a parameter of every subclass.
        source = str(self.kwargs.get('root', dataset_class.__name__))
        self.collate_fn = functools.partial(collate_samples, source=source)
        self.modalities = list(modalities)
        self.norm_method = norm_method
        self.to_db = set(to_db)
        self.stats_samples = stats_samples
        self.paired = paired
        self.cache_dir = cache_dir
        #: Height and width of the training patches, recorded at set-up.
        self.patch_size: int | None = None
        #: Channels of each modality in the data, recorded at set-up.
        self.channels: dict[str, int] = {}
        #: The dataset's class names in label order, recorded at set-up (None if
        #: the dataset does not name its classes).
        self.class_names: list[str] | None = None
        #: Each sensor's normalisation, the ``aug`` of every stage.
        self.normalizer = NormalizeSensors()
        if normalization is not None:
            self.set_normalization(normalization)
        self.aug = self.normalizer
        augment = build_augmentation(augmentation)
        if augment is not None:
            self.train_aug = nn.Sequential(self.normalizer, augment)

    @property
    def normalization(self) -> dict[str, SensorNormalization]:
        """Statistics per modality; empty until given, restored or estimated."""
        return self.normalizer.normalization

    @normalization.setter
    def normalization(self, value: Mapping[str, SensorNormalization]) -> None:
        self.normalizer.normalization = dict(value)

    def set_normalization(self, normalization: Mapping[str, Mapping[str, Any]]) -> None:
        """Set the preprocessing of every modality.

        Args:
            normalization: :meth:`SensorNormalization.to_dict` output per modality.

        Raises:
            ValueError: If a modality is missing.
        """
        missing = [m for m in self.modalities if m not in normalization]
        if missing:
            msg = f'normalisation statistics missing for modalities {missing}'
            raise DataError(msg)
        self.normalization = {
            m: SensorNormalization.from_dict(dict(normalization[m]))
            for m in self.modalities
        }

    def require_normalization(self) -> dict[str, SensorNormalization]:
        """The statistics, estimated from the training split first if still unknown.

        Returns:
            Statistics per modality.

        Raises:
            ValueError: If they are unknown and the training split cannot be read.
        """
        if not self.normalization:
            try:
                self.estimate_normalization()
            except DataError:
                raise  # names the file already
            except (OSError, ValueError) as err:
                msg = (
                    'normalisation statistics are unknown (no data.init_args.'
                    'normalization, no checkpoint) and the training split cannot '
                    f'be read to estimate them: {err}'
                )
                raise DataError(msg) from err
        return self.normalization

    def estimate_normalization(
        self, samples: int | None = None, pixels_per_sample: int = 1024
    ) -> None:
        """Estimate the statistics from the training split.

        Samples are spread evenly over the split (datasets are often sorted by
        class) and each contributes at most ``pixels_per_sample`` random pixels
        (seeded), so memory stays bounded on large splits.

        Args:
            samples: Number of training samples; None takes ``stats_samples``, 0 all.
            pixels_per_sample: Pixels drawn from each sample.
        """
        # NonGeoDataset declares no __init__; a dataset_class takes split, as
        # torchgeo's own setup assumes.
        dataset = self.train_dataset or self.dataset_class(
            split='train',  # type: ignore[call-arg]
            **self.kwargs,
        )
        n = dataset_length(dataset)
        wanted = self.stats_samples if samples is None else samples
        count = n if wanted <= 0 else min(n, wanted)
        indices = torch.unique(torch.linspace(0, n - 1, count).round().long()).tolist()
        loader = DataLoader(
            torch.utils.data.Subset(dataset, indices),
            batch_size=32,
            num_workers=self.num_workers,
            collate_fn=list,  # samples may differ in size
            worker_init_fn=ignore_termination,
            # Own generator: estimating must not shift the global RNG (the shuffles
            # and initialisation that seed_everything fixed).
            generator=torch.Generator().manual_seed(0),
        )
        gen = torch.Generator().manual_seed(0)
        pixels: dict[str, list[torch.Tensor]] = {m: [] for m in self.modalities}
        batches = iter(loader)
        try:
            for batch in batches:
                for sample, m in itertools.product(batch, self.modalities):
                    x = sample[f'image_{m}'].flatten(1)  # (C, H*W)
                    if x.shape[-1] > pixels_per_sample:
                        keep = torch.randperm(x.shape[-1], generator=gen)
                        x = x[:, keep[:pixels_per_sample]]
                    pixels[m].append(x)
        finally:
            # A batch that fails leaves the workers running for as long as its
            # error lives (its traceback holds the iterator); they ignore SIGTERM,
            # so the interpreter's exit would wait for them forever. Lightning's
            # loops end their workers the same way.
            shutdown = getattr(batches, '_shutdown_workers', None)
            if shutdown is not None:
                shutdown()
        self.normalization = {
            m: SensorNormalization.estimate(
                torch.cat(pixels[m], dim=1)[None, ..., None],
                method=self.norm_method,
                to_db=m in self.to_db,
            )
            for m in self.modalities
        }

    def setup(self, stage: str) -> None:
        """Set up the stage's datasets (statistics are estimated later, if needed).

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        super().setup(stage)
        dataset = self.train_dataset or self.val_dataset or self.test_dataset
        classes = getattr(dataset, 'classes', None)
        if classes is not None:
            self.class_names = [str(c) for c in classes]
        if self.cache_dir is not None:
            for split in ('train', 'val', 'test'):
                name = f'{split}_dataset'
                dataset = getattr(self, name)
                if dataset is not None and not isinstance(dataset, PackedDataset):
                    setattr(self, name, self._packed(dataset, split))
        dataset = self.train_dataset or self.val_dataset or self.test_dataset
        if dataset is not None and dataset_length(dataset) > 0:
            sample = dataset[0]
            images = {
                k.removeprefix('image_') for k in sample if k.startswith('image_')
            }
            if missing := [m for m in self.modalities if m not in images]:
                msg = (
                    f'{self.dataset_class.__name__}: no images of modalities '
                    f'{missing}; its samples hold {sorted(images)} (check modalities)'
                )
                raise DataError(msg)
            self.channels = {m: int(sample[f'image_{m}'].shape[0]) for m in images}
            self.patch_size = int(sample[f'image_{self.modalities[0]}'].shape[-1])

    def _packed(self, dataset: Dataset[Sample], split: str) -> PackedDataset:
        """Pack a split under ``cache_dir`` once, keyed by the dataset's arguments.

        Under a distributed trainer the first process packs while the others wait,
        then the first process of every other node packs if its node does not see
        that folder (a node-local ``cache_dir``): no two processes ever write the
        same folder.

        Args:
            dataset: The split.
            split: Its name.

        Returns:
            The packed split.
        """
        key = json.dumps(
            [self.dataset_class.__qualname__, split, self.modalities, self.kwargs],
            sort_keys=True,
            default=str,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        directory = os.path.join(str(self.cache_dir), f'{split}-{digest}')
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            pack(dataset, self.modalities, directory, self.num_workers)
            return PackedDataset(directory)
        # pack() returns at once where the folder is already complete.
        for rank in (trainer.global_rank, trainer.local_rank):
            if rank == 0:
                pack(dataset, self.modalities, directory, self.num_workers)
            trainer.strategy.barrier(f'geokd-pack-{split}')
        return PackedDataset(directory)

    # torchgeo narrows Lightning's return type to a DataLoader; Lightning also takes
    # the CombinedLoader of unpaired training.
    def train_dataloader(self) -> DataLoader[Sample] | CombinedLoader:  # type: ignore[override]
        """Training batches: one loader (paired) or one per modality (unpaired).

        The last incomplete batch is dropped, unless a process's share of the split
        is smaller than one batch (tiny datasets still train). Under a distributed
        trainer each process shuffles its own share, and each modality's loader
        has its own seed (see :mod:`geokd.datamodules.distributed`).

        Returns:
            A DataLoader, or a CombinedLoader cycling through one shuffled loader per
            modality until the longest is exhausted.
        """
        dataset = self._valid_attribute('train_dataset', 'dataset')
        batch_size = self.train_batch_size or self.batch_size

        def loader(data: Dataset[Sample], stream: int) -> DataLoader[Sample]:
            sampler = training_sampler(data, self.trainer, stream)
            share = len(sampler) if sampler is not None else dataset_length(data)
            return DataLoader(
                data,
                batch_size=batch_size,
                shuffle=sampler is None,
                sampler=sampler,
                num_workers=self.num_workers,
                collate_fn=self.collate_fn,
                drop_last=share > batch_size,
                persistent_workers=self.num_workers > 0,
                worker_init_fn=ignore_termination,
            )

        if self.paired:
            return loader(dataset, 0)
        views = {
            m: loader(ModalityView(dataset, m), i)
            for i, m in enumerate(self.modalities)
        }
        return CombinedLoader(views, mode='max_size_cycle')

    def _dataloader_factory(self, split: str) -> DataLoader[Sample]:
        """Evaluation batches, in order, each sample exactly once.

        Under a distributed trainer each process takes its own share, with no
        sample repeated, so that metrics summed over processes cover the split once.

        Args:
            split: Either 'val', 'test', or 'predict'.

        Returns:
            The DataLoader.
        """
        dataset = self._valid_attribute(f'{split}_dataset', 'dataset')
        batch_size = self._valid_attribute(f'{split}_batch_size', 'batch_size')
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=evaluation_sampler(dataset, self.trainer, split),
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=ignore_termination,
        )

    @property
    def band_names(self) -> dict[str, list[str]]:
        """Band names of each modality, in the order the model sees them.

        Returns:
            Names per modality; empty lists where the dataset does not name its bands.
        """
        names = getattr(self.dataset_class, 'all_band_names', {})
        bands = self.kwargs.get('bands') or {}
        return {
            m: list(
                bands.get(m) or (names.get(m, ()) if isinstance(names, dict) else ())
            )
            for m in self.modalities
        }

    def normalize(self, batch: Sample) -> Sample:
        """Preprocess every ``image_<modality>`` of a batch with its own statistics.

        Estimates the statistics first if they are still unknown.

        Args:
            batch: Batch on any device.

        Returns:
            The batch, with normalised images.

        Raises:
            ValueError: If an image's band count differs from its statistics'.
        """
        self.require_normalization()
        normalized: Sample = self.normalizer(batch)
        return normalized

    def on_after_batch_transfer(
        self, batch: dict[str, Any], dataloader_idx: int
    ) -> Sample:
        """Normalise, and augment when training, through torchgeo's stage hooks.

        Unpaired training batches (``{modality: {image_m, label_m}}`` from the
        CombinedLoader) are flattened to ``image_<m>`` and ``label_<m>`` keys first.

        Args:
            batch: A batch of data that needs to be altered or augmented.
            dataloader_idx: The index of the dataloader to which the batch belongs.

        Returns:
            A batch of data.
        """
        if all(isinstance(batch.get(m), dict) for m in self.modalities):
            batch = {k: v for m in self.modalities for k, v in batch[m].items()}
        if self.trainer is not None:
            self.require_normalization()
        return super().on_after_batch_transfer(batch, dataloader_idx)

    def state_dict(self) -> dict[str, Any]:
        """Normalisation of every modality, saved into checkpoints.

        A checkpoint without statistics would be useless to export or test, so they
        are estimated first if still unknown.

        Returns:
            :meth:`SensorNormalization.to_dict` per modality, the band names per
            modality and the patch size: what prediction needs to preprocess a
            scene; the dataset's class names in label order (None if unnamed); and
            the ``provenance`` of the training data (DataModule, dataset, synthetic
            or not, ground sample distance per modality; see
            :func:`~geokd.datamodules.provenance.training_provenance`).
        """
        normalization = self.require_normalization()
        return {
            'normalization': {m: n.to_dict() for m, n in normalization.items()},
            'band_names': self.band_names,
            'patch_size': self.patch_size,
            'class_names': self.class_names,
            'provenance': training_provenance(self),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the normalisation from a checkpoint.

        Args:
            state_dict: Output of :meth:`state_dict`.
        """
        self.set_normalization(state_dict['normalization'])
        self.patch_size = state_dict.get('patch_size')
        self.class_names = state_dict.get('class_names') or self.class_names
