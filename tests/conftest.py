"""Shared fixtures."""

from pathlib import Path

import pytest

#: Small real sensor files shipped beside the repository (absent in a user's clone).
REALDATA = Path(__file__).resolve().parents[2] / 'shared' / 'realdata'


@pytest.fixture
def realdata() -> Path:
    """Path of ``../shared/realdata``, skipping the test when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip('../shared/realdata is not present')
    return REALDATA
