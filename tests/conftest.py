"""Shared fixtures."""

from pathlib import Path

import pytest

# urllib3 probes IPv6 support with a socket when first imported; import it before
# pytest-socket disables sockets so that probe does not count as a test using the network.
import urllib3  # noqa: F401

#: Small real sensor files shipped beside the repository (absent in a user's clone).
REALDATA = Path(__file__).resolve().parents[2] / 'shared' / 'realdata'


@pytest.fixture
def realdata() -> Path:
    """Path of ``../shared/realdata``, skipping the test when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip('../shared/realdata is not present')
    return REALDATA


@pytest.fixture(autouse=True)
def float32_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve precision 'auto' to float32, whatever CPU runs the suite.

    Tests then give the same numbers on every machine; tests of the bfloat16
    choice patch :func:`geokd.precision.cpu_has_native_bf16` back to True.
    """
    monkeypatch.setattr('geokd.precision.cpu_has_native_bf16', lambda: False)
