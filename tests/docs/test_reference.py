"""The generated references are complete: every configuration key is documented."""

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import pytest
from docstring_parser import parse

HOOKS = Path(__file__).resolve().parents[2] / 'docs' / 'hooks.py'


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location('docs_hooks', HOOKS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLASSES = [c for cs in _hooks().documented_classes().values() for c in cs]


@pytest.mark.parametrize('cls', CLASSES, ids=lambda c: c.__name__)
def test_every_constructor_argument_is_documented(cls: type) -> None:
    documented = {
        p.arg_name
        for doc in (inspect.getdoc(cls), inspect.getdoc(cls.__init__))
        for p in parse(doc or '').params
    }
    arguments = {
        name
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != 'self' and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    assert arguments <= documented, f'undocumented: {sorted(arguments - documented)}'


def test_cli_reference_lists_every_subcommand() -> None:
    from geokd.main import COMMANDS

    text = _hooks().cli_reference()
    for name in COMMANDS:
        assert f'usage: geokd {name}' in text
