"""Collating samples into batches, with a clear error for images of different sizes."""

from torch.utils.data import default_collate
from torchgeo.datasets.utils import Sample

from ..errors import DataError


def collate_samples(samples: list[Sample], source: str = 'data') -> Sample:
    """Collate like torch's ``default_collate``, refusing images of different sizes clearly.

    Args:
        samples: The samples of a batch.
        source: The data, for messages (its root folder).

    Returns:
        The batch.

    Raises:
        DataError: If a modality's images differ in size.
    """
    for key in samples[0]:
        sizes = {tuple(s[key].shape[-2:]) for s in samples if key.startswith('image_')}
        if len(sizes) > 1:
            msg = (
                f'{source}: images of {key.removeprefix("image_")!r} differ in size '
                f'within a batch, {sorted(sizes)} (set data.init_args.size to resize '
                'them)'
            )
            raise DataError(msg)
    batch: Sample = default_collate(samples)
    return batch
