import pytest

from geokd.reports.paired import paired_difference, paired_table


def test_paired_difference_interval() -> None:
    # Differences 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.303.
    d = paired_difference({0: 11.0, 1: 12.0, 2: 13.0, 9: 5.0}, {0: 10, 1: 10, 2: 10})
    assert d.diffs == (1.0, 2.0, 3.0)
    assert d.mean == pytest.approx(2.0)
    assert d.low == pytest.approx(2 - 4.302653 / 3**0.5, abs=1e-5)
    assert d.high == pytest.approx(2 + 4.302653 / 3**0.5, abs=1e-5)
    assert d.verdict == 'tie'  # the interval reaches below 0


def test_paired_verdicts() -> None:
    ahead = paired_difference({0: 2.0, 1: 2.1, 2: 2.2}, {0: 1.0, 1: 1.0, 2: 1.0})
    assert ahead.verdict == 'ahead'
    behind = paired_difference({0: 1.0, 1: 1.0, 2: 1.0}, {0: 2.0, 1: 2.1, 2: 2.2})
    assert behind.verdict == 'behind'
    with pytest.raises(ValueError, match='two common seeds'):
        paired_difference({0: 1.0, 1: 2.0}, {1: 1.0, 2: 1.0})


def test_paired_table() -> None:
    rows = [
        {'method': m, 'seed': s, 'classifier': 'sar', 'f1': f, 'f1_macro': f}
        for m, scores in {'A': [0.60, 0.62, 0.64], 'B': [0.50, 0.50, 0.51]}.items()
        for s, f in enumerate(scores)
    ]
    table = paired_table(rows, ('B', 'sar'))
    assert table.splitlines()[0].startswith('| vs B (sar) |')
    assert '| A (sar) | f1 | +10.0 / +12.0 / +13.0 | +11.67 [' in table
    assert table.count('| ahead |') == 2
    assert 'B (sar) | f1' not in table.split('\n', 2)[2]
