"""The generated references are complete and render as plain Markdown and text."""

import importlib.util
import inspect
import re
import tomllib
import warnings
from pathlib import Path
from types import ModuleType

import markdown
import pytest
from docstring_parser import parse

HOOKS = Path(__file__).resolve().parents[2] / 'scripts' / 'mkdocs_hooks.py'

#: Control characters but newline: what a help text shown on a page must not hold.
CONTROL = re.compile(r'[\x00-\x09\x0b-\x1f\x7f]')


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location('mkdocs_hooks', HOOKS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()
CLASSES = [c for cs in hooks.documented_classes().values() for c in cs]


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


def test_table_cell_escapes_only_pipes_outside_code() -> None:
    row = [hooks.table_cell(c) for c in ('`int | None`', 'a | b, ``x|y``')]
    html = markdown.markdown(
        f'| type | meaning |\n| --- | --- |\n| {row[0]} | {row[1]} |',
        extensions=['tables'],
    )
    cells = re.findall(r'<td>(.*?)</td>', html)
    assert cells == ['<code>int | None</code>', 'a | b, <code>x|y</code>']


def test_configuration_reference_renders_without_escapes() -> None:
    html = markdown.markdown(hooks.configuration_reference(), extensions=['tables'])
    assert '\\|' not in html
    assert '<code>int | None</code>' in html
    rows = re.findall(r'<tr>(.*?)</tr>', html, re.DOTALL)
    assert len(rows) > len(CLASSES)
    for row in rows:
        assert len(re.findall(r'<t[dh]>', row)) == 4, row


@pytest.mark.parametrize(
    ('raw', 'shown'),
    [
        ('--print_config \b[=flags]', '--print_config[=flags]'),
        ('ab\b\bc', 'c'),
        ('\b[x]\n', '[x]\n'),
        ('\x1b[1;31musage\x1b[0m: geokd', 'usage: geokd'),
    ],
)
def test_terminal_text(raw: str, shown: str) -> None:
    assert hooks.terminal_text(raw) == shown


def test_cli_reference_lists_every_subcommand() -> None:
    from geokd.main import COMMANDS

    text = hooks.cli_reference()
    for name in COMMANDS:
        assert f'usage: geokd {name}' in text


def _widest_help_line(reference: str) -> int:
    """Longest line of the subcommands' help (``geokd --help`` may be fixed text)."""
    blocks = re.findall(r'^```text\n(.*?)^```', reference, re.DOTALL | re.MULTILINE)
    assert blocks[0].startswith('usage: geokd ')
    return max(len(line) for block in blocks[1:] for line in block.splitlines())


def test_cli_reference_is_plain_text_that_fits_the_page() -> None:
    text = hooks.cli_reference()
    assert not CONTROL.search(text), repr(CONTROL.search(text))
    assert _widest_help_line(text) <= hooks.HELP_COLUMNS


def test_cli_reference_wraps_at_the_set_width(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not at the width of whatever terminal (or none) runs the build.
    monkeypatch.setattr(hooks, 'HELP_COLUMNS', 120)
    assert 100 < _widest_help_line(hooks.cli_reference()) <= 120


def test_cli_help_runs_as_from_a_terminal() -> None:
    # The build's own arguments are in sys.argv (here pytest's): a command parsing
    # them, or LightningCLI warning about them, would show in the build log.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        text = hooks.cli_help(['--help'])
    assert text.startswith('usage: geokd')


def test_the_site_links_only_to_addresses_the_package_metadata_states() -> None:
    # An address that nothing in the project establishes (a footer link to a
    # guessed repository) sends readers and bug reports to a stranger.
    root = Path(__file__).resolve().parents[2]
    urls = set(
        tomllib.loads((root / 'pyproject.toml').read_text())['project']
        .get('urls', {})
        .values()
    )
    site = (root / 'mkdocs.yml').read_text()
    linked = set(re.findall(r'^\s*-?\s*(?:link|repo_url):\s*(\S+)', site, re.M))
    assert linked <= urls, linked - urls
