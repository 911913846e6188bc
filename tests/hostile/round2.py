"""Constants and helpers of the hostile tests of issue 19 (``geokd predict``).

Their fixtures (``model``, ``run``, ``one_thread``) are in ``conftest.py``.
"""

import json
from pathlib import Path

#: Two windows of the 272 x 160 scenes.
BIG = ('--window', '256')
#: JSON nested 5000 deep (Python's parser recurses once per level).
DEEP = '[' * 5000 + ']' * 5000
#: Degrees of a 10 m pixel at the equator.
DEG = 10 / 111_320


def out_of(tmp_path: Path) -> str:
    """The output directory argument (with its trailing separator)."""
    return f'{tmp_path}/out/'


def summaries(root: Path) -> list[Path]:
    """Every summary written under a folder."""
    return sorted(root.rglob('*_summary.json'))


def classified_cells(summary: Path) -> int:
    """Cells of a summary's grid that got a class."""
    data = json.loads(summary.read_text())
    return data['grid']['rows'] * data['grid']['cols'] - data['nodata_cells']
