from collections import Counter

import pytest

from geokd.datasets import stratified_split
from geokd.datasets.splits import block_split, contiguous_blocks
from geokd.errors import DataError


def test_stratified_70_10_20() -> None:
    labels = [0] * 50 + [1] * 30 + [2] * 20
    split = stratified_split(labels, seed=3)
    assert sorted(i for idx in split.values() for i in idx) == list(range(100))
    counts = {s: Counter(labels[i] for i in idx) for s, idx in split.items()}
    assert counts['train'] == {0: 35, 1: 21, 2: 14}
    assert counts['val'] == {0: 5, 1: 3, 2: 2}
    assert counts['test'] == {0: 10, 1: 6, 2: 4}


def test_seed_decides_the_split() -> None:
    labels = [i % 4 for i in range(80)]
    assert stratified_split(labels, seed=0) == stratified_split(labels, seed=0)
    assert stratified_split(labels, seed=0) != stratified_split(labels, seed=1)


def test_bad_fractions() -> None:
    with pytest.raises(ValueError, match='summing to 1'):
        stratified_split([0, 1], (0.5, 0.5, 0.5))


def test_contiguous_blocks() -> None:
    assert contiguous_blocks(7, 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert contiguous_blocks(4, 4) == [[0], [1], [2], [3]]
    for n, k in [(624, 8), (10, 3), (5, 2)]:
        blocks = contiguous_blocks(n, k)
        assert [i for b in blocks for i in b] == list(range(n))
        assert max(map(len, blocks)) - min(map(len, blocks)) <= 1
    with pytest.raises(DataError, match='between 2 and the 3 samples'):
        contiguous_blocks(3, 4)
    with pytest.raises(DataError):
        contiguous_blocks(3, 1)


def test_block_split_holds_out_a_test_and_a_val_range() -> None:
    items = list(range(9))
    assert block_split(items, 'test', 0, 2, 3) == [0, 1, 2]
    assert block_split(items, 'val', 0, 2, 3) == [6, 7, 8]
    assert block_split(items, 'train', 0, 2, 3) == [3, 4, 5]
    # Without a val range, 'train' and 'val' share what the test range leaves.
    assert block_split(items, 'val', 1, None, 3) == [0, 1, 2, 6, 7, 8]
    # Without a test range, 'test' is not a range (the published split).
    assert block_split(items, 'test', None, 1, 3) == items
    # ... whatever its size: the published test split of a fixture holds 3 tiles.
    assert block_split([0, 1, 2], 'test', None, 1, 8) == [0, 1, 2]
    assert block_split(items, 'train', None, 1, 3) == [0, 1, 2, 6, 7, 8]
    assert block_split(items, 'train', None, None, 3) == items


def test_block_split_validates_on_several_ranges() -> None:
    items = list(range(12))
    assert block_split(items, 'val', 0, [3, 1], 4) == [3, 4, 5, 9, 10, 11]
    assert block_split(items, 'train', 0, [3, 1], 4) == [6, 7, 8]
    assert block_split(items, 'test', 0, [3, 1], 4) == [0, 1, 2]
    # One range in a list is that range.
    assert block_split(items, 'val', 0, [2], 4) == block_split(items, 'val', 0, 2, 4)


@pytest.mark.parametrize(
    ('test', 'val', 'match'),
    [
        (3, None, r'leave_out_block must be in 0\.\.2, got 3'),
        (None, -1, r'val_block must be in 0\.\.2, got -1'),
        (1, 1, 'both hold range 1'),
        (2, [0, 2], 'both hold range 2'),
        (None, [0, 3], r'val_block must be in 0\.\.2, got 3'),
        (None, [1, 1], r'val_block repeats a range: \[1, 1\]'),
        (0, [1, 2], 'hold out all 3 ranges: none trains'),
    ],
)
def test_block_split_refuses_bad_ranges(
    test: int | None, val: int | list[int] | None, match: str
) -> None:
    with pytest.raises(DataError, match=match):
        block_split(list(range(9)), 'train', test, val, 3)
