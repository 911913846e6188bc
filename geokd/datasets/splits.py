"""Seeded stratified splits for datasets that ship without official ones."""

import itertools
from collections.abc import Sequence

import torch

from ..errors import DataError

#: The DisCoM-KD protocol: 70 % train, 10 % validation, 20 % test.
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
SPLITS = ('train', 'val', 'test')


def stratified_split(
    labels: Sequence[int],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> dict[str, list[int]]:
    """Split sample indices into train/val/test with the class proportions kept.

    Each class is shuffled with ``seed`` and cut by ``fractions`` (rounded per class),
    so the same labels and seed always give the same split, and a different seed
    gives a different one: the paper's five runs are five split seeds.

    Args:
        labels: Class label of every sample.
        fractions: Train, val and test fractions, summing to 1.
        seed: Seed of the shuffle.

    Returns:
        Sorted sample indices per split name ('train', 'val', 'test').

    Raises:
        ValueError: If there are not three non-negative fractions summing to 1.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        msg = f'fractions must be three non-negative numbers summing to 1, got {fractions}'
        raise DataError(msg)
    gen = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(list(labels), dtype=torch.long)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for cls in torch.unique(y).tolist():
        members = torch.nonzero(y == cls).flatten()
        idx = members[torch.randperm(len(members), generator=gen)].tolist()
        n_train = round(fractions[0] * len(idx))
        n_val = round(fractions[1] * len(idx))
        out['train'] += idx[:n_train]
        out['val'] += idx[n_train : n_train + n_val]
        out['test'] += idx[n_train + n_val :]
    return {s: sorted(v) for s, v in out.items()}


def contiguous_blocks(n: int, num_blocks: int) -> list[list[int]]:
    """Cut indices ``0..n-1`` into contiguous, nearly equal blocks.

    For datasets whose sample numbering follows acquisition (neighbouring numbers
    come from the same event or place), holding out a block approximates holding
    out whole events when the events themselves are not recorded.

    Args:
        n: Number of samples.
        num_blocks: Number of blocks.

    Returns:
        ``num_blocks`` lists of consecutive indices, in order; sizes differ by at
        most one.

    Raises:
        DataError: If ``num_blocks`` is not between 2 and ``n``.
    """
    if not 2 <= num_blocks <= n:
        msg = f'num_blocks must be between 2 and the {n} samples, got {num_blocks}'
        raise DataError(msg)
    size, extra = divmod(n, num_blocks)
    bounds = [k * size + min(k, extra) for k in range(num_blocks + 1)]
    return [list(range(a, b)) for a, b in itertools.pairwise(bounds)]


def block_split[T](
    items: Sequence[T],
    split: str,
    test_block: int | None,
    val_block: int | Sequence[int] | None,
    num_blocks: int,
) -> list[T]:
    """The items of ``split`` once contiguous ranges are held out for test and val.

    Items are cut into ``num_blocks`` ranges (:func:`contiguous_blocks`); range
    ``test_block`` is the 'test' split, the range or ranges ``val_block`` the 'val'
    split, and 'train' is what both leave. A split whose range is None keeps every
    item the other ranges leave (its own hold-out, if any, is drawn by the caller).

    Args:
        items: Samples in acquisition order.
        split: 'train', 'val' or 'test'.
        test_block: Range held out as 'test', or None.
        val_block: Range or ranges held out as 'val', or None.
        num_blocks: Number of ranges.

    Returns:
        The items of ``split``, in order.

    Raises:
        DataError: If a range is out of bounds, repeated, held out both as test and
            as val, or if no range is left to train on.
    """
    val_blocks = [val_block] if isinstance(val_block, int) else list(val_block or [])
    held = [('leave_out_block', test_block)] + [('val_block', b) for b in val_blocks]
    for name, block in held:
        if block is not None and not 0 <= block < num_blocks:
            msg = f'{name} must be in 0..{num_blocks - 1}, got {block}'
            raise DataError(msg)
    if len(set(val_blocks)) < len(val_blocks):
        msg = f'val_block repeats a range: {val_blocks}'
        raise DataError(msg)
    if test_block is not None and test_block in val_blocks:
        msg = f'val_block and leave_out_block both hold range {test_block}: pick others'
        raise DataError(msg)
    if len({test_block, *val_blocks} - {None}) == num_blocks:
        msg = f'val_block and leave_out_block hold out all {num_blocks} ranges: none trains'
        raise DataError(msg)
    if (test_block is None and not val_blocks) or (
        split == 'test' and test_block is None
    ):
        # No range held out, or the published test split (its items are no range).
        return list(items)
    blocks = contiguous_blocks(len(items), num_blocks)
    test = set(blocks[test_block]) if test_block is not None else set()
    val = {i for b in val_blocks for i in blocks[b]}
    if split == 'test':
        keep = test
    elif split == 'val' and val_blocks:
        keep = val
    else:
        keep = set(range(len(items))) - test - val
    return [t for i, t in enumerate(items) if i in keep]
