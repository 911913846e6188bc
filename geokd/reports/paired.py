"""Paired per-seed comparisons of two methods, with a confidence interval.

Two methods run with the same seed share the split, the shuffles and the budget,
so their difference at one seed is far less noisy than either score; the mean of
those differences with a Student-t interval says whether a lead is real. A lead
whose interval contains 0 is a tie.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats


@dataclass(frozen=True)
class PairedDifference:
    """Mean per-seed difference ``a - b`` and its confidence interval.

    Attributes:
        mean: Mean of the per-seed differences.
        low: Lower end of the interval.
        high: Upper end of the interval.
        diffs: The differences, by increasing seed.
    """

    mean: float
    low: float
    high: float
    diffs: tuple[float, ...]

    @property
    def verdict(self) -> str:
        """'ahead', 'behind' or 'tie' (the interval contains 0)."""
        if self.low > 0:
            return 'ahead'
        if self.high < 0:
            return 'behind'
        return 'tie'


def paired_difference(
    a: Mapping[int, float], b: Mapping[int, float], confidence: float = 0.95
) -> PairedDifference:
    """Compare two methods seed by seed.

    Args:
        a: Score of the first method per seed.
        b: Score of the second method per seed.
        confidence: Coverage of the Student-t interval of the mean difference.

    Returns:
        The mean difference ``a - b`` over the seeds both have, and its interval.

    Raises:
        ValueError: If fewer than two seeds are common to both.
    """
    seeds = sorted(a.keys() & b.keys())
    if len(seeds) < 2:
        msg = f'need at least two common seeds, got {seeds}'
        raise ValueError(msg)
    diffs = tuple(a[s] - b[s] for s in seeds)
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return PairedDifference(mean, mean - half, mean + half, diffs)


def paired_table(
    rows: Sequence[Mapping[str, Any]],
    baseline: tuple[str, str],
    metrics: Sequence[str] = ('f1', 'f1_macro'),
) -> str:
    """A Markdown table of every classifier against a baseline, paired by seed.

    Args:
        rows: One row per method, seed and classifier with ``method``, ``seed``,
            ``classifier`` and the metrics (as ``geokd benchmark`` writes them),
            scores in 0..1.
        baseline: Method and classifier every other one is compared with.
        metrics: Metrics to compare.

    Returns:
        The table, in percentage points: per compared classifier and metric the
        per-seed differences, their mean, 95 % interval and verdict.
    """
    scores: dict[tuple[str, str], dict[str, dict[int, float]]] = {}
    for r in rows:
        per = scores.setdefault((r['method'], r['classifier']), {})
        for m in metrics:
            per.setdefault(m, {})[int(r['seed'])] = 100 * float(r[m])
    lines = [
        f'| vs {baseline[0]} ({baseline[1]}) | metric | per-seed difference | '
        'mean [95 % interval] | reading |',
        '|---|---|---|---|---|',
    ]
    for key, per in scores.items():
        if key == baseline or baseline not in scores:
            continue
        for m in metrics:
            try:
                d = paired_difference(per[m], scores[baseline][m])
            except ValueError:
                continue
            each = ' / '.join(f'{x:+.1f}' for x in d.diffs)
            lines.append(
                f'| {key[0]} ({key[1]}) | {m} | {each} | '
                f'{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}] | {d.verdict} |'
            )
    return '\n'.join(lines)
