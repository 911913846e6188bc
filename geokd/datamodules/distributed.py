"""Each process's share of a split when a distributed trainer (DDP) runs the DataModule.

Lightning replaces a DataLoader's sampler by a ``DistributedSampler`` under a
distributed strategy. geokd's DataModules build these samplers themselves instead,
because Lightning's choice is wrong for them in three ways:

* unpaired training draws one loader per modality, and each must shuffle on its own;
  Lightning gives every loader of a CombinedLoader the same seed, so all modalities
  would draw the same permutation, i.e. paired batches again;
* whether the last incomplete batch is dropped depends on a process's share of the
  split, not on the whole split;
* Lightning pads validation and test shares with repeated samples so that all
  processes run as many batches, and the metrics count those samples twice.

Training shares are padded (every process needs as many optimisation steps) and
reshuffled each epoch (Lightning's fit loop calls ``set_epoch`` on every loader's
sampler). Evaluation shares are never padded: each sample is evaluated once, by one
process, and the metrics (torchmetrics, ``sync_dist``) are summed over processes.
Processes may then run one batch more or fewer. That is safe: DDP broadcasts buffers
in the first forward pass without gradients after training steps and in none of the
following ones, so every process only needs one batch (one sample).
"""

import os

from lightning.pytorch import Trainer
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import Dataset, DistributedSampler
from torchgeo.datasets.utils import Sample

from ..datasets.utils import dataset_length


def process_share(trainer: Trainer | None) -> tuple[int, int] | None:
    """How a trainer splits data between its processes.

    Args:
        trainer: The trainer running the DataModule, if any.

    Returns:
        ``(processes, rank)`` when the trainer is distributed and lets samplers be
        set for it (``use_distributed_sampler``, on by default); None otherwise.
    """
    if trainer is None or trainer.distributed_sampler_kwargs is None:
        return None
    # The Trainer's use_distributed_sampler flag has no public getter; with False
    # the user has taken over sharding, and Lightning leaves samplers alone too.
    if not getattr(trainer._accelerator_connector, 'use_distributed_sampler', True):
        return None
    kwargs = trainer.distributed_sampler_kwargs
    return int(kwargs['num_replicas']), int(kwargs['rank'])


def training_sampler(
    dataset: Dataset[Sample], trainer: Trainer | None, stream: int = 0
) -> DistributedSampler[Sample] | None:
    """This process's shuffled share of a training split.

    Every process draws the same permutation (seeded by ``seed_everything``'s seed,
    as Lightning's samplers are, plus ``stream``) and takes every ``processes``-th
    sample of it, so the shares cover the split; the last samples are repeated
    when the split does not divide evenly.

    Args:
        dataset: The split.
        trainer: The trainer running the DataModule, if any.
        stream: Offset of the seed, so that several loaders of one split (one per
            modality) shuffle independently.

    Returns:
        The sampler, or None outside a distributed trainer (the DataLoader then
        shuffles on its own).
    """
    share = process_share(trainer)
    if share is None:
        return None
    processes, rank = share
    seed = int(os.environ.get('PL_GLOBAL_SEED', 0)) + stream
    return DistributedSampler(
        dataset, num_replicas=processes, rank=rank, shuffle=True, seed=seed
    )


def evaluation_sampler(
    dataset: Dataset[Sample], trainer: Trainer | None, split: str
) -> UnrepeatedDistributedSampler | None:
    """This process's share of an evaluation split, in order, nothing repeated.

    Args:
        dataset: The split.
        trainer: The trainer running the DataModule, if any.
        split: Its name, for the error message.

    Returns:
        The sampler, or None outside a distributed trainer.

    Raises:
        ValueError: If the split has fewer samples than there are processes.
    """
    share = process_share(trainer)
    if share is None:
        return None
    processes, rank = share
    n = dataset_length(dataset)
    if 0 < n < processes:
        msg = (
            f'the {split} split has {n} samples, fewer than the {processes} '
            'processes: each process needs at least one'
        )
        raise ValueError(msg)
    return UnrepeatedDistributedSampler(
        dataset, num_replicas=processes, rank=rank, shuffle=False
    )
