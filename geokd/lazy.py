"""Package attributes imported on first use, so that a command's ``--help`` stays fast.

``geokd predict --help`` and ``geokd export --help`` import their packages; with the
public names resolved lazily these imports pull in neither torch nor rasterio.
"""

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` that import names from submodules.

    Args:
        package: The package's ``__name__``.
        homes: Public name -> the submodule (relative to ``package``) defining it.

    Returns:
        The module-level ``__getattr__`` and ``__dir__`` of the package.
    """
    namespace = importlib.import_module(package).__dict__

    def getattr_(name: str) -> Any:
        if name not in homes:
            msg = f'module {package!r} has no attribute {name!r}'
            raise AttributeError(msg)
        value = getattr(importlib.import_module(f'.{homes[name]}', package), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *homes})

    return getattr_, dir_
